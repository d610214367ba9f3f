import { ERRNO } from "./errno.js";
import { MAX_SCHEDULE_TIMEOUT, scheduleTimeout } from "./internal/schedule-timeout.js";
import type { Kernel } from "./kernel.js";
import { signalPending } from "./signal.js";
import type { TaskContext, TraceArgs } from "./trace.js";

/*
 * dma_fence (drivers/dma-buf/dma-fence.c, include/linux/dma-fence.h), 6.x semantics.
 *
 * The fence API returns the kernel's int codes (0, -EINVAL, -ENOENT, -ERESTARTSYS, remaining time)
 * rather than throwing: they are outcomes callers branch on (an -ENOENT from addCallback means
 * "already signalled, run it yourself"), exactly as in C.
 *
 * Time: timeouts are nanoseconds of virtual time (the kernel's jiffies); MAX_SCHEDULE_TIMEOUT waits
 * forever.
 */

export { MAX_SCHEDULE_TIMEOUT };

/* enum dma_fence_flag_bits (6.x) */
export const DMA_FENCE_FLAG_SIGNALED_BIT = 0;
export const DMA_FENCE_FLAG_TIMESTAMP_BIT = 1;
export const DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT = 2;
export const DMA_FENCE_FLAG_USER_BITS = 3;

const SIGNALED = 1 << DMA_FENCE_FLAG_SIGNALED_BIT;
const TIMESTAMP = 1 << DMA_FENCE_FLAG_TIMESTAMP_BIT;
const ENABLE_SIGNAL = 1 << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT;
/** MAX_ERRNO: the largest errno a fence error may carry. */
const MAX_ERRNO = 4095;

/**
 * struct dma_fence_ops: what a fence's driver implements. Called by the dma-fence core, never by
 * importers directly. `getDriverName` and `getTimelineName` are mandatory; the core calls them
 * already from the constructor (the dma_fence_init tracepoint), so they must not depend on fields a
 * subclass sets after `super()`: a per-timeline ops object (sw_sync) or constant names do.
 */
export interface DmaFenceOps {
  /**
   * @use64bitSeqno: compare seqnos as full 64-bit numbers instead of the 32-bit wrap-aware compare
   * (dma_fence_chain sets it). Optional, default false.
   */
  readonly use64bitSeqno?: boolean;
  /** @get_driver_name: the driver's name, for debugging and tracing. Mandatory. */
  getDriverName(fence: DmaFence): string;
  /** @get_timeline_name: the name of the timeline (context) the fence belongs to. Mandatory. */
  getTimelineName(fence: DmaFence): string;
  /**
   * @enable_signaling: called once, on the first enableSwSignaling, addCallback or wait of an
   * unsignalled fence, so the driver starts watching for completion (arms an interrupt). Returning
   * false means the fence already completed: the core then signals it. Optional: without it the
   * driver must signal the fence unprompted.
   */
  enableSignaling?(fence: DmaFence): boolean;
  /**
   * @signaled: a cheap peek used by isSignaled(); true makes the core signal the fence. Optional:
   * without it only an explicit signal() completes the fence.
   */
  signaled?(fence: DmaFence): boolean;
  /**
   * @wait: a custom wait (deprecated in Linux; the default wait serves every sane fence). Returns
   * the time left (> 0) when signalled, 0 on timeout, or a negative error. Optional.
   */
  wait?(fence: DmaFence, intr: boolean, timeout: number): Promise<number>;
  /** @release: called once when the last reference goes, to free driver state. Optional. */
  release?(fence: DmaFence): void;
  /** @fence_value_str: the fence's own value for debug output. Optional. */
  fenceValueStr?(fence: DmaFence): string;
  /** @timeline_value_str: the timeline's current value for debug output. Optional. */
  timelineValueStr?(fence: DmaFence): string;
  /**
   * @set_deadline: a hint that someone waits for the fence by `deadlineNs` (CLOCK_MONOTONIC), e.g.
   * a vblank, so the driver may boost clocks. Called only while unsignalled. Optional.
   */
  setDeadline?(fence: DmaFence, deadlineNs: number): void;
}

/** dma_fence_func_t: runs once, when the fence signals (in the signaller's context). */
export type DmaFenceFunc = (fence: DmaFence, cb: DmaFenceCb) => void;

/**
 * struct dma_fence_cb: embed (or extend) it in the object that waits. A callback can be queued on
 * one fence at a time; `queued` is the fence it waits on (list_empty(&cb->node) is `!queued`).
 */
