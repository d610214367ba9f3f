import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { below, defineSuite, gc } from "@dmabuf/tooling/bench";
import { DEFAULT_BOARD, Kernel } from "@dmabuf/core";
import mm from "../src/index.js";

const BOOT = "boot + shutdown, 1 GiB board with mm";

/** Runs rss-probe.ts in a fresh process (RSS is per process, so it cannot be measured in the bench loop). */
function probe(): { rssBeforeMiB: number; rssAfterMiB: number; bootMs: number } {
  const script = fileURLToPath(new URL("./rss-probe.ts", import.meta.url));
  const out = execFileSync(process.execPath, ["--expose-gc", "--conditions=@dmabuf/source", "--import", "tsx", script], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop()!);
}

export default defineSuite({
  name: "mm-boot",
  cases: {
    [BOOT]: {
      fn: async () => (await Kernel.boot({ board: DEFAULT_BOARD, plugins: [mm()] })).shutdown(),
      // each boot maps a 1 GiB SharedArrayBuffer that V8's GC does not see: collect between samples
      afterSample: () => gc(),
    },
  },
  goals: [
    below("boot time, 1 GiB board (median)", (m) => m[BOOT] / 1e6, 50, "ms"),
    {
      name: "RSS growth from booting a 1 GiB board (fresh process)",
      evaluate: () => {
        const p = probe();
        const grew = p.rssAfterMiB - p.rssBeforeMiB;
        return { value: grew, unit: "MiB", target: "< 64", met: grew < 64, note: `RSS ${p.rssBeforeMiB.toFixed(1)} -> ${p.rssAfterMiB.toFixed(1)} MiB; node + tsx alone account for the first figure; first boot ${p.bootMs.toFixed(1)} ms` };
      },
    },
  ],
});
