/**
 * videobuf2 core (drivers/media/common/videobuf2/videobuf2-core.c): buffer queues shared by every
 * V4L2 driver, their buffer state machine and the memory models MMAP, USERPTR and DMABUF. The memory
 * itself comes from a {@link Vb2MemOps} back-end (videobuf2-dma-contig.ts, videobuf2-dma-sg.ts); the
 * V4L2 struct handling lives in videobuf2-v4l2.ts, as in Linux.
 */
import {
  Errno, PAGE_SIZE, POLLERR, isErrno, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, WaitQueue, check, type Device,
  type Kernel, type PollTable, type SgTable, type TaskContext, type VmArea,
} from "@dmabuf/core";
import type { DmaBuf } from "@dmabuf/core";
import { dmaBufGet, dmaBufPut } from "@dmabuf/core";
import {
  V4L2_FIELD_NONE, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, V4L2_MEMORY_USERPTR, VIDEO_MAX_FRAME, VIDEO_MAX_PLANES,
  type UserPtr, type v4l2_timecode,
} from "./uapi.js";

/** enum vb2_buffer_state */
export const VB2_BUF_STATE_DEQUEUED = 0;
export const VB2_BUF_STATE_IN_REQUEST = 1;
export const VB2_BUF_STATE_PREPARING = 2;
export const VB2_BUF_STATE_QUEUED = 3;
export const VB2_BUF_STATE_ACTIVE = 4;
export const VB2_BUF_STATE_DONE = 5;
export const VB2_BUF_STATE_ERROR = 6;
export type Vb2BufferState = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** enum vb2_io_modes */
export const VB2_MMAP = 1 << 0;
export const VB2_USERPTR = 1 << 1;
export const VB2_DMABUF = 1 << 4;

/** VB2_MEMORY_UNKNOWN: no buffers allocated yet. */
export const VB2_MEMORY_UNKNOWN = 0;
/** mmap offsets: (index << PLANE_INDEX_BITS | plane) << PAGE_SHIFT, as videobuf2-core.c encodes them. */
const PLANE_INDEX_BITS = 3;
const PAGE_SHIFT = 12;

/** The device-side handle of a plane's memory that a driver programs its DMA engine with. */
export interface Vb2DmaCookie {
  /** The device the plane is mapped for. */
  readonly dev: Device;
  /** The plane mapped for `dev` (DMA addresses valid for the first `nents` entries). */
  readonly sgt: SgTable;
}

/**
 * struct vb2_mem_ops: a memory back-end. vb2 calls these; drivers never do. `priv` is the back-end's
 * per-plane state (mem_priv).
 */
export interface Vb2MemOps {
  /** @alloc: MMAP memory of `size` bytes for `dev`. Errors: ENOMEM. */
  alloc(vb: Vb2Buffer, dev: Device, size: number): unknown;
  /** @put: drops vb2's reference to MMAP memory; exported dma-bufs and mmaps keep theirs (orphans). */
  put(priv: unknown): void;
  /** @getDmabuf: a NEW dma-buf exporting the MMAP plane (EXPBUF), holding a memory reference. */
  getDmabuf(vb: Vb2Buffer, priv: unknown, flags: number): DmaBuf;
  /** @getUserptr: USERPTR plane of `size` bytes backed by user memory `userptr`. Errors: EINVAL/ENOMEM. */
  getUserptr(vb: Vb2Buffer, dev: Device, userptr: UserPtr, size: number): unknown;
  /** @putUserptr: releases what getUserptr took. */
  putUserptr(priv: unknown): void;
  /** @prepare: optional; before the device owns the buffer (cache sync, USERPTR bounce copy-in). */
  prepare?(priv: unknown): void;
  /** @finish: optional; after the device is done (cache sync, USERPTR bounce copy-out). */
  finish?(priv: unknown): void;
  /** @attachDmabuf: attach `dbuf` for `dev`; `size` is the plane length. EFAULT if dbuf is smaller. */
  attachDmabuf(vb: Vb2Buffer, dev: Device, dbuf: DmaBuf, size: number): unknown;
  /** @detachDmabuf: undo attachDmabuf (unmapping first if still mapped). */
  detachDmabuf(priv: unknown): void;
  /** @mapDmabuf: dma_buf_map_attachment at QBUF. Errors: EINVAL (exporter failed), EFAULT (contiguity). */
  mapDmabuf(priv: unknown): void;
  /** @unmapDmabuf: dma_buf_unmap_attachment. */
  unmapDmabuf(priv: unknown): void;
  /** @cookie: the device-side view of the plane (valid while mapped / allocated). */
  cookie(vb: Vb2Buffer, priv: unknown): Vb2DmaCookie;
  /** @numUsers: references on MMAP memory (vb2's own, mmaps, exported dma-bufs). */
  numUsers(priv: unknown): number;
  /** @mmap: map MMAP memory into a process. */
  mmap(priv: unknown, vma: VmArea): void;
}

/**
 * struct vb2_ops: the driver's queue callbacks. `queueSetup` is required, so is `bufQueue`; the rest
 * are optional. Each runs synchronously; throwing an Errno fails the ioctl that called it.
 */
