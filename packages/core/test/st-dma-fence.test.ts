import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DmaFence, ERRNO, Kernel, MAX_SCHEDULE_TIMEOUT, NSEC_PER_SEC, dmaFenceAllocatePrivateStub, dmaFenceContextAlloc,
  dmaFenceGetStub, dmaFenceWaitAnyTimeout, flushSignals, leakCheck, sendSignal, seqnoIsLater, WaitQueue, type DmaFenceCb, type DmaFenceOps,
} from "../src/index.js";
import { below, mockFence, mockOps, prng } from "./helpers/fences.js";

/** One jiffy at HZ=250, in ns of virtual time. */
const JIFFY = 4_000_000;
const HZ = 250 * JIFFY;

let k: Kernel;
beforeEach(async () => {
  k = await Kernel.boot();
});
afterEach(() => k.shutdown());

/** Port of drivers/dma-buf/st-dma-fence.c (KUnit suite "dma-buf-fence", classic dma_fence()). */
describe("st-dma-fence", () => {
  it("sanitycheck: a mock fence can be enabled, signalled and released", () => {
    const f = mockFence(k);
    f.enableSwSignaling();
    expect(f.signal()).toBe(0);
    f.put();
    expect(f.refcount).toBe(0);
    expect(k.trace.events("dma_fence_destroy")).toHaveLength(1);
  });

  it("test_signaling: signal returns 0 once, then -EINVAL (6.x); is_signaled follows; check_and_signal reports the second", () => {
    const f = mockFence(k);
    f.enableSwSignaling();
    expect(f.isSignaled()).toBe(false);
    expect(f.signal()).toBe(0);
    expect(f.isSignaled()).toBe(true);
    expect(f.signaledFlag).toBe(true);
    expect(f.signal()).toBe(-ERRNO.EINVAL);
    // KUnit flavour (newest kernels): dma_fence_check_and_signal() returns "was already signalled".
    const g = mockFence(k);
    expect(g.checkAndSignal()).toBe(false);
    expect(g.checkAndSignal()).toBe(true);
    f.put();
    g.put();
  });

  it("test_add_callback: a callback added to a pending fence runs at signal", () => {
    const f = mockFence(k);
    let seen = false;
    expect(f.addCallback({}, () => (seen = true))).toBe(0);
    f.signal();
    expect(seen).toBe(true);
    f.put();
  });

  it("test_late_add_callback: adding to a signalled fence fails with -ENOENT and never runs", () => {
    const f = mockFence(k);
    f.enableSwSignaling();
    f.signal();
    let seen = false;
    expect(f.addCallback({}, () => (seen = true))).toBe(-ERRNO.ENOENT);
    f.signal();
    expect(seen).toBe(false);
    f.put();
  });

  it("test_rm_callback: a removed callback does not run", () => {
    const f = mockFence(k);
    const cb: DmaFenceCb = {};
    let seen = false;
    expect(f.addCallback(cb, () => (seen = true))).toBe(0);
    expect(f.removeCallback(cb)).toBe(true);
    f.signal();
    expect(seen).toBe(false);
    f.put();
  });

  it("test_late_rm_callback: removing a callback that already ran returns false", () => {
    const f = mockFence(k);
    const cb: DmaFenceCb = {};
    let seen = false;
    expect(f.addCallback(cb, () => (seen = true))).toBe(0);
    f.signal();
    expect(seen).toBe(true);
    expect(f.removeCallback(cb)).toBe(false);
    f.put();
  });

  it("test_status: get_status is 0 while pending and 1 once signalled", () => {
    const f = mockFence(k);
    f.enableSwSignaling();
    expect(f.getStatus()).toBe(0);
    f.signal();
    expect(f.getStatus()).toBe(1);
    f.put();
  });

  it("test_error: an error set before signal shows in get_status only after the signal", () => {
    const f = mockFence(k);
    f.enableSwSignaling();
    f.setError(-ERRNO.EIO);
    expect(f.getStatus()).toBe(0);
    f.signal();
    expect(f.getStatus()).toBe(-ERRNO.EIO);
    f.put();
  });

  it("test_wait (KUnit): wait_timeout(0) is 0 before the signal and 1 after, without sleeping", async () => {
    const f = mockFence(k);
    f.enableSwSignaling();
    expect(await f.waitTimeout(false, 0)).toBe(0);
    f.signal();
    expect(await f.waitTimeout(false, 0)).toBe(1);
    expect(k.clock.now()).toBe(0);
    f.put();
  });

  it("test_wait / test_wait_timeout (classic 6.x harness): a mock .wait gives -ETIME on timeout and the time left when done", async () => {
    // mock_wait() of the classic st-dma-fence.c: a driver-supplied wait that reports -ETIME.
    const classic: DmaFenceOps = {
      ...mockOps,
      async wait(f, _intr, timeout) {
        const wq = new WaitQueue();
        const cb: DmaFenceCb = {};
        if (f.addCallback(cb, () => wq.wake())) return timeout;
        const start = k.clock.now();
        if (timeout) await wq.waitEvent(k.clock, () => f.signaledFlag, timeout);
        const left = Math.max(0, timeout - (k.clock.now() - start));
        return f.removeCallback(cb) ? -ERRNO.ETIME : left;
      },
    };
    const f = new DmaFence(k, classic, 0, 0);
    f.enableSwSignaling();
    expect(await f.waitTimeout(false, 0)).toBe(-ERRNO.ETIME);
    f.signal();
    expect(await f.waitTimeout(false, 0)).toBe(0);
    const g = new DmaFence(k, classic, 0, 0);
    expect(await g.waitTimeout(false, 1)).toBe(-ERRNO.ETIME);
    k.clock.addTimer(JIFFY, () => g.signal(), "wait_timer");
    expect(await g.waitTimeout(false, 2 * JIFFY)).not.toBe(-ERRNO.ETIME);
    f.put();
    g.put();
  });

  it("test_wait_timeout: 1 jiffy passes unsignalled (0), then a timer signals within HZ (non-zero)", async () => {
    const f = mockFence(k);
    f.enableSwSignaling();
    expect(await f.waitTimeout(false, JIFFY)).toBe(0);
    expect(k.clock.now()).toBe(JIFFY);
    k.clock.addTimer(JIFFY, () => f.signal(), "wait_timer");
    const left = await f.waitTimeout(false, HZ);
    expect(left).toBe(HZ - JIFFY);
    expect(k.clock.now()).toBe(2 * JIFFY);
    f.put();
  });

  it("test_stub: dma_fence_get_stub() always returns a signalled fence", () => {
    const stubs = Array.from({ length: 64 }, () => dmaFenceGetStub(k));
    for (const s of stubs) expect(s.isSignaled()).toBe(true);
    expect(new Set(stubs).size).toBe(1);
    expect(stubs[0]!.context).toBe(0);
    expect(stubs[0]!.driverName).toBe("stub");
    for (const s of stubs) s.put();
    expect(stubs[0]!.refcount).toBe(1);
  });

  it("race_signal_callback: under random interleavings of two actors, every added callback runs exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.boolean(), async (seed, before) => {
        const kernel = await Kernel.boot();
        const rnd = prng(seed);
        const slots: (DmaFence | null)[] = [null, null];
        let stop = false;
        kernel.clock.addTimer(50_000, () => (stop = true), "kthread_stop");
        const yieldRandom = () => kernel.clock.sleep(below(rnd, 4) * 1000);
        let passes = 0;
        const thread = async (me: number) => {
          while (!stop) {
            const f1 = mockFence(kernel);
            f1.enableSwSignaling();
            slots[me] = f1;
            await yieldRandom();
            let f2: DmaFence | null = null;
            while (!(f2 = slots[1 - me]?.get() ?? null) && !stop) await yieldRandom();
            if (before) f1.signal();
            let runs = 0;
            let seen = false;
            const added = !!f2 && f2.addCallback({}, () => ((seen = true), runs++)) === 0;
            if (!added) seen = true; // a miss: the peer's fence had already signalled
            else await yieldRandom();
            if (!before) f1.signal();
            if (!seen) expect(await f2!.wait(false)).toBe(0);
            expect(seen).toBe(true);
            expect(runs).toBe(added ? 1 : 0);
            f2?.put();
            slots[me] = null;
            f1.put();
            passes++;
            await yieldRandom();
          }
        };
        await Promise.all([thread(0), thread(1)]);
        expect(passes).toBeGreaterThan(2);
        kernel.shutdown();
      }),
      { numRuns: 25 },
    );
  });
});

