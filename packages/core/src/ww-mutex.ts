import { ERRNO } from "./errno.js";
import { warn } from "./dma-fence.js";
import { MAX_SCHEDULE_TIMEOUT, scheduleTimeout } from "./internal/schedule-timeout.js";
import type { Kernel } from "./kernel.js";
import { signalPending } from "./signal.js";
import { WaitQueue } from "./wait-queue.js";

/*
 * Wound/wait mutexes (kernel/locking/ww_mutex.h, Documentation/locking/ww-mutex-design.rst), the
 * lock behind every dma_resv. A task that must lock several buffers takes an acquire context with
 * a stamp (its age). When two contexts want each other's locks, the younger one is told -EDEADLK
 * and must back off: unlock everything it holds, then take the contended lock with lockSlow() and
 * retry the rest. reservation_ww_class is a wait-die class: a younger context that already holds a
 * lock dies instead of waiting for an older holder; an older context waits.
 */

/** struct ww_class: the stamp counter shared by the contexts of one lock class. */
export class WwClass {
  stamp = 0;
  constructor(
    readonly name: string,
    readonly isWaitDie: boolean,
  ) {}
}

/** reservation_ww_class (drivers/dma-buf/dma-resv.c: DEFINE_WD_CLASS). */
export const reservationWwClass = new WwClass("reservation_ww_class", true);

/** struct ww_acquire_ctx: one task's attempt at locking a set of ww_mutexes. */
export class WwAcquireCtx {
  /** Lower stamp = older = wins. */
  readonly stamp: number;
  /** Locks of this class currently held through this context. */
  acquired = 0;
  private finished = false;

  /** ww_acquire_init() */
  constructor(readonly wwClass: WwClass = reservationWwClass) {
    this.stamp = ++wwClass.stamp;
  }

  /** ww_acquire_fini(): the context is done; every lock must have been released. */
  fini(kernel: Kernel): void {
    if (this.acquired) warn(kernel, "kernel/locking/ww_mutex.h ww_acquire_fini", `DEBUG_LOCKS_WARN_ON(ctx->acquired): ${this.acquired} lock(s) still held`);
    this.finished = true;
  }

  get done(): boolean {
    return this.finished;
  }
}

/** Owner of a ww_mutex locked without a context (a plain mutex_lock). */
const NO_CTX = Symbol("no acquire context");

/** struct ww_mutex */
export class WwMutex {
  private owner: WwAcquireCtx | typeof NO_CTX | null = null;
  private readonly waiters = new WaitQueue();

  constructor(
    private readonly kernel: Kernel,
    readonly wwClass: WwClass = reservationWwClass,
  ) {}

  /** ww_mutex_is_locked() */
  get isLocked(): boolean {
    return this.owner !== null;
  }

  /** The context holding the lock (ww->ctx), if it was taken with one. */
  get ctx(): WwAcquireCtx | null {
    return this.owner instanceof WwAcquireCtx ? this.owner : null;
  }

  /**
   * ww_mutex_lock(): 0 once locked; -EALREADY if `ctx` already holds it; -EDEADLK when `ctx` is
   * younger than the holder and holds other locks (back off, then lockSlow()). Without a context it
   * is a plain sleeping mutex.
   */
  lock(ctx: WwAcquireCtx | null): Promise<number> {
    return this.lockCommon(ctx, false, false);
  }

  /** ww_mutex_lock_interruptible(): as lock(), plus -EINTR when a signal arrives while waiting. */
  lockInterruptible(ctx: WwAcquireCtx | null): Promise<number> {
    return this.lockCommon(ctx, true, false);
  }

  /** ww_mutex_lock_slow(): after backing off, sleeps for the contended lock without -EDEADLK. */
  async lockSlow(ctx: WwAcquireCtx): Promise<void> {
    if (ctx.acquired) warn(this.kernel, "include/linux/ww_mutex.h ww_mutex_lock_slow", `DEBUG_LOCKS_WARN_ON(ctx->acquired): back off (unlock all ${ctx.acquired}) before the slow path`);
    await this.lockCommon(ctx, false, true);
  }

  /** ww_mutex_trylock(): true if the lock was free and is now held. */
  trylock(ctx: WwAcquireCtx | null = null): boolean {
    if (this.owner !== null) return false;
    this.take(ctx);
    return true;
  }

  /** ww_mutex_unlock() */
  unlock(): void {
    if (this.owner === null) throw new Error(`BUG: ww_mutex_unlock of an unlocked ${this.wwClass.name} mutex`);
    if (this.owner instanceof WwAcquireCtx) this.owner.acquired--;
    this.owner = null;
    this.waiters.wake();
  }

  private take(ctx: WwAcquireCtx | null): void {
    this.owner = ctx ?? NO_CTX;
    if (ctx) ctx.acquired++;
  }

  private async lockCommon(ctx: WwAcquireCtx | null, intr: boolean, slow: boolean): Promise<number> {
    if (ctx && this.owner === ctx) return -ERRNO.EALREADY;
    const task = this.kernel.current;
    for (;;) {
      if (this.owner === null) {
        this.take(ctx);
        return 0;
      }
      const holder = this.ctx;
      // Wait-die: a younger context holding other locks must not wait for an older one.
      if (ctx && !slow && holder && ctx.acquired > 0 && ctx.stamp > holder.stamp) return -ERRNO.EDEADLK;
      if (intr && signalPending(task)) return -ERRNO.EINTR;
      await scheduleTimeout(this.kernel.clock, task, intr, MAX_SCHEDULE_TIMEOUT, (wake) => this.waiters.subscribe(wake));
    }
  }
}
