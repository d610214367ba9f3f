import { describe, expect, it } from "vitest";
import { IOVA_MAG_SIZE, IovaDomain } from "../src/index.js";

const LIMIT32 = 2 ** 20 - 1; // last 4 KiB granule below 4 GiB

describe("IOVA allocator (drivers/iommu/iova.c)", () => {
  it("M6: allocates top-down from the limit", () => {
    const d = new IovaDomain(4096, 1);
    expect(d.allocIovaFast(1, LIMIT32)).toBe(LIMIT32);
    expect(d.allocIovaFast(1, LIMIT32)).toBe(LIMIT32 - 1);
    expect(d.allocIovaFast(2, LIMIT32)).toBe(LIMIT32 - 3);
  });

  it("M6: aligns to the next power of two of the size (alloc_iova_fast rounds sizes below 32 granules)", () => {
    const d = new IovaDomain(4096, 1);
    d.allocIovaFast(1, LIMIT32);
    const a = d.allocIovaFast(3, LIMIT32); // rounded to 4, aligned to 4
    expect(a % 4).toBe(0);
    expect(d.findIova(a)).toEqual({ pfnLo: a, pfnHi: a + 3 });
    const b = d.allocIovaFast(40, LIMIT32); // not rounded, but aligned to 64
    expect(b % 64).toBe(0);
    expect(d.findIova(b)!.pfnHi - b + 1).toBe(40);
    expect(b + 40).toBeLessThanOrEqual(a);
  });

  it("M6: stays below the device's mask (limit_pfn)", () => {
    const d = new IovaDomain(4096, 1);
    const limit = 2 ** 16 - 1; // a 28-bit mask
    const a = d.allocIovaFast(16, limit);
    expect(a).toBe(2 ** 16 - 16);
    expect(d.allocIovaFast(2 ** 16, limit)).toBe(0); // cannot fit at all
  });

  it("M6: a freed range comes back first from the range cache (rcache reuse)", () => {
    const d = new IovaDomain(4096, 1);
    const a = d.allocIovaFast(8, LIMIT32);
    const b = d.allocIovaFast(8, LIMIT32);
    d.freeIovaFast(a, 8);
    expect(d.allocIovaFast(8, LIMIT32)).toBe(a);
    d.freeIovaFast(b, 8);
    d.freeIovaFast(a, 8);
    expect(d.allocIovaFast(8, LIMIT32)).toBe(a); // LIFO magazine
    expect(d.ranges.length).toBe(2); // cached ranges stay allocated in the tree
  });

  it("M6: a gap left by free_iova is found again by the top-down walk from the cached node", () => {
    const d = new IovaDomain(4096, 1);
    const a = d.allocIova(64, LIMIT32, true)!;
    const b = d.allocIova(64, LIMIT32, true)!;
    const c = d.allocIova(64, LIMIT32, true)!;
    expect([a.pfnLo, b.pfnLo, c.pfnLo]).toEqual([LIMIT32 + 1 - 64, LIMIT32 + 1 - 128, LIMIT32 + 1 - 192]);
    expect(d.freeIova(b.pfnLo)).toBe(true);
    expect(d.allocIova(64, LIMIT32, true)!.pfnLo).toBe(b.pfnLo);
    expect(d.freeIova(12345)).toBe(false);
  });

  it("M6: exhaustion fails (after flushing the caches once), and a 32-bit failure fails fast until a free", () => {
    const d = new IovaDomain(4096, 1);
    const limit = 63; // 63 usable granules (pfn 0 is below start_pfn)
    const got: number[] = [];
    for (let p = d.allocIovaFast(1, limit); p; p = d.allocIovaFast(1, limit)) got.push(p);
    expect(got.length).toBe(63);
    expect(Math.min(...got)).toBe(1);
    d.freeIovaFast(got[0]!, 1); // into the cache
    expect(d.allocIovaFast(1, limit)).toBe(got[0]);
    d.freeIovaFast(got[1]!, 1);
    expect(d.allocIovaFast(2, limit)).toBe(0); // the tree has no room even after the flush
    expect(d.allocIovaFast(1, limit)).toBe(got[1]); // flushed to the tree: found by the walk
  });

  it("keeps at most two magazines plus the depot per size; overflow goes back to the tree", () => {
    const d = new IovaDomain(4096, 1);
    const n = IOVA_MAG_SIZE * 2 + 10;
    const got = Array.from({ length: n }, () => d.allocIovaFast(1, LIMIT32));
    got.forEach((p) => d.freeIovaFast(p, 1));
    expect(d.ranges.length).toBe(n); // all cached (depot took the full magazine)
    d.flushRcaches();
    expect(d.ranges.length).toBe(0);
  });
});