export interface Vb2Ops {
  /**
   * @queueSetup: called from REQBUFS and CREATE_BUFS. When `numPlanes` is 0 (REQBUFS) fill `sizes`
   * and `numPlanes`; otherwise (CREATE_BUFS) validate the given sizes (EINVAL if too small). May raise
   * `numBuffers`.
   */
  queueSetup(q: Vb2Queue, args: { numBuffers: number; numPlanes: number; sizes: number[] }): void;
  /** @bufOutValidate: OUTPUT queues, before prepare (field checks). */
  bufOutValidate?(vb: Vb2Buffer): void;
  /** @bufInit: once after memory is allocated or (re)acquired. */
  bufInit?(vb: Vb2Buffer): void;
  /** @bufPrepare: each time the buffer is queued from userspace (check plane sizes, set payload). */
  bufPrepare?(vb: Vb2Buffer): void;
  /** @bufFinish: before the buffer returns to userspace. */
  bufFinish?(vb: Vb2Buffer): void;
  /** @bufCleanup: before memory is released or replaced. */
  bufCleanup?(vb: Vb2Buffer): void;
  /** @bufQueue: hands the buffer to the driver, which later calls {@link Vb2Queue.bufferDone}. */
  bufQueue(vb: Vb2Buffer): void;
  /** @startStreaming: with `count` buffers already queued. On error return every buffer with QUEUED. */
  startStreaming?(q: Vb2Queue, count: number): void;
  /** @stopStreaming: must give back every ACTIVE buffer (vb2 forces ERROR on the ones it forgot). */
  stopStreaming?(q: Vb2Queue): void;
}

/** One plane of a vb2 buffer (struct vb2_plane). */
export interface Vb2Plane {
  memPriv: unknown;
  dbuf: DmaBuf | undefined;
  dbufMapped: boolean;
  bytesused: number;
  length: number;
  minLength: number;
  m: { offset?: number; userptr?: UserPtr; fd?: number };
  dataOffset: number;
}

const emptyPlane = (): Vb2Plane => ({ memPriv: undefined, dbuf: undefined, dbufMapped: false, bytesused: 0, length: 0, minLength: 0, m: {}, dataOffset: 0 });

/** struct vb2_buffer + struct vb2_v4l2_buffer: one buffer of a queue. */
export class Vb2Buffer {
  state: Vb2BufferState = VB2_BUF_STATE_DEQUEUED;
  prepared = false;
  synced = false;
  /** Timestamp in ns of CLOCK_MONOTONIC (virtual time). */
  timestamp = 0;
  readonly planes: Vb2Plane[];
  /** What userspace gave at QBUF, per plane (vb2_v4l2_buffer.planes), applied at prepare. */
  readonly userPlanes: Vb2Plane[];
  /* vb2_v4l2_buffer */
  flags = 0;
  field = V4L2_FIELD_NONE;
  sequence = 0;
  timecode: v4l2_timecode | undefined;
  copiedTimestamp = false;
  /** For the driver's own lists (vivid's active list, m2m ready queues). */
  driverPriv: unknown;

  constructor(
    readonly queue: Vb2Queue,
    readonly index: number,
    readonly memory: number,
    readonly numPlanes: number,
  ) {
    this.planes = Array.from({ length: numPlanes }, emptyPlane);
    this.userPlanes = Array.from({ length: numPlanes }, emptyPlane);
  }

  get type(): number {
    return this.queue.type;
  }

  /** vb2_set_plane_payload() */
  setPlanePayload(plane: number, size: number): void {
    this.planes[plane]!.bytesused = size;
  }

  /** vb2_plane_size() */
  planeSize(plane: number): number {
    return this.planes[plane]?.length ?? 0;
  }

  /** The plane as the driver's device sees it (vb2_dma_contig_plane_dma_addr / vb2_dma_sg_plane_desc). */
  planeCookie(plane: number): Vb2DmaCookie {
    return this.queue.memOps.cookie(this, this.planes[plane]!.memPriv);
  }
}

/** Arguments of struct vb2_queue that a driver sets before {@link Vb2Queue} is used (vb2_queue_init). */
export interface Vb2QueueInit {
  type: number;
  ioModes: number;
  ops: Vb2Ops;
  memOps: Vb2MemOps;
  dev: Device;
  drvPriv?: unknown;
  /** V4L2_BUF_FLAG_TIMESTAMP_* | V4L2_BUF_FLAG_TSTAMP_SRC_* */
  timestampFlags: number;
  /** min_queued_buffers: buffers that must be queued before start_streaming is called. */
  minQueuedBuffers?: number;
  isOutput: boolean;
  isMultiplanar: boolean;
  /** copy_timestamp: OUTPUT timestamps are copied from userspace. */
  copyTimestamp?: boolean;
  bidirectional?: boolean;
  maxNumBuffers?: number;
}

