/**
 * The dma-buf framework (drivers/dma-buf/dma-buf.c, 6.x semantics): exporters wrap their buffers in
 * a DmaBuf, importers attach devices and map them for DMA, userspace holds the buffer as an fd.
 *
 * Lifetime: a DmaBuf lives exactly as long as its File. The export reference is the file's first
 * reference; dma_buf_fd() moves it into an fd table, and every fd (dup, SCM_RIGHTS), every mmap and
 * every dma_buf_get() adds one. When the last goes, the exporter's `release` runs, once.
 *
 * Misuse the kernel only WARNs about (or crashes on) fails here with an Errno and changes nothing:
 * detaching a foreign or detached attachment, mapping through a detached one, unmapping twice,
 * putting a released buffer.
 */
import type { Device } from "./device.js";
import type { DmaBufAttachOps, DmaBufExportInfo, DmaBufOps, IosysMap } from "./dma-buf-ops.js";
import { DMA_BUF_IOCTL_EXPORT_SYNC_FILE, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, DMA_BUF_IOCTL_SYNC, DMA_BUF_NAME_LEN, DMA_BUF_SET_NAME_A, DMA_BUF_SET_NAME_B, DMA_BUF_SYNC_END, DMA_BUF_SYNC_RW, DMA_BUF_SYNC_VALID_FLAGS_MASK, type DmaBufExportSyncFile, type DmaBufImportSyncFile } from "./dma-buf-uapi.js";
import { dmaBufDescribeFences, dmaBufExportSyncFile, dmaBufImportSyncFile, dmaBufPoll, dmaBufWaitForCpuAccess } from "./dma-buf-implicit-sync.js";
import { DmaResv } from "./dma-resv.js";
import { Errno, check, isErrno, type ErrnoCode } from "./errno.js";
import { File, O_ACCMODE, O_NONBLOCK, SEEK_END, SEEK_SET, type FileOperations, type Inode } from "./file.js";
import { SeqBuf } from "./internal/seq-buf.js";
import type { Kernel } from "./kernel.js";
import { PAGE_SIZE } from "./process.js";
import { flushSignals } from "./signal.js";
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_NONE, DMA_TO_DEVICE, dmaDirectionName, isValidDmaDirection, type DmaDataDirection, type SgTable } from "./scatterlist.js";
import type { VmArea } from "./vm-area.js";

/** FMODE_READ, FMODE_WRITE, FMODE_OPENED (include/linux/fs.h) for bufinfo's `mode` column. */
const FMODE_OPENED = 0x80000;
/** OPEN_FMODE(): O_RDONLY -> FMODE_READ, O_WRONLY -> FMODE_WRITE, O_RDWR -> both. */
const openFmode = (flags: number) => ((flags + 1) & O_ACCMODE) | FMODE_OPENED;

/** @internal Per-kernel state: db_list (newest last here; printed newest first) and the dmabuf inode counter. */
export interface DmaBufList {
  readonly buffers: Set<DmaBuf>;
  ino: number;
  attachIds: number;
}
const lists = new WeakMap<Kernel, DmaBufList>();

function listOf(kernel: Kernel): DmaBufList {
  const l = lists.get(kernel);
  if (!l) throw new Error("dma-buf: dmaBufInit() has not run for this kernel");
  return l;
}

/**
 * dma_buf_init() (subsys_initcall): sets up the buffer list and
 * /sys/kernel/debug/dma_buf/bufinfo. The kernel calls it at boot.
 */
export function dmaBufInit(kernel: Kernel): void {
  const list: DmaBufList = { buffers: new Set(), ino: 0, attachIds: 0 };
  lists.set(kernel, list);
  kernel.vfs.createText("/sys/kernel/debug/dma_buf/bufinfo", () => bufinfo(list));
  // dma-bufs register themselves at export (with their origin); attachments are read from db_list
  kernel.objects.track("dma-buf attachment", () => [...list.buffers].flatMap((b) => b.attachments), (a) => `${a.dev.name} attached to dma-buf ino ${a.dmabuf.ino} (${a.dmabuf.expName}), ${a.mappings.length} mapping(s) outstanding`);
}

