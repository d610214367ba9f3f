/**
 * vb2-dma-sg (drivers/media/common/videobuf2/videobuf2-dma-sg.c): MMAP buffers made of pages
 * (vb2_dma_sg_alloc_compacted: the largest blocks available, down to single pages), mapped with
 * dma_map_sgtable; imports are accepted however scattered they are.
 */
import { Errno, PAGE_SIZE } from "@dmabuf/core";
import { MAX_PAGE_ORDER, getOrder, sgAllocTableFromPages } from "@dmabuf/mm";
import { vb2MemOps, type Vb2PagesAlloc } from "./internal/vb2-mem.js";
import type { Vb2MemOps } from "./videobuf2-core.js";

const GFP = { name: "GFP_KERNEL|__GFP_ZERO", zero: true };

const allocPages: Vb2PagesAlloc = (mm, dev, size) => {
  const count = Math.ceil(size / PAGE_SIZE);
  const blocks: [number, number][] = [];
  const pfns: number[] = [];
  const free = () => {
    for (const [pfn, order] of blocks) mm.pages.freePages(pfn, order);
  };
  while (pfns.length < count) {
    // The largest power-of-two block that still fits, smaller on failure.
    let order = Math.min(getOrder((count - pfns.length) * PAGE_SIZE), MAX_PAGE_ORDER);
    while ((1 << order) > count - pfns.length) order--;
    let pfn = mm.pages.allocPages(order, GFP);
    while (pfn < 0 && order > 0) pfn = mm.pages.allocPages(--order, GFP);
    if (pfn < 0) {
      free();
      throw new Errno("ENOMEM", "vb2_dma_sg_alloc", `${dev.name}: out of pages after ${pfns.length} of ${count}`);
    }
    blocks.push([pfn, order]);
    for (let i = 0; i < 1 << order; i++) pfns.push(pfn + i);
  }
  const sgt = sgAllocTableFromPages(pfns, 0, count * PAGE_SIZE);
  return { sgt, segments: sgt.sgl.map((s) => mm.view(s.phys, s.length)), free };
};

/** vb2_dma_sg_memops; exported dma-bufs are named after the module. */
export const vb2DmaSgMemOps: Vb2MemOps = vb2MemOps("videobuf2_dma_sg", false, allocPages);