/** Behaviour of drivers/dma-buf/dma-fence.c beyond the self-tests. */
describe("dma_fence core", () => {
  it("callbacks run in the order they were added (list_add_tail), each once", () => {
    const f = mockFence(k);
    const order: number[] = [];
    for (let i = 0; i < 5; i++) f.addCallback({}, () => order.push(i));
    f.signal();
    f.signal();
    expect(order).toEqual([0, 1, 2, 3, 4]);
    f.put();
  });

  it("enable_signaling returning false signals the fence at once (add_callback then gives -ENOENT)", () => {
    const f = new DmaFence(k, { ...mockOps, enableSignaling: () => false }, 0, 0);
    expect(f.addCallback({}, () => {})).toBe(-ERRNO.ENOENT);
    expect(f.signaledFlag).toBe(true);
    f.put();
  });

  it("the .signaled peek makes is_signaled signal the fence (dma_fence_is_signaled)", () => {
    let done = false;
    const f = new DmaFence(k, { ...mockOps, signaled: () => done }, 0, 0);
    expect(f.isSignaled()).toBe(false);
    done = true;
    expect(f.signaledFlag).toBe(false);
    expect(f.isSignaled()).toBe(true);
    expect(f.signaledFlag).toBe(true);
    f.put();
  });

  it("an interruptible wait returns -ERESTARTSYS when a signal arrives; an uninterruptible one keeps waiting", async () => {
    const p = k.spawn("waiter");
    const f = mockFence(k);
    k.current = p;
    const intr = f.waitTimeout(true, MAX_SCHEDULE_TIMEOUT);
    const unintr = f.waitTimeout(false, NSEC_PER_SEC);
    k.current = undefined;
    k.clock.addTimer(1000, () => sendSignal(p), "kill");
    expect(await intr).toBe(-ERRNO.ERESTARTSYS);
    expect(k.clock.now()).toBe(1000);
    k.clock.addTimer(1000, () => f.signal(), "irq");
    expect(await unintr).toBe(NSEC_PER_SEC - 2000);
    // A signal already pending fails an interruptible wait before it sleeps.
    const g = mockFence(k);
    k.current = p;
    const again = g.wait(true);
    k.current = undefined;
    expect(await again).toBe(-ERRNO.ERESTARTSYS);
    flushSignals(p);
    f.put();
    g.put();
  });

  it("wait_timeout with a negative timeout is -EINVAL with a WARN", async () => {
    const f = mockFence(k);
    expect(await f.waitTimeout(false, -1)).toBe(-ERRNO.EINVAL);
    expect(k.dmesg()).toMatch(/WARNING: .*dma_fence_wait_timeout: WARN_ON\(timeout < 0\)/);
    f.put();
  });

  it("is_later compares the low 32 bits wrap-aware; 64-bit ops compare whole seqnos", () => {
    expect(seqnoIsLater(1, 0)).toBe(true);
    expect(seqnoIsLater(0, 0xffffffff)).toBe(true); // 0 comes after 2^32-1 on a wrapping timeline
    expect(seqnoIsLater(0x80000000, 0)).toBe(false); // half the range away is "earlier"
    expect(seqnoIsLater(0x1_0000_0000, 5)).toBe(false);
    expect(seqnoIsLater(0x1_0000_0000, 5, true)).toBe(true);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 0x7fffffff }), (a, d) => {
        expect(seqnoIsLater((a + d) % 2 ** 32, a)).toBe(true);
        expect(seqnoIsLater(a, (a + d) % 2 ** 32)).toBe(false);
      }),
      { numRuns: 200 },
    );
    const ctx = dmaFenceContextAlloc(k, 1);
    const [a, b, c] = [mockFence(k, ctx, 0xfffffffe), mockFence(k, ctx, 1), mockFence(k, ctx + 1, 0)];
    expect(b.isLater(a)).toBe(true);
    expect(a.isLaterOrSame(a)).toBe(true);
    expect(a.isLater(c)).toBe(false);
    expect(k.dmesg()).toMatch(/WARN_ON\(f1->context != f2->context\)/);
    for (const f of [a, b, c]) f.put();
  });

  it("wait_any_timeout returns when the first of several fences signals, with its index (dma_fence_wait_any_timeout)", async () => {
    const fs = [mockFence(k, 1, 1), mockFence(k, 2, 1), mockFence(k, 3, 1)];
    expect(await dmaFenceWaitAnyTimeout(fs, false, 0)).toEqual({ ret: 0 });
    expect(await dmaFenceWaitAnyTimeout(fs, false, 1000)).toEqual({ ret: 0 });
    k.clock.addTimer(500, () => fs[2]!.signal(), "irq");
    expect(await dmaFenceWaitAnyTimeout(fs, false, 10_000)).toEqual({ ret: 9500, idx: 2 });
    expect(await dmaFenceWaitAnyTimeout(fs, false, 0)).toEqual({ ret: 1, idx: 2 });
    expect(await dmaFenceWaitAnyTimeout(fs, false, 10_000)).toEqual({ ret: 10_000, idx: 2 });
    expect(await dmaFenceWaitAnyTimeout([], false, 1)).toEqual({ ret: -ERRNO.EINVAL });
    // every callback was removed again: nothing is left queued on the pending fences
    fs[0]!.put();
    expect(k.dmesg()).not.toMatch(/pending signals/);
    for (const f of fs.slice(1)) f.put();
  });

  it("live fences are kernel objects for the leak checker until their last put; the stub never is", () => {
    const f = mockFence(k, 4, 2);
    dmaFenceGetStub(k).put();
    expect(leakCheck(k).text).toMatch(/^fence: mock:mock 4:2 unsignalled, 1 reference\(s\) \(created by kernel dma_fence_init at 0\.000000s\)$/m);
    expect(leakCheck(k).counts.fence).toBe(1);
    f.put();
    expect(leakCheck(k).counts.fence).toBeUndefined();
  });

  it("contexts are allocated consecutively from 1 per kernel (0 is the stub's)", async () => {
    const other = await Kernel.boot();
    expect(dmaFenceContextAlloc(k, 3)).toBe(1);
    expect(dmaFenceContextAlloc(k, 1)).toBe(4);
    expect(dmaFenceContextAlloc(other, 1)).toBe(1);
    other.shutdown();
  });

  it("releasing a fence with pending callbacks WARNs, signals it with -EDEADLK and runs them (dma_fence_release)", () => {
    const f = mockFence(k);
    let status = 0;
    f.addCallback({}, (fence) => (status = fence.getStatus()));
    f.put();
    expect(status).toBe(-ERRNO.EDEADLK);
    expect(k.dmesg()).toMatch(/released with pending signals!/);
    expect(() => f.get()).toThrow(/use-after-free/);
    expect(() => f.put()).toThrow(/underflow/);
  });

  it("set_deadline reaches the driver only while the fence is pending", () => {
    const seen: number[] = [];
    const f = new DmaFence(k, { ...mockOps, setDeadline: (_f, d) => seen.push(d) }, 0, 0);
    f.setDeadline(16_000_000);
    f.signal();
    f.setDeadline(8_000_000);
    expect(seen).toEqual([16_000_000]);
    f.put();
  });

  it("a private stub is signalled at the given timestamp on its own context", () => {
    const s = dmaFenceAllocatePrivateStub(k, 1234);
    expect(s.isSignaled()).toBe(true);
    expect(s.timestampNs).toBe(1234);
    expect(s.context).toBeGreaterThan(0);
    s.put();
  });

  it("set_error after signal or with a non-errno WARNs (include/linux/dma-fence.h)", () => {
    const f = mockFence(k);
    f.setError(5);
    f.signal();
    f.setError(-ERRNO.EIO);
    expect(k.dmesg().match(/WARNING/g)).toHaveLength(2);
    f.put();
  });

  it("describe() prints context:seqno, names and (un)signalled as dma_fence_describe does", () => {
    const f = mockFence(k, 7, 3);
    expect(f.describe()).toBe("7:3 mock mock unsignalled\n");
    f.signal();
    expect(f.describe()).toBe("7:3   signalled\n");
    f.put();
  });

  it("emits dma_fence_* tracepoints with driver, timeline, context, seqno and a per-timeline Perfetto track", async () => {
    const f = mockFence(k, 9, 1);
    f.traceEmit();
    const p = k.spawn("gl");
    k.current = p;
    const w = f.wait(false);
    k.current = undefined;
    k.clock.addTimer(5000, () => f.signal(), "irq");
    await w;
    f.put();
    const evs = k.trace.events((r) => r.event.startsWith("dma_fence_"));
    expect(evs.map((e) => e.event)).toEqual([
      "dma_fence_init", "dma_fence_emit", "dma_fence_wait_start", "dma_fence_signaled", "dma_fence_wait_end", "dma_fence_destroy",
    ]);
    expect(evs[0]!.args).toEqual({ driver: "mock", timeline: "mock", context: 9, seqno: 1 });
    expect(evs[2]!.comm).toBe("gl");
    expect(evs[4]!.pid).toBe(p.pid);
    expect(k.trace.ftrace()).toContain("dma_fence_signaled: driver=mock timeline=mock context=9 seqno=1");
    const span = k.trace.events((r) => r.track !== undefined);
    expect(span).toEqual([expect.objectContaining({ track: "fence:mock:mock", event: "9:1", ts: 0, dur: 5000 })]);
  });
});
