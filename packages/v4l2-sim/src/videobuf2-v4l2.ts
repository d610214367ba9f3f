/**
 * The V4L2 face of videobuf2 (drivers/media/common/videobuf2/videobuf2-v4l2.c): struct v4l2_buffer
 * checks and conversion, the vb2_* ioctl implementations and the vb2_ioctl_* / vb2_fop_* helpers a
 * driver plugs into its ioctl table and file operations.
 */
import { Errno, O_ACCMODE, O_CLOEXEC, POLLIN, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM, check, dmaBufFd, dmaBufPut, type PollTable } from "@dmabuf/core";
import {
  VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DEQUEUED, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR, VB2_BUF_STATE_IN_REQUEST,
  VB2_BUF_STATE_QUEUED, VB2_DMABUF, VB2_MMAP, VB2_USERPTR, type Vb2Queue, type Vb2Buffer, type Vb2BufOps,
} from "./videobuf2-core.js";
import {
  V4L2_BUF_CAP_SUPPORTS_DMABUF, V4L2_BUF_CAP_SUPPORTS_MAX_NUM_BUFFERS, V4L2_BUF_CAP_SUPPORTS_MMAP,
  V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS, V4L2_BUF_CAP_SUPPORTS_USERPTR, V4L2_BUF_FLAG_BFRAME, V4L2_BUF_FLAG_DONE,
  V4L2_BUF_FLAG_ERROR, V4L2_BUF_FLAG_IN_REQUEST, V4L2_BUF_FLAG_KEYFRAME, V4L2_BUF_FLAG_LAST, V4L2_BUF_FLAG_MAPPED,
  V4L2_BUF_FLAG_NO_CACHE_CLEAN, V4L2_BUF_FLAG_NO_CACHE_INVALIDATE, V4L2_BUF_FLAG_PFRAME, V4L2_BUF_FLAG_PREPARED,
  V4L2_BUF_FLAG_QUEUED, V4L2_BUF_FLAG_REQUEST_FD, V4L2_BUF_FLAG_TIMECODE, V4L2_BUF_FLAG_TIMESTAMP_MASK,
  V4L2_BUF_FLAG_TSTAMP_SRC_MASK, V4L2_FIELD_ALTERNATE, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, V4L2_MEMORY_USERPTR,
  V4L2_TYPE_IS_MULTIPLANAR, V4L2_TYPE_IS_OUTPUT, VIDEO_MAX_PLANES, type UserPtr, type v4l2_buffer, type v4l2_create_buffers,
  type v4l2_exportbuffer, type v4l2_plane, type v4l2_requestbuffers,
} from "./uapi.js";

/** Flags vb2 owns in struct v4l2_buffer (V4L2_BUFFER_MASK_FLAGS). */
const V4L2_BUFFER_MASK_FLAGS =
  V4L2_BUF_FLAG_MAPPED | V4L2_BUF_FLAG_QUEUED | V4L2_BUF_FLAG_DONE | V4L2_BUF_FLAG_ERROR | V4L2_BUF_FLAG_PREPARED |
  V4L2_BUF_FLAG_IN_REQUEST | V4L2_BUF_FLAG_REQUEST_FD | V4L2_BUF_FLAG_TIMESTAMP_MASK;
/** Output-only flags (V4L2_BUFFER_OUT_FLAGS). */
const V4L2_BUFFER_OUT_FLAGS = V4L2_BUF_FLAG_PFRAME | V4L2_BUF_FLAG_BFRAME | V4L2_BUF_FLAG_KEYFRAME | V4L2_BUF_FLAG_TIMECODE;

const NSEC_PER_USEC = 1000;

/** __verify_planes_array() */
function verifyPlanesArray(vb: Vb2Buffer, b: v4l2_buffer): void {
  if (!V4L2_TYPE_IS_MULTIPLANAR(b.type)) return;
  check(Array.isArray(b.m?.planes), "EINVAL", "VIDIOC_QBUF", "multi-planar buffer passed but planes array not provided");
  const n = b.length ?? 0;
  if (n < vb.numPlanes || n > VIDEO_MAX_PLANES) throw new Errno("EINVAL", "VIDIOC_QBUF", `incorrect planes array length, expected ${vb.numPlanes}, got ${n}`);
}