/** struct vb2_buf_ops: set by the V4L2 layer; the core calls it to talk to userspace structs. */
export interface Vb2BufOps<U> {
  /** @verifyPlanesArray: EINVAL if the user's planes array cannot describe `vb`. */
  verifyPlanesArray(vb: Vb2Buffer, pb: U): void;
  /** @fillUserBuffer: copy_to_user of the buffer's state. */
  fillUserBuffer(vb: Vb2Buffer, pb: U): void;
  /** @copyTimestamp: OUTPUT queues: take the timestamp/timecode userspace queued. */
  copyTimestamp(vb: Vb2Buffer, pb: U): void;
}

/** Counters for tests and debugfs-style introspection: attach/map work done for imported dma-bufs. */
export interface Vb2Stats {
  attach: number;
  detach: number;
  map: number;
  unmap: number;
}

/**
 * struct vb2_queue. Methods named after the kernel's vb2_core_* functions; every failing call
 * changes nothing it has not also undone, except where Linux itself releases state (REQBUFS frees old
 * buffers first; a failed DMABUF prepare releases every plane of that buffer).
 */
export class Vb2Queue {
  readonly type: number;
  readonly ioModes: number;
  readonly ops: Vb2Ops;
  readonly memOps: Vb2MemOps;
  readonly dev: Device;
  readonly drvPriv: unknown;
  readonly timestampFlags: number;
  readonly minQueuedBuffers: number;
  readonly isOutput: boolean;
  readonly isMultiplanar: boolean;
  readonly copyTimestampFlag: boolean;
  readonly maxNumBuffers: number;
  readonly dmaDir: 0 | 1 | 2;
  /** The file handle that owns the buffers (vb2_queue.owner), for the V4L2 EBUSY rule. */
  owner: unknown;
  memory = VB2_MEMORY_UNKNOWN;
  bufs: (Vb2Buffer | undefined)[] = [];
  numPlanes = 0;
  planeSizes: number[] = [];
  queuedList: Vb2Buffer[] = [];
  doneList: Vb2Buffer[] = [];
  ownedByDrvCount = 0;
  streaming = false;
  startStreamingCalled = false;
  error = false;
  waitingForBuffers = false;
  waitingInDqbuf = false;
  lastBufferDequeued = false;
  readonly doneWq = new WaitQueue();
  readonly stats: Vb2Stats = { attach: 0, detach: 0, map: 0, unmap: 0 };
  bufOps!: Vb2BufOps<unknown>;

  constructor(
    readonly kernel: Kernel,
    init: Vb2QueueInit,
  ) {
    check(init.ops && init.memOps && init.ioModes, "EINVAL", "vb2_core_queue_init", "ops, mem_ops and io_modes are required");
    this.type = init.type;
    this.ioModes = init.ioModes;
    this.ops = init.ops;
    this.memOps = init.memOps;
    this.dev = init.dev;
    this.drvPriv = init.drvPriv;
    this.timestampFlags = init.timestampFlags;
    this.minQueuedBuffers = init.minQueuedBuffers ?? 0;
    this.isOutput = init.isOutput;
    this.isMultiplanar = init.isMultiplanar;
    this.copyTimestampFlag = init.copyTimestamp ?? init.isOutput;
    this.maxNumBuffers = init.maxNumBuffers ?? VIDEO_MAX_FRAME;
    // DMA direction of the queue's memory (vb2_dma_dir in videobuf2-core.h).
    this.dmaDir = init.bidirectional ? 0 : init.isOutput ? 1 : 2;
  }

  get numBuffers(): number {
    return this.bufs.filter(Boolean).length;
  }

  get queuedCount(): number {
    return this.queuedList.length;
  }

  /** vb2_is_streaming() */
  get isStreaming(): boolean {
    return this.streaming;
  }

  /** vb2_is_busy(): buffers are allocated. */
  get isBusy(): boolean {
    return this.numBuffers > 0;
  }

  /** vb2_get_buffer() */
  getBuffer(index: number): Vb2Buffer | undefined {
    return Number.isInteger(index) && index >= 0 ? this.bufs[index] : undefined;
  }

  /** vb2_verify_memory_type(): memory model and type supported by this queue. */
  verifyMemoryType(memory: number, type: number, call: string): void {
    check(memory === V4L2_MEMORY_MMAP || memory === V4L2_MEMORY_USERPTR || memory === V4L2_MEMORY_DMABUF, "EINVAL", call, `unsupported memory type ${memory}`);
    if (type !== this.type) throw new Errno("EINVAL", call, `requested type ${type} is incorrect for this queue (type ${this.type})`);
    check(memory !== V4L2_MEMORY_MMAP || this.ioModes & VB2_MMAP, "EINVAL", call, "MMAP for current setup unsupported");
    check(memory !== V4L2_MEMORY_USERPTR || this.ioModes & VB2_USERPTR, "EINVAL", call, "USERPTR for current setup unsupported");
    check(memory !== V4L2_MEMORY_DMABUF || this.ioModes & VB2_DMABUF, "EINVAL", call, "DMABUF for current setup unsupported");
  }

  /* ------------------------------------------------------------- allocation */

