import * as fc from "fast-check";
import { Kernel } from "@dmabuf/core";
import { corePlugin } from "./core-plugin.js";
import { FuzzFailure, FuzzWorld, type FuzzCommand, type FuzzInvariant, type FuzzPlugin } from "./world.js";

/** One generated step: a command's name and its arguments. */
export type Step = readonly [string, unknown];

export interface FuzzOptions {
  /** Subsystems to fuzz; default: core alone. Core's commands and invariants are always included. */
  plugins?: readonly FuzzPlugin[];
  /** Longest program (steps); default 40. */
  maxSteps?: number;
  /** Processes spawned before the first step; default 2. */
  procs?: number;
}

/** Counts over a fuzz session. */
export interface FuzzStats {
  programs: number;
  steps: number;
  /** Known deviations from Linux hit, with counts. */
  deviations: Map<string, number>;
  /** Call outcomes over all programs (see FuzzWorld.outcomes). */
  outcomes: Map<string, Map<string, number>>;
}

export const newStats = (): FuzzStats => ({ programs: 0, steps: 0, deviations: new Map(), outcomes: new Map() });

function withCore(plugins: readonly FuzzPlugin[] = []): FuzzPlugin[] {
  return [corePlugin, ...plugins.filter((p) => p !== corePlugin)];
}

function commandTable(plugins: readonly FuzzPlugin[]): Map<string, FuzzCommand> {
  const table = new Map<string, FuzzCommand>();
  for (const pl of plugins)
    for (const c of pl.commands ?? []) {
      if (table.has(c.name)) throw new Error(`fuzz plugin ${pl.name}: command "${c.name}" is already defined by another plugin`);
      table.set(c.name, c as FuzzCommand);
    }
  return table;
}

/** Programs as arrays of plain-data steps, so that fast-check shrinks them by dropping and simplifying steps. */
export function programArbitrary(opts: FuzzOptions = {}): fc.Arbitrary<Step[]> {
  const step = fc.oneof(
    ...[...commandTable(withCore(opts.plugins)).values()].map((c) => ({ arbitrary: c.args.map((a): Step => [c.name, a]), weight: c.weight ?? 1 })),
  );
  return fc.array(step, { maxLength: opts.maxSteps ?? 40, size: "max" });
}

function checkAll(w: FuzzWorld, invariants: readonly FuzzInvariant[], when: string): void {
  for (const inv of invariants) {
    try {
      inv.check(w);
    } catch (e) {
      const reason = e instanceof FuzzFailure ? e.reason : `invariant check crashed: ${(e as Error)?.stack ?? String(e)}`;
      throw new FuzzFailure(`invariant broken ${when}: ${inv.name}\n  ${reason}`, w.program());
    }
  }
}

/**
 * Runs one program on a freshly booted kernel: spawns the first processes, performs each step and
 * checks every invariant after it, exits every process that is left and checks that nothing is
 * left. Throws a {@link FuzzFailure} whose message is the program, one call per line.
 */
export async function runProgram(steps: readonly Step[], opts: FuzzOptions = {}, stats: FuzzStats = newStats()): Promise<void> {
  const plugins = withCore(opts.plugins);
  const commands = commandTable(plugins);
  const invariants = plugins.flatMap((p) => p.invariants ?? []);
  const final = plugins.flatMap((p) => p.final ?? []);
  // several fuzz plugins may need the same driver plugin (mm): load each once
  const drivers = new Map(plugins.flatMap((p) => p.kernelPlugins?.() ?? []).map((d) => [d.name, d]));
  const kernel = await Kernel.boot({ plugins: [...drivers.values()] });
  const w = new FuzzWorld(kernel, plugins);
  try {
    for (let i = 0; i < (opts.procs ?? 2); i++) await w.spawn();
    checkAll(w, invariants, "at start");
    for (const [name, args] of steps) {
      const cmd = commands.get(name);
      if (!cmd) throw new Error(`unknown fuzz command "${name}"`);
      const before = w.lines.length;
      try {
        await cmd.run(w, args as never);
      } catch (e) {
        if (e instanceof FuzzFailure) throw e;
        w.fail(`command ${name} crashed: ${(e as Error)?.stack ?? String(e)}`);
      }
      if (w.lines.length > before) checkAll(w, invariants, `after line ${w.lines.length}`);
    }
    for (const p of w.live) await w.exit(p, 0);
    checkAll(w, [...invariants, ...final], "after every process exited");
    try {
      kernel.shutdown();
    } catch (e) {
      w.fail(`kernel.shutdown() crashed: ${(e as Error)?.stack ?? String(e)}`);
    }
    checkAll(w, final, "after shutdown");
  } finally {
    try {
      kernel.shutdown(); // after a failure: release what is left, but report the failure itself
    } catch {
      /* the program already failed */
    }
    stats.programs++;
    stats.steps += w.steps;
    for (const [why, n] of w.deviations) stats.deviations.set(why, (stats.deviations.get(why) ?? 0) + n);
    for (const [call, byResult] of w.outcomes) {
      const into = stats.outcomes.get(call) ?? stats.outcomes.set(call, new Map()).get(call)!;
      for (const [outcome, n] of byResult) into.set(outcome, (into.get(outcome) ?? 0) + n);
    }
  }
}

/** The fast-check property: every generated program runs without breaking an invariant. */
export function fuzzProperty(opts: FuzzOptions = {}, stats: FuzzStats = newStats()): fc.IAsyncProperty<[Step[]]> {
  return fc.asyncProperty(programArbitrary(opts), (steps) => runProgram(steps, opts, stats));
}
