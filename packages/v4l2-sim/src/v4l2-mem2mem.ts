/**
 * Memory-to-memory device helper (drivers/media/v4l2-core/v4l2-mem2mem.c): one context per open
 * with an OUTPUT (source) and a CAPTURE (destination) queue, and a job queue shared by the device.
 * A job is ready when both queues stream and each has a buffer ready (and the driver's `jobReady`
 * agrees); the scheduler runs one job at a time on the device, from a zero-delay timer on the virtual
 * clock (the model of the m2m work item). The driver calls {@link v4l2M2mJobFinish} when its hardware
 * completes, which schedules the next job.
 */
import { MAP_SHARED, PAGE_SIZE, POLLERR, POLLIN, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM, check, type Kernel, type PollTable, type VmArea } from "@dmabuf/core";
import { VB2_BUF_STATE_DONE, type Vb2Buffer, type Vb2BufferState, type Vb2Queue } from "./videobuf2-core.js";
import {
  vb2CreateBufs, vb2Dqbuf, vb2Expbuf, vb2PrepareBuf, vb2Qbuf, vb2Querybuf, vb2Reqbufs, vb2Streamoff, vb2Streamon,
} from "./videobuf2-v4l2.js";
import type { V4l2Fh, V4l2FileHooks, V4l2IoctlOps } from "./v4l2-ioctl.js";
import {
  V4L2_MEMORY_MMAP, V4L2_TYPE_IS_MULTIPLANAR, V4L2_TYPE_IS_OUTPUT, type v4l2_buffer, type v4l2_create_buffers,
  type v4l2_exportbuffer, type v4l2_requestbuffers,
} from "./uapi.js";

/** mmap offsets of CAPTURE buffers are moved up by this much so both queues share one offset space. */
export const DST_QUEUE_OFF_BASE = 1 << 30;

/** struct v4l2_m2m_ops */
export interface V4l2M2mOps {
  /**
   * @deviceRun: required. Called by the scheduler with a ready context; starts the hardware job.
   * When the job completes (typically from a timer) the driver returns the buffers it used with
   * {@link V4l2M2mCtx.bufDone} and calls {@link v4l2M2mJobFinish}.
   */
  deviceRun(priv: unknown): void;
  /** @jobReady: optional. False keeps the context off the job queue even with buffers on both sides. */
  jobReady?(priv: unknown): boolean;
  /** @jobAbort: optional. Asks the driver to end the running job early (STREAMOFF, close). */
  jobAbort?(priv: unknown): void;
}

/** struct v4l2_m2m_dev: the device-wide job queue. */
export class V4l2M2mDev {
  readonly jobQueue: V4l2M2mCtx[] = [];
  currCtx: V4l2M2mCtx | undefined;
  private runScheduled = false;

  constructor(
    readonly kernel: Kernel,
    readonly ops: V4l2M2mOps,
  ) {
    check(ops.deviceRun, "EINVAL", "v4l2_m2m_init", "device_run is required");
  }

  /** v4l2_m2m_try_run(), deferred to a zero-delay timer as Linux defers it to a work item. */
  scheduleRun(): void {
    if (this.runScheduled) return;
    this.runScheduled = true;
    this.kernel.clock.addTimer(0, () => {
      this.runScheduled = false;
      if (this.currCtx || this.jobQueue.length === 0) return;
      const ctx = this.jobQueue.shift()!;
      this.currCtx = ctx;
      ctx.running = true;
      ctx.queued = false;
      this.ops.deviceRun(ctx.priv);
    }, "v4l2_m2m_device_run");
  }
}

/** struct v4l2_m2m_ctx: one open's pair of queues and their ready lists. */
export class V4l2M2mCtx {
  readonly rdySrc: Vb2Buffer[] = [];
  readonly rdyDst: Vb2Buffer[] = [];
  queued = false;
  running = false;

  /** v4l2_m2m_ctx_init(): the driver's `queueInit` builds the OUTPUT and CAPTURE vb2 queues. */
  constructor(
    readonly m2mDev: V4l2M2mDev,
    readonly priv: unknown,
    readonly outQ: Vb2Queue,
    readonly capQ: Vb2Queue,
  ) {}