  /** vb2_core_reqbufs(): returns the number of buffers allocated. */
  reqbufs(memory: number, count: number): number {
    const call = "VIDIOC_REQBUFS";
    check(!this.streaming, "EBUSY", call, "streaming active");
    check(!(this.waitingInDqbuf && count), "EBUSY", call, "another dup()ped fd is waiting for a buffer");
    if (count === 0 || this.numBuffers !== 0 || (this.memory !== VB2_MEMORY_UNKNOWN && this.memory !== memory)) {
      // Buffers still mmapped or exported are orphaned, not refused (V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS).
      this.cancel();
      this.freeBuffers(this.bufs.length);
      this.memory = VB2_MEMORY_UNKNOWN;
      if (count === 0) return 0;
    }
    const args = { numBuffers: Math.min(Math.max(count, this.minQueuedBuffers), this.maxNumBuffers), numPlanes: 0, sizes: [] as number[] };
    this.memory = memory;
    try {
      this.ops.queueSetup(this, args);
      check(args.numPlanes > 0 && args.numPlanes <= VIDEO_MAX_PLANES, "EINVAL", call, `driver bug: queue_setup returned ${args.numPlanes} planes`);
      for (let i = 0; i < args.numPlanes; i++) check(args.sizes[i]! > 0, "EINVAL", call, `driver bug: queue_setup returned size 0 for plane ${i}`);
      this.numPlanes = args.numPlanes;
      this.planeSizes = args.sizes.slice(0, args.numPlanes);
      const allocated = this.allocBuffers(memory, Math.min(args.numBuffers, this.maxNumBuffers), args.numPlanes, this.planeSizes);
      if (allocated < Math.max(1, this.minQueuedBuffers)) {
        this.freeBuffers(allocated);
        throw new Errno("ENOMEM", call, `only ${allocated} buffers could be allocated`);
      }
      this.waitingForBuffers = !this.isOutput;
      return allocated;
    } catch (e) {
      this.memory = VB2_MEMORY_UNKNOWN;
      throw e;
    }
  }

  /** vb2_core_create_bufs(): appends `count` buffers with the given plane sizes; returns [first index, count]. */
  createBufs(memory: number, count: number, planeSizes: number[]): [number, number] {
    const call = "VIDIOC_CREATE_BUFS";
    const first = this.bufs.length;
    if (first >= this.maxNumBuffers) throw new Errno("ENOBUFS", call, `maximum number of buffers (${this.maxNumBuffers}) already allocated`);
    const noPrevious = this.numBuffers === 0;
    if (noPrevious) check(!(this.waitingInDqbuf && count), "EBUSY", call, "another dup()ped fd is waiting for a buffer");
    else check(this.memory === memory, "EINVAL", call, "memory model mismatch");
    const args = { numBuffers: Math.min(count, this.maxNumBuffers - first), numPlanes: planeSizes.length, sizes: planeSizes.slice() };
    const prevMemory = this.memory;
    this.memory = memory;
    try {
      this.ops.queueSetup(this, args);
      if (noPrevious) {
        this.numPlanes = args.numPlanes;
        this.planeSizes = args.sizes.slice(0, args.numPlanes);
      }
      const allocated = this.allocBuffers(memory, Math.min(args.numBuffers, this.maxNumBuffers - first), args.numPlanes, args.sizes);
      if (allocated === 0) throw new Errno("ENOMEM", call, "no buffer could be allocated");
      if (noPrevious) this.waitingForBuffers = !this.isOutput;
      return [first, allocated];
    } catch (e) {
      this.memory = noPrevious ? VB2_MEMORY_UNKNOWN : prevMemory;
      throw e;
    }
  }

  /** __vb2_queue_alloc(): MMAP memory is allocated now; USERPTR/DMABUF bookkeeping only. */
  private allocBuffers(memory: number, count: number, numPlanes: number, sizes: number[]): number {
    let n = 0;
    for (; n < count; n++) {
      const index = this.bufs.length;
      const vb = new Vb2Buffer(this, index, memory, numPlanes);
      for (let p = 0; p < numPlanes; p++) vb.planes[p]!.length = vb.planes[p]!.minLength = sizes[p]!;
      if (memory === V4L2_MEMORY_MMAP) {
        try {
          this.allocMmapPlanes(vb);
          for (let p = 0; p < numPlanes; p++) vb.planes[p]!.m.offset = ((index << PLANE_INDEX_BITS) | p) << PAGE_SHIFT;
          this.ops.bufInit?.(vb);
        } catch (e) {
          // Out of memory or a failing buf_init: keep the buffers allocated so far.
          this.freeMem(vb);
          if (!isErrno(e)) throw e;
          break;
        }
      }
      this.bufs.push(vb);
    }
    return n;
  }

  private allocMmapPlanes(vb: Vb2Buffer): void {
    for (const p of vb.planes) p.memPriv = this.memOps.alloc(vb, this.dev, Math.ceil(p.length / PAGE_SIZE) * PAGE_SIZE);
  }

  /** __vb2_queue_free() of the last `count` buffers. */
  private freeBuffers(count: number): void {
    const victims = this.bufs.slice(this.bufs.length - count);
    for (const vb of victims) {
      if (!vb) continue;
      // Call buf_cleanup only on buffers that got memory (bufInit ran for them).
      if (vb.planes.some((p) => p.memPriv !== undefined || p.dbuf)) this.ops.bufCleanup?.(vb);
      this.freeMem(vb);
    }
    this.bufs.length -= count;
    if (this.bufs.length === 0) {
      this.numPlanes = 0;
      this.planeSizes = [];
    }
  }