export interface DmaFenceCb {
  func?: DmaFenceFunc;
  queued?: DmaFence | null;
}

/** Per-kernel fence state: the context counter (dma_fence_context_counter) and the stub. */
interface FenceGlobals {
  nextContext: number;
  stub?: DmaFence;
  /** When each timeline last signalled, so the Perfetto track shows back-to-back spans. */
  lastSignal: Map<number, number>;
}
const globals = new WeakMap<Kernel, FenceGlobals>();
function fenceGlobals(kernel: Kernel): FenceGlobals {
  let g = globals.get(kernel);
  if (!g) globals.set(kernel, (g = { nextContext: 1, lastSignal: new Map() }));
  return g;
}

/** WARN(): the kernel carries on, but says so in the log. */
export function warn(kernel: Kernel, where: string, what: string): void {
  kernel.printk(`WARNING: CPU: 0 PID: ${kernel.current?.pid ?? 0} at ${where}: ${what}`);
}

/**
 * dma_fence_context_alloc(): reserves `num` consecutive fence contexts and returns the first.
 * Contexts start at 1 (0 is the stub's) and are per kernel, so runs are reproducible.
 */
export function dmaFenceContextAlloc(kernel: Kernel, num: number): number {
  if (!(num > 0)) warn(kernel, "drivers/dma-buf/dma-fence.c dma_fence_context_alloc", "WARN_ON(!num)");
  const g = fenceGlobals(kernel);
  const first = g.nextContext;
  g.nextContext += num;
  return first;
}

/**
 * __dma_fence_is_later(): is seqno `f1` after `f2` on one timeline? 32-bit wrap-aware
 * (`(int)(lower_32_bits(f1) - lower_32_bits(f2)) > 0`) unless the ops use 64-bit seqnos.
 */
export function seqnoIsLater(f1: number, f2: number, use64bitSeqno = false): boolean {
  if (use64bitSeqno) return f1 > f2;
  return (((f1 >>> 0) - (f2 >>> 0)) | 0) > 0;
}

const stubOps: DmaFenceOps = { getDriverName: () => "stub", getTimelineName: () => "stub" };

/**
 * struct dma_fence: a point on a timeline (context, seqno) that signals exactly once, optionally
 * with an error. Refcounted like the kernel's kref: the creator holds one reference, `get()` adds
 * one, `put()` drops one and the last put releases the fence (dma_fence_release).
 */
export class DmaFence {
  private refs = 1;
  flags = 0;
  /** Signal time in ns of virtual time; valid once DMA_FENCE_FLAG_TIMESTAMP_BIT is set. */
  timestamp = 0;
  /** 0, or the negative errno set by setError() before signalling. */
  error = 0;
  private cbList: DmaFenceCb[] | null = null;
  private readonly initNs: number;

  /** dma_fence_init(fence, ops, lock, context, seqno) */
  constructor(
    readonly kernel: Kernel,
    readonly ops: DmaFenceOps,
    readonly context: number,
    readonly seqno: number,
  ) {
    if (!ops || !ops.getDriverName || !ops.getTimelineName) throw new Error("BUG: dma_fence_init: ops without get_driver_name/get_timeline_name");
    this.initNs = kernel.clock.now();
    this.tracepoint("dma_fence_init");
    // A leak report only reads the fence: the SIGNALED bit, not the driver's signaled peek (which may signal).
    kernel.objects.register("fence", this, () => `${this.driverName}:${this.timelineName} ${this.context}:${this.seqno} ${this.signaledFlag ? "" : "un"}signalled, ${this.refs} reference(s)`, "dma_fence_init");
  }

  /** Emits a dma_fence_* tracepoint with Linux's fields (include/trace/events/dma_fence.h). */
  private tracepoint(event: string, task?: TaskContext): void {
    const trace = this.kernel.trace;
    if (!trace.on) return;
    trace.emit(event, { driver: this.driverName, timeline: this.timelineName, context: this.context, seqno: this.seqno }, task);
  }

  /** dma_fence_driver_name() */
  get driverName(): string {
    return this.ops.getDriverName(this);
  }

  /** dma_fence_timeline_name() */
  get timelineName(): string {
    return this.ops.getTimelineName(this);
  }

  /** kref_read(): current reference count. */
  get refcount(): number {
    return this.refs;
  }

