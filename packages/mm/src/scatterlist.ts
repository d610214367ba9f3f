import { Errno, SgTable } from "@dmabuf/core";
import { PAGE_SIZE } from "./physical-memory.js";

/** UINT_MAX: sg_alloc_table_from_pages() puts no limit on a segment. */
const UINT_MAX = 0xffffffff;

/**
 * sg_alloc_table_from_pages_segment(sgt, pages, n_pages, offset, size, max_segment)
 * (lib/scatterlist.c): one entry per run of pfn-contiguous pages, a run ending where the next page is
 * not pfn + 1 or the run would reach `maxSegment` (rounded down to pages; below a page: EINVAL).
 * Only the first entry carries `offset`; the last is trimmed to `size`.
 */
export function sgAllocTableFromPagesSegment(pfns: ArrayLike<number>, offset: number, size: number, maxSegment: number): SgTable {
  const max = Math.floor(maxSegment / PAGE_SIZE) * PAGE_SIZE;
  if (max < PAGE_SIZE) throw new Errno("EINVAL", "sg_alloc_table_from_pages_segment", `max_segment ${maxSegment} is below PAGE_SIZE`);
  if (pfns.length === 0) throw new Errno("EINVAL", "sg_alloc_table_from_pages_segment", "no pages");
  const runs: { phys: number; length: number }[] = [];
  let cur = 0;
  while (cur < pfns.length) {
    let j = cur + 1;
    let segLen = 0;
    for (; j < pfns.length; j++) {
      segLen += PAGE_SIZE;
      if (segLen >= max || pfns[j] !== pfns[j - 1]! + 1) break;
    }
    const chunk = (j - cur) * PAGE_SIZE - offset;
    runs.push({ phys: pfns[cur]! * PAGE_SIZE + offset, length: Math.min(size, chunk) });
    size -= chunk;
    offset = 0;
    cur = j;
  }
  return SgTable.fromRuns(runs);
}

/** sg_alloc_table_from_pages(): the same with no segment limit. */
export function sgAllocTableFromPages(pfns: ArrayLike<number>, offset: number, size: number): SgTable {
  return sgAllocTableFromPagesSegment(pfns, offset, size, UINT_MAX);
}

/** A fresh, unmapped copy of the CPU side of `sgt` (what an exporter gives each attachment). */
export function sgTableDup(sgt: SgTable): SgTable {
  return SgTable.fromRuns(sgt.sgl);
}
