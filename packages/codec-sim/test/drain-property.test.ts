import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Kernel} from "@dmabuf/core";
import { Errno, O_NONBLOCK, O_RDWR, assertNoLeaks } from "@dmabuf/core";
import {
  V4L2_BUF_FLAG_LAST, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12, VIDIOC_DQBUF, VIDIOC_STREAMOFF, type v4l2_buffer, libv4l2 } from "@dmabuf/v4l2-sim";
import { V4L2_ENC_CMD_START, V4L2_ENC_CMD_STOP, V4L2_PIX_FMT_JPEG, VIDIOC_ENCODER_CMD } from "../src/index.js";
import { CAP, OUT, bootSoc, qbuf, sFmt, streamingEncoder } from "./codec-helpers.js";
import { nv12Pattern } from "./heap-access.js";

const N = 3;
type Op = "qbufOut" | "qbufCap" | "dqbufOut" | "dqbufCap" | "stop" | "start" | "sleep" | "restartCapture";
/** Weights that make drains complete often: plenty of CAPTURE traffic and time passing. */
const WEIGHTS: Record<Op, number> = { qbufOut: 3, qbufCap: 2, dqbufOut: 2, dqbufCap: 3, stop: 2, start: 1, sleep: 3, restartCapture: 1 };
const op = fc.oneof(...Object.entries(WEIGHTS).map(([o, weight]) => ({ arbitrary: fc.constant(o as Op), weight })));

const code = (e: unknown) => (e instanceof Errno ? e.code : (() => { throw e; })());

/**
 * Random sequences of buffer traffic and encoder commands against a model of the drain rules of
 * dev-encoder.rst and v4l2-mem2mem.c: DQBUF(CAPTURE) gives EPIPE exactly when a LAST buffer was
 * dequeued and neither a START that found the encoder stopped nor a CAPTURE restart came after it;
 * every CAPTURE buffer with data carries the timestamp of an OUTPUT frame; no buffer is ever lost;
 * nothing leaks at the end.
 *
 * START only clears vb2's last_buffer_dequeued when the encoder *was* stopped when START arrived
 * (drivers/media/test-drivers/vicodec/vicodec-core.c, vicodec_encoder_cmd(): the
 * vb2_clear_last_buffer_dequeued() call is guarded by v4l2_m2m_has_stopped(); nothing in
 * v4l2_m2m_encoder_cmd() or videobuf2-core.c clears the flag, only __vb2_queue_cancel() at STREAMOFF).
 * So a START issued while the LAST buffer still sits in the done list resumes the encoder, the LAST
 * buffer is dequeued afterwards, and a second START (encoder not stopped any more) leaves
 * DQBUF(CAPTURE) at EPIPE. The model tracks "a STOP succeeded and no START/restart consumed it":
 * START returns EBUSY while draining, so a successful START after such a STOP always finds the
 * encoder stopped.
 */
async function runOps(ops: readonly Op[]): Promise<void> {
  const kernel: Kernel = await bootSoc();
  const p = kernel.spawn("prop");
  const { fd, outs } = await streamingEncoder(p, 64, 64, N, O_RDWR | O_NONBLOCK);
  for (const m of outs) m.write(0, nv12Pattern(64, 64, 64, 64));
  const outFree = new Set([0, 1, 2]), capFree = new Set([0, 1, 2]);
  const timestamps = new Set<number>();
  // lastDequeued mirrors vb2 last_buffer_dequeued; stopPending: a STOP was accepted since the last
  // START/restart, i.e. the encoder is draining or stopped (v4l2_m2m_ctx is_draining/has_stopped).
  let ts = 1, lastDequeued = false, stopPending = false;
  const dq = async (type: number) => {
    const b: v4l2_buffer = { index: 0, type, memory: V4L2_MEMORY_MMAP };
    await p.ioctl(fd, VIDIOC_DQBUF, b);
    return b;
  };
  for (const o of ops) {
    switch (o) {
      case "qbufOut": {
        const i = outFree.values().next().value;
        if (i === undefined) break;
        await qbuf(p, fd, OUT, i, 0, ts);
        timestamps.add(ts++);
        outFree.delete(i);
        break;
      }
      case "qbufCap":
        for (const i of [...capFree]) {
          await qbuf(p, fd, CAP, i);
          capFree.delete(i);
        }
        break;
      case "dqbufOut":
        for (;;) {
          try {
            const b = await dq(OUT);
            expect(outFree.has(b.index)).toBe(false);
            outFree.add(b.index);
          } catch (e) {
            expect(code(e)).toBe("EAGAIN");
            break;
          }
        }
        break;
      case "dqbufCap":
        for (;;) {
          try {
            const b = await dq(CAP);
            expect(lastDequeued).toBe(false);
            expect(capFree.has(b.index)).toBe(false);
            capFree.add(b.index);
            if (b.bytesused) expect(timestamps.has(b.timestamp!.tv_usec + b.timestamp!.tv_sec * 1e6)).toBe(true);
            if (b.flags! & V4L2_BUF_FLAG_LAST) lastDequeued = true;
          } catch (e) {
            // EPIPE exactly after the LAST buffer (vb2 last_buffer_dequeued), else nothing is ready yet.
            expect(code(e)).toBe(lastDequeued ? "EPIPE" : "EAGAIN");
            break;
          }
        }
        break;
      case "stop":
        try {
          await p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd: V4L2_ENC_CMD_STOP, flags: 0 });
          stopPending = true;
        } catch (e) {
          expect(code(e)).toBe("EBUSY");
        }
        break;
      case "start":
        try {
          await p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd: V4L2_ENC_CMD_START, flags: 0 });
          // Only a START that finds the encoder stopped clears last_buffer_dequeued (vicodec_encoder_cmd).
          if (stopPending) lastDequeued = false;
          stopPending = false;
        } catch (e) {
          expect(code(e)).toBe("EBUSY");
          expect(stopPending).toBe(true);
        }
        break;
      case "sleep":
        await kernel.clock.sleep(20_000_000);
        break;
      case "restartCapture":
        // STREAMOFF(CAPTURE) gives every CAPTURE buffer back and resets the drain state
        // (v4l2_m2m_update_stop_streaming_state -> v4l2_m2m_clear_state; __vb2_queue_cancel).
        await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
        for (let i = 0; i < N; i++) capFree.add(i);
        lastDequeued = false;
        stopPending = false;
        await libv4l2.streamOn(p, fd, CAP);
        break;
    }
  }
  p.close(fd);
  assertNoLeaks(kernel);
}

