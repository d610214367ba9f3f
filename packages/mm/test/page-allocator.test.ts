import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_PAGE_ORDER, type MovablePages } from "../src/index.js";
import { bootMm, freeState } from "./support/boot.js";

describe("buddy page allocator (mm/page_alloc.c)", () => {
  it("splits the lowest half off a larger block (expand) and merges with the buddy on free", async () => {
    const { m } = await bootMm({ memory: [{ base: "0x40000000", size: "16M" }] });
    const before = m.pages.freeBlocks();
    expect(before[MAX_PAGE_ORDER]).toBe(4);
    const a = m.pages.allocPages(0);
    // one order-10 block split: one free block at each order 0..9 remains
    expect(m.pages.freeBlocks()).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3]);
    const b = m.pages.allocPages(0);
    expect(b).toBe(a + 1); // the buddy of a
    m.pages.freePages(a, 0);
    m.pages.freePages(b, 0);
    expect(m.pages.freeBlocks()).toEqual(before);
  });

  it("prints /proc/buddyinfo as mm/vmstat.c does", async () => {
    const { k, m } = await bootMm({ memory: [{ base: "0x40000000", size: "16M" }] });
    m.pages.allocPages(3);
    expect(await k.spawn("cat").readFile("/proc/buddyinfo")).toBe("Node 0, zone    DMA32      0      0      0      1      1      1      1      1      1      1      3 \n");
  });

  it("fails a high-order allocation under fragmentation while order-0 pages are free (no compaction)", async () => {
    const { m } = await bootMm({ memory: [{ base: "0x40000000", size: "16M" }] });
    const pfns: number[] = [];
    for (let p = m.pages.allocPages(0); p >= 0; p = m.pages.allocPages(0)) pfns.push(p);
    pfns.filter((_, i) => i % 2 === 0).forEach((p) => m.pages.freePages(p, 0));
    expect(m.pages.nrFree).toBe(pfns.length / 2);
    expect(m.pages.allocPages(1)).toBe(-1);
    expect(m.pages.allocPages(0)).toBeGreaterThan(0);
  });

  it("meminfo reports MemTotal, MemFree, CmaTotal and CmaFree in kB (fs/proc/meminfo.c)", async () => {
    const { k } = await bootMm();
    const text = await k.spawn("cat").readFile("/proc/meminfo");
    expect(text).toContain("MemTotal:          65536 kB\n");
    expect(text).toContain("CmaTotal:          16384 kB\n");
    expect(text).toContain("CmaFree:           16384 kB\n");
  });

  it("movable allocations borrow CMA pageblocks only once CMA holds more than half of the free memory (__rmqueue)", async () => {
    const { m } = await bootMm();
    const first = m.pages.allocMovable(0)!;
    expect(m.pages.pageState(first.pfn)).toBe("allocated");
    const cma = m.defaultCma!;
    expect(first.pfn >= cma.basePfn && first.pfn < cma.basePfn + cma.count).toBe(false);
    const held: MovablePages[] = [first];
    while (m.pages.nrFreeCma <= m.pages.nrFree / 2) held.push(m.pages.allocMovable(MAX_PAGE_ORDER)!);
    const next = m.pages.allocMovable(0)!;
    expect(next.pfn >= cma.basePfn && next.pfn < cma.basePfn + cma.count).toBe(true);
    // unmovable requests never take CMA pages
    const un = m.pages.allocPages(0);
    expect(un >= cma.basePfn && un < cma.basePfn + cma.count).toBe(false);
  });

  it("rejects freeing a block twice or with the wrong order (Bad page state)", async () => {
    const { m } = await bootMm();
    const p = m.pages.allocPages(2);
    expect(() => m.pages.freePages(p, 1)).toThrow(/Bad page state/);
    m.pages.freePages(p, 2);
    expect(() => m.pages.freePages(p, 2)).toThrow(/Bad page state/);
  });

  it("randomized alloc/free (buddy, movable, CMA): no page is ever owned twice and every page returns", async () => {
    const { m } = await bootMm();
    const initial = freeState(m);
    const cma = m.defaultCma!;
    type Op = { kind: "pages"; order: number } | { kind: "movable"; order: number } | { kind: "cma"; count: number; align: number } | { kind: "free"; pick: number } | { kind: "pin"; pick: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("pages" as const), order: fc.integer({ min: 0, max: 10 }) }),
      fc.record({ kind: fc.constant("movable" as const), order: fc.integer({ min: 0, max: 10 }) }),
      fc.record({ kind: fc.constant("cma" as const), count: fc.integer({ min: 1, max: 1500 }), align: fc.integer({ min: 0, max: 8 }) }),
      fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("pin" as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        type Held = { kind: "pages"; pfn: number; order: number } | { kind: "movable"; m: MovablePages } | { kind: "cma"; pfn: number; count: number };
        const held: Held[] = [];
        const span = (h: Held): [number, number] => (h.kind === "pages" ? [h.pfn, 1 << h.order] : h.kind === "movable" ? [h.m.pfn, 1 << h.m.order] : [h.pfn, h.count]);
        const release = (h: Held) => (h.kind === "pages" ? m.pages.freePages(h.pfn, h.order) : h.kind === "movable" ? m.pages.freeMovable(h.m) : expect(cma.release(h.pfn, h.count)).toBe(true));
        for (const o of ops) {
          const before = freeState(m);
          if (o.kind === "pages") {
            const pfn = m.pages.allocPages(o.order);
            if (pfn >= 0) held.push({ kind: "pages", pfn, order: o.order });
            else expect(freeState(m)).toBe(before);
          } else if (o.kind === "movable") {
            const mv = m.pages.allocMovable(o.order);
            if (mv) held.push({ kind: "movable", m: mv });
            else expect(freeState(m)).toBe(before);
          } else if (o.kind === "cma") {
            try {
              held.push({ kind: "cma", pfn: cma.alloc(o.count, o.align, true), count: o.count });
            } catch (e) {
              expect((e as { code: string }).code).toBe("ENOMEM");
              expect(freeState(m)).toBe(before); // ENOMEM leaves the allocators exactly as before
            }
          } else if (o.kind === "pin" && held.length) {
            const h = held[o.pick % held.length]!;
            if (h.kind === "movable") h.m.pinned ^= 1;
          } else if (o.kind === "free" && held.length) release(held.splice(o.pick % held.length, 1)[0]!);
          // No page owned twice: the holders' spans are disjoint, the allocator agrees each is taken,
          // and free + owned accounts for every managed page.
          const spans = held.map((h) => [...span(h), h] as const).sort((a, b) => a[0] - b[0]);
          let owned = 0;
          spans.forEach(([pfn, n, h], i) => {
            if (i > 0) expect(spans[i - 1]![0] + spans[i - 1]![1]).toBeLessThanOrEqual(pfn);
            expect(m.pages.pageState(pfn)).toBe(h.kind === "cma" ? "contig" : "allocated");
            expect(m.pages.pageState(pfn + n - 1)).toBe(h.kind === "cma" ? "contig" : "allocated");
            owned += n;
          });
          expect(m.pages.nrFree + owned).toBe(m.pages.managedPages);
        }
        held.splice(0).forEach(release);
        expect(freeState(m)).toBe(initial);
      }),
      { numRuns: 150, seed: 42 },
    );
  });
});
