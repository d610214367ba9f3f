import { Errno, SgTable, dmaBufExport, type DmaBuf, type Kernel } from "@dmabuf/core";
import type { Cma } from "../cma.js";
import { CMA_ALIGNMENT, getOrder } from "../dma-mapping.js";
import type { MemoryManager } from "../memory-manager.js";
import { PAGE_SIZE } from "../physical-memory.js";
import { dmaHeapAdd, type DmaHeap } from "./dma-heap.js";
import { HeapBuffer, heapBufferOps } from "./heap-buffer.js";

/**
 * A CMA heap (drivers/dma-buf/heaps/cma_heap.c), named after its area: one cma_alloc() of the
 * whole page-aligned size with align = min(get_order(size), CONFIG_CMA_ALIGNMENT), zeroed, one sg
 * entry; released with cma_release(). ENOMEM when the area cannot supply it.
 */
export function addCmaHeap(kernel: Kernel, mm: MemoryManager, cma: Cma): DmaHeap {
  const ops = heapBufferOps(kernel);
  return dmaHeapAdd(kernel, cma.name, {
    allocate(heap, len, fdFlags): DmaBuf {
      const count = len / PAGE_SIZE;
      const align = Math.min(getOrder(len), CMA_ALIGNMENT);
      let pfn: number;
      try {
        pfn = cma.alloc(count, align);
      } catch (e) {
        throw new Errno("ENOMEM", "DMA_HEAP_IOCTL_ALLOC", `cma heap ${heap.name}: ${(e as Error).message}`);
      }
      mm.mem.zero(pfn * PAGE_SIZE, len);
      // sg_alloc_table_from_pages() over contiguous pages: one entry
      const table = SgTable.fromRuns([{ phys: pfn * PAGE_SIZE, length: len }]);
      const buffer = new HeapBuffer(mm, len, table, () => void cma.release(pfn, count));
      let buf: DmaBuf;
      try {
        buf = dmaBufExport(kernel, { expName: heap.name, ops, size: len, flags: fdFlags, priv: buffer });
      } catch (e) {
        cma.release(pfn, count);
        throw e;
      }
      kernel.objects.register("dma-heap buffer", buffer, () => `cma heap ${cma.name}, ${len} bytes at pfn 0x${pfn.toString(16)}`, "DMA_HEAP_IOCTL_ALLOC");
      return buf;
    },
  });
}