/** struct dma_buf. Drivers read its fields; the framework alone changes them. */
export class DmaBuf {
  readonly size: number;
  readonly expName: string;
  readonly ops: DmaBufOps;
  readonly priv: unknown;
  /** The dma-buf's file: its refcount is the buffer's. */
  readonly file: File;
  /** Set by DMA_BUF_SET_NAME; undefined until then. */
  name: string | undefined;
  /** Attached devices, most recent first (list_add at the head, as bufinfo shows them). */
  readonly attachments: DmaBufAttachment[] = [];
  /** vmapping_counter and vmap_ptr: dma_buf_vmap users share one exporter mapping. */
  vmappingCounter = 0;
  vmapPtr: IosysMap | undefined;
  /** f_mode as bufinfo prints it. */
  readonly fmode: number;
  /** The reservation object holding the buffer's implicit-sync fences (shared or its own). */
  readonly resv: DmaResv;
  /** @internal true when `resv` is the buffer's own, to finalise at release. */
  readonly ownResv: boolean;
  /** @internal The kernel's db_list this buffer is on (kept here: no lookup per attach or release). */
  readonly list: DmaBufList;

  /** @internal Built by {@link dmaBufExport} only. */
  constructor(
    readonly kernel: Kernel,
    info: DmaBufExportInfo,
    list: DmaBufList,
  ) {
    this.list = list;
    const ino = ++list.ino;
    this.size = info.size;
    this.expName = info.expName;
    this.ops = info.ops;
    this.priv = info.priv;
    this.ownResv = !info.resv;
    this.resv = info.resv ?? new DmaResv(kernel);
    const flags = info.flags & (O_ACCMODE | O_NONBLOCK);
    this.fmode = openFmode(flags);
    this.file = new File(DMA_BUF_FOPS, new DmaBufInode(ino, this), flags, this);
  }

  /** i_ino: unique per kernel, counting from 1 (dma_buf_getfile's atomic64 counter). */
  get ino(): number {
    return this.file.inode.ino;
  }

  /** file_count(): fds, mmaps and dma_buf_get() references. */
  get refcount(): number {
    return this.file.count;
  }

  /** True once the last reference has gone and `release` has run. */
  get released(): boolean {
    return this.file.released;
  }
}

/** The dmabuf pseudo-fs inode: dmabuffs_dname() makes readlink of the fd "/dmabuf:<name>". */
class DmaBufInode implements Inode {
  constructor(
    readonly ino: number,
    private readonly buf: DmaBuf,
  ) {}

  get name(): string {
    return `/dmabuf:${this.buf.name ?? ""}`;
  }
}

/** struct dma_buf_attachment: one device's view of a buffer. */
export class DmaBufAttachment {
  /** Exporter-private data (attach->priv), set by the exporter's `attach` op if it wants. */
  priv: unknown;
  /** attach->peer2peer: copied from the importer's allowPeer2peer. */
  readonly peer2peer: boolean;
  /** The cached mapping (attach->sgt, attach->dir), when the framework keeps one. */
  sgt: SgTable | undefined;
  dir: DmaDataDirection = DMA_NONE;
  /** Outstanding dma_buf_map_attachment() calls not yet unmapped (a cached table may appear several times). */
  readonly mappings: { readonly sgt: SgTable; readonly dir: DmaDataDirection }[] = [];
  /** False once detached (or orphaned by a buffer released while still attached). */
  attached = true;
  private readonly seq: number;

  /** @internal Built by {@link dmaBufDynamicAttach} only. */
  constructor(
    readonly dmabuf: DmaBuf,
    readonly dev: Device,
    readonly importerOps: DmaBufAttachOps | undefined,
    readonly importerPriv: unknown,
    id: number,
  ) {
    this.peer2peer = importerOps?.allowPeer2peer ?? false;
    this.seq = id;
  }

  /** The %p that traces print for this attachment: a kernel-looking address, unique per kernel. */
  get id(): string {
    return "0x" + (0xffff888000000000n + BigInt(this.seq) * 0x100n).toString(16);
  }
}

/** dma_buf_is_dynamic(): the exporter can move the buffer (it implements pin). */
export const dmaBufIsDynamic = (buf: DmaBuf): boolean => buf.ops.pin !== undefined;

/** dma_buf_attachment_is_dynamic(): the importer handles moves (it gave importer ops). */
export const dmaBufAttachmentIsDynamic = (attach: DmaBufAttachment): boolean => attach.importerOps !== undefined;

/** is_dma_buf_file() */
export const isDmaBufFile = (file: File): boolean => file.ops === DMA_BUF_FOPS;

/* ---- error helpers ---- */

/** A WARN_ON in the kernel: logged as the kernel logs it, then failed with an Errno. */
function warn(kernel: Kernel, code: ErrnoCode, call: string, reason: string): Errno {
  kernel.printk(`WARNING: CPU: 0 PID: ${kernel.current?.pid ?? 0} at drivers/dma-buf/dma-buf.c ${call}: ${reason}`);
  return new Errno(code, call, reason);
}

