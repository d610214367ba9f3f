import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DMA_BUF_IOCTL_SYNC, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START, DMA_BUF_SYNC_WRITE, MAP_SHARED,
  NSEC_PER_MSEC, NSEC_PER_USEC, POLLOUT, PROT_READ, PROT_WRITE, leakCheck,
} from "../src/index.js";
import { dmabufImportTimelineFence } from "./helpers/implicit-sync.js";
import { timelineCreate, timelineInc } from "./helpers/sync.js";
import { PageExporter } from "./support/page-exporter.js";

/*
 * The bug implicit sync exists to prevent: a consumer reading a frame the producer is still
 * writing. A "camera" writes frame n into a shared dma-buf one row at a time (its DMA takes
 * virtual time); a "display" scans the rows out, also over time. Without fences the display shows
 * rows of two frames (a torn frame). With the dma-buf implicit-sync protocol (the producer adds a
 * WRITE fence for the frame and first waits for readers with poll(POLLOUT); the consumer waits in
 * DMA_BUF_IOCTL_SYNC START, which sleeps on WRITE fences, and holds a READ fence while it scans)
 * no schedule ever shows a torn frame.
 */

const ROWS = 16;
const ROW_BYTES = 256;
const FRAMES = 8;

interface Schedule {
  /** Time the camera's DMA takes per row, and its pause between frames. */
  camRowNs: number;
  camGapNs: number;
  /** Time the display takes per row. */
  dispRowNs: number;
  /** When the display starts each scanout, after the previous one. */
  dispDelays: number[];
}

async function run(fenced: boolean, s: Schedule) {
  const { k, exp } = await PageExporter.boot();
  const cam = k.spawn("camera");
  const disp = k.spawn("display");
  const camFd = await exp.alloc(cam, ROWS * ROW_BYTES);
  const [dispFd] = cam.sendFds(disp, [camFd]);
  const camMap = cam.mmap(null, ROWS * ROW_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, camFd);
  const dispMap = disp.mmap(null, ROWS * ROW_BYTES, PROT_READ, MAP_SHARED, dispFd!);
  const camTl = timelineCreate(cam);
  const dispTl = timelineCreate(disp);

  const camera = async () => {
    for (let n = 1; n <= FRAMES; n++) {
      if (fenced) {
        // Wait until no one reads (or writes) the buffer, then announce the write.
        await cam.poll([{ fd: camFd, events: POLLOUT, revents: 0 }], -1);
        await dmabufImportTimelineFence(cam, camFd, DMA_BUF_SYNC_WRITE, camTl, n);
      }
      for (let r = 0; r < ROWS; r++) {
        await k.clock.sleep(s.camRowNs);
        camMap.view(r * ROW_BYTES, ROW_BYTES).fill(n);
      }
      if (fenced) await timelineInc(cam, camTl, 1); // the frame's DMA completed: its fence signals
      await k.clock.sleep(s.camGapNs);
    }
  };

  const display = async () => {
    const shown: number[][] = [];
    for (let i = 1; i <= s.dispDelays.length; i++) {
      await k.clock.sleep(s.dispDelays[i - 1]!);
      if (fenced) {
        await disp.ioctl(dispFd!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
        await dmabufImportTimelineFence(disp, dispFd!, DMA_BUF_SYNC_READ, dispTl, i);
      }
      const rows: number[] = [];
      for (let r = 0; r < ROWS; r++) {
        await k.clock.sleep(s.dispRowNs);
        rows.push(dispMap.view(r * ROW_BYTES, 1)[0]!);
      }
      if (fenced) {
        await disp.ioctl(dispFd!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ });
        await timelineInc(disp, dispTl, 1);
      }
      shown.push(rows);
    }
    return shown;
  };

  const [, shown] = await Promise.all([camera(), display()]);
  const slices = k.trace.events((r) => r.track === "fence:sw_sync:camera").length;
  for (const p of [cam, disp]) p.exit(0);
  const released = [...exp.released.values()].reduce((a, b) => a + b, 0);
  k.shutdown();
  expect(leakCheck(k).counts.fence).toBeUndefined(); // every fence of the protocol was released
  const torn = shown.filter((rows) => new Set(rows).size > 1).length;
  return { shown, torn, slices, released };
}

const arbSchedule = fc.record({
  camRowNs: fc.integer({ min: 1, max: 1000 }).map((us) => us * NSEC_PER_USEC),
  camGapNs: fc.integer({ min: 0, max: 5000 }).map((us) => us * NSEC_PER_USEC),
  dispRowNs: fc.integer({ min: 1, max: 500 }).map((us) => us * NSEC_PER_USEC),
  dispDelays: fc.array(fc.integer({ min: 0, max: 10_000 }).map((us) => us * NSEC_PER_USEC), { minLength: 4, maxLength: 12 }),
});

describe("producer/consumer race on a shared dma-buf (implicit sync, drivers/dma-buf/dma-buf.c)", () => {
  const fixed: Schedule = { camRowNs: NSEC_PER_MSEC, camGapNs: 4 * NSEC_PER_MSEC, dispRowNs: 100 * NSEC_PER_USEC, dispDelays: [8, 9, 7, 10].map((ms) => ms * NSEC_PER_MSEC) };

  it("without fences the display scans out a torn frame (rows of two frames)", async () => {
    const r = await run(false, fixed);
    expect(r.torn).toBeGreaterThan(0);
    expect(r.shown[0]!.slice(0, 7).every((v) => v === 1)).toBe(true); // rows the camera had already written
    expect(r.shown[0]!.slice(9).every((v) => v === 0)).toBe(true); // rows it had not reached yet
    expect(r.released).toBe(1);
  });

  it("with fences the same schedule shows only whole frames, in order, and each frame is a span on the camera's fence track", async () => {
    const r = await run(true, fixed);
    expect(r.torn).toBe(0);
    const frames = r.shown.map((rows) => rows[0]!);
    expect(frames).toEqual([...frames].sort((a, b) => a - b));
    expect(frames.some((f) => f > 0)).toBe(true);
    expect(r.slices).toBe(FRAMES);
    expect(r.released).toBe(1);
  });

  it("no random schedule ever tears with fences; the same schedules do race without them", async () => {
    let tornWithout = 0;
    await fc.assert(
      fc.asyncProperty(arbSchedule, async (s) => {
        const fenced = await run(true, s);
        expect(fenced.torn).toBe(0);
        const frames = fenced.shown.map((rows) => rows[0]!);
        expect(frames).toEqual([...frames].sort((a, b) => a - b));
        expect(fenced.released).toBe(1);
        tornWithout += (await run(false, s)).torn;
      }),
      { numRuns: 40, seed: 20261124 },
    );
    expect(tornWithout).toBeGreaterThan(0);
  });
});
