/**
 * What vb2-dma-contig and vb2-dma-sg share: the MMAP buffer object with its references, the
 * dma-buf exporter ops, the DMABUF importer and the USERPTR bounce. The two back-ends differ only
 * in how pages are allocated and whether an import must be DMA-contiguous.
 */
import {
  Errno, PAGE_SIZE, check, dmaBufAttach, dmaBufDetach, dmaBufExport, dmaBufMapAttachment,
  dmaBufUnmapAttachment, type Device, type DmaBuf, type DmaBufAttachment, type DmaBufOps, type DmaDataDirection,
  type SgTable, type VmArea,
} from "@dmabuf/core";
import { DMA_ATTR_SKIP_CPU_SYNC, MM, sgTableDup, type MemoryManager } from "@dmabuf/mm";
import type { UserPtr } from "../uapi.js";
import type { Vb2Buffer, Vb2DmaCookie, Vb2MemOps } from "../videobuf2-core.js";

/** The pages of one plane, however allocated: the CPU-side table, its mapping for the device, and views. */
export interface Vb2Pages {
  /** CPU side (dma_get_sgtable / the page list): what each importer's table is copied from. */
  readonly sgt: SgTable;
  /** CPU views of the memory, in order (one for contiguous memory). */
  readonly segments: readonly Uint8Array[];
  /** Releases the memory. */
  free(): void;
}

/** How a back-end gets memory for `dev`. */
export type Vb2PagesAlloc = (mm: MemoryManager, dev: Device, size: number) => Vb2Pages;

/** struct vb2_dc_buf / vb2_dma_sg_buf for MMAP and USERPTR planes. */
export class Vb2MemBuf {
  /** vb2's reference plus one per mmap and exported dma-buf (refcount in Linux). */
  refs = 1;
  /** The memory mapped for the owning device, which the driver's DMA goes through. */
  readonly devSgt: SgTable;

