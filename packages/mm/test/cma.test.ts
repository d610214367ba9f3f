import { describe, expect, it } from "vitest";
import { MAX_PAGE_ORDER, type Cma, type MemoryManager, type MovablePages } from "../src/index.js";
import { bootMm, freeState, pattern, sameBytes } from "./support/boot.js";

/** A board whose CMA area starts at pfn 0x40400: 4 MiB aligned but not 8 MiB aligned. */
const board = (extra: object = {}) => ({
  memory: [{ base: "0x40000000", size: "64M" }],
  reservedMemory: [{ name: "cam-cma", size: "16M", base: "0x40400000", default: true, ...extra }],
});

/** Movable allocations filling the whole CMA area (normal memory freed again), lowest pfn first. */
function borrowAll(m: MemoryManager, cma: Cma): MovablePages[] {
  const held: MovablePages[] = [];
  while (m.pages.nrFreeCma > 0) held.push(m.pages.allocMovable(MAX_PAGE_ORDER)!);
  const inCma = (h: MovablePages) => h.pfn >= cma.basePfn && h.pfn < cma.basePfn + cma.count;
  held.filter((h) => !inCma(h)).forEach((h) => m.pages.freeMovable(h));
  return held.filter(inCma).sort((a, b) => a.pfn - b.pfn);
}

describe("CMA (mm/cma.c)", () => {
  it("M1: cma_alloc is first fit, aligned to the physical pfn (mask and offset)", async () => {
    const { m } = await bootMm(board());
    const cma = m.cma("cam-cma")!;
    expect(cma.basePfn).toBe(0x40400);
    expect(cma.alloc(1, 0)).toBe(0x40400);
    expect(cma.alloc(3, 0)).toBe(0x40401); // first fit right after
    // align order 11 (8 MiB): offset = (0x40400 & 0x7ff) = 0x400, so the first fit is pfn 0x40800
    expect(cma.alloc(16, 11)).toBe(0x40800);
    // align order 2: next 4-page aligned free pfn after 0x40404
    expect(cma.alloc(1, 2)).toBe(0x40404);
    expect(cma.used).toBe(1 + 3 + 16 + 1);
  });

  it("M1: order_per_bit rounds requests up to whole bits (cma_bitmap_pages_to_bits)", async () => {
    const { k, m } = await bootMm(board(), { cmaOrderPerBit: 2 });
    const cma = m.cma("cam-cma")!;
    expect(cma.bitmapMaxno).toBe(4096 / 4);
    const a = cma.alloc(5, 0);
    expect(cma.used).toBe(8);
    expect(cma.alloc(1, 0)).toBe(a + 8);
    expect(await k.spawn("cat").readFile("/sys/kernel/debug/cma/cam-cma/order_per_bit")).toBe("2\n");
  });

  it("M2: a range holding a pinned page is skipped (EBUSY) and the next aligned candidate tried; cma_alloc_busy_retry is traced", async () => {
    const { k, m } = await bootMm(board());
    const cma = m.cma("cam-cma")!;
    const borrowed = borrowAll(m, cma)[0]!;
    expect(borrowed.pfn).toBe(cma.basePfn);
    borrowed.pinned = 1;
    // the first candidate (the area's first 4 MiB) holds the pinned block: skipped, the next one migrated
    expect(cma.alloc(1024, 10)).toBe(cma.basePfn + 1024);
    expect(borrowed.pfn).toBe(cma.basePfn); // the pinned allocation did not move
    expect(k.trace.events("cma_alloc_busy_retry").length).toBeGreaterThan(0);
  });

  it("M2: when every fitting range is busy the allocation fails with ENOMEM, logs ret -16 and changes nothing", async () => {
    const { k, m } = await bootMm({ memory: [{ base: "0x40000000", size: "24M" }], reservedMemory: [{ name: "small", size: "4M", default: true }] });
    const cma = m.cma("small")!;
    const held: MovablePages[] = [];
    for (let p = m.pages.allocMovable(0); p; p = m.pages.allocMovable(0)) held.push(p);
    held.filter((h) => h.pfn >= cma.basePfn && h.pfn < cma.basePfn + cma.count).forEach((h) => (h.pinned = 1));
    const before = freeState(m);
    expect(() => cma.alloc(1, 0)).toThrow(/ENOMEM/);
    expect(freeState(m)).toBe(before);
    expect(k.dmesg()).toContain("cma_alloc: small: alloc failed, req-size: 1 pages, ret: -16");
    const finish = k.trace.events("cma_alloc_finish").at(-1)!;
    expect(finish.args).toMatchObject({ name: "small", pfn: "0xffffffffffffffff", errorno: -16 });
  });

  it("migrates borrowed movable pages out of the range on demand: bytes kept, each migration a counted copy", async () => {
    const { k, m } = await bootMm(board());
    const cma = m.cma("cam-cma")!;
    const borrowed = borrowAll(m, cma)[1]!;
    const data = pattern(borrowed.size, 3);
    m.view(borrowed.phys, borrowed.size).set(data);
    const from = borrowed.pfn;
    const pfn = cma.alloc(cma.count, 0);
    expect(pfn).toBe(cma.basePfn);
    expect(borrowed.pfn).not.toBe(from);
    expect(borrowed.pfn < cma.basePfn || borrowed.pfn >= cma.basePfn + cma.count).toBe(true);
    expect(sameBytes(m.view(borrowed.phys, borrowed.size), data)).toBe(true);
    // the whole area was borrowed in order-10 blocks: each one moved once
    expect(m.copies.of("migration")).toEqual({ count: 4, bytes: cma.size });
    expect(k.trace.events("mm_migrate_pages")[0]!.args).toMatchObject({ succeeded: 4, reason: "contig_range" });
  });

  it("ENOMEM when migration targets run out, with the allocators exactly as before", async () => {
    const { m } = await bootMm({ memory: [{ base: "0x40000000", size: "16M" }], reservedMemory: [{ name: "a", size: "8M", default: true }] });
    const cma = m.cma("a")!;
    const held: MovablePages[] = [];
    for (let p = m.pages.allocMovable(0); p; p = m.pages.allocMovable(0)) held.push(p);
    m.pages.freeMovable(held.pop()!); // one free page: not enough room to migrate a whole CMA range
    const before = freeState(m);
    expect(() => cma.alloc(cma.count, 0)).toThrow(/ENOMEM/);
    expect(freeState(m)).toBe(before);
  });

  it("M3: cma_release of pages outside the area returns false; released bits make the range reusable", async () => {
    const { m } = await bootMm(board());
    const cma = m.cma("cam-cma")!;
    expect(cma.release(0x40000, 1)).toBe(false);
    const a = cma.alloc(100, 0);
    expect(cma.release(a, 100)).toBe(true);
    expect(cma.used).toBe(0);
    expect(cma.alloc(100, 0)).toBe(a);
  });

  it("M4: sysfs alloc_pages_success/fail count pages; debugfs count/used/maxchunk/bitmap/base_pfn in Linux's text; CmaFree tracks", async () => {
    const { k, m } = await bootMm(board());
    const cma = m.cma("cam-cma")!;
    const p = k.spawn("cat");
    const read = (f: string) => p.readFile(f);
    cma.alloc(33, 0);
    expect(() => cma.alloc(5000, 0)).toThrow(/ENOMEM/);
    expect(await read("/sys/kernel/mm/cma/cam-cma/alloc_pages_success")).toBe("33\n");
    expect(await read("/sys/kernel/mm/cma/cam-cma/alloc_pages_fail")).toBe("5000\n");
    const dbg = "/sys/kernel/debug/cma/cam-cma";
    expect(await read(`${dbg}/count`)).toBe("4096\n");
    expect(await read(`${dbg}/base_pfn`)).toBe(`${0x40400}\n`);
    expect(await read(`${dbg}/used`)).toBe("33\n");
    expect(await read(`${dbg}/maxchunk`)).toBe(`${4096 - 33}\n`);
    const words = (await read(`${dbg}/bitmap`)).trimEnd().split(" ");
    expect(words.length).toBe(128);
    expect(words.slice(0, 3)).toEqual(["4294967295", "1", "0"]);
    expect(await read("/proc/meminfo")).toContain(`CmaFree:           ${(4096 - 33) * 4} kB`);
  });

  it("traces cma_alloc_start/cma_alloc_finish/cma_release with Linux's fields", async () => {
    const { k, m } = await bootMm(board());
    const cma = m.cma("cam-cma")!;
    const pfn = cma.alloc(8, 3);
    cma.release(pfn, 8);
    const lines = k.trace.ftrace();
    expect(lines).toContain("cma_alloc_start: name=cam-cma count=8 align=3");
    expect(lines).toMatch(/cma_alloc_finish: name=cam-cma pfn=0x40400 page=0x[0-9a-f]+ count=8 align=3 errorno=0/);
    expect(lines).toMatch(/cma_release: name=cam-cma pfn=0x40400 page=0x[0-9a-f]+ count=8/);
  });

  it("refuses a fixed base that is not aligned to the CMA granule (cma_declare_contiguous: EINVAL)", async () => {
    await expect(bootMm({ memory: [{ base: "0x40000000", size: "64M" }], reservedMemory: [{ name: "bad", size: "4M", base: "0x40001000" }] })).rejects.toThrow(/must be aligned/);
  });
});

