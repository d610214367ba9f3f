import { MinHeap } from "./internal/min-heap.js";

/** Nanoseconds per unit, for readable delays: `clock.addTimer(16 * NSEC_PER_MSEC, ...)`. */
export const NSEC_PER_USEC = 1_000;
export const NSEC_PER_MSEC = 1_000_000;
export const NSEC_PER_SEC = 1_000_000_000;

/** A pending timer callback (the model of an hrtimer or a delayed work item). */
export interface Timer {
  readonly at: number;
  readonly name: string;
  cancelled: boolean;
}
interface TimerEntry extends Timer {
  readonly seq: number;
  readonly fn: () => void;
}

/** Thrown into every blocked waiter when all simulated actors wait and no timer is pending. */
export class SimulationStalled extends Error {
  constructor(what: string) {
    super(
      `simulation stalled at t=${what}: every simulated actor is blocked and no timer is pending, ` +
        `so on Linux this program would hang forever (look for a fence that is never signalled or a buffer never queued)`,
    );
    this.name = "SimulationStalled";
  }
}

/**
 * Deterministic virtual time. Hardware completes work by timers on this clock; time advances only
 * when every simulated actor is blocked (in `block()`), i.e. when no JavaScript work is runnable.
 * The same program therefore gives the same event order and timestamps on every run.
 *
 * `realtime` paces the advance against the wall clock, for live viewing only.
 */
export class VirtualClock {
  private nowNs = 0;
  private seq = 0;
  private readonly timers = new MinHeap<TimerEntry>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  /** The reject functions of the actors blocked now. */
  private readonly blocked = new Set<(e: Error) => void>();
  private holds = 0;
  private pumpScheduled = false;
  private wallStart = 0;
  private virtStart = 0;
  /** Pace virtual time to the wall clock (1 = real time). 0 runs as fast as possible. */
  realtime = 0;

  /** Current virtual time in nanoseconds since boot (CLOCK_MONOTONIC). */
  now(): number {
    return this.nowNs;
  }

  /** Runs `fn` when virtual time reaches now + `delayNs`. Timers at the same instant run in creation order. */
  addTimer(delayNs: number, fn: () => void, name = "timer"): Timer {
    if (!(delayNs >= 0)) throw new RangeError(`addTimer(${name}): delay must be >= 0 ns, got ${delayNs}`);
    const t: TimerEntry = { at: this.nowNs + Math.round(delayNs), seq: this.seq++, fn, name, cancelled: false };
    this.timers.push(t);
    return t;
  }

  cancelTimer(t: Timer | undefined): void {
    if (t) t.cancelled = true;
  }

  /** Number of live timers (cancelled ones are dropped lazily). */
  get pendingTimers(): number {
    this.dropCancelled();
    return this.timers.size;
  }

  /** Fires the earliest pending timer, advancing time to it. Returns false when none is pending. */
  runNext(): boolean {
    this.dropCancelled();
    const t = this.timers.pop();
    if (!t) return false;
    this.nowNs = Math.max(this.nowNs, t.at);
    t.fn();
    return true;
  }

  /** Synchronously advances time by `ns`, firing every timer due on the way. */
  advance(ns: number): void {
    const end = this.nowNs + ns;
    for (;;) {
      this.dropCancelled();
      const t = this.timers.peek();
      if (!t || t.at > end) break;
      this.runNext();
    }
    this.nowNs = end;
  }

  /**
   * Blocks the calling actor on `p`: while every actor is blocked, time advances to the next timer.
   * This is how `poll`, blocking ioctls and fence waits sleep.
   */
  block<T>(p: Promise<T>): Promise<T> {
    // No named closures on this path (nor in hold): under keepNames (tsx runs the CLI and the
    // benches) each costs a defineProperty per call.
    return new Promise<T>((resolve, reject) => {
      this.blocked.add(reject);
      this.schedulePump();
      p.then(
        (v) => {
          this.blocked.delete(reject);
          resolve(v);
        },
        (e: unknown) => {
          this.blocked.delete(reject);
          reject(e);
        },
      );
    });
  }

  /**
   * Keeps virtual time still until `p` settles: for work a simulated device does in real time (a
   * codec job running in a library's thread pool) whose result a timer publishes later. Without it
   * the clock would run ahead to that timer while the work is still in flight. `advance()` ignores holds.
   */
  hold<T>(p: Promise<T>): Promise<T> {
    this.holds++;
    p.then(this.unhold, this.unhold);
    return p;
  }

  private readonly unhold = (): void => {
    this.holds--;
    this.schedulePump();
  };

  /** Sleeps for `ns` of virtual time (nanosleep on CLOCK_MONOTONIC). */
  sleep(ns: number): Promise<void> {
    return this.block(new Promise<void>((resolve) => this.addTimer(ns, resolve, "nanosleep")));
  }

  private dropCancelled(): void {
    while (this.timers.peek()?.cancelled) this.timers.pop();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // setImmediate runs only after every pending microtask has run: every actor is then blocked.
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    if (this.blocked.size === 0 || this.holds > 0) return;
    this.dropCancelled();
    const next = this.timers.peek();
    if (!next) {
      const err = new SimulationStalled(`${this.nowNs} ns`);
      const aborted = [...this.blocked];
      this.blocked.clear();
      for (const reject of aborted) reject(err);
      return;
    }
    if (this.realtime > 0) {
      const wallNow = performance.now();
      if (this.wallStart === 0) {
        this.wallStart = wallNow;
        this.virtStart = this.nowNs;
      }
      const due = this.wallStart + (next.at - this.virtStart) / 1e6 / this.realtime;
      if (due > wallNow + 1) {
        this.pumpScheduled = true;
        setTimeout(() => this.pump(), due - wallNow);
        return;
      }
    }
    this.runNext();
    this.schedulePump();
  }
}
