import { atLeast, below, defineSuite } from "@dmabuf/tooling/bench";
import { DMA_RESV_USAGE_READ, DMA_RESV_USAGE_WRITE, DmaFence, DmaResv, Kernel, dmaFenceContextAlloc, type DmaFenceCb, type DmaFenceOps } from "@dmabuf/core";

const ops: DmaFenceOps = { getDriverName: () => "bench", getTimelineName: () => "ring0" };

/** A kernel with tracing off (as in production: tracepoints cost nothing until enabled) and one timeline. */
async function timeline(tracing: boolean) {
  const kernel = await Kernel.boot();
  kernel.trace.on = tracing;
  return { kernel, context: dmaFenceContextAlloc(kernel, 1), seqno: 0, fired: 0, cb: {} as DmaFenceCb };
}
type Timeline = Awaited<ReturnType<typeof timeline>>;

/** One job's fence: dma_fence_init, a waiter's add_callback, the completion interrupt's signal, the last put. */
const signalToCallback = (s: Timeline) => {
  const f = new DmaFence(s.kernel, ops, s.context, ++s.seqno);
  f.addCallback(s.cb, () => void s.fired++);
  f.signal();
  f.put();
};

/**
 * A buffer with `n` readers (n pending READ fences of n contexts). Each call is one new job on one
 * of those contexts: lock, reserve, add its fence (replacing that context's older one), unlock,
 * then the "may I read?" query every importer makes (test_signaled(WRITE), which walks all n).
 */
async function resvWithReaders(n: number) {
  const kernel = await Kernel.boot();
  kernel.trace.on = false;
  const resv = new DmaResv(kernel);
  const base = dmaFenceContextAlloc(kernel, n);
  resv.trylock();
  resv.reserveFences(n);
  for (let i = 0; i < n; i++) {
    const f = new DmaFence(kernel, ops, base + i, 1);
    resv.addFence(f, DMA_RESV_USAGE_READ);
    f.put();
  }
  resv.unlock();
  return { kernel, resv, base, n, i: 0, seqno: 1 };
}
type Readers = Awaited<ReturnType<typeof resvWithReaders>>;
const addAndTest = (s: Readers) => {
  const ctx = s.base + (s.i++ % s.n);
  if (ctx === s.base) s.seqno++;
  const f = new DmaFence(s.kernel, ops, ctx, s.seqno);
  s.resv.trylock();
  s.resv.reserveFences(1);
  s.resv.addFence(f, DMA_RESV_USAGE_READ);
  s.resv.unlock();
  f.put();
  if (!s.resv.testSignaled(DMA_RESV_USAGE_WRITE)) throw new Error("readers must not block readers");
};
const done = (s: { kernel: Kernel }) => s.kernel.shutdown();

const SIGNAL = "fence init+add_callback+signal+put";
const SIGNAL_TRACED = "same, with dma_fence tracepoints on";
const R1 = "resv add+test, 1 fence";
const R16 = "resv add+test, 16 fences";
const R256 = "resv add+test, 256 fences";

export default defineSuite({
  name: "core-fence",
  cases: {
    [SIGNAL]: { setup: () => timeline(false), fn: signalToCallback, teardown: done, baseline: true },
    [SIGNAL_TRACED]: { setup: () => timeline(true), fn: signalToCallback, afterSample: (s) => s.kernel.trace.clear(), teardown: done },
    [R1]: { setup: () => resvWithReaders(1), fn: addAndTest, teardown: done },
    [R16]: { setup: () => resvWithReaders(16), fn: addAndTest, teardown: done },
    [R256]: { setup: () => resvWithReaders(256), fn: addAndTest, teardown: done },
  },
  goals: [
    atLeast("fence signal-to-callback throughput", (m) => 1e9 / m[SIGNAL], 1_000_000, "signals/s"),
    below("resv add+test grows at most linearly: 256 fences vs 16", (m) => m[R256] / m[R16], 16, "×",
      "add scans for the context's slot and test walks every fence (dma_resv_test_signaled), both O(n) as in Linux"),
  ],
});
