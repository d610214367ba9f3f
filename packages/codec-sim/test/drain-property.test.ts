import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Kernel} from "@dmabuf/core";
import { Errno, O_NONBLOCK, O_RDWR, assertNoLeaks } from "@dmabuf/core";
import {
  V4L2_BUF_FLAG_LAST, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12, VIDIOC_DQBUF, VIDIOC_STREAMOFF, type v4l2_buffer,
} from "@dmabuf/v4l2-sim";
import { V4L2_ENC_CMD_START, V4L2_ENC_CMD_STOP, V4L2_PIX_FMT_JPEG, VIDIOC_ENCODER_CMD } from "../src/index.js";
import { CAP, OUT, bootSoc, mmapBuffers, qbuf, sFmt, streamon, videoNode } from "./codec-helpers.js";
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
 * dequeued and neither START nor a CAPTURE restart came after it; every CAPTURE buffer with data
 * carries the timestamp of an OUTPUT frame; no buffer is ever lost; nothing leaks at the end.
 */
describe("encoder drain state machine (fast-check)", () => {
  it("keeps the EPIPE/LAST rules, timestamp copy and buffer ownership under any sequence of QBUF/DQBUF/STOP/START/restart", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 8, maxLength: 30, size: "max" }), async (ops) => {
        const kernel: Kernel = await bootSoc();
        const p = kernel.spawn("prop");
        const fd = p.open(await videoNode(p, "sim-jpeg-encoder"), O_RDWR | O_NONBLOCK);
        await sFmt(p, fd, CAP, V4L2_PIX_FMT_JPEG, 0, 0);
        await sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, 64, 64);
        for (const m of await mmapBuffers(p, fd, OUT, N)) m.write(0, nv12Pattern(64, 64, 64, 64));
        await mmapBuffers(p, fd, CAP, N);
        await streamon(p, fd, OUT, CAP);
        const outFree = new Set([0, 1, 2]), capFree = new Set([0, 1, 2]);
        const timestamps = new Set<number>();
        let ts = 1, lastDequeued = false;
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
              } catch (e) {
                expect(code(e)).toBe("EBUSY");
              }
              break;
            case "start":
              try {
                await p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd: V4L2_ENC_CMD_START, flags: 0 });
                lastDequeued = false;
              } catch (e) {
                expect(code(e)).toBe("EBUSY");
              }
              break;
            case "sleep":
              await kernel.clock.sleep(20_000_000);
              break;
            case "restartCapture":
              // STREAMOFF(CAPTURE) gives every CAPTURE buffer back and resets the drain state.
              await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
              for (let i = 0; i < N; i++) capFree.add(i);
              lastDequeued = false;
              await streamon(p, fd, CAP);
              break;
          }
        }
        p.close(fd);
        assertNoLeaks(kernel);
      }),
      { numRuns: 60 },
    );
  });
});
