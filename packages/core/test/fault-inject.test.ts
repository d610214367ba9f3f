/**
 * Fault injection (lib/fault-inject.c, Documentation/fault-injection/fault-injection.rst): the
 * fault_attr semantics (probability, interval, times, space), its debugfs files, the board's
 * `faults` section, and the core fault point fail_dma_fence (dma_fence_set_error before signal).
 */
import { describe, expect, it } from "vitest";
import {
  BoardError, DmaFence, ERRNO, Kernel, assertNoLeaks, dmaFenceContextAlloc, parseBoard,
  type DmaFenceOps,
} from "../src/index.js";
import { createFence, fileInfo, syncFenceWait, timelineCreate, timelineInc } from "./helpers/sync.js";

const board = { memory: { size: "64M" } };
const calls = (k: Kernel, n: number) => Array.from({ length: n }, () => k.faults.shouldFail("fail_page_alloc"));

describe("fault_attr (should_fail_ex in lib/fault-inject.c)", () => {
  it("nothing fails by default (probability 0)", async () => {
    const k = await Kernel.boot({ board });
    expect(calls(k, 50).some(Boolean)).toBe(false);
    assertNoLeaks(k);
  });

  it("interval N, times 1, probability 100 fails exactly the Nth call; dmesg says FAULT_INJECTION", async () => {
    const k = await Kernel.boot({ board });
    k.faults.configure("fail_page_alloc", { probability: 100, interval: 3, times: 1 });
    expect(calls(k, 7)).toEqual([false, false, true, false, false, false, false]);
    expect(k.faults.failures("fail_page_alloc")).toBe(1);
    expect(k.faults.attr("fail_page_alloc").times).toBe(0);
    expect(k.dmesg()).toContain("FAULT_INJECTION: forcing a failure.");
    expect(k.dmesg()).toContain("name fail_page_alloc, interval 3, probability 100, space 0, times 0");
    assertNoLeaks(k);
  });

  it("times -1 never runs out; space lets that many bytes through first", async () => {
    const k = await Kernel.boot({ board });
    k.faults.configure("fail_page_alloc", { probability: 100, times: -1, space: 3, verbose: 0 });
    expect(calls(k, 5)).toEqual([false, false, true, true, true]);
    expect(k.dmesg()).not.toContain("FAULT_INJECTION");
    assertNoLeaks(k);
  });

  it("a probability draws from a seeded PRNG: the same seed fails the same calls, about probability % of them", async () => {
    const run = async (seed: number) => {
      const k = await Kernel.boot({ board });
      k.faults.configure("fail_page_alloc", { probability: 30, times: -1, seed, verbose: 0 });
      const r = calls(k, 1000);
      assertNoLeaks(k);
      return r;
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    expect(await run(8)).not.toEqual(a);
    const rate = a.filter(Boolean).length / a.length;
    expect(rate).toBeGreaterThan(0.25);
    expect(rate).toBeLessThan(0.35);
  });

  it("match limits a point to the listed subjects (a device or fence driver name)", async () => {
    const k = await Kernel.boot({ board });
    k.faults.configure("fail_device_stall", { probability: 100, times: -1, match: ["vkms.0"], verbose: 0 });
    expect(k.faults.shouldFail("fail_device_stall", "vivid.0")).toBe(false);
    expect(k.faults.shouldFail("fail_device_stall")).toBe(false);
    expect(k.faults.shouldFail("fail_device_stall", "vkms.0")).toBe(true);
    assertNoLeaks(k);
  });

  it("debugfs: /sys/kernel/debug/<point>/{probability,interval,times,space,verbose} read and write the attributes; bad values are EINVAL", async () => {
    const k = await Kernel.boot({ board });
    const p = k.spawn("sh");
    expect(p.readdir("/sys/kernel/debug/fail_page_alloc").sort()).toEqual(["failures", "interval", "probability", "space", "times", "verbose"]);
    await p.writeFile("/sys/kernel/debug/fail_page_alloc/probability", "100\n");
    await p.writeFile("/sys/kernel/debug/fail_page_alloc/interval", "2");
    expect(await p.readFile("/sys/kernel/debug/fail_page_alloc/probability")).toBe("100\n");
    expect(calls(k, 2)).toEqual([false, true]);
    expect(await p.readFile("/sys/kernel/debug/fail_page_alloc/failures")).toBe("1\n");
    await expect(p.writeFile("/sys/kernel/debug/fail_page_alloc/probability", "101")).rejects.toMatchObject({ code: "EINVAL" });
    await expect(p.writeFile("/sys/kernel/debug/fail_page_alloc/times", "often")).rejects.toMatchObject({ code: "EINVAL" });
    expect(k.faults.attr("fail_page_alloc").probability).toBe(100);
    assertNoLeaks(k);
  });

  it("the board's faults section is validated and armed once boot is done", async () => {
    expect(() => parseBoard({ ...board, faults: { fail_everything: { probability: 1 } } } as never)).toThrow(BoardError);
    expect(() => parseBoard({ ...board, faults: { fail_page_alloc: { probability: 200 } } })).toThrow(/faults\.fail_page_alloc\.probability/);
    const k = await Kernel.boot({ board: { ...board, faults: { fail_page_alloc: { probability: 100, interval: 2, times: 1 } } } });
    expect(calls(k, 3)).toEqual([false, true, false]);
    assertNoLeaks(k);
  });
});

describe("fail_dma_fence: a fence signalled with an error (dma_fence_set_error before dma_fence_signal)", () => {
  it("sw_sync: the sync_file reports status -EIO, poll still wakes (signalled), and nothing leaks", async () => {
    const k = await Kernel.boot({ board });
    const p = k.spawn("app");
    const tl = timelineCreate(p);
    const fd = await createFence(p, tl, 1);
    k.faults.configure("fail_dma_fence", { probability: 100, times: 1, match: ["sw_sync"] });
    await timelineInc(p, tl, 1);
    expect(await syncFenceWait(p, fd, 0)).toBe(0);
    const info = await fileInfo(p, fd);
    expect(info.status).toBe(-ERRNO.EIO);
    expect(info.sync_fence_info[0]!.status).toBe(-ERRNO.EIO);
    expect(k.dmesg()).toContain("name fail_dma_fence");
    // times ran out: the next point signals cleanly
    const fd2 = await createFence(p, tl, 2);
    await timelineInc(p, tl, 1);
    expect((await fileInfo(p, fd2)).status).toBe(1);
    assertNoLeaks(k);
  });

  it("a fence that already carries an error keeps it; the point only matches its fence driver", async () => {
    const k = await Kernel.boot({ board });
    const ops: DmaFenceOps = { getDriverName: () => "gpu", getTimelineName: () => "ring0" };
    k.faults.configure("fail_dma_fence", { probability: 100, times: -1, match: ["gpu"], verbose: 0 });
    const ctx = dmaFenceContextAlloc(k, 1);
    const a = new DmaFence(k, ops, ctx, 1);
    a.setError(-ERRNO.ETIMEDOUT);
    a.signal();
    expect(a.getStatus()).toBe(-ERRNO.ETIMEDOUT);
    const b = new DmaFence(k, ops, ctx, 2);
    b.signal();
    expect(b.getStatus()).toBe(-ERRNO.EIO);
    a.put();
    b.put();
    assertNoLeaks(k);
  });
});
