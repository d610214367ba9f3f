/**
 * @dmabuf/mm: physical memory, the buddy page allocator, CMA, IOMMU and IOVA, the DMA mapping API
 * with swiotlb and a cache model, the device DMA engine and dma-heaps. A plugin:
 * `Kernel.boot({ plugins: [mm()] })`, then `kernel.resolve(MM)`.
 */
export { default } from "./plugin.js";
export { MM, MemoryManager, PLACEMENT_DEBUGFS, type MmOptions } from "./memory-manager.js";
export { PAGE_SHIFT, PhysicalMemory, pfnToPhys, physToPfn, type MemoryBank } from "./physical-memory.js";
export {
  MAX_PAGE_ORDER, MIGRATE_CMA, MIGRATE_ISOLATE, MIGRATE_MOVABLE, MIGRATE_UNMOVABLE, MovablePages, NR_PAGE_ORDERS, PAGEBLOCK_ORDER,
  PageAllocator, type GfpFlags, type PageState,
} from "./page-allocator.js";
export { Cma } from "./cma.js";
export { IOVA_MAG_SIZE, IOVA_RANGE_CACHE_MAX_SIZE, IovaDomain, type Iova } from "./iova.js";
export {
  IOMMU_CACHE, IOMMU_FAULT_READ, IOMMU_FAULT_WRITE, IOMMU_READ, IOMMU_WRITE, Iommu, IommuDomain, iommuMap, iommuMapSg, iommuUnmap, type IommuPte,
  type PhysRun,
} from "./iommu.js";
export { IO_TLB_DEFAULT_SIZE, IO_TLB_SEGSIZE, IO_TLB_SHIFT, IO_TLB_SIZE, Swiotlb } from "./swiotlb.js";
export {
  CMA_ALIGNMENT, DMA_ATTR_FORCE_CONTIGUOUS, DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_NO_WARN, DMA_ATTR_SKIP_CPU_SYNC, DMA_ATTR_WRITE_COMBINE,
  DMA_MAPPING_ERROR, DmaMapping, getOrder, type DmaCoherentBuffer, type DmaMappingRecord,
} from "./dma-mapping.js";
export { sgAllocTableFromPages, sgAllocTableFromPagesSegment, sgTableDup } from "./scatterlist.js";
export { DmaEngine, type RowLayout } from "./dma-engine.js";
export { CopyCounter } from "./copy-counter.js";
export {
  DMA_HEAP_IOCTL_ALLOC, DMA_HEAP_IOC_MAGIC, DMA_HEAP_VALID_FD_FLAGS, DMA_HEAP_VALID_HEAP_FLAGS, DmaHeap, dmaHeapAdd, dmaHeapRemove,
  type DmaHeapAllocationData, type DmaHeapOps,
} from "./heaps/dma-heap.js";
export { SYSTEM_HEAP_ORDERS, addSystemHeap } from "./heaps/system-heap.js";
export { addCmaHeap } from "./heaps/cma-heap.js";
export { addDeferredHeap } from "./heaps/deferred-heap.js";
export { deviceConstraints, describeConstraints, layoutFor, layoutMismatch, type BufferLayout, type DmaConstraints } from "./constraints.js";
export {
  Backing, PLACEMENT_LOG_SIZE, Placement, PlacementError, explain, placementLine, type Candidate, type CmaUsage, type Plan, type PlacementOutcome, type PlacementRecord,
  type PlacementTrigger, type Rejection,
} from "./placement.js";
export { DeferredBuffer, MIGRATION_COPY, deferredBufferExport, deferredBufferOf, type DeferredExportInfo } from "./deferred-buffer.js";
export { whatIf, type Pipeline, type PipelineBuffer, type WhatIfBuffer, type WhatIfCma, type WhatIfReport } from "./what-if.js";