function live(buf: DmaBuf, call: string): void {
  // Hot path: plain ifs, so that no message is built unless the call fails.
  if (!(buf instanceof DmaBuf)) throw new Errno("EINVAL", call, "not a dma-buf");
  if (buf.released) throw new Errno("EINVAL", call, `dma-buf ino ${buf.ino} (${buf.expName}) was already released: use after the last dma_buf_put()`);
}

function liveAttach(attach: DmaBufAttachment, call: string): DmaBuf {
  if (!(attach instanceof DmaBufAttachment)) throw new Errno("EINVAL", call, "not a dma-buf attachment");
  if (!attach.attached) throw new Errno("EINVAL", call, `attachment of ${attach.dev.name} to dma-buf ino ${attach.dmabuf.ino} was detached: attach again first`);
  return attach.dmabuf;
}

/* ---- tracepoints (include/trace/events/dma_buf.h) ---- */

/** Class dma_buf (exp_name, size, ino), and dma_buf_fd's fd. */
function traceBuf(buf: DmaBuf, event: string, fd?: number): void {
  const t = buf.kernel.trace;
  if (!t.on) return;
  t.emit(event, fd === undefined ? { exp_name: buf.expName, size: buf.size, ino: buf.ino } : { exp_name: buf.expName, size: buf.size, ino: buf.ino, fd });
}

/**
 * Class dma_buf_attach_dev. dma_buf_map_attachment/dma_buf_unmap_attachment (with `dir`) are this
 * model's own events: mainline has no map/unmap tracepoints.
 */
function traceAttach(a: DmaBufAttachment, event: string, dir?: DmaDataDirection): void {
  const t = a.dmabuf.kernel.trace;
  if (!t.on) return;
  const args = { exp_name: a.dmabuf.expName, size: a.dmabuf.size, ino: a.dmabuf.ino, attachment: a.id, is_dynamic: dmaBufAttachmentIsDynamic(a), dev_name: a.dev.name };
  t.emit(event, dir === undefined ? args : { ...args, dir: dmaDirectionName(dir) });
}

/* ---- export, fd, get, put ---- */

/**
 * dma_buf_export(): wraps an exporter's buffer. The returned DmaBuf holds one reference, owned by
 * the caller until dmaBufFd() moves it into an fd or dmaBufPut() drops it.
 * EINVAL when priv, ops, mapDmaBuf, unmapDmaBuf or release is missing, when only one of pin/unpin
 * is given, when cacheSgtMapping is combined with pin/unpin, or without an exporter name (which
 * CONFIG_DMABUF_SYSFS_STATS requires). A failed export leaves nothing behind.
 */
export function dmaBufExport(kernel: Kernel, info: DmaBufExportInfo): DmaBuf {
  const call = "dma_buf_export";
  const ops = info?.ops;
  if (info?.priv == null || !ops?.mapDmaBuf || !ops.unmapDmaBuf || !ops.release) {
    const missing = [info?.priv == null && "priv", !ops && "ops", ops && !ops.mapDmaBuf && "ops.mapDmaBuf", ops && !ops.unmapDmaBuf && "ops.unmapDmaBuf", ops && !ops.release && "ops.release"];
    throw warn(kernel, "EINVAL", call, `missing ${missing.filter(Boolean).join(", ")}`);
  }
  if (ops.cacheSgtMapping && (ops.pin || ops.unpin)) throw warn(kernel, "EINVAL", call, "cacheSgtMapping cannot be combined with pin/unpin");
  if (!ops.pin !== !ops.unpin) throw warn(kernel, "EINVAL", call, "pin and unpin must be given together");
  if (typeof info.expName !== "string" || info.expName === "") throw new Errno("EINVAL", call, "expName is required (dma_buf_stats_setup)");
  if (!Number.isSafeInteger(info.size) || info.size < 0) throw new Errno("EINVAL", call, `size ${info.size} is not a byte count`);
  const list = listOf(kernel);
  const buf = new DmaBuf(kernel, info, list);
  list.buffers.add(buf);
  // Registered by its file, so that kernel.fdInstall's note (which fd of which process) lands on it.
  kernel.objects.register("dma-buf", buf.file, () => `${buf.expName} ino ${buf.ino} size ${buf.size}${buf.name === undefined ? "" : ` name "${buf.name}"`}, ${buf.refcount} reference(s), ${buf.attachments.length} attachment(s)`, call);
  traceBuf(buf, "dma_buf_export");
  return buf;
}

