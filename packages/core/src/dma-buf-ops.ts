/**
 * The exporter and importer contracts of the dma-buf framework (include/linux/dma-buf.h):
 * struct dma_buf_ops, struct dma_buf_attach_ops and struct dma_buf_export_info.
 *
 * Errors: where the kernel returns a negative errno, an op throws an {@link Errno}. The framework
 * passes it to the caller unchanged and undoes whatever it had done for that call.
 */
import type { DmaBuf, DmaBufAttachment } from "./dma-buf.js";
import type { DmaResv } from "./dma-resv.js";
import type { DmaDataDirection, SgTable } from "./scatterlist.js";
import type { VmArea } from "./vm-area.js";

/**
 * struct iosys_map: a kernel virtual mapping of a whole buffer, as the exporter's vmap returns it.
 * `segments` are views of the buffer's own memory, in order (one for a contiguous buffer).
 */
export interface IosysMap {
  readonly segments: readonly Uint8Array[];
  /** is_iomem: the mapping is I/O memory (accessed with memcpy_toio and friends). */
  readonly isIomem: boolean;
}

/**
 * struct dma_buf_ops: what an exporter implements. `mapDmaBuf`, `unmapDmaBuf` and `release` are
 * mandatory; `pin` and `unpin` come as a pair or not at all (dma_buf_export() checks both).
 */
export interface DmaBufOps {
  /**
   * @cacheSgtMapping: when true the framework keeps the first mapping of each attachment and hands
   * the same sg_table to later maps in a compatible direction, unmapping it only at detach
   * (5.3 to 6.15). Cannot be combined with pin/unpin: dma_buf_export() gives EINVAL.
   */
  readonly cacheSgtMapping?: boolean;

  /**
   * @attach: called from dma_buf_attach()/dma_buf_dynamic_attach(), resv unlocked. Optional.
   * Checks that `attach.dev` can reach the backing storage and may set `attach.priv`.
   * Throws, e.g. EBUSY when the storage sits where the device cannot reach it and cannot move;
   * the attachment is then not created.
   */
  attach?(dmabuf: DmaBuf, attach: DmaBufAttachment): void;

  /** @detach: called from dma_buf_detach(), resv unlocked. Optional. Undoes what `attach` set up. */
  detach?(dmabuf: DmaBuf, attach: DmaBufAttachment): void;

  /**
   * @pin: called from dma_buf_pin() by dynamic importers and, while move notification is off (the
   * 6.x default), by the framework around every mapping, resv locked. Optional, paired with
   * `unpin`. After it the buffer must not move; it may throw (ENOMEM, EBUSY).
   */
  pin?(attach: DmaBufAttachment): void;

  /** @unpin: the buffer may move again (then tell importers with dma_buf_move_notify()). */
  unpin?(attach: DmaBufAttachment): void;

  /**
   * @mapDmaBuf: called from dma_buf_map_attachment(), resv locked. Mandatory. Returns an sg_table
   * mapped for `attach.dev` (dma_map_sgtable) in `dir`, with PAGE_SIZE-aligned entries. This is
   * the point where an exporter that deferred allocation backs the buffer, knowing every attached
   * device. Returning null is turned into ENOMEM. Exporters should not cache the table themselves.
   */
  mapDmaBuf(attach: DmaBufAttachment, dir: DmaDataDirection): SgTable | null;

  /** @unmapDmaBuf: called from dma_buf_unmap_attachment() and detach. Mandatory. Frees what mapDmaBuf returned. */
  unmapDmaBuf(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection): void;

  /**
   * @release: called once, after the last reference (fd, mmap, dma_buf_get) is gone. Mandatory.
   * Frees the exporter's data and backing storage. Never fails.
   */
  release(dmabuf: DmaBuf): void;

  /**
   * @beginCpuAccess: called from dma_buf_begin_cpu_access() and DMA_BUF_IOCTL_SYNC without
   * DMA_BUF_SYNC_END, resv unlocked. Optional. Makes the buffer coherent for CPU access in `dir`
   * (e.g. dma_sync_sgtable_for_cpu on every mapping). May throw EINTR/ERESTARTSYS/EAGAIN.
   */
  beginCpuAccess?(dmabuf: DmaBuf, dir: DmaDataDirection): void | Promise<void>;

  /** @endCpuAccess: the DMA_BUF_SYNC_END side: flush CPU writes for the devices. Optional. */
  endCpuAccess?(dmabuf: DmaBuf, dir: DmaDataDirection): void | Promise<void>;

  /**
   * @mmap: called for mmap() of the dma-buf fd and dma_buf_mmap(), resv unlocked. Optional (without
   * it mmap gives EINVAL). The framework has bounds-checked `vma.pgoff` and `vma.length` against
   * the size; the op fills `vma.segments` with views of the buffer's pages from `vma.pgoff` on.
   */
  mmap?(dmabuf: DmaBuf, vma: VmArea): void;

  /**
   * @vmap: called from dma_buf_vmap() on the first mapping only (the framework counts), resv
   * locked. Optional (without it vmap gives EINVAL). Returns a mapping of the whole buffer.
   */
  vmap?(dmabuf: DmaBuf): IosysMap;

  /** @vunmap: called when the last dma_buf_vmap() user unmaps. Optional. */
  vunmap?(dmabuf: DmaBuf, map: IosysMap): void;
}

/**
 * struct dma_buf_attach_ops: what a dynamic importer gives dma_buf_dynamic_attach().
 * An attachment with importer ops is dynamic: its mappings may be moved by the exporter.
 */
export interface DmaBufAttachOps {
  /** @allowPeer2peer: the importer can handle peer-to-peer (non-struct-page) sg entries. */
  readonly allowPeer2peer?: boolean;
  /**
   * @moveNotify: called from dma_buf_move_notify() with the resv locked, when the exporter is
   * about to move the buffer. Mandatory. The importer must drop its mappings (unmap) and map
   * again before its next DMA; it must not block on that here.
   */
  moveNotify(attach: DmaBufAttachment): void;
}

/** struct dma_buf_export_info (DEFINE_DMA_BUF_EXPORT_INFO fills exp_name with the module name). */
export interface DmaBufExportInfo {
  /** Exporter name shown in bufinfo, fdinfo and traces ("system", "cma", "vgem"). Required. */
  readonly expName: string;
  readonly ops: DmaBufOps;
  /** Size in bytes, fixed for the buffer's life. */
  readonly size: number;
  /** File flags for the dma-buf file: O_ACCMODE and O_NONBLOCK are kept (usually O_RDWR). */
  readonly flags: number;
  /** The exporter's private object, handed back as `dmabuf.priv`. Required (non-null). */
  readonly priv: unknown;
  /**
   * The reservation object to share (e.g. the GEM object's), or absent for the buffer to get its
   * own, which is finalised with the buffer. Implicit-sync fences live here.
   */
  readonly resv?: DmaResv;
}
