/**
 * V4L2 device nodes (drivers/media/v4l2-core/v4l2-dev.c, v4l2-ioctl.c, v4l2-fh.c, v4l2-event.c):
 * `VideoDevice` registers /dev/videoN, gives each open a `V4l2Fh`, and dispatches VIDIOC_* ioctls to
 * a driver's {@link V4l2IoctlOps} after the checks v4l2-ioctl.c makes; buffer ioctls default to the
 * vb2 helpers when the driver sets `queue`.
 */
import {
  Errno, MAP_SHARED, O_NONBLOCK, POLLPRI, WaitQueue, check, type File, type FileOperations, type Kernel,
  type PollTable, type TaskContext, type VmArea,
} from "@dmabuf/core";
import type { V4l2CtrlHandler } from "./v4l2-ctrls.js";
import type { Vb2Queue } from "./videobuf2-core.js";
import {
  POLL_ALL_EVENTS, vb2CreateBufs, vb2Dqbuf, vb2Expbuf, vb2Poll, vb2PrepareBuf, vb2Qbuf, vb2Querybuf, vb2Reqbufs,
  vb2Streamoff, vb2Streamon,
} from "./videobuf2-v4l2.js";
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, V4L2_CAP_DEVICE_CAPS, V4L2_CAP_VIDEO_CAPTURE, V4L2_CAP_VIDEO_CAPTURE_MPLANE,
  V4L2_CAP_VIDEO_M2M, V4L2_CAP_VIDEO_M2M_MPLANE, V4L2_CAP_VIDEO_OUTPUT, V4L2_CAP_VIDEO_OUTPUT_MPLANE,
  V4L2_EVENT_ALL, VIDIOC_CREATE_BUFS, VIDIOC_DQBUF, VIDIOC_DQEVENT, VIDIOC_ENUM_FMT, VIDIOC_ENUM_FRAMEINTERVALS,
  VIDIOC_ENUM_FRAMESIZES, VIDIOC_EXPBUF, VIDIOC_G_CTRL, VIDIOC_G_EXT_CTRLS, VIDIOC_G_FMT, VIDIOC_G_PARM,
  VIDIOC_PREPARE_BUF, VIDIOC_QBUF, VIDIOC_QUERYBUF, VIDIOC_QUERYCAP, VIDIOC_QUERYCTRL, VIDIOC_QUERYMENU,
  VIDIOC_REQBUFS, VIDIOC_S_CTRL, VIDIOC_S_EXT_CTRLS, VIDIOC_S_FMT, VIDIOC_S_PARM, VIDIOC_STREAMOFF,
  VIDIOC_STREAMON, VIDIOC_SUBSCRIBE_EVENT, VIDIOC_TRY_EXT_CTRLS, VIDIOC_TRY_FMT, VIDIOC_UNSUBSCRIBE_EVENT,
  type v4l2_buffer, type v4l2_capability, type v4l2_create_buffers, type v4l2_event, type v4l2_event_subscription,
  type v4l2_exportbuffer, type v4l2_fmtdesc, type v4l2_format, type v4l2_frmivalenum, type v4l2_frmsizeenum,
  type v4l2_requestbuffers, type v4l2_streamparm,
} from "./uapi.js";

/** Depth of each file handle's event queue (v4l2_event_subscribe's elems, simplified to one). */
const EVENT_QUEUE_DEPTH = 64;

/** struct v4l2_fh: per-open state of a video device node. */
export class V4l2Fh {
  readonly events: v4l2_event[] = [];
  readonly subscribed = new Set<string>();
  readonly eventWq = new WaitQueue();
  private eventSeq = 0;
  /** The mem2mem context of this open, for m2m drivers (v4l2_fh.m2m_ctx). */
  m2mCtx: unknown;
  /** Driver's per-open state. */
  priv: unknown;

  constructor(
    readonly vdev: VideoDevice,
    readonly file: File,
  ) {}

  get nonblocking(): boolean {
    return (this.file.flags & O_NONBLOCK) !== 0;
  }

  /** v4l2_event_subscribe() */
  subscribe(sub: v4l2_event_subscription): void {
    this.subscribed.add(`${sub.type}:${sub.id}`);
  }

