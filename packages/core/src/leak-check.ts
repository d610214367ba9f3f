import type { File } from "./file.js";
import type { Kernel } from "./kernel.js";

/** Who was running when an object was made: a process (comm[pid]) or the kernel itself. */
export interface TaskRef {
  readonly pid: number;
  readonly comm: string;
}

/** One live kernel object and where it came from, in userspace terms. */
export interface KernelObjectRecord {
  /** "file", "process", "dma-buf", "attachment", "fence", ... */
  readonly kind: string;
  readonly obj: object;
  /** What it is now (re-evaluated at report time: size, refcount, state). */
  describe(): string;
  /**
   * How it was created: "app[101] open(\"/dev/video0\") at 1.000000s", amended as fds are installed;
   * undefined for objects a subsystem lists itself (see {@link KernelObjects.track}).
   */
  readonly origin: string | undefined;
  /** Creation order, for stable reports. */
  readonly seq: number;
}

/**
 * The per-kernel registry of live kernel objects, for leak checking (the model of kmemleak plus
 * debugfs object lists). Subsystems register what they create and unregister it when it is freed:
 *
 *     kernel.objects.register("dma-buf", buf, () => `${buf.expName} size ${buf.size}`, "DMA_HEAP_IOCTL_ALLOC");
 *     ...
 *     kernel.objects.unregister(buf); // in release
 *
 * Objects whose end the owner cannot report (a `File` is freed by its last fput) pass `released`,
 * and are dropped once it returns true.
 */
export class KernelObjects {
  // Kept cheap for hot paths (a dma-buf share cycle registers two objects): the origin text is
  // built only when a report asks for it.
  private readonly records = new Map<object, Entry>();
  private readonly trackers: { kind: string; list: () => Iterable<object>; describe: (obj: object) => string }[] = [];
  private seq = 0;
  private pruneAt = 1024;

  constructor(
    private readonly current: () => TaskRef | undefined,
    private readonly now: () => number,
  ) {}

  /** Records `obj` as live; `call` is the syscall or kernel call that made it. */
  register(kind: string, obj: object, describe: () => string, call: string, released?: () => boolean): void {
    this.records.set(obj, { kind, obj, describe, call, task: this.current(), at: this.now(), seq: this.seq++, notes: undefined, released });
    if (this.records.size >= this.pruneAt) this.prune();
  }

  /** Records a new open file description; it stays listed until its last reference is put. */
  registerFile(file: File, call: string): void {
    this.register("file", file, () => `${file.inode.name} (${file.ops.name}), ${file.count} reference(s)`, call, () => file.released);
  }

  /**
   * For a subsystem that already keeps a list of its live objects (dma-buf's db_list): the leak
   * check asks `list()` instead of the subsystem registering each object, so hot paths pay nothing.
   */
  track<T extends object>(kind: string, list: () => Iterable<T>, describe: (obj: T) => string): void {
    this.trackers.push({ kind, list, describe: describe as (obj: object) => string });
  }

  /** Records that `obj` was freed. Unknown objects are ignored. */
  unregister(obj: object): void {
    this.records.delete(obj);
  }

  /** Appends to an object's origin, e.g. the fd it was installed at (`text` runs only for a report). */
  note(obj: object, text: () => string): void {
    const r = this.records.get(obj);
    if (r) (r.notes ??= []).push(text);
  }

  /** Live objects (of one kind, or all): registered ones in creation order, then tracked ones. */
  live(kind?: string): KernelObjectRecord[] {
    this.prune();
    const out = [...this.records.values()].filter((r) => kind === undefined || r.kind === kind).sort((a, b) => a.seq - b.seq);
    const tracked = this.trackers
      .filter((t) => kind === undefined || t.kind === kind)
      .flatMap((t) => [...t.list()].map((obj) => ({ kind: t.kind, obj, describe: () => t.describe(obj), seq: -1, origin: undefined })));
    return out.map((r): KernelObjectRecord => ({
      kind: r.kind,
      obj: r.obj,
      describe: r.describe,
      seq: r.seq,
      origin: `${r.task ? `${r.task.comm}[${r.task.pid}]` : "kernel"} ${r.call} at ${(r.at / 1e9).toFixed(6)}s${r.notes ? `, ${r.notes.map((n) => n()).join(", ")}` : ""}`,
    })).concat(tracked);
  }

