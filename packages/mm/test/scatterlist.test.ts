import { describe, expect, it } from "vitest";
import { sgAllocTableFromPages, sgAllocTableFromPagesSegment, sgTableDup } from "../src/index.js";

const runs = (t: { sgl: readonly { phys: number; length: number }[] }) => t.sgl.map((s) => [s.phys / 4096, s.length]);

describe("scatterlists (lib/scatterlist.c)", () => {
  it("M9: merges pfn-contiguous pages into one entry, starting a new one at each gap", () => {
    const t = sgAllocTableFromPages([10, 11, 12, 20, 21, 5], 0, 6 * 4096);
    expect(runs(t)).toEqual([[10, 3 * 4096], [20, 2 * 4096], [5, 4096]]);
    expect(t.origNents).toBe(3);
    expect(t.nents).toBe(0); // not mapped yet
  });

  it("M9: splits a contiguous run once it reaches max_segment (rounded down to pages)", () => {
    const t = sgAllocTableFromPagesSegment([1, 2, 3, 4, 5], 0, 5 * 4096, 2 * 4096 + 100);
    expect(runs(t)).toEqual([[1, 8192], [3, 8192], [5, 4096]]);
  });

  it("M9: max_segment below PAGE_SIZE is EINVAL", () => {
    expect(() => sgAllocTableFromPagesSegment([1], 0, 4096, 4095)).toThrow(/EINVAL/);
  });

  it("M9: only the first entry carries the offset; the last is trimmed to size", () => {
    const t = sgAllocTableFromPages([7, 8, 30], 100, 2 * 4096);
    expect(t.sgl.map((s) => [s.phys, s.length])).toEqual([[7 * 4096 + 100, 2 * 4096 - 100], [30 * 4096, 100]]);
  });

  it("sgTableDup copies the CPU side, unmapped", () => {
    const t = sgAllocTableFromPages([1, 2], 0, 8192);
    t.sgl[0]!.dmaAddress = 5;
    const d = sgTableDup(t);
    expect(runs(d)).toEqual(runs(t));
    expect(d.sgl[0]!.dmaAddress).toBe(0);
  });
});