  /** v4l2_event_unsubscribe(): V4L2_EVENT_ALL drops every subscription. */
  unsubscribe(sub: v4l2_event_subscription): void {
    if (sub.type === V4L2_EVENT_ALL) this.subscribed.clear();
    else this.subscribed.delete(`${sub.type}:${sub.id}`);
  }

  /** v4l2_event_queue_fh(): only subscribed events are queued; the oldest is dropped when full. */
  queueEvent(type: number, id: number, u: v4l2_event["u"]): void {
    if (!this.subscribed.has(`${type}:${id}`)) return;
    const now = this.vdev.kernel.clock.now();
    if (this.events.length >= EVENT_QUEUE_DEPTH) this.events.shift();
    this.events.push({ type, id, u, pending: 0, sequence: this.eventSeq++, timestamp: { tv_sec: Math.floor(now / 1e9), tv_nsec: now % 1e9 } });
    this.eventWq.wake();
    this.vdev.pollWq.wake();
  }

  /** VIDIOC_DQEVENT: ENOENT when nothing is pending (nonblocking), else waits. */
  async dqevent(ev: v4l2_event): Promise<void> {
    if (this.events.length === 0) {
      check(!this.nonblocking, "ENOENT", "VIDIOC_DQEVENT", "no event pending");
      await this.eventWq.waitEvent(this.vdev.kernel.clock, () => this.events.length > 0);
    }
    Object.assign(ev, this.events.shift()!);
    ev.pending = this.events.length;
  }
}

/**
 * struct v4l2_ioctl_ops, merged across buffer types: the dispatcher has already checked that
 * `type` fields name a buffer type the device supports (EINVAL otherwise), as check_fmt() does.
 * Every op is optional; a missing one makes its ioctl ENOTTY. Buffer ops default to the vb2 helpers
 * on `VideoDevice.queue`.
 */
export interface V4l2IoctlOps {
  vidioc_querycap(fh: V4l2Fh, cap: v4l2_capability): void;
  vidioc_enum_fmt?(fh: V4l2Fh, f: v4l2_fmtdesc): void;
  vidioc_g_fmt?(fh: V4l2Fh, f: v4l2_format): void;
  vidioc_s_fmt?(fh: V4l2Fh, f: v4l2_format): void;
  vidioc_try_fmt?(fh: V4l2Fh, f: v4l2_format): void;
  vidioc_enum_framesizes?(fh: V4l2Fh, fs: v4l2_frmsizeenum): void;
  vidioc_enum_frameintervals?(fh: V4l2Fh, fi: v4l2_frmivalenum): void;
  vidioc_g_parm?(fh: V4l2Fh, p: v4l2_streamparm): void;
  vidioc_s_parm?(fh: V4l2Fh, p: v4l2_streamparm): void;
  vidioc_reqbufs?(fh: V4l2Fh, rb: v4l2_requestbuffers): void;
  vidioc_create_bufs?(fh: V4l2Fh, cb: v4l2_create_buffers): void;
  vidioc_querybuf?(fh: V4l2Fh, b: v4l2_buffer): void;
  vidioc_prepare_buf?(fh: V4l2Fh, b: v4l2_buffer): void;
  vidioc_qbuf?(fh: V4l2Fh, b: v4l2_buffer): void;
  /** May complete synchronously when a buffer is already done; a Promise when it sleeps. */
  vidioc_dqbuf?(fh: V4l2Fh, b: v4l2_buffer): void | Promise<void>;
  vidioc_expbuf?(fh: V4l2Fh, e: v4l2_exportbuffer): void;
  vidioc_streamon?(fh: V4l2Fh, type: number): void;
  vidioc_streamoff?(fh: V4l2Fh, type: number): void;
  /** Which events may be subscribed (v4l2_ctrl_subscribe_event, v4l2_src_change_event_subscribe). */
  vidioc_subscribe_event?(fh: V4l2Fh, sub: v4l2_event_subscription): void;
  /** vidioc_default: driver-private or codec ioctls (ENCODER_CMD, DECODER_CMD, selections). */
  vidioc_default?(fh: V4l2Fh, request: number, arg: unknown): number | Promise<number>;
}