  private freeMem(vb: Vb2Buffer): void {
    if (vb.memory === V4L2_MEMORY_MMAP) {
      for (const p of vb.planes) if (p.memPriv !== undefined) this.memOps.put(p.memPriv);
      for (const p of vb.planes) p.memPriv = undefined;
    } else if (vb.memory === V4L2_MEMORY_DMABUF) this.dmabufPutAll(vb);
    else for (const p of vb.planes) this.userptrPut(p);
  }

  /* ------------------------------------------------------------- memory of imported buffers */

  /** __vb2_plane_dmabuf_put() */
  private dmabufPut(p: Vb2Plane): void {
    if (!p.dbuf) return;
    if (p.dbufMapped) {
      this.memOps.unmapDmabuf(p.memPriv);
      this.stats.unmap++;
    }
    this.memOps.detachDmabuf(p.memPriv);
    this.stats.detach++;
    dmaBufPut(p.dbuf);
    Object.assign(p, { memPriv: undefined, dbuf: undefined, dbufMapped: false, bytesused: 0, length: 0, m: {}, dataOffset: 0 });
  }

  /** __vb2_buf_dmabuf_put(): every plane of `vb`. */
  private dmabufPutAll(vb: Vb2Buffer): void {
    for (const p of vb.planes) this.dmabufPut(p);
  }

  private userptrPut(p: Vb2Plane): void {
    if (p.memPriv === undefined) return;
    this.memOps.putUserptr(p.memPriv);
    Object.assign(p, { memPriv: undefined, m: {} });
  }

  /** __prepare_dmabuf(): attach + map at QBUF, keeping the attachment when the same dma-buf comes back. */
  private prepareDmabuf(vb: Vb2Buffer): void {
    const call = "VIDIOC_QBUF";
    const planes = vb.userPlanes;
    let reacquired = vb.planes[0]!.memPriv === undefined;
    // The reference taken by dma_buf_get() for the plane being set up, until the plane owns it.
    let held: DmaBuf | undefined;
    try {
      for (let p = 0; p < vb.numPlanes; p++) {
        const want = planes[p]!;
        const cur = vb.planes[p]!;
        try {
          held = dmaBufGet(this.kernel, want.m.fd ?? -1);
        } catch {
          throw new Errno("EINVAL", call, `invalid dmabuf fd ${want.m.fd} for plane ${p}`);
        }
        if (want.length === 0) want.length = held.size;
        if (want.length < cur.minLength) throw new Errno("EINVAL", call, `invalid dmabuf length ${want.length} for plane ${p}, minimum length ${cur.minLength}`);
        if (cur.dbuf === held && cur.length === want.length) {
          // Same dma-buf, same length: keep the attachment and the mapping.
          dmaBufPut(held);
          held = undefined;
          continue;
        }
        if (!reacquired) {
          reacquired = true;
          vb.copiedTimestamp = false;
          this.ops.bufCleanup?.(vb);
        }
        this.dmabufPut(cur);
        cur.memPriv = this.memOps.attachDmabuf(vb, this.dev, held, want.length);
        this.stats.attach++;
        cur.dbuf = held;
        held = undefined;
        cur.length = want.length;
      }
      for (const cur of vb.planes) {
        if (cur.dbufMapped) continue;
        // Mapped at QBUF "so userspace knows sooner rather than later" if the buffer is unusable.
        this.memOps.mapDmabuf(cur.memPriv);
        this.stats.map++;
        cur.dbufMapped = true;
      }
      for (let p = 0; p < vb.numPlanes; p++) {
        const cur = vb.planes[p]!;
        cur.bytesused = planes[p]!.bytesused;
        cur.length = planes[p]!.length;
        cur.m.fd = planes[p]!.m.fd!;
        cur.dataOffset = planes[p]!.dataOffset;
      }
      if (reacquired) this.ops.bufInit?.(vb);
      try {
        this.ops.bufPrepare?.(vb);
      } catch (e) {
        this.ops.bufCleanup?.(vb);
        throw e;
      }
    } catch (e) {
      // Any error releases every plane of the buffer: the next QBUF starts from scratch.
      if (held) dmaBufPut(held);
      this.dmabufPutAll(vb);
      throw e;
    }
  }

