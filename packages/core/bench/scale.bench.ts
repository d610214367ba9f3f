/**
 * Scale: 100,000 live dma-bufs across 100 processes (1,000 fds each). What one idle buffer costs in
 * metadata, how long bufinfo takes to render them all, and whether export + fd install stays flat
 * as the system fills up. The exporter has no backing memory: this measures the framework alone.
 */
import "reflect-metadata";
import { atLeast, below, defineSuite, gc } from "@dmabuf/tooling/bench";
import { Kernel, O_CLOEXEC, O_RDWR, RLIMIT_NOFILE, SgTable, callAs, dmaBufExport, dmaBufFd, type DmaBufOps, type Process } from "../src/index.js";

const PROCS = 100;
const PER_PROC = 1000;
const ops: DmaBufOps = { mapDmaBuf: () => new SgTable([]), unmapDmaBuf: () => {}, release: () => {} };

/** Exports one 4 KiB buffer and installs it as an fd in `p` (what a heap's ALLOC does). */
const exportFd = (k: Kernel, p: Process) =>
  callAs(k, p, () => dmaBufFd(dmaBufExport(k, { expName: "scale", ops, size: 4096, flags: O_RDWR, priv: {} }), O_RDWR | O_CLOEXEC));

async function populate(): Promise<{ k: Kernel; procs: Process[] }> {
  const k = await Kernel.boot({ board: { memory: { size: "64M" } } });
  k.trace.on = false; // tracepoints would measure the trace ring, not the buffers
  const procs = Array.from({ length: PROCS }, (_, i) => {
    const p = k.spawn(`app${i}`);
    p.setrlimit(RLIMIT_NOFILE, PER_PROC + 16);
    return p;
  });
  for (const p of procs) for (let i = 0; i < PER_PROC; i++) exportFd(k, p);
  return { k, procs };
}

let full: Awaited<ReturnType<typeof populate>> | undefined;
const world = async () => (full ??= await populate());

export default defineSuite({
  name: "core-scale",
  cases: {
    "render bufinfo, 100,000 live dma-bufs": {
      setup: world,
      fn: async (w) => (await w.procs[0]!.readFile("/sys/kernel/debug/dma_buf/bufinfo")).length,
    },
    "export + fd + close, empty kernel": {
      setup: async () => {
        const k = await Kernel.boot({ board: { memory: { size: "64M" } } });
        k.trace.on = false;
        return { k, p: k.spawn("app") };
      },
      fn: (s) => s.p.close(exportFd(s.k, s.p)),
    },
    "export + fd + close, 100,000 live dma-bufs": {
      setup: async () => {
        const w = await world();
        const p = w.k.spawn("extra");
        return { k: w.k, p };
      },
      fn: (s) => s.p.close(exportFd(s.k, s.p)),
    },
  },
  figures: {
    "metadata per idle dma-buf (JS heap)": {
      unit: "bytes",
      measure: async () => {
        gc();
        const before = process.memoryUsage().heapUsed;
        full = await populate();
        gc();
        return (process.memoryUsage().heapUsed - before) / (PROCS * PER_PROC);
      },
    },
  },
  goals: [
    below("bufinfo renders 100,000 dma-bufs", (m) => m["render bufinfo, 100,000 live dma-bufs"] / 1e6, 1000, "ms"),
    below("memory per idle buffer (metadata, incl. its file and fd)", (_m, f) => f["metadata per idle dma-buf (JS heap)"], 2048, "bytes"),
    atLeast("export + fd stays O(1): empty kernel vs 100,000 live buffers", (m) => m["export + fd + close, empty kernel"] / m["export + fd + close, 100,000 live dma-bufs"], 0.5, "x (1 = flat)"),
  ],
});