/** Hooks around the node's file operations (v4l2_file_operations), all optional. */
export interface V4l2FileHooks {
  /** After the V4l2Fh is created (v4l2_fh_open). */
  open?(fh: V4l2Fh): void;
  /** Before the V4l2Fh goes (the vb2 queue is released first if this fh owned it). */
  release?(fh: V4l2Fh): void;
  /** Replaces vb2_fop_poll (mem2mem uses this). */
  poll?(fh: V4l2Fh, table: PollTable, events: number): number;
  /** Replaces vb2_fop_mmap. */
  mmap?(fh: V4l2Fh, vma: VmArea): void;
}

export interface VideoDeviceInit {
  name: string;
  /** V4L2_CAP_* of this node (device_caps). */
  deviceCaps: number;
  ioctlOps: V4l2IoctlOps;
  fileHooks?: V4l2FileHooks;
  /** The node's single queue (vdev->queue); m2m drivers leave it unset and provide buffer ops. */
  queue?: Vb2Queue;
  ctrlHandler?: V4l2CtrlHandler;
}

/** Buffer types a node with `caps` accepts in `type` fields. */
function bufTypesOf(caps: number): number[] {
  const t: number[] = [];
  if (caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_M2M)) t.push(V4L2_BUF_TYPE_VIDEO_CAPTURE);
  if (caps & (V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_VIDEO_M2M)) t.push(V4L2_BUF_TYPE_VIDEO_OUTPUT);
  if (caps & (V4L2_CAP_VIDEO_CAPTURE_MPLANE | V4L2_CAP_VIDEO_M2M_MPLANE)) t.push(V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE);
  if (caps & (V4L2_CAP_VIDEO_OUTPUT_MPLANE | V4L2_CAP_VIDEO_M2M_MPLANE)) t.push(V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE);
  return t;
}

/** struct video_device: one /dev/videoN node. */
export class VideoDevice {
  readonly name: string;
  readonly deviceCaps: number;
  readonly ioctlOps: V4l2IoctlOps;
  readonly fileHooks: V4l2FileHooks;
  queue: Vb2Queue | undefined;
  readonly ctrlHandler: V4l2CtrlHandler | undefined;
  readonly bufTypes: number[];
  /** Woken on events, so poll() sees POLLPRI. */
  readonly pollWq = new WaitQueue();
  minor = -1;
  path = "";
  readonly fhs = new Set<V4l2Fh>();

  constructor(
    readonly kernel: Kernel,
    init: VideoDeviceInit,
  ) {
    this.name = init.name;
    this.deviceCaps = init.deviceCaps;
    this.ioctlOps = init.ioctlOps;
    this.fileHooks = init.fileHooks ?? {};
    this.queue = init.queue;
    this.ctrlHandler = init.ctrlHandler;
    this.bufTypes = bufTypesOf(init.deviceCaps);
  }

  /** video_register_device(VFL_TYPE_VIDEO, -1): the first free /dev/videoN. */
  register(): string {
    let n = 0;
    while (this.kernel.vfs.exists(`/dev/video${n}`)) n++;
    this.minor = n;
    this.path = `/dev/video${n}`;
    this.kernel.vfs.create(this.path, v4l2Fops, this, `81:${n}`);
    this.kernel.vfs.createText(`/sys/class/video4linux/video${n}/name`, () => this.name + "\n");
    return this.path;
  }

  /** video_unregister_device() */
  unregister(): void {
    this.kernel.vfs.remove(this.path);
    this.kernel.vfs.remove(`/sys/class/video4linux/video${this.minor}/name`);
  }

  /** v4l2_event_queue(): to every open file handle subscribed to it. */
  queueEvent(type: number, id: number, u: v4l2_event["u"]): void {
    for (const fh of this.fhs) fh.queueEvent(type, id, u);
  }

  /** check_fmt()-style validation of a `type` field. */
  checkType(type: number, call: string): void {
    if (!this.bufTypes.includes(type)) throw new Errno("EINVAL", call, `buffer type ${type} is not supported by ${this.name}`);
  }

  /** vb2_queue_is_busy(): another file handle owns the buffers. */
  private queueBusy(fh: V4l2Fh): boolean {
    return this.queue?.owner !== undefined && this.queue.owner !== fh;
  }

