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
  /** How it was created: "app[101] open(\"/dev/video0\") at 1.000000s", amended as fds are installed. */
  origin: string;
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
  private readonly records = new Map<object, KernelObjectRecord & { released?: () => boolean }>();
  private seq = 0;
  private pruneAt = 1024;

  constructor(
    private readonly current: () => TaskRef | undefined,
    private readonly now: () => number,
  ) {}

  /** Records `obj` as live; `call` is the syscall or kernel call that made it. */
  register(kind: string, obj: object, describe: () => string, call: string, released?: () => boolean): void {
    const task = this.current();
    const who = task ? `${task.comm}[${task.pid}]` : "kernel";
    const origin = `${who} ${call} at ${(this.now() / 1e9).toFixed(6)}s`;
    this.records.set(obj, { kind, obj, describe, origin, seq: this.seq++, ...(released && { released }) });
    if (this.records.size >= this.pruneAt) this.prune();
  }

  /** Records a new open file description; it stays listed until its last reference is put. */
  registerFile(file: File, call: string): void {
    this.register("file", file, () => `${file.inode.name} (${file.ops.name}), ${file.count} reference(s)`, call, () => file.released);
  }

  /** Records that `obj` was freed. Unknown objects are ignored. */
  unregister(obj: object): void {
    this.records.delete(obj);
  }

  /** Appends to an object's origin, e.g. the fd it was installed at. */
  note(obj: object, text: string): void {
    const r = this.records.get(obj);
    if (r) r.origin += `, ${text}`;
  }

  /** Live objects (of one kind, or all) in creation order. */
  live(kind?: string): KernelObjectRecord[] {
    this.prune();
    const out = [...this.records.values()].filter((r) => kind === undefined || r.kind === kind);
    return out.sort((a, b) => a.seq - b.seq);
  }

  private prune(): void {
    for (const [obj, r] of this.records) if (r.released?.()) this.records.delete(obj);
    this.pruneAt = Math.max(1024, this.records.size * 2);
  }
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
  const counts: Record<string, number> = {};
  for (const r of leaks) counts[r.kind] = (counts[r.kind] ?? 0) + 1;
  const text = leaks.map((r) => `${r.kind}: ${r.describe()} (created by ${r.origin})`).join("\n");
  return { leaks, counts, text };
}

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