  /** __prepare_userptr() */
  private prepareUserptr(vb: Vb2Buffer): void {
    const call = "VIDIOC_QBUF";
    const planes = vb.userPlanes;
    let reacquired = vb.planes[0]!.memPriv === undefined;
    for (let p = 0; p < vb.numPlanes; p++) {
      const cur = vb.planes[p]!;
      const want = planes[p]!;
      if (cur.memPriv !== undefined && cur.m.userptr === want.m.userptr && cur.length === want.length) continue;
      check(want.m.userptr instanceof Uint8Array, "EFAULT", call, `plane ${p}: userptr is not user memory`);
      check(want.length >= cur.minLength, "EINVAL", call, `provided buffer size ${want.length} is less than setup size ${cur.minLength} for plane ${p}`);
      if (!reacquired) {
        reacquired = true;
        vb.copiedTimestamp = false;
        this.ops.bufCleanup?.(vb);
      }
      this.userptrPut(cur);
      cur.memPriv = this.memOps.getUserptr(vb, this.dev, want.m.userptr, want.length);
      cur.m = { userptr: want.m.userptr };
      cur.length = want.length;
    }
    for (let p = 0; p < vb.numPlanes; p++) {
      vb.planes[p]!.bytesused = planes[p]!.bytesused;
      vb.planes[p]!.dataOffset = planes[p]!.dataOffset;
    }
    if (reacquired) this.ops.bufInit?.(vb);
    this.ops.bufPrepare?.(vb);
  }

  /** __buf_prepare() */
  private bufPrepare(vb: Vb2Buffer): void {
    check(!this.error, "EIO", "VIDIOC_QBUF", "fatal error occurred on queue");
    if (vb.prepared) return;
    if (this.isOutput) this.ops.bufOutValidate?.(vb);
    const orig = vb.state;
    vb.state = VB2_BUF_STATE_PREPARING;
    try {
      if (vb.memory === V4L2_MEMORY_MMAP) {
        for (let p = 0; p < vb.numPlanes; p++) {
          vb.planes[p]!.bytesused = vb.userPlanes[p]!.bytesused;
          vb.planes[p]!.dataOffset = vb.userPlanes[p]!.dataOffset;
        }
        this.ops.bufPrepare?.(vb);
      } else if (vb.memory === V4L2_MEMORY_USERPTR) this.prepareUserptr(vb);
      else this.prepareDmabuf(vb);
    } finally {
      vb.state = orig;
    }
    // __vb2_buf_mem_prepare: cache sync / bounce copy-in (vb2 skips cache sync for DMABUF).
    if (vb.memory !== V4L2_MEMORY_DMABUF) for (const p of vb.planes) this.memOps.prepare?.(p.memPriv);
    vb.synced = true;
    vb.prepared = true;
  }

  /* ------------------------------------------------------------- queueing */

  /** vb2_core_prepare_buf() */
  prepareBuf<U>(index: number, pb: U): void {
    const vb = this.bufs[index]!;
    if (vb.state !== VB2_BUF_STATE_DEQUEUED) throw new Errno("EINVAL", "VIDIOC_PREPARE_BUF", `invalid buffer state ${stateName(vb.state)}`);
    check(!vb.prepared, "EINVAL", "VIDIOC_PREPARE_BUF", "buffer already prepared");
    this.bufPrepare(vb);
    this.bufOps.fillUserBuffer(vb, pb);
  }

  /** vb2_core_qbuf() */
  qbuf<U>(index: number, pb: U): void {
    const vb = this.bufs[index]!;
    if (vb.state !== VB2_BUF_STATE_DEQUEUED) throw new Errno("EINVAL", "VIDIOC_QBUF", `invalid buffer state ${stateName(vb.state)}`);
    if (!vb.prepared) this.bufPrepare(vb);
    this.queuedList.push(vb);
    this.waitingForBuffers = false;
    vb.state = VB2_BUF_STATE_QUEUED;
    if (this.copyTimestampFlag) this.bufOps.copyTimestamp(vb, pb);
    this.trace("vb2_qbuf", vb);
    if (this.startStreamingCalled) this.enqueueInDriver(vb);
    this.bufOps.fillUserBuffer(vb, pb);
    if (this.streaming && !this.startStreamingCalled && this.queuedCount >= this.minQueuedBuffers) {
      try {
        this.startStreaming();
      } catch (e) {
        // vb2_core_qbuf: the buffer goes back as if never queued.
        this.queuedList.splice(this.queuedList.indexOf(vb), 1);
        vb.state = VB2_BUF_STATE_DEQUEUED;
        throw e;
      }
    }
  }

  /** __enqueue_in_driver() */
  private enqueueInDriver(vb: Vb2Buffer): void {
    vb.state = VB2_BUF_STATE_ACTIVE;
    this.ownedByDrvCount++;
    this.trace("vb2_buf_queue", vb);
    this.ops.bufQueue(vb);
  }

  /** vb2_start_streaming() */
  private startStreaming(): void {
    for (const vb of this.queuedList) this.enqueueInDriver(vb);
    this.startStreamingCalled = true;
    try {
      this.ops.startStreaming?.(this, this.queuedCount);
    } catch (e) {
      this.startStreamingCalled = false;
      // The driver should have returned them with QUEUED; reclaim the ones it forgot (WARN in Linux).
      for (const vb of this.bufs) if (vb?.state === VB2_BUF_STATE_ACTIVE) this.bufferDone(vb, VB2_BUF_STATE_QUEUED);
      throw e;
    }
  }