  private prune(): void {
    for (const [obj, r] of this.records) if (r.released?.()) this.records.delete(obj);
    this.pruneAt = Math.max(1024, this.records.size * 2);
  }
}

interface Entry {
  readonly kind: string;
  readonly obj: object;
  readonly describe: () => string;
  readonly call: string;
  readonly task: TaskRef | undefined;
  readonly at: number;
  readonly seq: number;
  notes: (() => string)[] | undefined;
  readonly released: (() => boolean) | undefined;
}

/** What leakCheck found: one line per live object, grouped by kind. */
export interface LeakReport {
  readonly leaks: readonly KernelObjectRecord[];
  /** Live objects per kind, e.g. { file: 2, process: 1 }. */
  readonly counts: Readonly<Record<string, number>>;
  /** The report as text, one "kind: description (created by ...)" line per object; "" when clean. */
  readonly text: string;
}

/**
 * Lists every process still alive, every file still open and every object a subsystem registered
 * and did not free, each with how it was created (process, call, fd). Call it on demand or after
 * `kernel.shutdown()`, when nothing at all should be left.
 */
export function leakCheck(kernel: Kernel): LeakReport {
  const leaks = kernel.objects.live();
  return { leaks, counts: countKinds(leaks), text: leaks.map(line).join("\n") };
}

function countKinds(leaks: readonly KernelObjectRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of leaks) counts[r.kind] = (counts[r.kind] ?? 0) + 1;
  return counts;
}

const line = (r: KernelObjectRecord) => `${r.kind}: ${r.describe()}${r.origin ? ` (created by ${r.origin})` : ""}`;

/** Thrown by {@link assertNoLeaks}; the message lists every leaked object. */
export class LeakError extends Error {
  constructor(readonly report: LeakReport) {
    super(`${report.leaks.length} kernel object(s) leaked:\n${report.text}`);
    this.name = "LeakError";
  }
}

/**
 * Test helper: shuts the kernel down (exiting every process, removing every driver) unless told not
 * to, then throws a {@link LeakError} if anything is still alive. Use it at the end of every test,
 * e.g. `afterEach(() => assertNoLeaks(kernel))`, so that tests fail on leaks by default.
 */
export function assertNoLeaks(kernel: Kernel, opts: { shutdown?: boolean } = {}): void {
  if (opts.shutdown ?? true) kernel.shutdown();
  const report = leakCheck(kernel);
  if (report.leaks.length) throw new LeakError(report);
}

const bootWatchers = new Set<(kernel: Kernel) => void>();

/** Calls `fn` with every kernel booted from now on; the returned function stops it. */
export function onKernelBoot(fn: (kernel: Kernel) => void): () => void {
  bootWatchers.add(fn);
  return () => bootWatchers.delete(fn);
}

/** @internal Kernel.boot's last step. */
export function notifyKernelBoot(kernel: Kernel): void {
  for (const fn of bootWatchers) fn(kernel);
}

let leaksAreExpected = false;

/**
 * Under {@link failOnLeaks}: the running test leaves kernel objects alive on purpose (it tests the
 * leak report itself, or a deliberately broken driver), so its kernels are shut down unchecked.
 */
export function leaksExpected(): void {
  leaksAreExpected = true;
}

/**
 * Test helper: after each test, shuts down every kernel the test booted and fails the test with a
 * {@link LeakError} if anything survived. Pass the test framework's `afterEach`, e.g. in a setup
 * file: `failOnLeaks(afterEach)`. Returns a function that turns it off.
 */
export function failOnLeaks(afterEach: (fn: () => void) => void): () => void {
  const booted: Kernel[] = [];
  const off = onKernelBoot((k) => void booted.push(k));
  afterEach(() => {
    const exempt = leaksAreExpected;
    leaksAreExpected = false;
    const leaks = booted.splice(0).flatMap((k) => {
      k.shutdown();
      return exempt ? [] : leakCheck(k).leaks;
    });
    if (leaks.length) throw new LeakError({ leaks, counts: countKinds(leaks), text: leaks.map(line).join("\n") });
  });
  return off;
}
