import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DMA_RESV_USAGE_BOOKKEEP, DMA_RESV_USAGE_KERNEL, DMA_RESV_USAGE_READ, DMA_RESV_USAGE_WRITE, DmaFence, DmaResv,
  DmaResvIter, ERRNO, Kernel, WwAcquireCtx, dmaFenceArrayCreate, dmaFenceContextAlloc, dmaResvUsageName, dmaResvUsageRw,
  flushSignals, sendSignal, type DmaFenceOps, type DmaResvUsage,
} from "../src/index.js";
import { mockFence } from "./helpers/fences.js";

let k: Kernel;
beforeEach(async () => {
  k = await Kernel.boot();
});
afterEach(() => k.shutdown());

/** alloc_fence() of st-dma-resv.c: context 0, seqno 0, ops named "selftest". */
const selftestOps: DmaFenceOps = { getDriverName: () => "selftest", getTimelineName: () => "selftest" };
const allocFence = () => new DmaFence(k, selftestOps, 0, 0);

const USAGES: DmaResvUsage[] = [DMA_RESV_USAGE_KERNEL, DMA_RESV_USAGE_WRITE, DMA_RESV_USAGE_READ, DMA_RESV_USAGE_BOOKKEEP];

/** Port of drivers/dma-buf/st-dma-resv.c (KUnit suite "dma-buf-resv"), each usage-parameterised case once per usage. */
describe("st-dma-resv", () => {
  it("sanitycheck: a fence signals and is put; a resv locks with no context and unlocks", async () => {
    const f = allocFence();
    f.enableSwSignaling();
    f.signal();
    f.put();
    const resv = new DmaResv(k);
    expect(await resv.lock(null)).toBe(0);
    expect(resv.isLocked).toBe(true);
    resv.unlock();
    resv.fini();
    expect(resv.isLocked).toBe(false);
  });

  describe.each(USAGES.map((u) => [dmaResvUsageName(u), u] as const))("usage %s", (_name, usage) => {
    it("test_signaling: test_signaled(usage) is false with the fence pending, true once it signals", async () => {
      const f = allocFence();
      f.enableSwSignaling();
      const resv = new DmaResv(k);
      expect(await resv.lock(null)).toBe(0);
      expect(resv.reserveFences(1)).toBe(0);
      resv.addFence(f, usage);
      expect(resv.testSignaled(usage)).toBe(false);
      f.signal();
      expect(resv.testSignaled(usage)).toBe(true);
      resv.unlock();
      resv.fini();
      f.put();
      expect(f.refcount).toBe(0);
    });

    it("test_for_each: the locked iteration yields exactly the fence, with its usage", async () => {
      const f = allocFence();
      const resv = new DmaResv(k);
      await resv.lock(null);
      resv.reserveFences(1);
      resv.addFence(f, usage);
      const seen = [...resv.fences(usage)];
      expect(seen).toHaveLength(1);
      expect(seen[0]!.fence).toBe(f);
      expect(seen[0]!.usage).toBe(usage);
      resv.unlock();
      f.signal();
      f.put();
      resv.fini();
    });

    it("test_for_each_unlocked: a forced restart revisits the fence, both visits flagged restarted", async () => {
      const f = allocFence();
      f.enableSwSignaling();
      const resv = new DmaResv(k);
      await resv.lock(null);
      resv.reserveFences(1);
      resv.addFence(f, usage);
      resv.unlock();
      let r = -ERRNO.ENOENT;
      const cursor = new DmaResvIter(resv, usage);
      for (let g = cursor.first(); g; g = cursor.next()) {
        expect(r).not.toBe(0); // "More than one fence found"
        expect(cursor.isRestarted).toBe(true);
        expect(g).toBe(f);
        expect(cursor.fenceUsage).toBe(usage);
        if (r === -ERRNO.ENOENT) {
          r = -ERRNO.EINVAL;
          cursor.invalidate(); // "That should trigger an restart"
        } else if (r === -ERRNO.EINVAL) r = 0;
      }
      cursor.end();
      expect(r).toBe(0);
      f.signal();
      f.put();
      resv.fini();
    });

    it("test_get_fences: get_fences(usage) returns exactly the fence", async () => {
      const f = allocFence();
      f.enableSwSignaling();
      const resv = new DmaResv(k);
      await resv.lock(null);
      resv.reserveFences(1);
      resv.addFence(f, usage);
      resv.unlock();
      const fences = resv.getFences(usage);
      expect(fences).toEqual([f]);
      for (const g of fences) g.put();
      f.signal();
      f.put();
      resv.fini();
      expect(f.refcount).toBe(0);
    });
  });
});