/**
 * dma_buf_fd(): installs the buffer's file at the lowest free fd of the current process, moving
 * the caller's reference into the fd (no new reference). `flags` may hold O_CLOEXEC.
 * EINVAL for a released buffer; EMFILE when the fd table is full (the reference stays the caller's).
 */
export function dmaBufFd(buf: DmaBuf, flags: number): number {
  live(buf, "dma_buf_fd");
  const fd = buf.kernel.fdInstall(buf.file, flags, "dma_buf_fd");
  traceBuf(buf, "dma_buf_fd", fd);
  return fd;
}

/** dma_buf_get(): the buffer behind `fd` in the current process, with a new reference. EBADF, or EINVAL for a file that is not a dma-buf. */
export function dmaBufGet(kernel: Kernel, fd: number): DmaBuf {
  const call = "dma_buf_get";
  const file = kernel.current?.fds.lookup(fd);
  if (!file) throw new Errno("EBADF", call, `fd ${fd} is not open in the current process`);
  if (!isDmaBufFile(file)) throw new Errno("EINVAL", call, `fd ${fd} (${file.inode.name}) is not a dma-buf`);
  const buf = file.privateData as DmaBuf;
  file.get();
  traceBuf(buf, "dma_buf_get", fd);
  return buf;
}

/** get_dma_buf(): one more reference, for an importer keeping the buffer beyond the caller's. */
export function getDmaBuf(buf: DmaBuf): void {
  live(buf, "get_dma_buf");
  buf.file.get();
}

/** dma_buf_put(): drops a reference; the last one releases the buffer. EINVAL on a released buffer. */
export function dmaBufPut(buf: DmaBuf): void {
  live(buf, "dma_buf_put");
  traceBuf(buf, "dma_buf_put");
  buf.file.put();
}

/**
 * dma_buf_file_release() + dma_buf_release(): the last reference is gone. The kernel BUG()s on a
 * buffer still vmapped and WARNs on one still attached; both are logged, then the buffer is freed
 * anyway and leftover attachments become invalid.
 */
function release(buf: DmaBuf): void {
  const k = buf.kernel;
  buf.list.buffers.delete(buf);
  k.objects.unregister(buf.file);
  if (buf.vmappingCounter) k.printk(`kernel BUG at drivers/dma-buf/dma-buf.c:dma_buf_release: dma-buf ino ${buf.ino} (${buf.expName}) released while vmapped (vmapping_counter ${buf.vmappingCounter})`);
  buf.ops.release(buf);
  if (buf.ownResv) buf.resv.fini();
  if (buf.attachments.length) {
    warn(k, "EBUSY", "dma_buf_release", `dma-buf ino ${buf.ino} (${buf.expName}) released with ${buf.attachments.length} attachment(s) (${buf.attachments.map((a) => a.dev.name).join(", ")}): importers must detach before their last dma_buf_put()`);
    for (const a of buf.attachments) a.attached = false;
    buf.attachments.length = 0;
  }
}

/* ---- attach, detach, pin ---- */

/** __map_dma_buf(): the exporter's map; NULL becomes ENOMEM. */
function mapDmaBuf(attach: DmaBufAttachment, dir: DmaDataDirection, call: string): SgTable {
  const sgt = attach.dmabuf.ops.mapDmaBuf(attach, dir);
  if (!sgt) throw new Errno("ENOMEM", call, `${attach.dmabuf.expName} mapDmaBuf returned no sg_table`);
  // Linux also makes a static importer wait here for DMA_RESV_USAGE_KERNEL fences (a move in
  // progress). Mapping is synchronous in this model and no exporter leaves an unsignalled KERNEL
  // fence behind (moves complete before they return), so there is nothing to wait for.
  return sgt;
}

/** dma_buf_attach(): dmaBufDynamicAttach() for a static importer (no importer ops). */
export function dmaBufAttach(buf: DmaBuf, dev: Device): DmaBufAttachment {
  return dmaBufDynamicAttach(buf, dev);
}

/**
 * dma_buf_dynamic_attach(): adds `dev` to the buffer's attachments. The exporter's `attach` op may
 * refuse (EBUSY when the storage is out of the device's reach). When one side is dynamic and the
 * other is not, 6.x maps the buffer right away (DMA_BIDIRECTIONAL, pinned if the exporter is
 * dynamic) and caches that mapping for the attachment's life. EINVAL without a device, on a
 * released buffer, or for importer ops lacking moveNotify. On failure no attachment remains.
 */