  private vbq(call: string): Vb2Queue {
    if (!this.queue) throw new Errno("ENOTTY", call, `${this.name} has no buffer queue`);
    return this.queue;
  }

  /** video_ioctl2() -> __video_do_ioctl(): the table of v4l2-ioctl.c, reduced to what this model has. */
  ioctl(fh: V4l2Fh, request: number, arg: unknown): number | Promise<number> {
    // No closures here: this is the per-frame path (QBUF/DQBUF).
    const ops = this.ioctlOps;
    const a = arg as never;
    switch (request) {
      case VIDIOC_QUERYCAP: {
        const cap = arg as v4l2_capability;
        cap.device_caps = this.deviceCaps;
        ops.vidioc_querycap(fh, cap);
        cap.capabilities = (cap.capabilities | this.deviceCaps | V4L2_CAP_DEVICE_CAPS) >>> 0;
        cap.reserved = [0, 0, 0];
        return 0;
      }
      case VIDIOC_ENUM_FMT:
        this.checkType((arg as v4l2_fmtdesc).type, "VIDIOC_ENUM_FMT");
        this.need(ops.vidioc_enum_fmt, "VIDIOC_ENUM_FMT").call(ops, fh, a);
        return 0;
      case VIDIOC_G_FMT:
        this.checkType((arg as v4l2_format).type, "VIDIOC_G_FMT");
        this.need(ops.vidioc_g_fmt, "VIDIOC_G_FMT").call(ops, fh, a);
        return 0;
      case VIDIOC_S_FMT:
        this.checkType((arg as v4l2_format).type, "VIDIOC_S_FMT");
        this.need(ops.vidioc_s_fmt, "VIDIOC_S_FMT").call(ops, fh, a);
        return 0;
      case VIDIOC_TRY_FMT:
        this.checkType((arg as v4l2_format).type, "VIDIOC_TRY_FMT");
        this.need(ops.vidioc_try_fmt, "VIDIOC_TRY_FMT").call(ops, fh, a);
        return 0;
      case VIDIOC_ENUM_FRAMESIZES:
        this.need(ops.vidioc_enum_framesizes, "VIDIOC_ENUM_FRAMESIZES").call(ops, fh, a);
        return 0;
      case VIDIOC_ENUM_FRAMEINTERVALS:
        this.need(ops.vidioc_enum_frameintervals, "VIDIOC_ENUM_FRAMEINTERVALS").call(ops, fh, a);
        return 0;
      case VIDIOC_G_PARM:
        this.checkType((arg as v4l2_streamparm).type, "VIDIOC_G_PARM");
        this.need(ops.vidioc_g_parm, "VIDIOC_G_PARM").call(ops, fh, a);
        return 0;
      case VIDIOC_S_PARM:
        this.checkType((arg as v4l2_streamparm).type, "VIDIOC_S_PARM");
        this.need(ops.vidioc_s_parm, "VIDIOC_S_PARM").call(ops, fh, a);
        return 0;
      case VIDIOC_REQBUFS: {
        const rb = arg as v4l2_requestbuffers;
        if (ops.vidioc_reqbufs) ops.vidioc_reqbufs(fh, rb);
        else this.vb2IoctlReqbufs(fh, rb);
        return 0;
      }
      case VIDIOC_CREATE_BUFS: {
        const cb = arg as v4l2_create_buffers;
        this.checkType(cb.format.type, "VIDIOC_CREATE_BUFS");
        if (ops.vidioc_create_bufs) ops.vidioc_create_bufs(fh, cb);
        else this.vb2IoctlCreateBufs(fh, cb);
        return 0;
      }
      case VIDIOC_QUERYBUF:
        if (ops.vidioc_querybuf) ops.vidioc_querybuf(fh, a);
        else vb2Querybuf(this.vbq("VIDIOC_QUERYBUF"), a);
        return 0;
      case VIDIOC_PREPARE_BUF:
        if (ops.vidioc_prepare_buf) ops.vidioc_prepare_buf(fh, a);
        else vb2PrepareBuf(this.owned(fh, "VIDIOC_PREPARE_BUF"), a);
        return 0;
      case VIDIOC_QBUF: {
        const b = arg as v4l2_buffer;
        if (ops.vidioc_qbuf) ops.vidioc_qbuf(fh, b);
        else vb2Qbuf(this.owned(fh, "VIDIOC_QBUF"), b);
        this.traceBuf("v4l2_qbuf", b);
        return 0;
      }
      case VIDIOC_DQBUF: {
        const b = arg as v4l2_buffer;
        let r: void | Promise<void>;
        if (ops.vidioc_dqbuf) r = ops.vidioc_dqbuf(fh, b);
        else {
          r = vb2Dqbuf(this.owned(fh, "VIDIOC_DQBUF"), b, fh.nonblocking);
        }
        if (r instanceof Promise) {
          // Traced in the context of the task that slept in DQBUF.
          const task = this.kernel.current;
          return r.then(() => this.traceBuf("v4l2_dqbuf", b, task));
        }
        return this.traceBuf("v4l2_dqbuf", b);
      }
      case VIDIOC_EXPBUF:
        if (ops.vidioc_expbuf) ops.vidioc_expbuf(fh, a);
        else vb2Expbuf(this.owned(fh, "VIDIOC_EXPBUF"), a);
        return 0;
      case VIDIOC_STREAMON:
        if (ops.vidioc_streamon) ops.vidioc_streamon(fh, arg as number);
        else vb2Streamon(this.owned(fh, "VIDIOC_STREAMON"), arg as number);
        return 0;
      case VIDIOC_STREAMOFF:
        if (ops.vidioc_streamoff) ops.vidioc_streamoff(fh, arg as number);
        else vb2Streamoff(this.owned(fh, "VIDIOC_STREAMOFF"), arg as number);
        return 0;
      case VIDIOC_QUERYCTRL:
        this.ctrls("VIDIOC_QUERYCTRL").queryctrl(a);
        return 0;
      case VIDIOC_QUERYMENU:
        this.ctrls("VIDIOC_QUERYMENU").querymenu(a);
        return 0;
      case VIDIOC_G_CTRL:
        this.ctrls("VIDIOC_G_CTRL").gCtrl(a);
        return 0;
      case VIDIOC_S_CTRL:
        this.ctrls("VIDIOC_S_CTRL").sCtrl(a);
        return 0;
      case VIDIOC_G_EXT_CTRLS:
        this.ctrls("VIDIOC_G_EXT_CTRLS").extCtrls(a, "get");
        return 0;
      case VIDIOC_S_EXT_CTRLS:
        this.ctrls("VIDIOC_S_EXT_CTRLS").extCtrls(a, "set");
        return 0;
      case VIDIOC_TRY_EXT_CTRLS:
        this.ctrls("VIDIOC_TRY_EXT_CTRLS").extCtrls(a, "try");
        return 0;
      case VIDIOC_SUBSCRIBE_EVENT:
        this.need(ops.vidioc_subscribe_event, "VIDIOC_SUBSCRIBE_EVENT").call(ops, fh, a);
        fh.subscribe(a);
        return 0;
      case VIDIOC_UNSUBSCRIBE_EVENT:
        this.need(ops.vidioc_subscribe_event, "VIDIOC_UNSUBSCRIBE_EVENT");
        fh.unsubscribe(a);
        return 0;
      case VIDIOC_DQEVENT:
        this.need(ops.vidioc_subscribe_event, "VIDIOC_DQEVENT");
        return fh.dqevent(a).then(() => 0);
      default:
        if (ops.vidioc_default) return ops.vidioc_default(fh, request, arg);
        throw new Errno("ENOTTY", "ioctl", `${this.name}: unknown ioctl 0x${(request >>> 0).toString(16)}`);
    }
  }

