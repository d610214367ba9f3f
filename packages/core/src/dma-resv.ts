import type { DmaFence } from "./dma-fence.js";
import { dmaFenceContextAlloc, warn } from "./dma-fence.js";
import { dmaFenceArrayCreate, dmaFenceIsContainer } from "./dma-fence-array.js";
import { callAs } from "./internal/call-as.js";
import { MAX_SCHEDULE_TIMEOUT } from "./internal/schedule-timeout.js";
import type { Kernel } from "./kernel.js";
import { WwMutex, type WwAcquireCtx } from "./ww-mutex.js";

/*
 * dma_resv (drivers/dma-buf/dma-resv.c, >= 5.19 usage-based API): the fences attached to a buffer,
 * each with a usage saying who must wait for it, behind a ww_mutex.
 */

/* enum dma_resv_usage: the order matters, a query for usage U covers every fence with usage <= U. */
/** Memory management (moves, clears): everyone waits for these. */
export const DMA_RESV_USAGE_KERNEL = 0;
/** Implicit-sync writers. */
export const DMA_RESV_USAGE_WRITE = 1;
/** Implicit-sync readers. */
export const DMA_RESV_USAGE_READ = 2;
/** Never waited on implicitly (preemption fences, page-table updates). */
export const DMA_RESV_USAGE_BOOKKEEP = 3;
export type DmaResvUsage = typeof DMA_RESV_USAGE_KERNEL | typeof DMA_RESV_USAGE_WRITE | typeof DMA_RESV_USAGE_READ | typeof DMA_RESV_USAGE_BOOKKEEP;

const USAGE_NAMES = ["kernel", "write", "read", "bookkeep"] as const;

/** The usage's name as dma_resv_describe() prints it. */
export function dmaResvUsageName(usage: DmaResvUsage): string {
  return USAGE_NAMES[usage];
}

/**
 * dma_resv_usage_rw(): the fences an implicit-sync access must wait for. A writer waits for
 * readers and writers (READ); a reader only for writers (WRITE).
 */
export function dmaResvUsageRw(write: boolean): DmaResvUsage {
  return write ? DMA_RESV_USAGE_READ : DMA_RESV_USAGE_WRITE;
}

/** One slot of the fence list: the fence and its usage (the kernel packs both in one tagged pointer). */
export interface DmaResvEntry {
  fence: DmaFence;
  usage: DmaResvUsage;
}

/** struct dma_resv_list: replaced by a new list when reserve grows it (unlocked readers then restart). */
class DmaResvList {
  readonly entries: DmaResvEntry[] = [];
  constructor(readonly maxFences: number) {}
}

const roundupPowOfTwo = (n: number) => (n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n)));

/** struct dma_resv */
export class DmaResv {
  private readonly ww: WwMutex;
  /** @internal the current fence list (dma_resv_fences_list()); read by DmaResvIter. */
  list: DmaResvList | null = null;
  /** Slots usable under the current locking: reserved ones count until the unlock. */
  private reservedUpTo = 0;

  /** dma_resv_init() */
  constructor(readonly kernel: Kernel) {
    this.ww = new WwMutex(kernel);
  }

  /** The ww_mutex itself (obj->lock), for code that needs its context or state. */
  get lockObject(): WwMutex {
    return this.ww;
  }

  /** dma_resv_lock(): 0, -EDEADLK (back off: unlock all, lockSlow, retry) or -EALREADY (ctx holds it). */
  lock(ctx: WwAcquireCtx | null): Promise<number> {
    return this.ww.lock(ctx);
  }

  /** dma_resv_lock_interruptible(): as lock(), plus -EINTR. */
  lockInterruptible(ctx: WwAcquireCtx | null): Promise<number> {
    return this.ww.lockInterruptible(ctx);
  }

  /** dma_resv_lock_slow(): the back-off path; never -EDEADLK. */
  lockSlow(ctx: WwAcquireCtx): Promise<void> {
    return this.ww.lockSlow(ctx);
  }

  /** dma_resv_trylock() */
  trylock(): boolean {
    return this.ww.trylock();
  }

  /** dma_resv_is_locked() */
  get isLocked(): boolean {
    return this.ww.isLocked;
  }

  /**
   * dma_resv_unlock(). Reserved but unused slots are forgotten, as CONFIG_DEBUG_MUTEXES checks
   * (dma_resv_reset_max_fences): a slot reserved under one locking is not valid under the next.
   * Unlike that debug build, the list keeps its capacity, so the next reserve need not reallocate.
   */
  unlock(): void {
    this.reservedUpTo = this.list?.entries.length ?? 0;
    this.ww.unlock();
  }

  /** dma_resv_assert_held(): the callers' locking contract (lockdep splat in Linux, an error here). */
  assertHeld(call: string): void {
    if (!this.ww.isLocked) throw new Error(`BUG: ${call}: dma_resv_assert_held failed: the reservation lock is not held (take it with dma_resv_lock first)`);
  }