export function dmaBufDynamicAttach(buf: DmaBuf, dev: Device, importerOps?: DmaBufAttachOps, importerPriv?: unknown): DmaBufAttachment {
  const call = "dma_buf_dynamic_attach";
  live(buf, call);
  if (!dev) throw warn(buf.kernel, "EINVAL", call, "no device");
  if (importerOps && typeof importerOps.moveNotify !== "function") throw warn(buf.kernel, "EINVAL", call, "importer ops without moveNotify");
  const attach = new DmaBufAttachment(buf, dev, importerOps, importerPriv, ++buf.list.attachIds);
  buf.ops.attach?.(buf, attach);
  buf.attachments.unshift(attach);
  const dynamicBuf = dmaBufIsDynamic(buf);
  if (dmaBufAttachmentIsDynamic(attach) !== dynamicBuf) {
    try {
      if (dynamicBuf) buf.ops.pin!(attach);
      try {
        attach.sgt = mapDmaBuf(attach, DMA_BIDIRECTIONAL, call);
        attach.dir = DMA_BIDIRECTIONAL;
      } catch (e) {
        if (dynamicBuf) buf.ops.unpin!(attach);
        throw e;
      }
    } catch (e) {
      unlink(attach);
      throw e;
    }
  }
  traceAttach(attach, "dma_buf_dynamic_attach");
  return attach;
}

/** Takes `attach` off its buffer's list and lets the exporter undo its `attach` op. */
function unlink(attach: DmaBufAttachment): void {
  const buf = attach.dmabuf;
  buf.attachments.splice(buf.attachments.indexOf(attach), 1);
  attach.attached = false;
  buf.ops.detach?.(buf, attach);
}

/**
 * dma_buf_detach(): removes an attachment; a cached mapping is unmapped (and unpinned) first, then
 * the exporter's `detach` op runs and may reconsider placement. EINVAL for an attachment of
 * another buffer or one already detached; EBUSY while the importer still has mappings (unmap them
 * first, as the kernel-doc requires).
 */
export function dmaBufDetach(buf: DmaBuf, attach: DmaBufAttachment): void {
  const call = "dma_buf_detach";
  live(buf, call);
  if (!(attach instanceof DmaBufAttachment) || attach.dmabuf !== buf) throw warn(buf.kernel, "EINVAL", call, `attachment does not belong to dma-buf ino ${buf.ino}`);
  liveAttach(attach, call);
  if (attach.mappings.length)
    throw new Errno("EBUSY", call, `${attach.dev.name} still has ${attach.mappings.length} mapping(s) of dma-buf ino ${buf.ino}; dma_buf_unmap_attachment() them first`);
  traceAttach(attach, "dma_buf_detach");
  if (attach.sgt) {
    buf.ops.unmapDmaBuf(attach, attach.sgt, attach.dir);
    if (dmaBufIsDynamic(buf)) buf.ops.unpin!(attach);
    attach.sgt = undefined;
    attach.dir = DMA_NONE;
  }
  unlink(attach);
}

/** dma_buf_pin(): a dynamic importer keeps the buffer from moving (e.g. for scanout). EINVAL for a static attachment. */
export function dmaBufPin(attach: DmaBufAttachment): void {
  const buf = liveAttach(attach, "dma_buf_pin");
  if (!dmaBufAttachmentIsDynamic(attach)) throw warn(buf.kernel, "EINVAL", "dma_buf_pin", "only dynamic importers may pin");
  buf.ops.pin?.(attach);
}

/** dma_buf_unpin(): undoes dmaBufPin(). EINVAL for a static attachment. */
export function dmaBufUnpin(attach: DmaBufAttachment): void {
  const buf = liveAttach(attach, "dma_buf_unpin");
  if (!dmaBufAttachmentIsDynamic(attach)) throw warn(buf.kernel, "EINVAL", "dma_buf_unpin", "only dynamic importers may unpin");
  buf.ops.unpin?.(attach);
}

/* ---- map, unmap, move ---- */

/**
 * dma_buf_map_attachment(): the sg_table of the buffer mapped for the attachment's device. Brackets
 * device access with dmaBufUnmapAttachment(); the exporter may back the storage here. With a cached
 * mapping the same table is returned (EBUSY for another direction unless it was mapped
 * DMA_BIDIRECTIONAL). A dynamic exporter is pinned while mapped (no CONFIG_DMABUF_MOVE_NOTIFY).
 * EINVAL for a detached attachment or an invalid direction; exporter errors pass through.
 */
