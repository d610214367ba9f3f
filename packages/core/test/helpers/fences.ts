import { DmaFence, type DmaFenceOps, type Kernel } from "../../src/index.js";

/** The self-tests' mock_ops: names only, no .signaled and no .wait (KUnit flavour). */
export const mockOps: DmaFenceOps = { getDriverName: () => "mock", getTimelineName: () => "mock" };

/** mock_fence(): a fence with mock_ops on `context` (0 by default, as in st-dma-fence.c) at `seqno`. */
export function mockFence(kernel: Kernel, context = 0, seqno = 0): DmaFence {
  return new DmaFence(kernel, mockOps, context, seqno);
}

/** mulberry32: a small seeded PRNG for simulated-actor schedules. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random integer in [0, n). */
export const below = (rnd: () => number, n: number) => Math.floor(rnd() * n);
