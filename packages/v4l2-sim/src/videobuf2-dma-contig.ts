/**
 * vb2-dma-contig (drivers/media/common/videobuf2/videobuf2-dma-contig.c): MMAP buffers from
 * dma_alloc_attrs() (CMA, or IOVA-contiguous behind an IOMMU), exported as dma-bufs; imports must be
 * one DMA-contiguous range for the device, else QBUF fails with EFAULT ("contiguous chunk is too
 * small"), as on SoCs whose camera or codec has no IOMMU.
 */
import { PAGE_SIZE } from "@dmabuf/core";
import { sgAllocTableFromPages } from "@dmabuf/mm";
import { vb2MemOps, type Vb2PagesAlloc } from "./internal/vb2-mem.js";
import type { Vb2MemOps } from "./videobuf2-core.js";

const allocContig: Vb2PagesAlloc = (mm, dev, size) => {
  const c = mm.dmaAllocAttrs(dev, size);
  const first = c.phys / PAGE_SIZE;
  const pfns = Array.from({ length: c.size / PAGE_SIZE }, (_, i) => first + i);
  return { sgt: sgAllocTableFromPages(pfns, 0, c.size), segments: [mm.view(c.phys, c.size)], free: () => mm.dmaFreeAttrs(c) };
};

/** vb2_dma_contig_memops; exported dma-bufs are named after the module, as DEFINE_DMA_BUF_EXPORT_INFO does. */
export const vb2DmaContigMemOps: Vb2MemOps = vb2MemOps("videobuf2_dma_contig", true, allocContig);