  /**
   * dma_resv_reserve_fences(): makes room for `num` more fences; the lock must be held. Growing
   * replaces the list (at least doubling; at least 4 slots) and drops signalled fences. Returns 0.
   */
  reserveFences(num: number): number {
    this.assertHeld("dma_resv_reserve_fences");
    const old = this.list;
    let max: number;
    if (old && old.maxFences) {
      if (old.entries.length + num <= old.maxFences) {
        this.reservedUpTo = old.maxFences;
        return 0;
      }
      max = Math.max(old.entries.length + num, old.maxFences * 2);
    } else max = Math.max(4, roundupPowOfTwo(num));
    const list = new DmaResvList(max);
    const dropped: DmaFence[] = [];
    for (const e of old?.entries ?? []) {
      if (e.fence.isSignaled()) dropped.push(e.fence);
      else list.entries.push(e);
    }
    this.list = list;
    this.reservedUpTo = max;
    for (const f of dropped) f.put();
    return 0;
  }

  /**
   * dma_resv_add_fence(): adds `fence` (taking a reference) with `usage`; lock held. It replaces a
   * signalled fence, or an older fence of the same context whose usage is at least as strong
   * (a WRITE fence replaces an older READ one of its context, never the reverse); otherwise it
   * takes a reserved slot. Containers must be added leaf by leaf (WARN).
   */
  addFence(fence: DmaFence, usage: DmaResvUsage): void {
    this.assertHeld("dma_resv_add_fence");
    fence.get();
    if (dmaFenceIsContainer(fence)) warn(this.kernel, "drivers/dma-buf/dma-resv.c dma_resv_add_fence", "WARN_ON(dma_fence_is_container(fence))");
    const list = this.list;
    for (const e of list?.entries ?? []) {
      const old = e.fence;
      if ((old.context === fence.context && e.usage >= usage && fence.isLaterOrSame(old)) || old.isSignaled()) {
        e.fence = fence;
        e.usage = usage;
        old.put();
        return;
      }
    }
    if (!list || list.entries.length >= Math.min(list.maxFences, this.reservedUpTo)) {
      fence.put();
      throw new Error(`BUG: dma_resv_add_fence: no reserved slot (${list?.entries.length ?? 0} fences, none reserved under this lock); call dma_resv_reserve_fences under the same lock first`);
    }
    list.entries.push({ fence, usage });
  }

  /** dma_resv_replace_fences(): every fence of `context` becomes `replacement` with `usage`; lock held. */
  replaceFences(context: number, replacement: DmaFence, usage: DmaResvUsage): void {
    this.assertHeld("dma_resv_replace_fences");
    for (const e of this.list?.entries ?? []) {
      if (e.fence.context !== context) continue;
      const old = e.fence;
      e.fence = replacement.get();
      e.usage = usage;
      old.put();
    }
  }

  /**
   * dma_resv_for_each_fence(): locked iteration over every fence with usage <= `usage`, signalled
   * ones included, without references.
   */
  *fences(usage: DmaResvUsage): Generator<Readonly<DmaResvEntry>, void, undefined> {
    this.assertHeld("dma_resv_for_each_fence");
    for (const e of this.list?.entries ?? []) if (e.usage <= usage) yield e;
  }

  /** dma_resv_get_fences(): references to the unsignalled fences with usage <= `usage`. */
  getFences(usage: DmaResvUsage): DmaFence[] {
    const out: DmaFence[] = [];
    const cursor = new DmaResvIter(this, usage);
    for (let f = cursor.first(); f; f = cursor.next()) {
      if (cursor.isRestarted) for (const g of out.splice(0)) g.put();
      out.push(f.get());
    }
    cursor.end();
    return out;
  }

  /**
   * dma_resv_get_singleton(): one fence for all unsignalled fences with usage <= `usage`: null when
   * there are none, the fence itself when one, else a new dma_fence_array.
   */
  getSingleton(usage: DmaResvUsage): DmaFence | null {
    const fences = this.getFences(usage);
    if (fences.length <= 1) return fences[0] ?? null;
    return dmaFenceArrayCreate(fences, dmaFenceContextAlloc(this.kernel, 1), 1, false);
  }

  /**
   * dma_resv_wait_timeout(): waits for every fence with usage <= `usage`. Returns the time left
   * (> 0; 1 for a zero timeout when all have signalled), 0 on timeout, or -ERESTARTSYS. As in Linux
   * (`ret = timeout ?: 1`), a zero timeout still sleeps one jiffy (1 ns here) on a pending fence.
   */
  async waitTimeout(usage: DmaResvUsage, intr: boolean, timeout: number = MAX_SCHEDULE_TIMEOUT): Promise<number> {
    let ret = timeout || 1;
    const task = this.kernel.current;
    const cursor = new DmaResvIter(this, usage);
    try {
      for (let f = cursor.first(); f; f = cursor.next()) {
        const fence = f;
        const left = ret;
        ret = await callAs(this.kernel, task, () => fence.waitTimeout(intr, left));
        if (ret <= 0) return ret;
      }
      return ret;
    } finally {
      cursor.end();
    }
  }