export function dmaBufMapAttachment(attach: DmaBufAttachment, dir: DmaDataDirection): SgTable {
  const call = "dma_buf_map_attachment";
  const buf = liveAttach(attach, call);
  if (!isValidDmaDirection(dir)) throw new Errno("EINVAL", call, `direction ${dir} is not DMA_BIDIRECTIONAL, DMA_TO_DEVICE or DMA_FROM_DEVICE`);
  let sgt = attach.sgt;
  if (sgt) {
    if (attach.dir !== dir && attach.dir !== DMA_BIDIRECTIONAL)
      throw new Errno("EBUSY", call, `attachment already mapped ${dmaDirectionName(attach.dir)}; cannot map it ${dmaDirectionName(dir)} too`);
  } else {
    const dynamicBuf = dmaBufIsDynamic(buf);
    if (dynamicBuf) buf.ops.pin!(attach);
    try {
      sgt = mapDmaBuf(attach, dir, call);
    } catch (e) {
      if (dynamicBuf) buf.ops.unpin!(attach);
      throw e;
    }
    if (buf.ops.cacheSgtMapping) {
      attach.sgt = sgt;
      attach.dir = dir;
    }
  }
  attach.mappings.push({ sgt, dir });
  traceAttach(attach, "dma_buf_map_attachment", dir);
  return sgt;
}

/**
 * dma_buf_unmap_attachment(): ends device access through `sgt`. A cached table stays mapped until
 * detach. EINVAL when `sgt` is not mapped through this attachment (a double unmap) or `dir`
 * differs from the direction it was mapped with.
 */
export function dmaBufUnmapAttachment(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection): void {
  const call = "dma_buf_unmap_attachment";
  const buf = liveAttach(attach, call);
  const maps = attach.mappings;
  let i = maps.length - 1;
  while (i >= 0 && (maps[i]!.sgt !== sgt || maps[i]!.dir !== dir)) i--;
  if (i < 0) {
    const dirs = maps.filter((m) => m.sgt === sgt).map((m) => dmaDirectionName(m.dir));
    if (!dirs.length) throw new Errno("EINVAL", call, `sg_table is not mapped through this attachment of ${attach.dev.name} (double unmap?)`);
    throw new Errno("EINVAL", call, `sg_table was mapped ${dirs.join("/")}, not ${isValidDmaDirection(dir) ? dmaDirectionName(dir) : dir}`);
  }
  if (attach.sgt !== sgt) {
    buf.ops.unmapDmaBuf(attach, sgt, dir);
    if (dmaBufIsDynamic(buf)) buf.ops.unpin!(attach);
  }
  maps.splice(i, 1);
  traceAttach(attach, "dma_buf_unmap_attachment", dir);
}

/** dma_buf_move_notify(): the exporter is moving the buffer; every dynamic importer's moveNotify runs. */
export function dmaBufMoveNotify(buf: DmaBuf): void {
  live(buf, "dma_buf_move_notify");
  for (const a of [...buf.attachments]) a.importerOps?.moveNotify(a);
}

/* ---- CPU access ---- */

/**
 * dma_buf_begin_cpu_access(): the exporter makes the buffer coherent for the CPU in `dir`, then the
 * caller sleeps until the implicit fences allow the access (a writer waits for readers and writers,
 * a reader for writers). ERESTARTSYS when a signal interrupts that wait.
 */
export async function dmaBufBeginCpuAccess(buf: DmaBuf, dir: DmaDataDirection): Promise<void> {
  live(buf, "dma_buf_begin_cpu_access");
  const task = buf.kernel.current;
  await buf.ops.beginCpuAccess?.(buf, dir);
  await dmaBufWaitForCpuAccess(buf, dir, task);
}

/** dma_buf_end_cpu_access(): the exporter flushes CPU writes for the devices. */
export async function dmaBufEndCpuAccess(buf: DmaBuf, dir: DmaDataDirection): Promise<void> {
  live(buf, "dma_buf_end_cpu_access");
  await buf.ops.endCpuAccess?.(buf, dir);
}

/* ---- mmap, vmap ---- */

/** The bounds check of dma_buf_mmap_internal() and dma_buf_mmap(). */
function checkMmap(buf: DmaBuf, vma: VmArea, pgoff: number, call: string): void {
  check(buf.ops.mmap, "EINVAL", call, `exporter ${buf.expName} does not support mmap`);
  const pages = Math.ceil(vma.length / PAGE_SIZE);
  check(Number.isSafeInteger(pgoff + pages), "EOVERFLOW", call, `page offset ${pgoff} + ${pages} pages overflows`);
  check(pgoff + pages <= Math.floor(buf.size / PAGE_SIZE), "EINVAL", call, `pages ${pgoff}..${pgoff + pages - 1} lie past the end of the ${buf.size}-byte buffer`);
}

