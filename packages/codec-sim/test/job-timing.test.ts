/*
 * When a codec job's library work runs relative to virtual time. A hardware codec works beside the
 * CPU: after device_run() programs it, the CPU (and other devices) go on until the completion
 * interrupt (drivers/media/platform/verisilicon/hantro_drv.c: device_run starts the hardware,
 * hantro_irq_done -> v4l2_m2m_buf_done_and_job_finish completes it). The model runs the library on
 * libuv's thread pool meanwhile, and the completion must come at the cost model's time whatever the
 * library's real speed.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { assertNoLeaks } from "@dmabuf/core";
import { ENCODER_COST, jobTimeNs, sharpJpegBackend, type JpegBackend } from "../src/index.js";
import { CAP, OUT, bootSoc, dqbuf, qbuf, streamingEncoder } from "./codec-helpers.js";
import { nv12Pattern } from "./heap-access.js";

const W = 320, H = 240, FRAMES = 3;
/** Virtual time from a job's start to its earliest completion: every macroblock, no bitstream yet. */
const EARLIEST_NS = jobTimeNs(ENCODER_COST, W, H, 0);
const TICK_NS = 200_000;

/** sharp, answering each encode only after `delaysMs[n]` more real milliseconds (a slower library). */
function slowSharp(delaysMs: readonly number[], log: string[]): JpegBackend {
  let n = 0;
  return {
    ...sharpJpegBackend,
    async encode(image, quality) {
      const delay = delaysMs[n++ % delaysMs.length]!;
      const jpeg = await sharpJpegBackend.encode(image, quality);
      await new Promise((resolve) => setTimeout(resolve, delay));
      log.push("library done");
      return jpeg;
    },
  };
}

/**
 * Encodes FRAMES frames while another process wakes every TICK_NS of virtual time (a CPU-side
 * actor); returns the trace, the bitstreams and the real-time order of ticks and library results.
 */
async function run(delaysMs: readonly number[]) {
  const log: string[] = [];
  const kernel = await bootSoc({ backend: slowSharp(delaysMs, log) });
  const p = kernel.spawn("enc");
  const { fd, outs, caps } = await streamingEncoder(p, W, H, 1);
  let encoding = true;
  const ticker = (async () => {
    while (encoding) {
      await kernel.clock.sleep(TICK_NS);
      kernel.trace.emit("test_tick", { t: kernel.clock.now() });
      log.push(`tick ${kernel.clock.now()}`);
    }
  })();
  const jpegs: Uint8Array[] = [];
  for (let n = 0; n < FRAMES; n++) {
    outs[0]!.write(0, nv12Pattern(W, H, W, H, n));
    await qbuf(p, fd, CAP, 0);
    await qbuf(p, fd, OUT, 0, 0, n * 33_333);
    const cap = await dqbuf(p, fd, CAP);
    await dqbuf(p, fd, OUT);
    jpegs.push(caps[0]!.read(0, cap.bytesused!));
  }
  encoding = false;
  await ticker;
  p.close(fd);
  assertNoLeaks(kernel);
  return { trace: kernel.trace.ftrace(), jpegs, log, starts: kernel.trace.events("codec_job_start").map((e) => e.ts) };
}

describe("codec job timing (device_run starts the hardware, the IRQ completes the job)", () => {
  it("virtual time runs on while the library works, up to the job's earliest completion, and no further until the result is there", async () => {
    const { log, starts } = await run([40]);
    const done = log.flatMap((e, i) => (e === "library done" ? [i] : []));
    expect(done).toHaveLength(FRAMES);
    starts.forEach((start, n) => {
      const ticks = log.slice(n === 0 ? 0 : done[n - 1]! + 1, done[n]).map((e) => Number(e.split(" ")[1]));
      // The CPU-side actor ran during the library's 40 ms of real work, up to the earliest completion...
      expect(ticks.some((t) => t > start)).toBe(true);
      // ...and never past it before the result was there.
      expect(ticks.every((t) => t <= start + EARLIEST_NS)).toBe(true);
    });
  });

  it("gives the same trace and bitstreams whatever the library's real speed (fast-check over per-job delays)", async () => {
    const reference = await run([0]);
    expect(reference.trace).toContain("codec_job_finish");
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 12 }), { minLength: FRAMES, maxLength: FRAMES }), async (delays) => {
        const r = await run(delays);
        expect(r.trace).toBe(reference.trace);
        expect(r.jpegs).toEqual(reference.jpegs);
      }),
      { numRuns: 6 },
    );
  });
});
