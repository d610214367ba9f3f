import { z } from "zod";
import { Errno } from "./errno.js";
import type { Kernel } from "./kernel.js";

/**
 * Fault injection, after Linux's fault-injection framework (lib/fault-inject.c,
 * Documentation/fault-injection/fault-injection.rst). Each fault point has a `struct fault_attr`
 * (probability, interval, times, space, verbose) exposed as debugfs files under
 * /sys/kernel/debug/<point>/, configurable from the board's `faults` section or with
 * {@link FaultInjection.configure}. The code where a fault can happen asks once:
 *
 *     if (kernel.faults.shouldFail("fail_page_alloc")) return -1;
 *
 * Randomness is a seeded PRNG per point, so a run with the same board and seed fails the same calls.
 */

/** The fault points of the model, with what a forced failure does there. */
export const FAULT_POINTS = {
  fail_page_alloc: "mm: alloc_pages() returns no page (callers see ENOMEM: system heap, dma_alloc_attrs, ...)",
  fail_cma_alloc: "mm: cma_alloc() fails with ENOMEM and leaves the area as it was (CMA heap, contiguous DMA allocations)",
  fail_dma_fence: "core: dma_fence_signal() signals with dma_fence_set_error(-EIO) first (sync_file status < 0)",
  fail_vb2_buffer_done: "v4l2: vb2_buffer_done() of a finished buffer reports VB2_BUF_STATE_ERROR (V4L2_BUF_FLAG_ERROR at DQBUF)",
  fail_device_stall: "drivers: the device never completes the job (vivid frame, mem2mem job, vkms vblank)",
} as const;

export type FaultPoint = keyof typeof FAULT_POINTS;

/** A fault point's settings, as written to its debugfs files (or the board's `faults` section). */
export const faultAttrSchema = z.strictObject({
  /** Percent chance (0..100) that a call which passes the other filters fails. */
  probability: z.number().int().min(0).max(100).default(0),
  /** Only every interval-th eligible call may fail (interval 3, times 1, probability 100: the 3rd call fails). */
  interval: z.number().int().min(1).default(1),
  /** How many failures at most; -1: no limit. */
  times: z.number().int().min(-1).default(1),
  /** Bytes (or calls, where a point has no size) let through before failures may start. */
  space: z.number().int().min(0).default(0),
  /** 0: silent; 1: one "FAULT_INJECTION: forcing a failure." line per failure in dmesg; 2: plus the attributes. */
  verbose: z.number().int().min(0).max(2).default(2),
  /** Seed of the point's PRNG (the model's get_random_u32_below). */
  seed: z.number().int().default(1),
  /**
   * Model-only filter, like Linux's task-filter: only calls whose subject (a device name such as
   * "vkms.0", or a fence's driver name such as "vkms") is listed may fail. Empty: every call.
   */
  match: z.array(z.string()).default([]),
});

export type FaultAttr = z.output<typeof faultAttrSchema>;
export type FaultAttrInput = z.input<typeof faultAttrSchema>;

/** The board's `faults` section: settings per fault point. */
export const faultsSchema = z.strictObject(
  Object.fromEntries(Object.keys(FAULT_POINTS).map((k) => [k, faultAttrSchema.optional()])) as Record<FaultPoint, z.ZodOptional<typeof faultAttrSchema>>,
);

/** One fault point's state: its attributes, its call counter and its PRNG. */
class FaultState {
  count = 0;
  /** Failures forced so far (the model's addition to debugfs: `failures`). */
  failures = 0;
  private rng: number;
  constructor(public attr: FaultAttr) {
    this.rng = attr.seed >>> 0;
  }

  reseed(): void {
    this.rng = this.attr.seed >>> 0;
  }

  /** mulberry32: a small, deterministic PRNG; returns 0..n-1. */
  below(n: number): number {
    let t = (this.rng = (this.rng + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  }
}

const FILES = ["probability", "interval", "times", "space", "verbose"] as const;

/** The fault points of one kernel (`kernel.faults`). */
export class FaultInjection {
  private readonly points = new Map<FaultPoint, FaultState>();
  /** True once any point may fail: keeps shouldFail() a single branch on hot paths otherwise. */
  private armed = false;

  constructor(private readonly kernel: Kernel) {
    for (const name of Object.keys(FAULT_POINTS) as FaultPoint[]) {
      this.points.set(name, new FaultState(faultAttrSchema.parse({})));
      // fault_create_debugfs_attr(): one directory per point.
      for (const f of FILES)
        kernel.vfs.createText(`/sys/kernel/debug/${name}/${f}`, () => `${this.state(name).attr[f]}\n`, (t) => this.configure(name, { [f]: parseAttrFile(name, f, t) }));
      kernel.vfs.createText(`/sys/kernel/debug/${name}/failures`, () => `${this.state(name).failures}\n`);
    }
  }

  /** Sets a point's attributes (the rest keep their values); resets its call counter and PRNG. */
  configure(point: FaultPoint, attr: FaultAttrInput): void {
    const s = this.state(point);
    const r = faultAttrSchema.safeParse({ ...s.attr, ...attr });
    if (!r.success) throw new Errno("EINVAL", "fault_attr", `${point}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    s.attr = r.data;
    s.count = 0;
    s.reseed();
    this.armed = [...this.points.values()].some((p) => p.attr.probability > 0 && p.attr.times !== 0);
  }

  /** The current attributes of a point. */
  attr(point: FaultPoint): Readonly<FaultAttr> {
    return this.state(point).attr;
  }

  /** How many failures a point has forced. */
  failures(point: FaultPoint): number {
    return this.state(point).failures;
  }

  /**
   * should_fail_ex(attr, size): true when this call must fail. `subject` names the device or fence
   * driver for the `match` filter; `size` is what `space` counts down (bytes, or 1 per call).
   */
  shouldFail(point: FaultPoint, subject?: string, size = 1): boolean {
    if (!this.armed) return false;
    const s = this.state(point);
    const a = s.attr;
    if (a.probability === 0 || a.times === 0) return false;
    if (a.match.length && (subject === undefined || !a.match.includes(subject))) return false;
    if (a.space > size) {
      a.space -= size;
      return false;
    }
    if (a.interval > 1 && ++s.count % a.interval) return false;
    if (a.probability <= s.below(100)) return false;
    s.failures++;
    if (a.times !== -1) a.times--;
    if (a.times === 0) this.armed = [...this.points.values()].some((p) => p.attr.probability > 0 && p.attr.times !== 0);
    // fail_dump()
    if (a.verbose > 0) {
      this.kernel.printk(`FAULT_INJECTION: forcing a failure.`);
      if (a.verbose > 1)
        this.kernel.printk(`name ${point}, interval ${a.interval}, probability ${a.probability}, space ${a.space}, times ${a.times}${subject ? `, subject ${subject}` : ""}`);
    }
    this.kernel.trace.emit("fault_inject", { name: point, subject: subject ?? "", times: a.times });
    return true;
  }

  private state(point: FaultPoint): FaultState {
    const s = this.points.get(point);
    if (!s) throw new Errno("EINVAL", "fault_attr", `no fault point "${point}" (known: ${Object.keys(FAULT_POINTS).join(", ")})`);
    return s;
  }
}

/** A debugfs attribute write: an integer, as kstrtoul/kstrtoint would parse it. */
function parseAttrFile(point: string, file: string, text: string): number {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw new Errno("EINVAL", "write", `/sys/kernel/debug/${point}/${file}: "${t}" is not an integer`);
  return Number(t);
}