/**
 * dma_buf_mmap(): an importer's mmap op forwards a userspace mapping to the exporter. The vma is
 * pointed at the dma-buf's file (vma_set_file) at page `pgoff`. EINVAL without an exporter mmap
 * or past the end; EOVERFLOW when the page range wraps.
 */
export function dmaBufMmap(buf: DmaBuf, vma: VmArea, pgoff: number): void {
  const call = "dma_buf_mmap";
  live(buf, call);
  check(Number.isSafeInteger(pgoff) && pgoff >= 0, "EOVERFLOW", call, `page offset ${pgoff} is not an unsigned long`);
  checkMmap(buf, vma, pgoff, call);
  vma.setFile(buf.file);
  vma.pgoff = pgoff;
  traceBuf(buf, "dma_buf_mmap");
  buf.ops.mmap!(buf, vma);
}

/**
 * dma_buf_vmap(): a kernel mapping of the whole buffer, shared by all users: the exporter's vmap
 * runs only for the first. EINVAL when the exporter has no vmap; its errors pass through.
 */
export function dmaBufVmap(buf: DmaBuf): IosysMap {
  const call = "dma_buf_vmap";
  live(buf, call);
  check(buf.ops.vmap, "EINVAL", call, `exporter ${buf.expName} does not support vmap`);
  if (buf.vmappingCounter > 0) {
    buf.vmappingCounter++;
    return buf.vmapPtr!;
  }
  const map = buf.ops.vmap(buf);
  buf.vmapPtr = map;
  buf.vmappingCounter = 1;
  return map;
}

/** dma_buf_vunmap(): the last user's unmap reaches the exporter. EINVAL (a BUG_ON in the kernel) when not vmapped or for another map. */
export function dmaBufVunmap(buf: DmaBuf, map: IosysMap): void {
  const call = "dma_buf_vunmap";
  live(buf, call);
  check(buf.vmappingCounter > 0, "EINVAL", call, `dma-buf ino ${buf.ino} is not vmapped (unbalanced vunmap)`);
  check(map === buf.vmapPtr, "EINVAL", call, "map is not the one dma_buf_vmap() returned");
  if (--buf.vmappingCounter === 0) {
    buf.ops.vunmap?.(buf, map);
    buf.vmapPtr = undefined;
  }
}

/* ---- the dma-buf file (dma_buf_fops) ---- */

/** DMA_BUF_IOCTL_SYNC: only READ/WRITE/RW with or without END (1,2,3,5,6,7); anything else EINVAL. */
async function ioctlSync(buf: DmaBuf, arg: unknown): Promise<number> {
  const call = "DMA_BUF_IOCTL_SYNC";
  const raw = (arg as { flags?: unknown } | null)?.flags;
  check(typeof raw === "bigint" || Number.isSafeInteger(raw), "EFAULT", call, "arg must be a struct dma_buf_sync { flags }");
  const flags = BigInt.asUintN(64, BigInt(raw as number | bigint));
  check((flags & ~BigInt(DMA_BUF_SYNC_VALID_FLAGS_MASK)) === 0n, "EINVAL", call, `flags 0x${flags.toString(16)} has bits outside DMA_BUF_SYNC_VALID_FLAGS_MASK`);
  const rw = Number(flags) & DMA_BUF_SYNC_RW;
  check(rw !== 0, "EINVAL", call, "flags must include DMA_BUF_SYNC_READ and/or DMA_BUF_SYNC_WRITE");
  const dir = rw === DMA_BUF_SYNC_RW ? DMA_BIDIRECTIONAL : rw === 1 ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
  if (Number(flags) & DMA_BUF_SYNC_END) await dmaBufEndCpuAccess(buf, dir);
  else {
    const task = buf.kernel.current;
    try {
      await dmaBufBeginCpuAccess(buf, dir);
    } catch (e) {
      if (!isErrno(e, "ERESTARTSYS")) throw e;
      // No SA_RESTART in this model: the signal is delivered on the way out and the call fails with EINTR.
      if (task) flushSignals(task);
      throw new Errno("EINTR", call, "a signal arrived while waiting for the buffer's fences");
    }
  }
  return 0;
}

