import { below, defineSuite, gc, rssMiB } from "@dmabuf/tooling/bench";
import { DEFAULT_BOARD, Kernel } from "@dmabuf/core";
import mm from "@dmabuf/mm";

// Issue 12: "a 1 GiB board boots in under 50 ms and costs under 64 MiB of process memory before use".
// Physical memory is one lazily committed SharedArrayBuffer, so what boot costs is mm's metadata.
const BOOT = "boot the default board (1 GiB) with mm";
const kept: Kernel[] = [];

export default defineSuite({
  name: "mm-boot",
  cases: {
    [BOOT]: {
      fn: async () => (await Kernel.boot({ board: DEFAULT_BOARD, plugins: [mm()] })).shutdown(),
      setup: () => ({ samples: 0 }),
      // each boot maps a fresh 1 GiB SharedArrayBuffer, which V8's GC heuristics do not see: collect
      // now and then (untouched, they cost address space only; a gc per sample would dominate the run)
      afterSample: (s) => void (++s.samples % 32 === 0 && gc()),
    },
  },
  figures: {
    "process memory (RSS) a booted 1 GiB board adds": {
      unit: "MiB",
      measure: async () => {
        const before = rssMiB();
        kept.push(await Kernel.boot({ board: DEFAULT_BOARD, plugins: [mm()] }));
        return rssMiB() - before;
      },
    },
  },
  goals: [
    below("a 1 GiB board boots with mm", (m) => m[BOOT] / 1e6, 50, "ms"),
    below("a booted 1 GiB board costs before use", (_m, f) => f["process memory (RSS) a booted 1 GiB board adds"], 64, "MiB"),
  ],
});
