import { Errno, SgTable, dmaBufExport, signalPending, type DmaBuf, type Kernel } from "@dmabuf/core";
import type { MemoryManager } from "../memory-manager.js";
import type { GfpFlags } from "../page-allocator.js";
import { PAGE_SIZE } from "../physical-memory.js";
import { dmaHeapAdd, type DmaHeap } from "./dma-heap.js";
import { HeapBuffer, heapBufferOps } from "./heap-buffer.js";

/** orders[] of system_heap.c: 1 MiB, 64 KiB and 4 KiB chunks, "to match the sizes often found in IOMMUs". */
export const SYSTEM_HEAP_ORDERS = [8, 4, 0] as const;
/** order_flags[]: high orders fail fast (no reclaim, __GFP_NORETRY); order 0 may try harder. */
const ORDER_GFP: readonly GfpFlags[] = [
  { zero: true, name: "GFP_HIGHUSER|__GFP_ZERO|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP" },
  { zero: true, name: "GFP_HIGHUSER|__GFP_ZERO|__GFP_NOWARN|__GFP_COMP" },
  { zero: true, name: "GFP_HIGHUSER|__GFP_ZERO|__GFP_COMP" },
];

/**
 * The "system" heap (drivers/dma-buf/heaps/system_heap.c): zeroed pages from the buddy allocator
 * in the largest of orders 8, 4, 0 that fits the remaining size and does not exceed the previous
 * chunk (alloc_largest_available), one sg entry per chunk, never merged. Not movable, so it never
 * borrows CMA pageblocks. Out of memory: ENOMEM with every chunk freed again.
 */
export function addSystemHeap(kernel: Kernel, mm: MemoryManager): DmaHeap {
  const ops = heapBufferOps(kernel);
  return dmaHeapAdd(kernel, "system", {
    allocate(heap, len, fdFlags): DmaBuf {
      const chunks: { pfn: number; order: number }[] = [];
      const freeAll = () => chunks.forEach((c) => mm.pages.freePages(c.pfn, c.order));
      let remaining = len;
      let maxOrder: number = SYSTEM_HEAP_ORDERS[0];
      while (remaining > 0) {
        if (signalPending(kernel.current)) {
          freeAll();
          throw new Errno("EINTR", "DMA_HEAP_IOCTL_ALLOC", "system heap: a fatal signal is pending");
        }
        const c = allocLargestAvailable(mm, remaining, maxOrder);
        if (!c) {
          freeAll();
          throw new Errno("ENOMEM", "DMA_HEAP_IOCTL_ALLOC", `system heap: no free page for the last ${remaining} of ${len} bytes (orders ${SYSTEM_HEAP_ORDERS.filter((o) => o <= maxOrder).join(", ")} exhausted)`);
        }
        chunks.push(c);
        remaining -= PAGE_SIZE << c.order;
        maxOrder = c.order;
      }
      const table = SgTable.fromRuns(chunks.map((c) => ({ phys: c.pfn * PAGE_SIZE, length: PAGE_SIZE << c.order })));
      const buffer = new HeapBuffer(mm, len, table, freeAll);
      let buf: DmaBuf;
      try {
        buf = dmaBufExport(kernel, { expName: heap.name, ops, size: len, flags: fdFlags, priv: buffer });
      } catch (e) {
        freeAll();
        throw e;
      }
      kernel.objects.register("dma-heap buffer", buffer, () => `system heap, ${len} bytes in ${chunks.length} chunk(s)`, "DMA_HEAP_IOCTL_ALLOC");
      return buf;
    },
  });
}

/**
 * alloc_largest_available(): the largest order that fits `size` and is <= `maxOrder` and is free;
 * with `limitPhys`, only from zones below it (GFP_DMA32 for a 32-bit limit).
 */
export function allocLargestAvailable(mm: MemoryManager, size: number, maxOrder: number, limitPhys?: number): { pfn: number; order: number } | undefined {
  for (let i = 0; i < SYSTEM_HEAP_ORDERS.length; i++) {
    const order = SYSTEM_HEAP_ORDERS[i]!;
    if (size < PAGE_SIZE << order || maxOrder < order) continue;
    const pfn = mm.pages.allocPages(order, limitPhys === undefined ? ORDER_GFP[i] : { ...ORDER_GFP[i], limitPhys });
    if (pfn >= 0) return { pfn, order };
  }
  return undefined;
}
