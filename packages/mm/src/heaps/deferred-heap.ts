import type { Kernel } from "@dmabuf/core";
import { deferredBufferExport } from "../deferred-buffer.js";
import type { MemoryManager } from "../memory-manager.js";
import { dmaHeapAdd, type DmaHeap } from "./dma-heap.js";

/**
 * /dev/dma_heap/deferred, a model extension (Linux has no such heap): DMA_HEAP_IOCTL_ALLOC returns
 * a dma-buf with no memory behind it yet. The first map, mmap or vmap places it where every device
 * attached by then can reach it (CMA, system pages, or pages below a DMA limit), and a later attach
 * may move it while nothing holds it. Decisions are logged in /sys/kernel/debug/dma_buf/placement.
 */
export function addDeferredHeap(kernel: Kernel, mm: MemoryManager): DmaHeap {
  return dmaHeapAdd(kernel, "deferred", {
    allocate: (heap, len, fdFlags) => deferredBufferExport(mm, { size: len, flags: fdFlags, expName: heap.name }),
  });
}