/** __fill_v4l2_buffer(): copy_to_user of the buffer state. */
function fillUserBuffer(vb: Vb2Buffer, b: v4l2_buffer): void {
  const q = vb.queue;
  b.index = vb.index;
  b.type = vb.type;
  b.memory = vb.memory;
  b.bytesused = 0;
  b.flags = vb.flags;
  b.field = vb.field;
  // The user's structs are written in place (copy_to_user), not replaced.
  const ts = (b.timestamp ??= { tv_sec: 0, tv_usec: 0 });
  ts.tv_sec = Math.floor(vb.timestamp / 1e9);
  ts.tv_usec = Math.floor((vb.timestamp % 1e9) / NSEC_PER_USEC);
  if (vb.timecode) b.timecode = vb.timecode;
  else if (!b.timecode) b.timecode = { type: 0, flags: 0, frames: 0, seconds: 0, minutes: 0, hours: 0, userbits: [0, 0, 0, 0] };
  b.sequence = vb.sequence;
  b.reserved2 = 0;
  b.request_fd = 0;
  b.m ??= {};
  if (q.isMultiplanar) {
    b.length = vb.numPlanes;
    const planes = (b.m.planes ??= []);
    for (let p = 0; p < vb.numPlanes; p++) {
      const src = vb.planes[p]!;
      const dst: v4l2_plane = (planes[p] ??= { bytesused: 0, length: 0, m: {}, data_offset: 0 });
      dst.bytesused = src.bytesused;
      dst.length = src.length;
      dst.m = vb.memory === V4L2_MEMORY_MMAP ? { mem_offset: src.m.offset! } : vb.memory === V4L2_MEMORY_USERPTR ? { userptr: src.m.userptr! } : { fd: src.m.fd! };
      dst.data_offset = src.dataOffset;
      dst.reserved = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    }
  } else {
    const src = vb.planes[0]!;
    b.length = src.length;
    b.bytesused = src.bytesused;
    if (vb.memory === V4L2_MEMORY_MMAP) b.m.offset = src.m.offset!;
    else if (vb.memory === V4L2_MEMORY_USERPTR) b.m.userptr = src.m.userptr!;
    else b.m.fd = src.m.fd!;
  }
  b.flags &= ~V4L2_BUFFER_MASK_FLAGS;
  b.flags |= q.timestampFlags & V4L2_BUF_FLAG_TIMESTAMP_MASK;
  if (!q.copyTimestampFlag) {
    b.flags &= ~V4L2_BUF_FLAG_TSTAMP_SRC_MASK;
    b.flags |= q.timestampFlags & V4L2_BUF_FLAG_TSTAMP_SRC_MASK;
  }
  switch (vb.state) {
    case VB2_BUF_STATE_QUEUED:
    case VB2_BUF_STATE_ACTIVE:
      b.flags |= V4L2_BUF_FLAG_QUEUED;
      break;
    case VB2_BUF_STATE_IN_REQUEST:
      b.flags |= V4L2_BUF_FLAG_IN_REQUEST;
      break;
    case VB2_BUF_STATE_ERROR:
      b.flags |= V4L2_BUF_FLAG_ERROR | V4L2_BUF_FLAG_DONE;
      break;
    case VB2_BUF_STATE_DONE:
      b.flags |= V4L2_BUF_FLAG_DONE;
      break;
  }
  if ((vb.state === VB2_BUF_STATE_DEQUEUED || vb.state === VB2_BUF_STATE_IN_REQUEST) && vb.synced && vb.prepared) b.flags |= V4L2_BUF_FLAG_PREPARED;
  if (q.bufferInUse(vb)) b.flags |= V4L2_BUF_FLAG_MAPPED;
}

/** vb2's copy_timestamp buf op for OUTPUT queues. */
function copyTimestamp(vb: Vb2Buffer, b: v4l2_buffer): void {
  if (!vb.queue.copyTimestampFlag) return;
  const t = b.timestamp ?? { tv_sec: 0, tv_usec: 0 };
  vb.timestamp = t.tv_sec * 1e9 + t.tv_usec * NSEC_PER_USEC;
  vb.flags |= (b.flags ?? 0) & V4L2_BUF_FLAG_TSTAMP_SRC_MASK;
  if ((b.flags ?? 0) & V4L2_BUF_FLAG_TIMECODE) vb.timecode = b.timecode;
  vb.copiedTimestamp = true;
}