/** Found by fast-check with seed -69369320 (numRuns 60): START before the LAST buffer is dequeued, then START again. */
const START_BEFORE_LAST_DEQUEUED: Op[] = ["stop", "qbufCap", "start", "dqbufCap", "start", "dqbufCap", "qbufCap", "stop", "qbufCap", "sleep", "qbufOut", "sleep"];

describe("encoder drain state machine (fast-check)", () => {
  it("keeps the EPIPE/LAST rules, timestamp copy and buffer ownership under any sequence of QBUF/DQBUF/STOP/START/restart", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 8, maxLength: 30, size: "max" }), runOps),
      { numRuns: 60, examples: [[START_BEFORE_LAST_DEQUEUED]] },
    );
  });

  it("regression (seed -69369320): a START that finds the encoder running does not clear EPIPE after LAST", async () => {
    await runOps(START_BEFORE_LAST_DEQUEUED);
    // The same steps, spelled out: the drain completes at once (no OUTPUT buffer), the first
    // CAPTURE buffer comes back empty with LAST, START resumes before it is dequeued; after the
    // LAST buffer is dequeued a second START finds nothing stopped and DQBUF(CAPTURE) stays EPIPE.
    const kernel: Kernel = await bootSoc();
    const p = kernel.spawn("regression");
    const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"), O_RDWR | O_NONBLOCK);
    await sFmt(p, fd, CAP, V4L2_PIX_FMT_JPEG, 0, 0);
    await sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, 64, 64);
    await libv4l2.mmapBuffers(p, fd, OUT, N);
    await libv4l2.mmapBuffers(p, fd, CAP, N);
    await libv4l2.streamOn(p, fd, OUT, CAP);
    const dqCap = async () => {
      const b: v4l2_buffer = { index: 0, type: CAP, memory: V4L2_MEMORY_MMAP };
      await p.ioctl(fd, VIDIOC_DQBUF, b);
      return b;
    };
    await p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd: V4L2_ENC_CMD_STOP, flags: 0 });
    for (let i = 0; i < N; i++) await qbuf(p, fd, CAP, i);
    await p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd: V4L2_ENC_CMD_START, flags: 0 });
    const last = await dqCap();
    expect(last.flags! & V4L2_BUF_FLAG_LAST).toBeTruthy();
    expect(last.bytesused).toBe(0);
    await expect(dqCap()).rejects.toMatchObject({ code: "EPIPE" });
    await p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd: V4L2_ENC_CMD_START, flags: 0 });
    await expect(dqCap()).rejects.toMatchObject({ code: "EPIPE" });
    // A CAPTURE restart is what resets it (vb2_core_streamoff -> __vb2_queue_cancel).
    await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
    await libv4l2.streamOn(p, fd, CAP);
    await expect(dqCap()).rejects.toMatchObject({ code: "EAGAIN" });
    p.close(fd);
    assertNoLeaks(kernel);
  });

  it("a second STOP with a frame pending encodes it before LAST (v4l2_m2m_mark_stopped resets next_buf_last)", async () => {
    const kernel: Kernel = await bootSoc();
    const p = kernel.spawn("regression");
    const { fd, outs } = await streamingEncoder(p, 64, 64, N, O_RDWR | O_NONBLOCK);
    for (const m of outs) m.write(0, nv12Pattern(64, 64, 64, 64));
    const dq = async (type: number) => {
      const b: v4l2_buffer = { index: 0, type, memory: V4L2_MEMORY_MMAP };
      await p.ioctl(fd, VIDIOC_DQBUF, b);
      return b;
    };
    // First drain with nothing queued: completes through next_buf_last on the next CAPTURE QBUF.
    await p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd: V4L2_ENC_CMD_STOP, flags: 0 });
    await qbuf(p, fd, CAP, 0);
    expect((await dq(CAP)).flags! & V4L2_BUF_FLAG_LAST).toBeTruthy();
    await p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd: V4L2_ENC_CMD_START, flags: 0 });
    // Second drain with one frame waiting for a CAPTURE buffer: that frame must come out, flagged LAST.
    await qbuf(p, fd, OUT, 0, 0, 42);
    await p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd: V4L2_ENC_CMD_STOP, flags: 0 });
    await qbuf(p, fd, CAP, 0);
    await kernel.clock.sleep(20_000_000);
    const b = await dq(CAP);
    expect(b.bytesused).toBeGreaterThan(0);
    expect(b.timestamp!.tv_usec).toBe(42);
    expect(b.flags! & V4L2_BUF_FLAG_LAST).toBeTruthy();
    await expect(dq(CAP)).rejects.toMatchObject({ code: "EPIPE" });
    expect((await dq(OUT)).index).toBe(0);
    p.close(fd);
    assertNoLeaks(kernel);
  });
});