  private need<F>(op: F | undefined, call: string): F {
    if (!op) throw new Errno("ENOTTY", call, `${this.name} does not implement ${call}`);
    return op;
  }

  private ctrls(call: string): V4l2CtrlHandler {
    if (!this.ctrlHandler) throw new Errno("ENOTTY", call, `${this.name} has no controls`);
    return this.ctrlHandler;
  }

  /** vb2_ioctl_*: the queue, unless another file handle owns it (EBUSY). */
  private owned(fh: V4l2Fh, call: string): Vb2Queue {
    const q = this.vbq(call);
    if (this.queueBusy(fh)) throw new Errno("EBUSY", call, "the buffers belong to another file handle");
    return q;
  }

  /** vb2_ioctl_reqbufs(): REQBUFS(0) gives up ownership, any other count takes it. */
  private vb2IoctlReqbufs(fh: V4l2Fh, rb: v4l2_requestbuffers): void {
    const q = this.vbq("VIDIOC_REQBUFS");
    vb2Reqbufs(q, rb, this.queueBusy(fh));
    q.owner = rb.count ? fh : undefined;
  }

  /** vb2_ioctl_create_bufs() */
  private vb2IoctlCreateBufs(fh: V4l2Fh, cb: v4l2_create_buffers): void {
    const q = this.vbq("VIDIOC_CREATE_BUFS");
    vb2CreateBufs(q, cb, this.queueBusy(fh));
    if (cb.count) q.owner = fh;
  }