/** vb2_buf_ops of V4L2 queues. */
export const v4l2BufOps: Vb2BufOps<v4l2_buffer> = { verifyPlanesArray, fillUserBuffer, copyTimestamp };

/** vb2_queue_init(): a V4L2 queue. */
export function vb2QueueInit(q: Vb2Queue): Vb2Queue {
  q.bufOps = v4l2BufOps as Vb2BufOps<unknown>;
  return q;
}

/** __verify_length(): OUTPUT plane sizes against the plane length. */
function verifyLength(vb: Vb2Buffer, b: v4l2_buffer, call: string): void {
  if (!V4L2_TYPE_IS_OUTPUT(b.type)) return;
  const userLen = b.memory === V4L2_MEMORY_USERPTR || b.memory === V4L2_MEMORY_DMABUF;
  if (V4L2_TYPE_IS_MULTIPLANAR(b.type)) {
    for (let p = 0; p < vb.numPlanes; p++) {
      const up = b.m!.planes![p]!;
      const length = userLen ? up.length : vb.planes[p]!.length;
      const bytesused = up.bytesused ? up.bytesused : length;
      if (up.bytesused > length) throw new Errno("EINVAL", call, `plane ${p}: bytesused ${up.bytesused} > length ${length}`);
      if (up.data_offset > 0 && up.data_offset >= bytesused) throw new Errno("EINVAL", call, `plane ${p}: data_offset ${up.data_offset} >= bytesused ${bytesused}`);
    }
  } else {
    const length = userLen ? (b.length ?? 0) : vb.planes[0]!.length;
    if ((b.bytesused ?? 0) > length) throw new Errno("EINVAL", call, `bytesused ${b.bytesused} > length ${length}`);
  }
}

/** vb2_fill_vb2_v4l2_buffer(): what userspace gave, stored until the buffer is prepared. */
function fillVb2Buffer(vb: Vb2Buffer, b: v4l2_buffer, call: string): void {
  // copy_from_user of the planes array: entries the user did not provide are unreadable memory.
  if (V4L2_TYPE_IS_MULTIPLANAR(b.type)) check(b.m!.planes!.length >= vb.numPlanes, "EFAULT", call, `planes array holds ${b.m!.planes!.length} of ${vb.numPlanes} entries`);
  verifyLength(vb, b, call);
  const q = vb.queue;
  check(!(q.isOutput && b.field === V4L2_FIELD_ALTERNATE), "EINVAL", call, "V4L2_FIELD_ALTERNATE cannot be used in output");
  const out = V4L2_TYPE_IS_OUTPUT(b.type);
  for (let p = 0; p < vb.numPlanes; p++) {
    const dst = vb.userPlanes[p]!;
    const up = V4L2_TYPE_IS_MULTIPLANAR(b.type) ? b.m!.planes![p]! : undefined;
    if (b.memory === V4L2_MEMORY_USERPTR) {
      dst.m = { userptr: (up ? up.m.userptr : b.m?.userptr) as UserPtr };
      dst.length = up ? up.length : (b.length ?? 0);
    } else if (b.memory === V4L2_MEMORY_DMABUF) {
      dst.m.fd = (up ? up.m.fd : b.m?.fd) ?? -1;
      dst.length = up ? up.length : (b.length ?? 0);
    } else {
      dst.m = { offset: vb.planes[p]!.m.offset! };
      dst.length = vb.planes[p]!.length;
    }
    const bytesused = up ? up.bytesused : (b.bytesused ?? 0);
    // OUTPUT: bytesused 0 means the whole plane; CAPTURE: the driver sets it.
    dst.bytesused = out ? bytesused || dst.length : 0;
    dst.dataOffset = out && up ? up.data_offset : 0;
  }
  vb.sequence = 0;
  vb.flags = (b.flags ?? 0) & ~V4L2_BUFFER_MASK_FLAGS;
  if (!q.copyTimestampFlag || !out) vb.flags &= ~V4L2_BUF_FLAG_TSTAMP_SRC_MASK;
  if (out) {
    vb.flags &= ~V4L2_BUF_FLAG_TIMECODE;
    vb.field = b.field ?? 0;
  } else vb.flags &= ~(V4L2_BUFFER_OUT_FLAGS | V4L2_BUF_FLAG_LAST);
}