  /** dma_fence_get(): one more reference; returns the fence. */
  get(): this {
    if (this.refs <= 0) throw new Error(`BUG: use-after-free: dma_fence_get on released fence ${this.context}:${this.seqno}`);
    this.refs++;
    return this;
  }

  /**
   * dma_fence_put(): the last reference releases the fence. A fence released with callbacks still
   * pending is a driver bug: the kernel WARNs, sets -EDEADLK and signals it so waiters do not hang.
   */
  put(): void {
    if (this.refs <= 0) throw new Error(`BUG: dma_fence_put on released fence ${this.context}:${this.seqno}: refcount underflow`);
    if (--this.refs > 0) return;
    this.tracepoint("dma_fence_destroy");
    if (this.cbList?.length && !(this.flags & SIGNALED)) {
      warn(this.kernel, "drivers/dma-buf/dma-fence.c dma_fence_release", `Fence ${this.driverName}:${this.timelineName}:${this.context}:${this.seqno} released with pending signals!`);
      this.error = -ERRNO.EDEADLK;
      this.signal();
    }
    this.ops.release?.(this);
    this.kernel.objects.unregister(this);
  }

  /** dma_fence_emit tracepoint: drivers call it when they hand the fence to hardware. */
  traceEmit(): void {
    this.tracepoint("dma_fence_emit");
  }

  /** dma_fence_test_signaled_flag(): the SIGNALED bit only, without asking the driver. */
  get signaledFlag(): boolean {
    return (this.flags & SIGNALED) !== 0;
  }

  /**
   * dma_fence_signal_timestamp(): signals with the given timestamp. Returns 0, or -EINVAL when the
   * fence was already signalled (6.x). Callbacks run once each, in the order they were added.
   */
  signalTimestamp(timestampNs: number): number {
    if (this.flags & SIGNALED) return -ERRNO.EINVAL;
    if (!this.error && this.kernel.faults.shouldFail("fail_dma_fence", this.driverName)) this.setError(-ERRNO.EIO);
    this.flags |= SIGNALED;
    const list = this.cbList;
    this.cbList = null;
    this.timestamp = timestampNs;
    this.flags |= TIMESTAMP;
    this.traceSignaled();
    if (list)
      for (const cb of list) {
        cb.queued = null;
        cb.func!(this, cb);
      }
    return 0;
  }

  private traceSignaled(): void {
    const trace = this.kernel.trace;
    if (!trace.on) return;
    this.tracepoint("dma_fence_signaled");
    // The timeline's Perfetto track: one span per point, from when the timeline started on it (its
    // creation, or the previous point's completion) to its completion.
    const g = fenceGlobals(this.kernel);
    const now = this.kernel.clock.now();
    const start = Math.min(now, Math.max(this.initNs, g.lastSignal.get(this.context) ?? 0));
    g.lastSignal.set(this.context, now);
    const args: TraceArgs = this.error ? { seqno: this.seqno, error: this.error } : { seqno: this.seqno };
    trace.slice(`fence:${this.driverName}:${this.timelineName}`, `${this.context}:${this.seqno}`, start, now - start, args);
  }

  /** dma_fence_signal(): 0 on the first signal, -EINVAL if the fence was already signalled (6.x). */
  signal(): number {
    return this.signalTimestamp(this.kernel.clock.now());
  }

  /** dma_fence_check_and_signal() (newest kernels): signals; true if it was already signalled. */
  checkAndSignal(): boolean {
    return this.signal() !== 0;
  }

  /**
   * dma_fence_is_signaled(): true once signalled. Otherwise asks the driver's `signaled` op and, if
   * the work completed, signals the fence now.
   */
  isSignaled(): boolean {
    if (this.flags & SIGNALED) return true;
    if (this.ops.signaled?.(this)) {
      this.signal();
      return true;
    }
    return false;
  }

  /** __dma_fence_enable_signaling(): false when the fence is (now) signalled. */
  private enableSignalingInternal(): boolean {
    const wasSet = this.flags & ENABLE_SIGNAL;
    this.flags |= ENABLE_SIGNAL;
    if (this.flags & SIGNALED) return false;
    if (!wasSet && this.ops.enableSignaling) {
      this.tracepoint("dma_fence_enable_signal");
      if (!this.ops.enableSignaling(this)) {
        this.signal();
        return false;
      }
    }
    return true;
  }

