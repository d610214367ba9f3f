/**
 * The conformance harness: a suite is a list of named checks, each citing the Linux behaviour (a
 * v4l2-compliance test, an IGT subtest, a kernel source file) it verifies. Every check runs on a
 * freshly booted kernel, so one failure cannot cascade into the next, and ends with a leak check
 * after `kernel.shutdown()`: a driver that leaks a page, an fd or an attachment fails the check
 * that made it leak.
 */
import { Kernel, isErrno, leakCheck, type BoardInput, type PluginSpec, type Process } from "@dmabuf/core";

/** What a check runs against: the plugins to boot, the board, and the device node under test. */
export interface ConformanceTarget {
  /** The plugins to boot, usually `[mm(), yourPlugin()]` (instances or package names). */
  readonly plugins: readonly PluginSpec[];
  /** The board; default: core's DEFAULT_BOARD. */
  readonly board?: BoardInput;
  /** The device node under test, e.g. "/dev/video0" or "/dev/dri/card0". */
  readonly device: string;
}

/** What a check gets: its own kernel and a process ("compliance") to make syscalls from. */
export interface CheckContext {
  readonly kernel: Kernel;
  readonly proc: Process;
  readonly device: string;
}

/**
 * One named check. `run` throws (an Error or a failed assertion) on failure and may throw
 * {@link NotSupported} when the device does not offer the feature, as v4l2-compliance prints
 * "OK (Not Supported)".
 */
export interface ConformanceCheck<T extends ConformanceTarget = ConformanceTarget> {
  /** Printed as `test <name>: OK`; stable, so tests can assert exactly which checks fail. */
  readonly name: string;
  /** The Linux behaviour verified: the kernel file, the v4l2-compliance or IGT test. */
  readonly cite: string;
  run(ctx: CheckContext, target: T): Promise<void>;
}

export interface ConformanceSuite<T extends ConformanceTarget = ConformanceTarget> {
  readonly name: string;
  readonly checks: readonly ConformanceCheck<T>[];
}

/** Thrown by a check whose feature the device does not have; reported as passed. */
export class NotSupported extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "NotSupported";
  }
}

/** A failed expectation inside a check. */
export class CheckFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckFailure";
  }
}

export type CheckStatus = "OK" | "FAIL" | "OK (Not Supported)";

export interface CheckResult {
  readonly suite: string;
  readonly name: string;
  readonly cite: string;
  readonly status: CheckStatus;
  /** Why it failed (or why it is not supported). */
  readonly message?: string;
}

/** Boots the target's kernel, opens nothing yet: the check opens the device itself. */
async function bootTarget(target: ConformanceTarget): Promise<Kernel> {
  return Kernel.boot({ plugins: target.plugins, ...(target.board !== undefined && { board: target.board }) });
}

/** Runs one check on a fresh kernel, then shuts it down and fails on anything left alive. */
export async function runCheck<T extends ConformanceTarget>(suite: string, check: ConformanceCheck<T>, target: T): Promise<CheckResult> {
  const base = { suite, name: check.name, cite: check.cite };
  let kernel: Kernel | undefined;
  try {
    kernel = await bootTarget(target);
    const proc = kernel.spawn("compliance");
    await check.run({ kernel, proc, device: target.device }, target);
    kernel.shutdown();
    const leaks = leakCheck(kernel);
    if (leaks.leaks.length) return { ...base, status: "FAIL", message: `${leaks.leaks.length} kernel object(s) leaked:\n${leaks.text}` };
    return { ...base, status: "OK" };
  } catch (e) {
    kernel?.shutdown();
    if (e instanceof NotSupported) return { ...base, status: "OK (Not Supported)", message: e.message };
    return { ...base, status: "FAIL", message: describeError(e) };
  }
}

function describeError(e: unknown): string {
  if (isErrno(e)) return `unexpected error ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/** Runs every check of `suite` in order; `onResult` sees each as it completes. */
export async function runSuite<T extends ConformanceTarget>(suite: ConformanceSuite<T>, target: T, onResult?: (r: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of suite.checks) {
    const r = await runCheck(suite.name, check, target);
    onResult?.(r);
    results.push(r);
  }
  return results;
}

/** The v4l2-compliance line for a result: "test VIDIOC_QUERYCAP: OK". */
export function formatResult(r: CheckResult): string {
  const line = `test ${r.name}: ${r.status}`;
  return r.status === "FAIL" ? `${line}\n\t${(r.message ?? "").replaceAll("\n", "\n\t")}` : line;
}

/** The closing line: "N passed, N failed". */
export function formatSummary(results: readonly CheckResult[]): string {
  const failed = results.filter((r) => r.status === "FAIL").length;
  return `${results.length - failed} passed, ${failed} failed`;
}

/* ---- assertions (framework-free, so the CLI runs without vitest) ---- */

export function expectTrue(cond: unknown, what: string): asserts cond {
  if (!cond) throw new CheckFailure(what);
}

export function expectEqual<V>(actual: V, expected: V, what: string): void {
  if (!Object.is(actual, expected)) throw new CheckFailure(`${what}: got ${show(actual)}, expected ${show(expected)}`);
}

const show = (v: unknown) => (typeof v === "bigint" ? `${v}n` : JSON.stringify(v));

/** Awaits `p` and requires it to fail with one of `codes` (Linux errno names). */
export async function expectErrno(p: Promise<unknown> | (() => unknown), codes: string | readonly string[], what: string): Promise<void> {
  const want = typeof codes === "string" ? [codes] : codes;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (isErrno(e) && want.includes(e.code)) return;
    throw new CheckFailure(`${what}: expected ${want.join(" or ")}, got ${isErrno(e) ? e.code : describeError(e)}`);
  }
  throw new CheckFailure(`${what}: expected ${want.join(" or ")}, but it succeeded`);
}