/** vb2_queue_or_prepare_buf(): checks shared by QBUF and PREPARE_BUF, then the user data copy. */
function queueOrPrepareBuf(q: Vb2Queue, b: v4l2_buffer, call: string): Vb2Buffer {
  if (b.type !== q.type) throw new Errno("EINVAL", call, `wrong buffer type ${b.type}`);
  const vb = q.getBuffer(b.index);
  if (!vb) throw new Errno("EINVAL", call, `buffer index ${b.index} out of range`);
  if (b.memory !== q.memory) throw new Errno("EINVAL", call, `invalid memory type ${b.memory}`);
  verifyPlanesArray(vb, b);
  if (!vb.prepared) {
    // set_buffer_cache_hints(): only MMAP queues with cache hints honour NO_CACHE_*; DMABUF never syncs.
    if (b.flags) b.flags &= ~(V4L2_BUF_FLAG_NO_CACHE_INVALIDATE | V4L2_BUF_FLAG_NO_CACHE_CLEAN);
    fillVb2Buffer(vb, b, call);
  }
  return vb;
}

/** fill_buf_caps(): what REQBUFS/CREATE_BUFS report in `capabilities`. */
export function vb2BufCaps(q: Vb2Queue): number {
  let caps = V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS;
  if (q.ioModes & VB2_MMAP) caps |= V4L2_BUF_CAP_SUPPORTS_MMAP;
  if (q.ioModes & VB2_USERPTR) caps |= V4L2_BUF_CAP_SUPPORTS_USERPTR;
  if (q.ioModes & VB2_DMABUF) caps |= V4L2_BUF_CAP_SUPPORTS_DMABUF;
  return caps;
}

/**
 * vb2_reqbufs(); with `busy` (another file handle owns the queue) it is vb2_ioctl_reqbufs(), which
 * fails with EBUSY after the memory-type check and after reporting the capabilities.
 */
export function vb2Reqbufs(q: Vb2Queue, req: v4l2_requestbuffers, busy = false): void {
  let err: unknown;
  try {
    q.verifyMemoryType(req.memory, req.type, "VIDIOC_REQBUFS");
  } catch (e) {
    err = e;
  }
  // Capabilities are reported even when the memory type is refused (v4l2-compliance relies on it).
  req.capabilities = vb2BufCaps(q);
  req.flags = 0;
  if (err) throw err;
  if (busy) throw new Errno("EBUSY", "VIDIOC_REQBUFS", "the buffers belong to another file handle");
  req.count = q.reqbufs(req.memory, req.count);
}

/** vb2_create_bufs(); `busy` as for {@link vb2Reqbufs} (vb2_ioctl_create_bufs). */
export function vb2CreateBufs(q: Vb2Queue, create: v4l2_create_buffers, busy = false): void {
  const call = "VIDIOC_CREATE_BUFS";
  const f = create.format;
  let err: unknown;
  try {
    q.verifyMemoryType(create.memory, f.type, call);
  } catch (e) {
    err = e;
  }
  create.capabilities = vb2BufCaps(q) | V4L2_BUF_CAP_SUPPORTS_MAX_NUM_BUFFERS;
  create.flags = 0;
  create.index = q.bufs.length;
  create.max_num_buffers = q.maxNumBuffers;
  if (create.count === 0) {
    if (err && !(err instanceof Errno && err.code === "EBUSY")) throw err;
    return;
  }
  let sizes: number[];
  if (V4L2_TYPE_IS_MULTIPLANAR(f.type)) {
    const mp = f.fmt.pix_mp;
    check(mp && mp.num_planes > 0 && mp.num_planes <= VIDEO_MAX_PLANES, "EINVAL", call, "num_planes out of range");
    sizes = mp.plane_fmt.slice(0, mp.num_planes).map((p) => p.sizeimage);
  } else {
    check(f.fmt.pix, "EINVAL", call, "format has no pix member");
    sizes = [f.fmt.pix.sizeimage];
  }
  check(sizes.every((s) => s > 0), "EINVAL", call, "sizeimage 0 in the requested format");
  if (err) throw err;
  if (busy) throw new Errno("EBUSY", call, "the buffers belong to another file handle");
  const [first, count] = q.createBufs(create.memory, create.count, sizes);
  create.index = first;
  create.count = count;
}