  /** dma_fence_enable_sw_signaling(): asks the driver to signal the fence when it completes. */
  enableSwSignaling(): void {
    this.enableSignalingInternal();
  }

  /**
   * dma_fence_add_callback(): queues `func` to run when the fence signals. Returns 0, -ENOENT when
   * the fence is already signalled (the callback is then NOT called: the caller proceeds itself),
   * or -EINVAL without a function.
   */
  addCallback(cb: DmaFenceCb, func: DmaFenceFunc): number {
    if (!func) {
      warn(this.kernel, "drivers/dma-buf/dma-fence.c dma_fence_add_callback", "WARN_ON(!fence || !func)");
      return -ERRNO.EINVAL;
    }
    if (!(this.flags & SIGNALED) && this.enableSignalingInternal()) {
      cb.func = func;
      cb.queued = this;
      (this.cbList ??= []).push(cb);
      return 0;
    }
    cb.queued = null;
    return -ERRNO.ENOENT;
  }

  /** dma_fence_remove_callback(): true if `cb` was still pending (now removed), false if it ran or was never added. */
  removeCallback(cb: DmaFenceCb): boolean {
    if (cb.queued !== this || !this.cbList) return false;
    const i = this.cbList.indexOf(cb);
    if (i < 0) return false;
    this.cbList.splice(i, 1);
    cb.queued = null;
    return true;
  }

  /** dma_fence_get_status(): 0 while pending, 1 when signalled, or the negative error it signalled with. */
  getStatus(): number {
    if (!this.isSignaled()) return 0;
    return this.error || 1;
  }

  /**
   * dma_fence_set_error(): records an error to report once signalled (get_status stays 0 until then).
   * Must be called before signal() with -MAX_ERRNO <= error < 0; otherwise the kernel WARNs (and still sets it).
   */
  setError(error: number): void {
    if (this.flags & SIGNALED) warn(this.kernel, "include/linux/dma-fence.h dma_fence_set_error", "WARN_ON(test_bit(DMA_FENCE_FLAG_SIGNALED_BIT))");
    if (error >= 0 || error < -MAX_ERRNO) warn(this.kernel, "include/linux/dma-fence.h dma_fence_set_error", `WARN_ON(error >= 0 || error < -MAX_ERRNO): ${error}`);
    this.error = error;
  }

  /** dma_fence_timestamp(): the signal time, or now if the timestamp is not set yet. */
  get timestampNs(): number {
    return this.flags & TIMESTAMP ? this.timestamp : this.kernel.clock.now();
  }

  /** dma_fence_is_later(): same context only (WARN and false otherwise). */
  isLater(other: DmaFence): boolean {
    if (this.context !== other.context) {
      warn(this.kernel, "include/linux/dma-fence.h dma_fence_is_later", `WARN_ON(f1->context != f2->context): ${this.context} vs ${other.context}`);
      return false;
    }
    return seqnoIsLater(this.seqno, other.seqno, this.ops.use64bitSeqno);
  }

  /** dma_fence_is_later_or_same() */
  isLaterOrSame(other: DmaFence): boolean {
    return this === other || this.isLater(other);
  }

  /** dma_fence_set_deadline(): forwards the hint to the driver while the fence is pending. */
  setDeadline(deadlineNs: number): void {
    if (this.ops.setDeadline && !this.isSignaled()) this.ops.setDeadline(this, deadlineNs);
  }

  /**
   * dma_fence_wait_timeout(): sleeps until the fence signals. Returns the time left (> 0) when it
   * signalled, 0 on timeout (with timeout 0: 1 if signalled, 0 if not), -ERESTARTSYS when `intr`
   * and a signal arrived, -EINVAL for a negative timeout.
   */
  async waitTimeout(intr: boolean, timeout: number): Promise<number> {
    if (timeout < 0) {
      warn(this.kernel, "drivers/dma-buf/dma-fence.c dma_fence_wait_timeout", "WARN_ON(timeout < 0)");
      return -ERRNO.EINVAL;
    }
    const task = this.kernel.current;
    this.enableSwSignaling();
    this.tracepoint("dma_fence_wait_start", task);
    const ret = this.ops.wait ? await this.ops.wait(this, intr, timeout) : await this.defaultWait(intr, timeout, task);
    this.tracepoint("dma_fence_wait_end", task);
    return ret;
  }

