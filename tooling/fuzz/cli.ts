/**
 * pnpm fuzz [--minutes N] [--seed S] [--steps M]: runs fuzz batches until the time is up, then prints
 * how many programs and steps ran. On a failure, prints the shrunk program and how to replay it,
 * and exits 1.
 */
import "reflect-metadata";
import * as fc from "fast-check";
import { FuzzFailure } from "./world.js";
import { dmaBufPlugin } from "./dmabuf-plugin.js";
import { syncPlugin } from "./sync-plugin.js";
import { v4l2Plugin } from "./v4l2-plugin.js";
import { drmPlugin } from "./drm-plugin.js";
import { fuzzProperty, newStats } from "./fuzz.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
};
const minutes = opt("minutes", 1);
const seed = opt("seed", Date.now() % 2 ** 31);
const maxSteps = opt("steps", 40);
const BATCH = 200;
const plugins = [dmaBufPlugin, syncPlugin, v4l2Plugin, drmPlugin];

const stats = newStats();
const t0 = performance.now();
const deadline = t0 + minutes * 60_000;
console.log(`fuzz: ${minutes} min, seed ${seed}, up to ${maxSteps} steps per program; plugins: core, ${plugins.map((p) => p.name).join(", ")}`);
let batch = 0;
let status = 0;
let lastReport = t0;
while (performance.now() < deadline) {
  const batchSeed = (seed + batch) | 0;
  const d = await fc.check(fuzzProperty({ maxSteps, plugins }, stats), { seed: batchSeed, numRuns: BATCH });
  batch++;
  if (d.failed) {
    const e = d.errorInstance;
    console.log(`\nFAILED (batch seed ${batchSeed}, path ${d.counterexamplePath}, ${d.numShrinks} shrinks):\n${e instanceof FuzzFailure ? e.message : String((e as Error)?.stack ?? e)}`);
    console.log(`\nreplay: fc.assert(fuzzProperty({ maxSteps: ${maxSteps}, plugins: [dmaBufPlugin, syncPlugin, v4l2Plugin, drmPlugin] }), { seed: ${batchSeed}, path: "${d.counterexamplePath}" })`);
    status = 1;
    break;
  }
  if (performance.now() - lastReport > 15_000 && (lastReport = performance.now())) console.log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${stats.programs} programs, ${stats.steps} steps`);
}
const secs = (performance.now() - t0) / 1000;
console.log(`\n${status ? "stopped after a failure" : "no failures"}: ${stats.programs.toLocaleString("en-US")} programs, ${stats.steps.toLocaleString("en-US")} steps in ${secs.toFixed(1)} s (${Math.round(stats.steps / secs).toLocaleString("en-US")} steps/s), seed ${seed}`);
console.log("\ncalls reached (successes first, then errnos):");
for (const [call, byResult] of [...stats.outcomes].sort(([a], [b]) => a.localeCompare(b))) {
  const results = [...byResult].sort(([a, x], [b, y]) => (a === "0" ? -1 : b === "0" ? 1 : y - x)).map(([r, n]) => `${n.toLocaleString("en-US")} ${r === "0" ? "ok" : r}`);
  console.log(`  ${call.padEnd(32)} ${results.join(", ")}`);
}
for (const [why, n] of stats.deviations) console.log(`known deviation hit ${n} time(s): ${why}`);
process.exitCode = status;