/** vb2_querybuf() */
export function vb2Querybuf(q: Vb2Queue, b: v4l2_buffer): void {
  check(b.type === q.type, "EINVAL", "VIDIOC_QUERYBUF", "wrong buffer type");
  const vb = q.getBuffer(b.index);
  if (!vb) throw new Errno("EINVAL", "VIDIOC_QUERYBUF", `buffer index ${b.index} out of range`);
  verifyPlanesArray(vb, b);
  fillUserBuffer(vb, b);
}

/** vb2_prepare_buf() */
export function vb2PrepareBuf(q: Vb2Queue, b: v4l2_buffer): void {
  const vb = queueOrPrepareBuf(q, b, "VIDIOC_PREPARE_BUF");
  q.prepareBuf(vb.index, b);
}

/** vb2_qbuf() */
export function vb2Qbuf(q: Vb2Queue, b: v4l2_buffer): void {
  const vb = queueOrPrepareBuf(q, b, "VIDIOC_QBUF");
  q.qbuf(vb.index, b);
}

/** vb2_dqbuf(): synchronous when a buffer is already done, else a Promise. */
export function vb2Dqbuf(q: Vb2Queue, b: v4l2_buffer, nonblocking: boolean): void | Promise<void> {
  check(b.type === q.type, "EINVAL", "VIDIOC_DQBUF", "invalid buffer type");
  const r = q.dqbuf(b, nonblocking);
  if (r instanceof Promise) return r.then(() => afterDqbuf(q, b));
  afterDqbuf(q, b);
}

function afterDqbuf(q: Vb2Queue, b: v4l2_buffer): void {
  // A capture buffer flagged LAST ends the stream: later DQBUFs get EPIPE.
  if (!q.isOutput && b.flags! & V4L2_BUF_FLAG_DONE && b.flags! & V4L2_BUF_FLAG_LAST) q.lastBufferDequeued = true;
  // After DQBUF the DONE flag must be cleared.
  b.flags! &= ~V4L2_BUF_FLAG_DONE;
}

/** vb2_expbuf(): installs the new dma-buf's fd in the caller. */
export function vb2Expbuf(q: Vb2Queue, eb: v4l2_exportbuffer): void {
  if (eb.flags & ~(O_CLOEXEC | O_ACCMODE)) throw new Errno("EINVAL", "VIDIOC_EXPBUF", `invalid flags 0x${eb.flags.toString(16)}`);
  const dbuf = q.expbuf(eb.type, eb.index, eb.plane, eb.flags & O_ACCMODE);
  try {
    eb.fd = dmaBufFd(dbuf, eb.flags & ~O_ACCMODE);
  } catch (e) {
    // vb2_core_expbuf(): a failed dma_buf_fd (EMFILE) drops the new buffer with dma_buf_put
    dmaBufPut(dbuf);
    throw e;
  }
}

/** vb2_streamon() / vb2_streamoff() */
export function vb2Streamon(q: Vb2Queue, type: number): void {
  check(type === q.type, "EINVAL", "VIDIOC_STREAMON", "invalid stream type");
  q.streamon();
}
export function vb2Streamoff(q: Vb2Queue, type: number): void {
  check(type === q.type, "EINVAL", "VIDIOC_STREAMOFF", "invalid stream type");
  q.streamoff();
}

/** vb2_poll(): buffer readiness plus POLLPRI for pending events (`eventsPending`). */
export function vb2Poll(q: Vb2Queue, table: PollTable, reqEvents: number, eventsPending: boolean): number {
  const mask = q.poll(table, reqEvents);
  return eventsPending ? mask | POLLPRI : mask;
}

/** The request mask a poll() without explicit events asks for (all of them). */
export const POLL_ALL_EVENTS = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM | POLLPRI;