describe("dma_resv", () => {
  const ctx = () => dmaFenceContextAlloc(k, 1);

  it("a query for usage U sees every fence with usage <= U; BOOKKEEP is never waited on implicitly", async () => {
    const resv = new DmaResv(k);
    await resv.lock(null);
    resv.reserveFences(4);
    const fs = USAGES.map((u) => {
      const f = mockFence(k, ctx(), 1);
      resv.addFence(f, u);
      f.put();
      return f;
    });
    resv.unlock();
    for (const u of USAGES) expect(resv.getFences(u).map((f) => (f.put(), f))).toEqual(fs.slice(0, u + 1));
    expect(dmaResvUsageRw(true)).toBe(DMA_RESV_USAGE_READ);
    expect(dmaResvUsageRw(false)).toBe(DMA_RESV_USAGE_WRITE);
    fs[3]!.signal();
    expect(resv.testSignaled(DMA_RESV_USAGE_READ)).toBe(false);
    for (const f of fs.slice(0, 3)) f.signal();
    expect(resv.testSignaled(DMA_RESV_USAGE_BOOKKEEP)).toBe(true);
    resv.fini();
    expect(fs.every((f) => f.refcount === 0)).toBe(true);
  });

  it("add_fence replaces an older fence of its context only when the old usage is at least as strong", async () => {
    const resv = new DmaResv(k);
    const c = ctx();
    await resv.lock(null);
    resv.reserveFences(3);
    const read1 = mockFence(k, c, 1);
    resv.addFence(read1, DMA_RESV_USAGE_READ);
    const write2 = mockFence(k, c, 2);
    resv.addFence(write2, DMA_RESV_USAGE_WRITE); // WRITE replaces the older READ of its context
    expect([...resv.fences(DMA_RESV_USAGE_BOOKKEEP)].map((e) => [e.fence, e.usage])).toEqual([[write2, DMA_RESV_USAGE_WRITE]]);
    const read3 = mockFence(k, c, 3);
    resv.addFence(read3, DMA_RESV_USAGE_READ); // a READ does not replace a WRITE
    expect([...resv.fences(DMA_RESV_USAGE_BOOKKEEP)]).toHaveLength(2);
    resv.unlock();
    for (const f of [read1, write2, read3]) f.put();
    expect(read1.refcount).toBe(0);
    resv.fini();
  });

  it("add_fence without a reserved slot is a BUG; slots do not survive an unlock (CONFIG_DEBUG_MUTEXES)", async () => {
    const resv = new DmaResv(k);
    const f = mockFence(k, ctx(), 1);
    expect(() => resv.addFence(f, DMA_RESV_USAGE_READ)).toThrow(/dma_resv_assert_held/);
    await resv.lock(null);
    expect(() => resv.addFence(f, DMA_RESV_USAGE_READ)).toThrow(/no reserved slot/);
    resv.reserveFences(2);
    resv.addFence(f, DMA_RESV_USAGE_READ);
    resv.unlock();
    await resv.lock(null);
    const g = mockFence(k, ctx(), 1);
    expect(() => resv.addFence(g, DMA_RESV_USAGE_READ)).toThrow(/no reserved slot/);
    expect(g.refcount).toBe(1);
    resv.unlock();
    expect(f.refcount).toBe(2);
    resv.fini();
    f.put();
    g.put();
  });

  it("reserve grows to max(4, pow2) then doubles, dropping signalled fences; replace_fences swaps a context", async () => {
    const resv = new DmaResv(k);
    await resv.lock(null);
    resv.reserveFences(1);
    const fs = Array.from({ length: 4 }, () => mockFence(k, ctx(), 1));
    for (const f of fs) resv.addFence(f, DMA_RESV_USAGE_READ);
    fs[0]!.signal();
    resv.reserveFences(1);
    expect([...resv.fences(DMA_RESV_USAGE_READ)].map((e) => e.fence)).toEqual(fs.slice(1));
    expect(fs[0]!.refcount).toBe(1);
    const repl = mockFence(k, ctx(), 1);
    resv.replaceFences(fs[2]!.context, repl, DMA_RESV_USAGE_BOOKKEEP);
    expect([...resv.fences(DMA_RESV_USAGE_READ)].map((e) => e.fence)).toEqual([fs[1], fs[3]]);
    expect([...resv.fences(DMA_RESV_USAGE_BOOKKEEP)].map((e) => e.fence)).toEqual([fs[1], repl, fs[3]]);
    resv.unlock();
    resv.fini();
    for (const f of [...fs, repl]) f.put();
    expect([...fs, repl].every((f) => f.refcount === 0)).toBe(true);
  });

  it("adding a container WARNs: fences go in leaf by leaf", async () => {
    const resv = new DmaResv(k);
    await resv.lock(null);
    resv.reserveFences(1);
    const arr = dmaFenceArrayCreate([mockFence(k, ctx(), 1), mockFence(k, ctx(), 1)], ctx(), 1)!;
    resv.addFence(arr, DMA_RESV_USAGE_WRITE);
    expect(k.dmesg()).toMatch(/WARN_ON\(dma_fence_is_container\(fence\)\)/);
    resv.unlock();
    resv.fini();
    arr.put();
  });

  it("wait_timeout waits for each fence in turn in virtual time: time left, 0 on timeout, 1 when idle with timeout 0 (dma-resv.c)", async () => {
    const resv = new DmaResv(k);
    await resv.lock(null);
    resv.reserveFences(2);
    const [a, b] = [mockFence(k, ctx(), 1), mockFence(k, ctx(), 1)];
    resv.addFence(a, DMA_RESV_USAGE_WRITE);
    resv.addFence(b, DMA_RESV_USAGE_READ);
    resv.unlock();
    // dma_resv_wait_timeout() starts from `timeout ?: 1`: a zero timeout still waits one jiffy on a pending fence.
    expect(await resv.waitTimeout(DMA_RESV_USAGE_READ, false, 0)).toBe(0);
    expect(k.clock.now()).toBe(1);
    k.clock.addTimer(1000, () => a.signal(), "a");
    k.clock.addTimer(3000, () => b.signal(), "b");
    expect(await resv.waitTimeout(DMA_RESV_USAGE_WRITE, false, 10_000)).toBe(9000);
    expect(await resv.waitTimeout(DMA_RESV_USAGE_READ, false, 1000)).toBe(0);
    expect(k.clock.now()).toBe(2001);
    expect(await resv.waitTimeout(DMA_RESV_USAGE_READ, false, 10_000)).toBe(9000);
    expect(await resv.waitTimeout(DMA_RESV_USAGE_READ, false, 0)).toBe(1);
    resv.fini();
    a.put();
    b.put();
  });

  it("get_singleton: null when idle, the fence itself for one, an array for several; copy_fences takes the pending ones", async () => {
    const resv = new DmaResv(k);
    expect(resv.getSingleton(DMA_RESV_USAGE_READ)).toBeNull();
    await resv.lock(null);
    resv.reserveFences(2);
    const [a, b] = [mockFence(k, ctx(), 1), mockFence(k, ctx(), 1)];
    resv.addFence(a, DMA_RESV_USAGE_WRITE);
    resv.addFence(b, DMA_RESV_USAGE_READ);
    resv.unlock();
    const one = resv.getSingleton(DMA_RESV_USAGE_WRITE);
    expect(one).toBe(a);
    one!.put();
    const both = resv.getSingleton(DMA_RESV_USAGE_READ)!;
    expect(both.driverName).toBe("dma_fence_array");
    a.signal();
    expect(both.isSignaled()).toBe(false);
    b.signal();
    expect(both.isSignaled()).toBe(true);
    both.put();
    const dst = new DmaResv(k);
    const c = mockFence(k, ctx(), 1);
    await resv.lock(null);
    resv.reserveFences(1);
    resv.addFence(c, DMA_RESV_USAGE_KERNEL);
    resv.unlock();
    await dst.lock(null);
    expect(dst.copyFences(resv)).toBe(0);
    expect([...dst.fences(DMA_RESV_USAGE_BOOKKEEP)]).toEqual([{ fence: c, usage: DMA_RESV_USAGE_KERNEL }]);
    expect(dst.describe()).toBe(`\tkernel fence:${c.context}:1 mock mock unsignalled\n`);
    dst.unlock();
    for (const r of [dst, resv]) r.fini();
    for (const f of [a, b, c]) f.put();
    expect([a, b, c].every((f) => f.refcount === 0)).toBe(true);
  });

  it("describe() lists fences up to READ as dma_resv_describe does", async () => {
    const resv = new DmaResv(k);
    await resv.lock(null);
    resv.reserveFences(3);
    const fs = [mockFence(k, 5, 1), mockFence(k, 6, 2), mockFence(k, 7, 3)];
    resv.addFence(fs[0]!, DMA_RESV_USAGE_WRITE);
    resv.addFence(fs[1]!, DMA_RESV_USAGE_READ);
    resv.addFence(fs[2]!, DMA_RESV_USAGE_BOOKKEEP);
    fs[1]!.signal();
    expect(resv.describe()).toBe("\twrite fence:5:1 mock mock unsignalled\n\tread fence:6:2   signalled\n");
    resv.unlock();
    resv.fini();
    for (const f of fs) f.put();
  });
});

