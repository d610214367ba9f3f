/**
 * @dmabuf/tooling/bench: how a package declares its benchmarks. A suite file
 * (`packages/<pkg>/bench/<topic>.bench.ts`) default-exports `defineSuite({...})`; `pnpm bench` runs
 * it in fresh processes (tooling/bench/run.mjs) and reports medians, ratios to the baseline case and
 * whether each goal is met.
 */

/** One measured operation. Times are per call of `fn`; the harness batches tiny calls itself. */
export interface BenchCase<S = unknown> {
  /** Runs once per process before the case is measured (untimed); its result is handed to `fn`. */
  setup?: () => S | Promise<S>;
  /** The operation measured. May return a Promise (then each call is awaited). */
  fn: (state: S) => unknown;
  /** Runs after each sample (a batch of `fn` calls), untimed: e.g. `gc()` after allocations. */
  afterSample?: (state: S) => unknown;
  /** Runs once after the case (untimed): release what `setup` made. */
  teardown?: (state: S) => unknown;
  /** Bytes one call moves: the report then shows GB/s. */
  bytes?: number;
  /** The case every other case's ratio is given against (at most one per suite). */
  baseline?: boolean;
}

/** What a goal reports: its figure, the unit, the target it is held to, and whether it is met. */
export interface GoalResult {
  value: number;
  unit: string;
  /** The target, e.g. 50 or "< 50". */
  target: number | string;
  met: boolean;
  /** Optional: why the figure is what it is, or what would fix a miss. */
  note?: string;
}

/**
 * A figure that is not a time (memory, a count), measured once per process before any case runs,
 * right after a `gc()`. The report gives its median, min and max over the processes.
 */
export interface BenchFigure {
  unit: string;
  measure: () => number | Promise<number>;
}

export interface Goal<K extends string = string, F extends string = string> {
  name: string;
  /** `medians`: ns per call of each case, median over the run's processes; `figures`: likewise. */
  evaluate(medians: Record<K, number>, figures: Record<F, number>): GoalResult;
}

export interface Suite<K extends string = string, F extends string = string> {
  name: string;
  cases: Record<K, BenchCase>;
  figures?: Record<F, BenchFigure>;
  goals?: Goal<K, F>[];
}

/**
 * Declares a suite. Each case's `setup` result types its `fn` and `teardown` parameter; goals see the
 * medians keyed by the case names.
 */
export function defineSuite<C extends Record<string, unknown>, F extends string = never>(suite: {
  name: string;
  cases: { [K in keyof C]: BenchCase<C[K]> };
  figures?: Record<F, BenchFigure>;
  goals?: Goal<keyof C & string, F>[];
}): Suite<keyof C & string, F> {
  const names = Object.keys(suite.cases);
  if (names.length === 0) throw new Error(`bench suite "${suite.name}" has no cases`);
  const baselines = names.filter((n) => suite.cases[n]!.baseline);
  if (baselines.length > 1) throw new Error(`bench suite "${suite.name}": cases ${baselines.join(", ")} are all marked baseline; mark one`);
  return suite as unknown as Suite<keyof C & string, F>;
}

/** A goal "figure below target" built from the medians (ns) and figures, e.g. `below("boot", (m) => m.boot / 1e6, 50, "ms")`. */
export function below<K extends string, F extends string = string>(name: string, figure: (m: Record<K, number>, f: Record<F, number>) => number, target: number, unit: string, note?: string): Goal<K, F> {
  return { name, evaluate: (m, f) => ({ value: figure(m, f), unit, target: `< ${target}`, met: figure(m, f) < target, ...(note && { note }) }) };
}

/** A goal "figure at least target". */
export function atLeast<K extends string, F extends string = string>(name: string, figure: (m: Record<K, number>, f: Record<F, number>) => number, target: number, unit: string, note?: string): Goal<K, F> {
  return { name, evaluate: (m, f) => ({ value: figure(m, f), unit, target: `>= ${target}`, met: figure(m, f) >= target, ...(note && { note }) }) };
}

/** Resident memory (RSS) in MiB after a full GC: for `figures` that measure what something costs. */
export function rssMiB(): number {
  gc();
  return process.memoryUsage().rss / 2 ** 20;
}

/** `gc()` when node runs with --expose-gc (the runner always does); a no-op otherwise. */
export const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => {});

/**
 * Baseline: a CPU copy of `bytes` with `Uint8Array.set`, from a pre-filled source (a never-written
 * source reads the kernel's shared zero page and copies about twice as fast as real data).
 */
export function copyBaseline(bytes: number): BenchCase<{ src: Uint8Array; dst: Uint8Array }> {
  return {
    baseline: true,
    bytes,
    setup: () => {
      const src = new Uint8Array(bytes);
      for (let i = 0; i < bytes; i++) src[i] = (i * 31) & 0xff;
      const dst = new Uint8Array(bytes);
      dst.set(src); // fault the destination in: a frame copy goes to memory already in use
      return { src, dst };
    },
    fn: ({ src, dst }) => dst.set(src),
  };
}

/**
 * Baseline: `new SharedArrayBuffer(bytes)`, the cost of allocating a fresh buffer instead of sharing
 * one. Untouched (lazily committed). SharedArrayBuffers are invisible to V8's GC heuristics, so the
 * case collects between samples, untimed, to keep dropped ones from piling up.
 */
export function sabBaseline(bytes: number): BenchCase<{ keep: SharedArrayBuffer[] }> {
  return {
    setup: () => ({ keep: [] }),
    fn: (s) => void s.keep.push(new SharedArrayBuffer(bytes)),
    // untouched, they cost address space only: collect every 512 MiB (a gc per sample would dominate the run)
    afterSample: (s) => {
      if (s.keep.length * bytes < 512 * 2 ** 20) return;
      s.keep.length = 0;
      gc();
    },
  };
}