  /** v4l2_m2m_get_vq() */
  vq(type: number): Vb2Queue {
    return V4L2_TYPE_IS_OUTPUT(type) ? this.outQ : this.capQ;
  }

  /** v4l2_m2m_buf_queue(): the driver's buf_queue op puts the buffer on its ready list. */
  bufQueue(vb: Vb2Buffer): void {
    (vb.queue === this.outQ ? this.rdySrc : this.rdyDst).push(vb);
  }

  /** v4l2_m2m_next_src_buf() / v4l2_m2m_next_dst_buf() */
  nextSrcBuf(): Vb2Buffer | undefined {
    return this.rdySrc[0];
  }
  nextDstBuf(): Vb2Buffer | undefined {
    return this.rdyDst[0];
  }

  /** v4l2_m2m_src_buf_remove() / v4l2_m2m_dst_buf_remove() */
  srcBufRemove(): Vb2Buffer | undefined {
    return this.rdySrc.shift();
  }
  dstBufRemove(): Vb2Buffer | undefined {
    return this.rdyDst.shift();
  }

  /** v4l2_m2m_buf_done(): vb2_buffer_done on whichever queue owns `vb`. */
  bufDone(vb: Vb2Buffer, state: Vb2BufferState = VB2_BUF_STATE_DONE): void {
    vb.queue.bufferDone(vb, state);
  }

  /** v4l2_m2m_try_schedule(): queue a job if both sides can run. */
  trySchedule(): void {
    if (this.queued || this.running) return;
    if (!this.outQ.isStreaming || !this.capQ.isStreaming) return;
    if (this.rdySrc.length === 0 || this.rdyDst.length === 0) return;
    if (this.m2mDev.ops.jobReady && !this.m2mDev.ops.jobReady(this.priv)) return;
    this.queued = true;
    this.m2mDev.jobQueue.push(this);
    this.m2mDev.scheduleRun();
  }

  /** v4l2_m2m_cancel_job(): abort a running job, drop a queued one. */
  cancelJob(): void {
    if (this.running) this.m2mDev.ops.jobAbort?.(this.priv);
    if (this.queued) {
      this.m2mDev.jobQueue.splice(this.m2mDev.jobQueue.indexOf(this), 1);
      this.queued = false;
    }
  }

  /** v4l2_m2m_ctx_release(): cancel, then free both queues' buffers. */
  release(): void {
    this.cancelJob();
    this.outQ.release();
    this.capQ.release();
    this.rdySrc.length = 0;
    this.rdyDst.length = 0;
  }
}

/** v4l2_m2m_job_finish(): the running job of `ctx` is over; schedule the next. */
export function v4l2M2mJobFinish(m2mDev: V4l2M2mDev, ctx: V4l2M2mCtx): void {
  check(m2mDev.currCtx === ctx, "EINVAL", "v4l2_m2m_job_finish", "called for a context that is not running");
  m2mDev.currCtx = undefined;
  ctx.running = false;
  ctx.trySchedule();
  m2mDev.scheduleRun();
}

const ctxOf = (fh: V4l2Fh) => fh.m2mCtx as V4l2M2mCtx;

/** CAPTURE mmap offsets as userspace sees them (v4l2_m2m_adjust_mem_offset). */
function adjustMemOffset(q: Vb2Queue, b: v4l2_buffer): void {
  if (b.memory !== V4L2_MEMORY_MMAP || V4L2_TYPE_IS_OUTPUT(q.type)) return;
  if (V4L2_TYPE_IS_MULTIPLANAR(b.type)) for (const p of b.m?.planes ?? []) p.m.mem_offset! += DST_QUEUE_OFF_BASE;
  else if (b.m?.offset !== undefined) b.m.offset += DST_QUEUE_OFF_BASE;
}

/**
 * The v4l2_m2m_ioctl_* helpers: buffer ioctls routed to the queue `type` names. Spread them into a
 * driver's {@link V4l2IoctlOps}.
 */
