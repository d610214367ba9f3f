/**
 * Backing memory for GEM objects, from @dmabuf/mm: the GEM DMA helper's one contiguous buffer
 * (dma_alloc_attrs: CMA for a device without IOMMU) and the shmem helper's separate pages.
 */
import { Errno, PAGE_SIZE, type Device, type Kernel } from "@dmabuf/core";
import { MM } from "@dmabuf/mm";
import type { GemBacking } from "../drm-gem.js";

/** drm_gem_dma_create(): one DMA-contiguous buffer for `dev` (ENOMEM when none can be had). */
export function dmaBacking(kernel: Kernel, dev: Device, size: number): GemBacking {
  const mm = kernel.resolve(MM);
  const buf = mm.dma.dmaAllocAttrs(dev, size);
  return { runs: [{ phys: buf.phys, length: buf.size }], segments: [mm.dma.coherentView(buf)], release: () => mm.dma.dmaFreeAttrs(buf) };
}

/**
 * drm_gem_shmem_get_pages(): zeroed order-0 pages, wherever the allocator finds them; runs of
 * physically adjacent pages are merged, as sg_alloc_table_from_pages does.
 */
export function shmemBacking(kernel: Kernel, size: number): GemBacking {
  const mm = kernel.resolve(MM);
  const pfns: number[] = [];
  for (let i = 0; i < size / PAGE_SIZE; i++) {
    const pfn = mm.pages.allocPages(0, { movable: true, zero: true, name: "GFP_HIGHUSER" });
    if (pfn < 0) {
      for (const p of pfns) mm.pages.freePages(p, 0);
      throw new Errno("ENOMEM", "drm_gem_shmem_get_pages", `out of memory after ${pfns.length} of ${size / PAGE_SIZE} pages`);
    }
    pfns.push(pfn);
  }
  const runs: { phys: number; length: number }[] = [];
  for (const pfn of pfns) {
    const last = runs[runs.length - 1];
    if (last && last.phys + last.length === pfn * PAGE_SIZE) last.length += PAGE_SIZE;
    else runs.push({ phys: pfn * PAGE_SIZE, length: PAGE_SIZE });
  }
  return { runs, segments: runs.map((r) => mm.mem.view(r.phys, r.length)), release: () => pfns.forEach((p) => mm.pages.freePages(p, 0)) };
}
