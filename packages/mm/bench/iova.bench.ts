import { below, copyBaseline, defineSuite } from "@dmabuf/tooling/bench";
import { DMA_TO_DEVICE, DEFAULT_BOARD, Kernel, type SgTable } from "@dmabuf/core";
import mm, { IovaDomain, MM, sgAllocTableFromPages, type MemoryManager } from "../src/index.js";

const NV12_1080P = (1920 * 1080 * 3) / 2;
const LIMIT32 = 2 ** 20 - 1;

/** An IOVA domain with 1,000 live ranges of mixed sizes below 4 GiB. */
function busyDomain() {
  const d = new IovaDomain(4096, 1);
  for (let i = 0; i < 1000; i++) d.allocIovaFast(1 + (i % 64), LIMIT32);
  return d;
}

/** A booted kernel and a 1080p buffer's pages: 760 scattered pages, or one contiguous CMA range. */
async function mapping(contiguous: boolean) {
  const kernel = await Kernel.boot({ board: DEFAULT_BOARD, plugins: [mm()] });
  kernel.trace.on = false;
  const m: MemoryManager = kernel.resolve(MM);
  const n = Math.ceil(NV12_1080P / 4096);
  const base = contiguous ? m.defaultCma!.alloc(n, 8) : 0;
  // scattered: every other page of what the allocator hands out in order
  const pfns = Array.from({ length: n }, (_, i) => (contiguous ? base + i : (m.pages.allocPages(0), m.pages.allocPages(0))));
  const sgt: SgTable = sgAllocTableFromPages(pfns, 0, NV12_1080P);
  return { kernel, m, sgt, dev: m.device("vivid.0") };
}
type Mapping = Awaited<ReturnType<typeof mapping>>;
const mapUnmap = ({ m, sgt, dev }: Mapping) => {
  m.dmaMapSgtable(dev, sgt, DMA_TO_DEVICE);
  m.dmaUnmapSgtable(dev, sgt, DMA_TO_DEVICE);
};

const COPY = "memcpy 1080p NV12 (Uint8Array.set)";
const TREE = "alloc_iova_fast+free_iova_fast, 760 granules (rb-tree walk), 1,000 live ranges";
const CACHED = "alloc_iova_fast+free_iova_fast, 16 granules (rcache hit)";
const SG = "dma_map_sgtable+unmap, 1080p, 760 scattered pages via IOMMU";
const CONTIG = "dma_map_sgtable+unmap, 1080p, contiguous CMA pages via IOMMU (2 MiB entries)";

export default defineSuite({
  name: "mm-iova",
  cases: {
    [COPY]: copyBaseline(NV12_1080P),
    [TREE]: {
      setup: busyDomain,
      fn: (d: IovaDomain) => {
        const pfn = d.allocIova(760, LIMIT32, true)!.pfnLo; // above the rcache sizes: always the tree
        d.freeIova(pfn);
      },
    },
    [CACHED]: { setup: busyDomain, fn: (d: IovaDomain) => d.freeIovaFast(d.allocIovaFast(16, LIMIT32), 16) },
    [SG]: { setup: () => mapping(false), fn: mapUnmap, teardown: ({ kernel }: Mapping) => kernel.shutdown() },
    [CONTIG]: { setup: () => mapping(true), fn: mapUnmap, teardown: ({ kernel }: Mapping) => kernel.shutdown() },
  },
  // Importers map once per attachment and reuse the mapping frame after frame (vb2, DRM), so mapping
  // is not on the per-frame path; it should still cost less than copying the frame once.
  goals: [below("IOMMU map+unmap of a scattered 1080p frame vs a 1080p memcpy", (m) => (100 * m[SG]) / m[COPY], 100, "%")],
});