export const v4l2M2mIoctlOps: Pick<
  V4l2IoctlOps,
  "vidioc_reqbufs" | "vidioc_create_bufs" | "vidioc_querybuf" | "vidioc_prepare_buf" | "vidioc_qbuf" | "vidioc_dqbuf" | "vidioc_expbuf" | "vidioc_streamon" | "vidioc_streamoff"
> = {
  vidioc_reqbufs(fh, rb: v4l2_requestbuffers) {
    const ctx = ctxOf(fh);
    const q = ctx.vq(rb.type);
    vb2Reqbufs(q, rb);
    // REQBUFS(0) drops the queue's ready buffers with its buffers.
    if (rb.count === 0) (q === ctx.outQ ? ctx.rdySrc : ctx.rdyDst).length = 0;
  },
  vidioc_create_bufs(fh, cb: v4l2_create_buffers) {
    vb2CreateBufs(ctxOf(fh).vq(cb.format.type), cb);
  },
  vidioc_querybuf(fh, b) {
    const q = ctxOf(fh).vq(b.type);
    vb2Querybuf(q, b);
    adjustMemOffset(q, b);
  },
  vidioc_prepare_buf(fh, b) {
    const q = ctxOf(fh).vq(b.type);
    vb2PrepareBuf(q, b);
    adjustMemOffset(q, b);
  },
  vidioc_qbuf(fh, b) {
    const ctx = ctxOf(fh);
    const q = ctx.vq(b.type);
    vb2Qbuf(q, b);
    adjustMemOffset(q, b);
    ctx.trySchedule();
  },
  async vidioc_dqbuf(fh, b) {
    const q = ctxOf(fh).vq(b.type);
    await vb2Dqbuf(q, b, fh.nonblocking);
    adjustMemOffset(q, b);
  },
  vidioc_expbuf(fh, e: v4l2_exportbuffer) {
    vb2Expbuf(ctxOf(fh).vq(e.type), e);
  },
  vidioc_streamon(fh, type) {
    const ctx = ctxOf(fh);
    vb2Streamon(ctx.vq(type), type);
    ctx.trySchedule();
  },
  vidioc_streamoff(fh, type) {
    const ctx = ctxOf(fh);
    const q = ctx.vq(type);
    ctx.cancelJob();
    vb2Streamoff(q, type);
    (q === ctx.outQ ? ctx.rdySrc : ctx.rdyDst).length = 0;
    if (ctx.m2mDev.currCtx === ctx) {
      ctx.m2mDev.currCtx = undefined;
      ctx.running = false;
      ctx.m2mDev.scheduleRun();
    }
  },
};

/** v4l2_m2m_fop_poll and v4l2_m2m_fop_mmap as file hooks. */
export const v4l2M2mFileHooks: Pick<V4l2FileHooks, "poll" | "mmap"> = {
  poll(fh: V4l2Fh, table: PollTable): number {
    const ctx = ctxOf(fh);
    table.wait(ctx.outQ.doneWq);
    table.wait(ctx.capQ.doneWq);
    let mask = fh.events.length > 0 ? POLLPRI : 0;
    // v4l2_m2m_poll_for_data: nothing to wait for unless both queues stream.
    if (!ctx.outQ.isStreaming && !ctx.capQ.isStreaming) return mask | POLLERR;
    if (ctx.outQ.doneList.length > 0) mask |= POLLOUT | POLLWRNORM;
    if (ctx.capQ.doneList.length > 0 || ctx.capQ.lastBufferDequeued) mask |= POLLIN | POLLRDNORM;
    return mask;
  },
  mmap(fh: V4l2Fh, vma: VmArea): void {
    const ctx = ctxOf(fh);
    const off = vma.pgoff * PAGE_SIZE;
    const shared = (vma.flags & 3) === MAP_SHARED;
    if (off < DST_QUEUE_OFF_BASE) ctx.outQ.mmap(vma, shared, off);
    else ctx.capQ.mmap(vma, shared, off - DST_QUEUE_OFF_BASE);
  },
};
