/**
 * Runs one suite file in this (fresh) process and writes its per-case statistics as JSON.
 * Started by run.mjs as: node --conditions=@dmabuf/source --expose-gc --import tsx worker.ts
 *   measure <suite file> <out.json> [--quick]     measure every case
 *   goals <suite file> <medians.json> <out.json>  evaluate the goals on the run's medians and figures
 */
import "reflect-metadata";
import { writeFileSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Bench } from "tinybench";
import { gc, type BenchCase, type Suite } from "./index.js";

/** Target duration of one sample: batches tiny calls so timer overhead stays below ~0.5%. */
const SAMPLE_NS = 50_000;

export interface CaseStats {
  /** ns per call */
  median: number;
  min: number;
  max: number;
  mean: number;
  p75: number;
  p99: number;
  samples: number;
  /** calls per sample */
  batch: number;
}

const nowMs = () => performance.now();
const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | undefined)?.then === "function";

async function loadSuite(file: string): Promise<Suite> {
  const mod = (await import(pathToFileURL(file).href)) as { default?: Suite };
  if (!mod.default?.cases) throw new Error(`${file}: the default export is not a defineSuite(...) suite`);
  return mod.default;
}

/** Calls `fn` until ~2 ms have passed (at least twice) to size batches; reports async-ness. */
async function calibrate(c: BenchCase, state: unknown): Promise<{ async: boolean; batch: number }> {
  const first = c.fn(state);
  const async = isThenable(first);
  if (async) await first;
  let calls = 0;
  const t0 = nowMs();
  while (calls < 2 || nowMs() - t0 < 2) {
    const r = c.fn(state);
    if (async) await r;
    calls++;
  }
  const nsPerCall = ((nowMs() - t0) * 1e6) / calls;
  return { async, batch: Math.max(1, Math.min(1_000_000, Math.round(SAMPLE_NS / nsPerCall))) };
}

async function measureCase(name: string, c: BenchCase, quick: boolean): Promise<CaseStats> {
  const state = c.setup ? await c.setup() : undefined;
  try {
    const { async, batch } = await calibrate(c, state);
    const bench = new Bench({
      time: quick ? 100 : 1000,
      // slow cases (a 1080p JPEG in pure JS takes ~0.3 s) are bounded by this count, fast ones by `time`
      iterations: quick ? 5 : 9,
      warmupTime: quick ? 20 : 200,
      warmupIterations: quick ? 2 : 5,
      throws: true,
    });
    // Each sample is `batch` calls; tinybench records the per-call mean of the batch.
    const result = (t0: number) => {
      const d = nowMs() - t0;
      return { overriddenDuration: d / batch, overriddenIterationCost: d };
    };
    bench.add(
      name,
      async
        ? async () => {
            const t0 = nowMs();
            for (let i = 0; i < batch; i++) await c.fn(state);
            return result(t0);
          }
        : () => {
            const t0 = nowMs();
            for (let i = 0; i < batch; i++) c.fn(state);
            return result(t0);
          },
      { afterEach: () => void c.afterSample?.(state) },
    );
    await bench.run();
    const r = bench.tasks[0]!.result;
    if (r.state !== "completed") throw ("error" in r ? r.error : undefined) ?? new Error(`case "${name}" ended in state ${r.state}`);
    const l = r.latency;
    const ns = (ms: number) => ms * 1e6;
    return { median: ns(l.p50), min: ns(l.min), max: ns(l.max), mean: ns(l.mean), p75: ns(l.p75), p99: ns(l.p99), samples: l.samplesCount, batch };
  } finally {
    await c.teardown?.(state);
    gc();
  }
}

async function main(): Promise<void> {
  const [mode, file, arg, out] = process.argv.slice(2);
  if (!file || !arg) throw new Error("usage: worker.ts measure|goals <suite file> <out|medians> [out] [--quick]");
  const suite = await loadSuite(file);
  if (mode === "measure") {
    const quick = process.argv.includes("--quick");
    // figures first: in a fresh process, before any case has allocated anything
    const figures: Record<string, number> = {};
    for (const [name, f] of Object.entries(suite.figures ?? {})) {
      gc();
      figures[name] = await f.measure();
    }
    const cases: Record<string, CaseStats> = {};
    for (const [name, c] of Object.entries(suite.cases)) {
      gc();
      cases[name] = await measureCase(name, c, quick);
    }
    const entries = Object.entries(suite.cases);
    const bytes = Object.fromEntries(entries.filter(([, c]) => c.bytes).map(([n, c]) => [n, c.bytes]));
    writeFileSync(arg, JSON.stringify({ suite: suite.name, baseline: entries.find(([, c]) => c.baseline)?.[0], bytes, cases, figures, figureUnits: Object.fromEntries(Object.entries(suite.figures ?? {}).map(([n, f]) => [n, f.unit])) }));
  } else if (mode === "goals" && out) {
    const { medians, figures } = JSON.parse(readFileSync(arg, "utf8")) as { medians: Record<string, number>; figures: Record<string, number> };
    const goals = (suite.goals ?? []).map((g) => ({ name: g.name, ...g.evaluate(medians, figures) }));
    writeFileSync(out, JSON.stringify(goals));
  } else throw new Error(`worker.ts: unknown mode ${mode}`);
}

await main();