  /**
   * vb2_buffer_done(): the driver hands a buffer back. `state` is DONE or ERROR (to the done list and
   * wake DQBUF), or QUEUED (give back after a failed start_streaming).
   */
  bufferDone(vb: Vb2Buffer, state: Vb2BufferState): void {
    if (vb.state !== VB2_BUF_STATE_ACTIVE) throw new Error(`vb2_buffer_done: buffer ${vb.index} is not ACTIVE (${stateName(vb.state)})`);
    if (state !== VB2_BUF_STATE_DONE && state !== VB2_BUF_STATE_ERROR && state !== VB2_BUF_STATE_QUEUED) state = VB2_BUF_STATE_ERROR;
    if (state === VB2_BUF_STATE_DONE && this.kernel.faults.shouldFail("fail_vb2_buffer_done", this.dev.name)) state = VB2_BUF_STATE_ERROR;
    this.trace("vb2_buf_done", vb);
    if (state !== VB2_BUF_STATE_QUEUED && vb.memory !== V4L2_MEMORY_DMABUF) for (const p of vb.planes) this.memOps.finish?.(p.memPriv);
    vb.synced = false;
    vb.state = state;
    this.ownedByDrvCount--;
    if (state === VB2_BUF_STATE_QUEUED) return;
    this.doneList.push(vb);
    this.doneWq.wake();
  }

  /** vb2_queue_error(): every later QBUF/DQBUF fails with EIO until STREAMOFF or REQBUFS. */
  queueError(): void {
    this.error = true;
    this.doneWq.wake();
  }

  /**
   * The checks of __vb2_wait_for_done_vb(), in its order: true when a done buffer can be taken now,
   * false when the caller has to sleep.
   */
  private dqbufReady(nonblocking: boolean): boolean {
    const call = "VIDIOC_DQBUF";
    if (this.waitingInDqbuf) throw new Errno("EBUSY", call, "another dup()ped fd is waiting for a buffer");
    if (!this.streaming) throw new Errno("EINVAL", call, "streaming off, will not wait for buffers");
    if (this.error) throw new Errno("EIO", call, "queue in error state, will not wait for buffers");
    if (this.lastBufferDequeued) throw new Errno("EPIPE", call, "last buffer dequeued already, will not wait for buffers");
    if (this.doneList.length > 0) return true;
    if (nonblocking) throw new Errno("EAGAIN", call, "nonblocking and no buffers to dequeue, will not wait");
    return false;
  }

  /** __vb2_wait_for_done_vb(): sleeps (in virtual time) until a buffer is done or streaming stops. */
  private async waitForDone(nonblocking: boolean): Promise<void> {
    while (!this.dqbufReady(nonblocking)) {
      this.waitingInDqbuf = true;
      try {
        await this.doneWq.waitEvent(this.kernel.clock, () => this.doneList.length > 0 || !this.streaming || this.error);
      } finally {
        this.waitingInDqbuf = false;
      }
    }
  }

  /**
   * vb2_core_dqbuf(): fills `pb` and returns the dequeued buffer; synchronous when a buffer is
   * already done, a Promise when the caller has to sleep.
   */
  dqbuf<U>(pb: U, nonblocking: boolean): Vb2Buffer | Promise<Vb2Buffer> {
    if (this.dqbufReady(nonblocking)) return this.takeDone(pb, this.kernel.current);
    // The sleeping task is the one that dequeues when it wakes.
    const task = this.kernel.current;
    return this.waitForDone(nonblocking).then(() => this.takeDone(pb, task));
  }

  private takeDone<U>(pb: U, task: TaskContext | undefined): Vb2Buffer {
    const vb = this.doneList[0]!;
    // The planes array is checked before the buffer leaves the done list.
    this.bufOps.verifyPlanesArray(vb, pb);
    this.doneList.shift();
    this.ops.bufFinish?.(vb);
    vb.prepared = false;
    this.bufOps.fillUserBuffer(vb, pb);
    this.queuedList.splice(this.queuedList.indexOf(vb), 1);
    this.trace("vb2_dqbuf", vb, task);
    vb.state = VB2_BUF_STATE_DEQUEUED;
    return vb;
  }

  /* ------------------------------------------------------------- streaming */

  /** vb2_core_streamon() */
  streamon(): void {
    const call = "VIDIOC_STREAMON";
    if (this.streaming) return;
    check(this.numBuffers > 0, "EINVAL", call, "no buffers have been allocated");
    check(this.numBuffers >= this.minQueuedBuffers, "EINVAL", call, `need at least ${this.minQueuedBuffers} allocated buffers`);
    if (this.queuedCount >= this.minQueuedBuffers) this.startStreaming();
    this.streaming = true;
  }

  /** vb2_core_streamoff(): always cancels, streaming or not. */
  streamoff(): void {
    this.cancel();
    this.waitingForBuffers = !this.isOutput;
    this.lastBufferDequeued = false;
  }