  constructor(
    readonly mm: MemoryManager,
    readonly dev: Device,
    readonly size: number,
    readonly dir: DmaDataDirection,
    readonly pages: Vb2Pages,
  ) {
    this.devSgt = sgTableDup(pages.sgt);
    try {
      mm.dmaMapSgtable(dev, this.devSgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
    } catch (e) {
      pages.free();
      throw e;
    }
    mm.kernel.objects.register("vb2 buffer", this, () => `${dev.name}: ${size} bytes, ${this.refs} reference(s)`, "vb2 alloc");
  }

  get(): void {
    this.refs++;
  }

  /** vb2_dc_put(): the last reference frees the memory (orphaned buffers end here). */
  put(): void {
    if (--this.refs > 0) return;
    this.mm.dmaUnmapSgtable(this.dev, this.devSgt, this.dir, DMA_ATTR_SKIP_CPU_SYNC);
    this.pages.free();
    this.mm.kernel.objects.unregister(this);
  }

  /**
   * dma_sync_sgtable_for_cpu(): after the device wrote, before the CPU reads (vb2 finish,
   * DMA_BUF_IOCTL_SYNC start). Nothing to do for coherent devices.
   */
  syncForCpu(): void {
    if (!this.dev.coherent) this.mm.dmaSyncSgtableForCpu(this.dev, this.devSgt, this.dir);
  }

  /** dma_sync_sgtable_for_device(): after the CPU wrote, before the device accesses (vb2 prepare). */
  syncForDevice(): void {
    if (!this.dev.coherent) this.mm.dmaSyncSgtableForDevice(this.dev, this.devSgt, this.dir);
  }

  /** vb2_dc_mmap(): the whole buffer from its start (vb2 clears vm_pgoff); the vma holds a reference. */
  mmap(vma: VmArea): void {
    vma.segments = this.views(0, vma.length);
    this.get();
    vma.onClose = () => this.put();
  }

  /** CPU views of [from, from+len), zero copy. */
  views(from: number, len: number): Uint8Array[] {
    check(from >= 0 && len <= this.size - from, "EINVAL", "mmap", `mapping ${len} bytes at ${from} of a ${this.size}-byte buffer`);
    const out: Uint8Array[] = [];
    let skip = from;
    let left = len;
    for (const s of this.pages.segments) {
      if (left === 0) break;
      if (skip >= s.length) {
        skip -= s.length;
        continue;
      }
      const n = Math.min(s.length - skip, left);
      out.push(s.subarray(skip, skip + n));
      left -= n;
      skip = 0;
    }
    return out;
  }
}

/** The dma-buf exporter ops of a vb2 MMAP plane (vb2_dc_dmabuf_ops / vb2_dma_sg_dmabuf_ops). */
function exporterOps(expName: string): DmaBufOps {
  const bufOf = (d: DmaBuf) => d.priv as Vb2MemBuf;
  return {
    // vb2 exporters map each attachment once and unmap at detach (unmap_dma_buf is a no-op there).
    cacheSgtMapping: true,
    mapDmaBuf(attach: DmaBufAttachment, dir: DmaDataDirection) {
      const buf = bufOf(attach.dmabuf);
      const sgt = sgTableDup(buf.pages.sgt);
      try {
        buf.mm.dmaMapSgtable(attach.dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
      } catch (e) {
        throw new Errno("EIO", "map_dma_buf", `${expName}: mapping for ${attach.dev.name} failed: ${(e as Error).message}`);
      }
      return sgt;
    },
    unmapDmaBuf(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection) {
      bufOf(attach.dmabuf).mm.dmaUnmapSgtable(attach.dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
    },
    release(d: DmaBuf) {
      bufOf(d).put();
    },
    mmap(d: DmaBuf, vma: VmArea) {
      // The vma holds the dma-buf's file, which holds the memory: no extra reference.
      vma.segments = bufOf(d).views(vma.pgoff * PAGE_SIZE, vma.length);
    },
    vmap(d: DmaBuf) {
      return { segments: bufOf(d).pages.segments, isIomem: false };
    },
    // vb2_dma_sg_dmabuf_ops_begin/end_cpu_access: sync the owning device's mapping.
    beginCpuAccess(d: DmaBuf) {
      bufOf(d).syncForCpu();
    },
    endCpuAccess(d: DmaBuf) {
      bufOf(d).syncForDevice();
    },
  };
}

/** A vb2 plane imported from a dma-buf (struct vb2_dc_buf with db_attach). */
interface ImportedPlane {
  readonly dbuf: DmaBuf;
  readonly attach: DmaBufAttachment;
  readonly size: number;
  readonly dir: DmaDataDirection;
  sgt: SgTable | undefined;
}

/** A USERPTR plane: device memory the driver fills, copied to/from the user's array. */
interface UserPlane {
  readonly buf: Vb2MemBuf;
  readonly user: UserPtr;
  readonly output: boolean;
}

/** vb2_dc_get_contiguous_size(): bytes of the leading DMA-contiguous run of a mapped table. */
function contiguousSize(sgt: SgTable): number {
  let expected = sgt.sgl[0]?.dmaAddress ?? 0;
  let size = 0;
  for (let i = 0; i < sgt.nents; i++) {
    const s = sgt.sgl[i]!;
    if (s.dmaAddress !== expected) break;
    expected += s.dmaLength;
    size += s.dmaLength;
  }
  return size;
}

/**
 * Builds a vb2_mem_ops table. `contiguous` makes imports require one DMA-contiguous range
 * (vb2-dma-contig's EFAULT); `alloc` supplies the pages.
 */
export function vb2MemOps(name: string, contiguous: boolean, alloc: Vb2PagesAlloc): Vb2MemOps {
  const mmOf = (vb: Vb2Buffer): MemoryManager => vb.queue.kernel.resolve(MM);
  const newBuf = (vb: Vb2Buffer, dev: Device, size: number) => {
    const mm = mmOf(vb);
    return new Vb2MemBuf(mm, dev, size, vb.queue.dmaDir, alloc(mm, dev, size));
  };
  const ops = exporterOps(name);
  const cookieOf = (priv: unknown): Vb2DmaCookie => {
    if (priv instanceof Vb2MemBuf) return { dev: priv.dev, sgt: priv.devSgt };
    if ((priv as UserPlane).buf) return { dev: (priv as UserPlane).buf.dev, sgt: (priv as UserPlane).buf.devSgt };
    const imp = priv as ImportedPlane;
    check(imp.sgt, "EINVAL", name, "plane is not mapped");
    return { dev: imp.attach.dev, sgt: imp.sgt };
  };
  return {
    alloc: newBuf,
    put: (priv) => (priv as Vb2MemBuf).put(),
    getDmabuf(vb, priv, flags) {
      const buf = priv as Vb2MemBuf;
      // Each EXPBUF makes a new dma-buf holding a reference on the memory; its file gets the
      // access mode EXPBUF asked for (O_RDONLY buffers cannot be mapped writable).
      const dbuf = dmaBufExport(vb.queue.kernel, { expName: name, ops, size: buf.size, flags, priv: buf });
      buf.get();
      return dbuf;
    },
    numUsers: (priv) => (priv as Vb2MemBuf).refs,
    mmap: (priv, vma) => (priv as Vb2MemBuf).mmap(vma),
    getUserptr(vb, dev, userptr, size) {
      check(userptr.length >= size, "EFAULT", "VIDIOC_QBUF", `user memory of ${userptr.length} bytes is smaller than ${size}`);
      return { buf: newBuf(vb, dev, Math.ceil(size / 4096) * 4096), user: userptr, output: vb.queue.isOutput } satisfies UserPlane;
    },
    putUserptr: (priv) => (priv as UserPlane).buf.put(),
    prepare(priv) {
      if (priv instanceof Vb2MemBuf) return priv.syncForDevice();
      // USERPTR output: the user's bytes are copied into device memory before the device reads.
      const up = priv as UserPlane;
      if (up.output) bounce(up, "to-device");
      up.buf.syncForDevice();
    },
    finish(priv) {
      if (priv instanceof Vb2MemBuf) return priv.syncForCpu();
      // USERPTR capture: the frame is copied out to the user's array after the device wrote it.
      const up = priv as UserPlane;
      up.buf.syncForCpu();
      if (!up.output) bounce(up, "from-device");
    },
    attachDmabuf(vb, dev, dbuf, size) {
      check(dbuf.size >= size, "EFAULT", "VIDIOC_QBUF", `dma-buf of ${dbuf.size} bytes is smaller than the plane length ${size}`);
      return { dbuf, attach: dmaBufAttach(dbuf, dev), size, dir: vb.queue.dmaDir, sgt: undefined } satisfies ImportedPlane;
    },
    detachDmabuf(priv) {
      const imp = priv as ImportedPlane;
      if (imp.sgt) dmaBufUnmapAttachment(imp.attach, imp.sgt, imp.dir);
      imp.sgt = undefined;
      dmaBufDetach(imp.dbuf, imp.attach);
    },
    mapDmabuf(priv) {
      const imp = priv as ImportedPlane;
      let sgt: SgTable;
      try {
        sgt = dmaBufMapAttachment(imp.attach, imp.dir);
      } catch (e) {
        throw new Errno("EINVAL", "VIDIOC_QBUF", `failed to map dmabuf: ${(e as Error).message}`);
      }
      if (contiguous) {
        const contig = contiguousSize(sgt);
        if (contig < imp.size) {
          dmaBufUnmapAttachment(imp.attach, sgt, imp.dir);
          throw new Errno("EFAULT", "VIDIOC_QBUF", `contiguous chunk is too small ${contig}/${imp.size} bytes (${name} needs one DMA-contiguous range)`);
        }
      }
      imp.sgt = sgt;
    },
    unmapDmabuf(priv) {
      const imp = priv as ImportedPlane;
      if (imp.sgt) dmaBufUnmapAttachment(imp.attach, imp.sgt, imp.dir);
      imp.sgt = undefined;
    },
    cookie: (_vb, priv) => cookieOf(priv),
  };
}

/** The USERPTR copy between the user's array and device memory: counted as a model copy. */
function bounce(up: UserPlane, way: "to-device" | "from-device"): void {
  let at = 0;
  const len = Math.min(up.user.length, up.buf.size);
  for (const seg of up.buf.pages.segments) {
    if (at >= len) break;
    const n = Math.min(seg.length, len - at);
    if (way === "to-device") seg.set(up.user.subarray(at, at + n));
    else up.user.set(seg.subarray(0, n), at);
    at += n;
  }
  up.buf.mm.copies.record(`vb2-userptr-${way}`, len);
}