describe("CMA debugfs alloc/free (mm/cma_debug.c)", () => {
  it("writing a page count to alloc allocates, to free releases newest first (in part when order_per_bit is 0)", async () => {
    const { k, m } = await bootMm(board());
    const cma = m.cma("cam-cma")!;
    const p = k.spawn("sh");
    await p.writeFile("/sys/kernel/debug/cma/cam-cma/alloc", "10\n");
    await p.writeFile("/sys/kernel/debug/cma/cam-cma/alloc", "20\n");
    expect(cma.used).toBe(30);
    await p.writeFile("/sys/kernel/debug/cma/cam-cma/free", "25");
    expect(cma.used).toBe(5); // the 20 went, then 5 of the 10
    expect([cma.bitmap.test(0), cma.bitmap.test(4), cma.bitmap.test(5), cma.bitmap.test(9), cma.bitmap.test(10)]).toEqual([false, false, true, true, false]);
    await expect(p.writeFile("/sys/kernel/debug/cma/cam-cma/alloc", "5000")).rejects.toMatchObject({ code: "ENOMEM" });
    await expect(p.writeFile("/sys/kernel/debug/cma/cam-cma/alloc", "ten")).rejects.toMatchObject({ code: "EINVAL" });
    await p.writeFile("/sys/kernel/debug/cma/cam-cma/free", "100");
    expect(cma.used).toBe(0);
  });
});