  /** dma_resv_test_signaled(): true when no fence with usage <= `usage` is pending. */
  testSignaled(usage: DmaResvUsage): boolean {
    const cursor = new DmaResvIter(this, usage);
    const pending = cursor.first() !== null;
    cursor.end();
    return !pending;
  }

  /** dma_resv_set_deadline(): passes the hint to every pending fence with usage <= `usage`. */
  setDeadline(usage: DmaResvUsage, deadlineNs: number): void {
    const cursor = new DmaResvIter(this, usage);
    for (let f = cursor.first(); f; f = cursor.next()) f.setDeadline(deadlineNs);
    cursor.end();
  }

  /** dma_resv_copy_fences(): replaces this object's fences by the pending fences of `src`; this lock held. */
  copyFences(src: DmaResv): number {
    this.assertHeld("dma_resv_copy_fences");
    let entries: DmaResvEntry[] = [];
    const cursor = new DmaResvIter(src, DMA_RESV_USAGE_BOOKKEEP);
    for (let f = cursor.first(); f; f = cursor.next()) {
      if (cursor.isRestarted) {
        for (const e of entries) e.fence.put();
        entries = [];
      }
      entries.push({ fence: f.get(), usage: cursor.fenceUsage });
    }
    cursor.end();
    const list = new DmaResvList(entries.length);
    list.entries.push(...entries);
    const old = this.list;
    this.list = list;
    this.reservedUpTo = list.entries.length;
    for (const e of old?.entries ?? []) e.fence.put();
    return 0;
  }

  /** True when any fence (of any usage) is attached. */
  get hasFences(): boolean {
    return this.list !== null && this.list.entries.length > 0;
  }

  /** dma_resv_describe(): the fence lines of debugfs bufinfo (usage <= READ), lock held. */
  describe(): string {
    let out = "";
    for (const e of this.fences(DMA_RESV_USAGE_READ)) out += `\t${USAGE_NAMES[e.usage]} fence:${e.fence.describe()}`;
    return out;
  }

  /** dma_resv_fini(): drops every fence. */
  fini(): void {
    const old = this.list;
    this.list = null;
    for (const e of old?.entries ?? []) e.fence.put();
  }
}

/**
 * struct dma_resv_iter used unlocked (dma_resv_iter_begin / dma_resv_for_each_fence_unlocked /
 * dma_resv_iter_end): visits the unsignalled fences with usage <= `usage`, holding a reference to
 * the current one, and restarts from the beginning when the fence list is replaced underneath it
 * (`isRestarted` is true for the first fence after each (re)start).
 */
export class DmaResvIter {
  /** The current fence (with a reference held by the cursor), or null. */
  fence: DmaFence | null = null;
  /** dma_resv_iter_usage(): the current fence's usage. */
  fenceUsage: DmaResvUsage = DMA_RESV_USAGE_KERNEL;
  /** dma_resv_iter_is_restarted() */
  isRestarted = false;
  private fencesList: DmaResvList | null = null;
  private index = 0;
  private numFences = 0;

  /** dma_resv_iter_begin() */
  constructor(
    readonly obj: DmaResv,
    readonly usage: DmaResvUsage,
  ) {}

  /** dma_resv_iter_first_unlocked() */
  first(): DmaFence | null {
    do {
      this.restart();
      this.walk();
    } while (this.obj.list !== this.fencesList);
    return this.fence;
  }

  /** dma_resv_iter_next_unlocked() */
  next(): DmaFence | null {
    this.isRestarted = false;
    let restart = this.obj.list !== this.fencesList;
    do {
      if (restart) this.restart();
      this.walk();
      restart = true;
    } while (this.obj.list !== this.fencesList);
    return this.fence;
  }

  /** dma_resv_iter_end(): drops the reference to the current fence. */
  end(): void {
    this.fence?.put();
    this.fence = null;
  }

  /**
   * Test hook for st-dma-resv's test_for_each_unlocked, which corrupts `cursor.fences` to force a
   * restart: the next step starts over as if the list had been replaced.
   */
  invalidate(): void {
    this.fencesList = new DmaResvList(0);
  }

  private restart(): void {
    this.fencesList = this.obj.list;
    this.index = 0;
    this.numFences = this.fencesList?.entries.length ?? 0;
    this.isRestarted = true;
  }

  private walk(): void {
    for (;;) {
      this.fence?.put();
      if (this.index >= this.numFences) {
        this.fence = null;
        return;
      }
      const e = this.fencesList!.entries[this.index++]!;
      this.fence = e.fence.get();
      this.fenceUsage = e.usage;
      if (!this.fence.isSignaled() && this.usage >= e.usage) return;
    }
  }
}