  /** dma_fence_wait(): waits without timeout; 0 on success or -ERESTARTSYS. */
  async wait(intr: boolean): Promise<number> {
    const ret = await this.waitTimeout(intr, MAX_SCHEDULE_TIMEOUT);
    return ret < 0 ? ret : 0;
  }

  /** dma_fence_default_wait() */
  private async defaultWait(intr: boolean, timeout: number, task: TaskContext | undefined): Promise<number> {
    let ret = timeout || 1;
    if (this.flags & SIGNALED) return ret;
    if (intr && signalPending(task)) return -ERRNO.ERESTARTSYS;
    if (!this.enableSignalingInternal()) return ret;
    if (!timeout) return 0;
    const cb: DmaFenceCb = {};
    while (!(this.flags & SIGNALED) && ret > 0) {
      ret = await scheduleTimeout(this.kernel.clock, task, intr, ret, (wake) => {
        this.addCallback(cb, wake);
        return () => this.removeCallback(cb);
      });
      if (ret > 0 && intr && signalPending(task)) ret = -ERRNO.ERESTARTSYS;
    }
    return ret;
  }

  /** dma_fence_describe(): one line of debugfs output. A signalled fence's names print empty. */
  describe(): string {
    const signalled = this.isSignaled();
    return `${this.context}:${this.seqno} ${signalled ? "" : this.timelineName} ${signalled ? "" : this.driverName} ${signalled ? "" : "un"}signalled\n`;
  }
}

/** dma_fence_get_stub(): a reference to the kernel's one always-signalled fence (context 0, seqno 0, names "stub"). */
export function dmaFenceGetStub(kernel: Kernel): DmaFence {
  const g = fenceGlobals(kernel);
  if (!g.stub) {
    g.stub = new DmaFence(kernel, stubOps, 0, 0);
    kernel.objects.unregister(g.stub); // static in Linux: never freed, never a leak
    g.stub.flags |= ENABLE_SIGNAL;
    g.stub.signal();
  }
  return g.stub.get();
}

/** dma_fence_allocate_private_stub(): a new fence on its own context, already signalled at `timestampNs`. */
export function dmaFenceAllocatePrivateStub(kernel: Kernel, timestampNs: number): DmaFence {
  const f = new DmaFence(kernel, stubOps, dmaFenceContextAlloc(kernel, 1), 0);
  f.flags |= ENABLE_SIGNAL;
  f.signalTimestamp(timestampNs);
  return f;
}

/**
 * dma_fence_wait_any_timeout(): sleeps until any of `fences` signals. `ret` is as for waitTimeout()
 * (with timeout 0: 1 if one has signalled, else 0); `idx` is the index of a signalled fence, when
 * one was found. -EINVAL (with a WARN) for an empty list or a negative timeout.
 */
export async function dmaFenceWaitAnyTimeout(fences: readonly DmaFence[], intr: boolean, timeout: number): Promise<{ ret: number; idx?: number }> {
  const kernel = fences[0]?.kernel;
  if (!kernel || timeout < 0) {
    if (kernel) warn(kernel, "drivers/dma-buf/dma-fence.c dma_fence_wait_any_timeout", "WARN_ON(!fences || !count || timeout < 0)");
    return { ret: -ERRNO.EINVAL };
  }
  if (timeout === 0) {
    const idx = fences.findIndex((f) => f.isSignaled());
    return idx < 0 ? { ret: 0 } : { ret: 1, idx };
  }
  const task = kernel.current;
  const cbs = fences.map((): DmaFenceCb => ({}));
  let wakeUp: (() => void) | null = null;
  let ret = timeout;
  let idx: number | undefined;
  let armed = 0;
  for (; armed < fences.length; armed++)
    if (fences[armed]!.addCallback(cbs[armed]!, () => wakeUp?.()) !== 0) {
      idx = armed; // already signalled
      break;
    }
  if (idx === undefined)
    while (ret > 0) {
      // dma_fence_test_signaled_any()
      const j = fences.findIndex((f) => f.signaledFlag);
      if (j >= 0) {
        idx = j;
        break;
      }
      ret = await scheduleTimeout(kernel.clock, task, intr, ret, (wake) => {
        wakeUp = wake;
        return () => (wakeUp = null);
      });
      if (ret > 0 && intr && signalPending(task)) ret = -ERRNO.ERESTARTSYS;
    }
  while (armed-- > 0) fences[armed]!.removeCallback(cbs[armed]!);
  return idx === undefined ? { ret } : { ret, idx };
}