  /** include/trace/events/v4l2.h: v4l2_qbuf / v4l2_dqbuf with the buffer as userspace sees it. Returns 0. */
  private traceBuf(event: string, b: v4l2_buffer, task?: TaskContext): 0 {
    if (!this.kernel.trace.on) return 0;
    const tc = b.timecode;
    const args = {
      minor: this.minor,
      index: b.index,
      type: b.type,
      bytesused: b.bytesused ?? 0,
      flags: b.flags ?? 0,
      field: b.field ?? 0,
      timestamp: (b.timestamp?.tv_sec ?? 0) * 1e9 + (b.timestamp?.tv_usec ?? 0) * 1e3,
      timecode_type: tc?.type ?? 0,
      timecode_flags: tc?.flags ?? 0,
      timecode_frames: tc?.frames ?? 0,
      timecode_seconds: tc?.seconds ?? 0,
      timecode_minutes: tc?.minutes ?? 0,
      timecode_hours: tc?.hours ?? 0,
      sequence: b.sequence ?? 0,
    };
    if (task) this.kernel.trace.emit(event, args, task);
    else this.kernel.trace.emit(event, args);
    return 0;
  }
}

const fhOf = (file: File) => file.privateData as V4l2Fh;

/** v4l2_fops: the file operations of every /dev/videoN (privateData: the VideoDevice, then the fh). */
const v4l2Fops: FileOperations = {
  name: "v4l2",
  open(file) {
    const vdev = file.privateData as VideoDevice;
    const fh = new V4l2Fh(vdev, file);
    file.privateData = fh;
    vdev.fhs.add(fh);
    try {
      vdev.fileHooks.open?.(fh);
    } catch (e) {
      vdev.fhs.delete(fh);
      throw e;
    }
  },
  release(file) {
    const fh = fhOf(file);
    const vdev = fh.vdev;
    // vb2_fop_release(): the owner's close frees the buffers (exported ones live on as orphans).
    if (vdev.queue && vdev.queue.owner === fh) vdev.queue.release();
    vdev.fileHooks.release?.(fh);
    vdev.fhs.delete(fh);
  },
  ioctl(file, request, arg) {
    const fh = fhOf(file);
    return fh.vdev.ioctl(fh, request, arg);
  },
  poll(file, table) {
    const fh = fhOf(file);
    const vdev = fh.vdev;
    table.wait(vdev.pollWq);
    if (vdev.fileHooks.poll) return vdev.fileHooks.poll(fh, table, POLL_ALL_EVENTS);
    const pending = fh.events.length > 0;
    if (!vdev.queue) return pending ? POLLPRI : 0;
    return vb2Poll(vdev.queue, table, POLL_ALL_EVENTS, pending);
  },
  mmap(file, vma) {
    const fh = fhOf(file);
    const vdev = fh.vdev;
    if (vdev.fileHooks.mmap) return vdev.fileHooks.mmap(fh, vma);
    if (!vdev.queue) throw new Errno("ENODEV", "mmap", `${vdev.name} has no buffer queue`);
    vdev.queue.mmap(vma, (vma.flags & 3) === MAP_SHARED);
  },
};