/** ww_mutex acquire contexts (kernel/locking/ww_mutex.h; Documentation/locking/ww-mutex-design.rst). */
describe("dma_resv locking (ww_mutex, reservation_ww_class is wait-die)", () => {
  it("-EALREADY when the context already holds the lock; trylock fails while held", async () => {
    const resv = new DmaResv(k);
    const c = new WwAcquireCtx();
    expect(await resv.lock(c)).toBe(0);
    expect(await resv.lock(c)).toBe(-ERRNO.EALREADY);
    expect(resv.trylock()).toBe(false);
    resv.unlock();
    c.fini(k);
    expect(k.dmesg()).not.toMatch(/WARNING/);
  });

  it("two contexts locking A,B and B,A: the younger gets -EDEADLK, backs off, takes lockSlow and both finish", async () => {
    const [a, b] = [new DmaResv(k), new DmaResv(k)];
    const log: string[] = [];
    // The ww-mutex-design.rst acquire loop: on -EDEADLK unlock everything, sleep on the contended lock, retry.
    const lockAll = async (name: string, objs: DmaResv[]) => {
      const ctx = new WwAcquireCtx();
      let contended: DmaResv | null = null;
      for (;;) {
        const held: DmaResv[] = contended ? [contended] : [];
        let failed: DmaResv | null = null;
        for (const o of objs) {
          if (o === contended) continue;
          const ret = await o.lock(ctx);
          if (ret === -ERRNO.EDEADLK) {
            log.push(`${name}: EDEADLK`);
            failed = o;
            break;
          }
          expect(ret).toBe(0);
          held.push(o);
          await k.clock.sleep(10); // let the other task run between the two locks
        }
        if (!failed) break;
        for (const o of held) o.unlock();
        await failed.lockSlow(ctx);
        contended = failed;
      }
      log.push(`${name}: locked all`);
      await k.clock.sleep(100);
      for (const o of objs) o.unlock();
      ctx.fini(k);
    };
    const older = lockAll("older", [a, b]);
    const younger = lockAll("younger", [b, a]);
    await Promise.all([older, younger]);
    expect(log).toEqual(["younger: EDEADLK", "older: locked all", "younger: locked all"]);
    expect(a.isLocked || b.isLocked).toBe(false);
    expect(k.dmesg()).not.toMatch(/WARNING/);
  });

  it("an older context waits for a younger holder instead of dying; no context means a plain mutex", async () => {
    const resv = new DmaResv(k);
    const [old, young] = [new WwAcquireCtx(), new WwAcquireCtx()];
    const other = new DmaResv(k);
    await other.lock(old); // old holds something: it would die if it were the younger one
    await resv.lock(young);
    let got: number | undefined;
    const waiting = resv.lock(old).then((r) => (got = r));
    await k.clock.sleep(1000);
    expect(got).toBeUndefined();
    resv.unlock();
    await waiting;
    expect(got).toBe(0);
    expect(resv.lockObject.ctx).toBe(old);
    resv.unlock();
    other.unlock();
    expect(await resv.lock(null)).toBe(0);
    expect(resv.lockObject.ctx).toBeNull();
    resv.unlock();
  });

  it("lock_interruptible gives -EINTR when a signal arrives while sleeping", async () => {
    const resv = new DmaResv(k);
    await resv.lock(null);
    const p = k.spawn("x");
    k.current = p;
    const r = resv.lockInterruptible(null);
    k.current = undefined;
    k.clock.addTimer(500, () => sendSignal(p), "kill");
    expect(await r).toBe(-ERRNO.EINTR);
    flushSignals(p);
    resv.unlock();
    expect(resv.isLocked).toBe(false);
  });

  it("ww_acquire_fini with locks still held WARNs; lockSlow while holding WARNs", async () => {
    const [a, b] = [new DmaResv(k), new DmaResv(k)];
    const c = new WwAcquireCtx();
    await a.lock(c);
    await b.lockSlow(c);
    c.fini(k);
    expect(k.dmesg()).toMatch(/ww_mutex_lock_slow/);
    expect(k.dmesg()).toMatch(/ww_acquire_fini: DEBUG_LOCKS_WARN_ON\(ctx->acquired\): 2 lock/);
    a.unlock();
    b.unlock();
  });

  it("any number of contexts locking random subsets in random orders all finish, never holding a lock twice (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.shuffledSubarray([0, 1, 2, 3], { minLength: 1 }), { minLength: 2, maxLength: 5 }), fc.array(fc.nat(20), { minLength: 8, maxLength: 8 }), async (orders, delays) => {
        const kernel = await Kernel.boot();
        const objs = Array.from({ length: 4 }, () => new DmaResv(kernel));
        const owners = new Map<DmaResv, number>();
        let finished = 0;
        await Promise.all(
          orders.map(async (order, who) => {
            const ctx = new WwAcquireCtx();
            let contended: DmaResv | null = null;
            for (;;) {
              const held: DmaResv[] = contended ? [contended] : [];
              let failed: DmaResv | null = null;
              for (const i of order) {
                const o = objs[i]!;
                if (o === contended) continue;
                const ret = await o.lock(ctx);
                if (ret === -ERRNO.EDEADLK) {
                  failed = o;
                  break;
                }
                held.push(o);
                await kernel.clock.sleep(delays[(who + i) % 8]!);
              }
              if (!failed) break;
              for (const o of held) o.unlock();
              await failed.lockSlow(ctx);
              contended = failed;
            }
            for (const i of order) {
              expect(owners.has(objs[i]!)).toBe(false);
              owners.set(objs[i]!, who);
            }
            await kernel.clock.sleep(5);
            for (const i of order) {
              owners.delete(objs[i]!);
              objs[i]!.unlock();
            }
            ctx.fini(kernel);
            finished++;
          }),
        );
        expect(finished).toBe(orders.length);
        expect(objs.some((o) => o.isLocked)).toBe(false);
        kernel.shutdown();
      }),
      { numRuns: 60 },
    );
  });
});