/** dma_buf_set_name(): strndup_user(arg, DMA_BUF_NAME_LEN); a name longer than 31 bytes is EINVAL. */
function setName(buf: DmaBuf, arg: unknown): number {
  const call = "DMA_BUF_SET_NAME";
  check(typeof arg === "string", "EFAULT", call, "arg must be the name string");
  const name = arg.split("\0")[0]!;
  const len = new TextEncoder().encode(name).length;
  check(len < DMA_BUF_NAME_LEN, "EINVAL", call, `name is ${len} bytes; at most ${DMA_BUF_NAME_LEN - 1} fit with the NUL`);
  buf.name = name;
  return 0;
}

const DMA_BUF_FOPS: FileOperations = {
  name: "dma-buf",
  release: (file) => release(file.privateData as DmaBuf),
  /** dma_buf_mmap_internal() */
  mmap(file, vma) {
    const buf = file.privateData as DmaBuf;
    checkMmap(buf, vma, vma.pgoff, "mmap");
    traceBuf(buf, "dma_buf_mmap_internal");
    buf.ops.mmap!(buf, vma);
  },
  poll: (file, table) => dmaBufPoll(file.privateData as DmaBuf, table),
  /** dma_buf_llseek(): only finding the size (SEEK_END, 0) or the start (SEEK_SET, 0). */
  llseek(file, offset, whence) {
    const buf = file.privateData as DmaBuf;
    check(whence === SEEK_END || whence === SEEK_SET, "EINVAL", "lseek", `whence ${whence}: a dma-buf supports only SEEK_END and SEEK_SET`);
    check(offset === 0, "EINVAL", "lseek", `offset ${offset}: a dma-buf seeks only to offset 0 (SEEK_END gives the size)`);
    return whence === SEEK_END ? buf.size : 0;
  },
  ioctl(file, request, arg) {
    const buf = file.privateData as DmaBuf;
    switch (request) {
      case DMA_BUF_IOCTL_SYNC:
        return ioctlSync(buf, arg);
      case DMA_BUF_SET_NAME_A:
      case DMA_BUF_SET_NAME_B:
        return setName(buf, arg);
      case DMA_BUF_IOCTL_EXPORT_SYNC_FILE:
        return dmaBufExportSyncFile(buf, arg as DmaBufExportSyncFile);
      case DMA_BUF_IOCTL_IMPORT_SYNC_FILE:
        return dmaBufImportSyncFile(buf, arg as DmaBufImportSyncFile);
      default:
        throw new Errno("ENOTTY", "ioctl", `unknown dma-buf ioctl 0x${request.toString(16).padStart(8, "0")}`);
    }
  },
  /** dma_buf_show_fdinfo(). Linux prints file_count - 1 to hide procfs's temporary reference; none is taken here. */
  showFdinfo(file) {
    const buf = file.privateData as DmaBuf;
    return `size:\t${buf.size}\ncount:\t${file.count}\nexp_name:\t${buf.expName}\n` + (buf.name !== undefined ? `name:\t${buf.name}\n` : "");
  },
};

/* ---- debugfs ---- */

const col = (s: string) => s.padEnd(8);

/**
 * dma_buf_debug_show(): /sys/kernel/debug/dma_buf/bufinfo, newest buffer first (the kernel adds at
 * the list head). Rendered as bytes into one buffer: 100,000 buffers cost no string per line.
 */
function bufinfo(list: DmaBufList): Uint8Array {
  const s = new SeqBuf();
  s.puts("\nDma-buf Objects:\n" + `${col("size")}\t${col("flags")}\t${col("mode")}\t${col("count")}\texp_name\t${col("ino")}\tname\n`);
  const bufs = [...list.buffers];
  let bytes = 0;
  for (let i = bufs.length - 1; i >= 0; i--) {
    const buf = bufs[i]!;
    s.num(buf.size, 8).puts("\t").num(buf.file.flags, 8, 16).puts("\t").num(buf.fmode, 8, 16).puts("\t").num(buf.file.count, 8).puts("\t");
    s.puts(buf.expName).puts("\t").num(buf.ino, 8).puts("\t").puts(buf.name ?? "<none>").puts("\n");
    s.puts(dmaBufDescribeFences(buf)).puts("\tAttached Devices:\n");
    for (const a of buf.attachments) s.puts("\t").puts(a.dev.name).puts("\n");
    s.puts("Total ").num(buf.attachments.length, 0).puts(" devices attached\n\n");
    bytes += buf.size;
  }
  return s.puts("\nTotal ").num(bufs.length, 0).puts(" objects, ").num(bytes, 0).puts(" bytes\n").bytes();
}