  /** __vb2_queue_cancel(): every buffer back to DEQUEUED; undequeued done buffers are discarded. */
  private cancel(): void {
    if (this.startStreamingCalled) this.ops.stopStreaming?.(this);
    // Buffers the driver forgot to give back are forced to ERROR (WARN_ON in Linux).
    for (const vb of this.bufs) if (vb?.state === VB2_BUF_STATE_ACTIVE) this.bufferDone(vb, VB2_BUF_STATE_ERROR);
    this.streaming = false;
    this.startStreamingCalled = false;
    this.error = false;
    this.queuedList = [];
    this.doneList = [];
    this.ownedByDrvCount = 0;
    this.doneWq.wake();
    for (const vb of this.bufs) {
      if (!vb) continue;
      if (vb.synced && vb.memory !== V4L2_MEMORY_DMABUF) for (const p of vb.planes) this.memOps.finish?.(p.memPriv);
      vb.synced = false;
      if (vb.prepared) this.ops.bufFinish?.(vb);
      vb.prepared = false;
      vb.state = VB2_BUF_STATE_DEQUEUED;
    }
  }

  /** vb2_core_queue_release(): the owner closed its file. */
  release(): void {
    this.cancel();
    this.freeBuffers(this.bufs.length);
    this.memory = VB2_MEMORY_UNKNOWN;
    this.owner = undefined;
  }

  /* ------------------------------------------------------------- export, mmap, poll */

  /** vb2_core_expbuf(): a new dma-buf for the MMAP plane. */
  expbuf(type: number, index: number, plane: number, flags: number): DmaBuf {
    const call = "VIDIOC_EXPBUF";
    check(this.memory === V4L2_MEMORY_MMAP, "EINVAL", call, "queue is not currently set up for mmap");
    check(type === this.type, "EINVAL", call, "invalid buffer type");
    const vb = this.getBuffer(index);
    check(vb, "EINVAL", call, `buffer index ${index} out of range`);
    check(Number.isInteger(plane) && plane >= 0 && plane < vb.numPlanes, "EINVAL", call, `buffer plane ${plane} out of range`);
    return this.memOps.getDmabuf(vb, vb.planes[plane]!.memPriv, flags);
  }

  /**
   * vb2_mmap(): maps the whole MMAP plane whose offset cookie is `off` (the mmap offset; vm_pgoff is
   * a buffer selector in V4L2, never an offset into the buffer).
   */
  mmap(vma: VmArea, shared: boolean, off = vma.pgoff * PAGE_SIZE): void {
    const call = "mmap";
    check(this.memory === V4L2_MEMORY_MMAP, "EINVAL", call, "queue is not currently set up for mmap");
    check(shared, "EINVAL", call, "invalid vma flags, VM_SHARED needed");
    const index = off >>> (PAGE_SHIFT + PLANE_INDEX_BITS);
    const plane = (off >>> PAGE_SHIFT) & ((1 << PLANE_INDEX_BITS) - 1);
    const vb = this.getBuffer(index);
    check(vb && plane < vb.numPlanes && vb.planes[plane]!.m.offset === off, "EINVAL", call, `no buffer plane at offset 0x${off.toString(16)}`);
    const size = Math.ceil(vb.planes[plane]!.length / PAGE_SIZE) * PAGE_SIZE;
    check(vma.length <= size, "EINVAL", call, `MMAP invalid, as it would overflow buffer length (${vma.length} > ${size})`);
    this.memOps.mmap(vb.planes[plane]!.memPriv, vma);
  }

  /** vb2_core_poll() */
  poll(table: PollTable, reqEvents: number): number {
    if (!this.isOutput && !(reqEvents & (POLLIN | POLLRDNORM))) return 0;
    if (this.isOutput && !(reqEvents & (POLLOUT | POLLWRNORM))) return 0;
    table.wait(this.doneWq);
    if (!this.streaming || this.error) return POLLERR;
    if (this.doneList.length === 0 && this.lastBufferDequeued) return POLLIN | POLLRDNORM;
    const vb = this.doneList[0];
    if (vb && (vb.state === VB2_BUF_STATE_DONE || vb.state === VB2_BUF_STATE_ERROR)) return this.isOutput ? POLLOUT | POLLWRNORM : POLLIN | POLLRDNORM;
    return 0;
  }

  /** vb2_buffer_in_use(): some plane's memory has users besides vb2 (mmaps, exported dma-bufs). */
  bufferInUse(vb: Vb2Buffer): boolean {
    return vb.memory === V4L2_MEMORY_MMAP && vb.planes.some((p) => p.memPriv !== undefined && this.memOps.numUsers(p.memPriv) > 1);
  }

  /** include/trace/events/vb2.h: vb2_qbuf, vb2_dqbuf, vb2_buf_queue, vb2_buf_done. */
  private trace(event: string, vb: Vb2Buffer, task?: TaskContext): void {
    if (!this.kernel.trace.on) return;
    const args = {
      owner: this.owner === undefined ? 0 : 1,
      queued_count: this.queuedCount,
      owned_by_drv_count: this.ownedByDrvCount,
      index: vb.index,
      type: vb.type,
      bytesused: vb.planes[0]!.bytesused,
      timestamp: vb.timestamp,
    };
    if (task) this.kernel.trace.emit(event, args, task);
    else this.kernel.trace.emit(event, args);
  }
}

const STATE_NAMES = ["dequeued", "in request", "preparing", "queued", "active", "done", "error"];
/** The state names videobuf2-core.c's debug output and debugfs use. */
export const stateName = (s: Vb2BufferState): string => STATE_NAMES[s]!;
