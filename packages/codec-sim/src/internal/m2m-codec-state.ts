/*
 * The stateful-codec part of struct v4l2_m2m_ctx and its helpers (drivers/media/v4l2-core/
 * v4l2-mem2mem.c: v4l2_m2m_encoder_cmd/decoder_cmd, v4l2_update_last_buf_state,
 * v4l2_m2m_last_buffer_done, v4l2_m2m_update_{start,stop}_streaming_state,
 * v4l2_m2m_force_last_buf_done, v4l2_m2m_buf_copy_metadata): the drain state machine of
 * Documentation/userspace-api/media/v4l/dev-encoder.rst and dev-decoder.rst.
 */
import { Errno } from "@dmabuf/core";
import {
  V4L2_BUF_FLAG_BFRAME, V4L2_BUF_FLAG_KEYFRAME, V4L2_BUF_FLAG_LAST, V4L2_BUF_FLAG_PFRAME, V4L2_BUF_FLAG_TIMECODE,
  V4L2_BUF_FLAG_TSTAMP_SRC_MASK, V4L2_FIELD_NONE, VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DONE, type V4l2M2mCtx, type Vb2Buffer,
  type Vb2Queue,
} from "@dmabuf/v4l2-sim";

export class M2mCodecState {
  /** A STOP is in progress: the last OUTPUT buffer queued before it is being processed. */
  isDraining = false;
  /** Draining with no OUTPUT buffer left: the next CAPTURE buffer queued is returned empty with LAST. */
  nextBufLast = false;
  /** The LAST buffer was produced; OUTPUT buffers wait until START or a restart. */
  hasStopped = false;
  /** The last OUTPUT buffer queued before STOP. */
  lastSrcBuf: Vb2Buffer | undefined;

  constructor(private readonly ctx: V4l2M2mCtx) {}

  /**
   * v4l2_m2m_mark_stopped() (include/media/v4l2-mem2mem.h): next_buf_last is reset too, or a
   * later STOP with OUTPUT buffers pending would see v4l2_m2m_dst_buf_is_last() and hand back
   * the next CAPTURE buffer empty with LAST before the pending frames are encoded.
   */
  markStopped(): void {
    this.nextBufLast = false;
    this.isDraining = false;
    this.hasStopped = true;
  }

  /** v4l2_m2m_clear_state() */
  clearState(): void {
    this.nextBufLast = false;
    this.isDraining = false;
    this.hasStopped = false;
  }

  /** v4l2_m2m_dst_buf_is_last() */
  dstBufIsLast(): boolean {
    return this.isDraining && this.nextBufLast;
  }

  /** v4l2_m2m_is_last_draining_src_buf() */
  isLastDrainingSrcBuf(vb: Vb2Buffer): boolean {
    return this.isDraining && vb === this.lastSrcBuf;
  }

  /** v4l2_m2m_last_buffer_done(): flag `vb` LAST, return it DONE, and stop. */
  lastBufferDone(vb: Vb2Buffer): void {
    vb.flags |= V4L2_BUF_FLAG_LAST;
    this.ctx.bufDone(vb, VB2_BUF_STATE_DONE);
    this.markStopped();
  }

  /** v4l2_m2m_encoder_cmd() / v4l2_m2m_decoder_cmd() for STOP (1) and START (0); EBUSY while draining. */
  command(cmd: number, call: string): void {
    if (cmd === 1) return this.updateLastBufState(call);
    if (this.isDraining) throw new Errno("EBUSY", call, "START while draining");
    if (this.hasStopped) this.hasStopped = false;
  }

  /** v4l2_update_last_buf_state(): STOP. */
  private updateLastBufState(call: string): void {
    if (this.isDraining) throw new Errno("EBUSY", call, "STOP while draining");
    if (this.hasStopped) return;
    this.lastSrcBuf = this.ctx.rdySrc.at(-1);
    this.isDraining = true;
    // Processing the last OUTPUT buffer will mark the state stopped.
    if (this.lastSrcBuf) return;
    const dst = this.ctx.dstBufRemove();
    if (!dst) {
      this.nextBufLast = true;
      return;
    }
    dst.setPlanePayload(0, 0);
    this.lastBufferDone(dst);
  }

  /** v4l2_m2m_update_start_streaming_state(): a restarted OUTPUT queue forgets the last buffer. */
  updateStartStreamingState(q: Vb2Queue): void {
    if (q.isOutput) this.lastSrcBuf = undefined;
  }

  /**
   * v4l2_m2m_update_stop_streaming_state(): STREAMOFF(OUTPUT) mid-drain completes the drain (the
   * next CAPTURE buffer is returned empty with LAST); STREAMOFF(CAPTURE) resets the state.
   */
  updateStopStreamingState(q: Vb2Queue): void {
    if (!q.isOutput) return this.clearState();
    if (!this.isDraining) return;
    this.lastSrcBuf = undefined;
    const dst = this.ctx.dstBufRemove();
    if (!dst) this.nextBufLast = true;
    else {
      dst.setPlanePayload(0, 0);
      this.lastBufferDone(dst);
    }
  }

  /**
   * v4l2_m2m_force_last_buf_done(): a CAPTURE buffer queued while the queue streams but
   * start_streaming was not called yet (stopped, or the next buffer is LAST) is returned at once,
   * empty and LAST, since it will never reach the device. Called by v4l2_m2m_qbuf().
   */
  forceLastBufDoneIfStopped(q: Vb2Queue): void {
    if (q.isOutput || !q.isStreaming || q.startStreamingCalled) return;
    if (!this.hasStopped && !this.dstBufIsLast()) return;
    const vb = q.queuedList[0];
    if (!vb) return;
    for (let p = 0; p < vb.numPlanes; p++) vb.setPlanePayload(p, 0);
    // Never handed to the driver: make it active and owned before completing it.
    vb.state = VB2_BUF_STATE_ACTIVE;
    q.ownedByDrvCount++;
    vb.field = V4L2_FIELD_NONE;
    this.lastBufferDone(vb);
  }
}

/**
 * v4l2_m2m_buf_copy_metadata(): the CAPTURE buffer carries the OUTPUT buffer's timestamp, timecode,
 * field and timestamp-source flags (and, if `copyFrameFlags`, its KEYFRAME/PFRAME/BFRAME flags).
 */
export function bufCopyMetadata(out: Vb2Buffer, cap: Vb2Buffer, copyFrameFlags: boolean): void {
  let mask = V4L2_BUF_FLAG_TIMECODE | V4L2_BUF_FLAG_TSTAMP_SRC_MASK;
  if (copyFrameFlags) mask |= V4L2_BUF_FLAG_KEYFRAME | V4L2_BUF_FLAG_PFRAME | V4L2_BUF_FLAG_BFRAME;
  cap.timestamp = out.timestamp;
  if (out.flags & V4L2_BUF_FLAG_TIMECODE) cap.timecode = out.timecode;
  cap.field = out.field;
  cap.flags = (cap.flags & ~mask) | (out.flags & mask);
  cap.copiedTimestamp = true;
}
