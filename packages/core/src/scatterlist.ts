/**
 * Scatter-gather tables (include/linux/scatterlist.h), the currency between exporters, the DMA
 * mapping layer (@dmabuf/mm) and importers. Core only carries them; mm builds and maps them.
 */

/** enum dma_data_direction (include/linux/dma-direction.h). */
export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_NONE = 3;
export type DmaDataDirection = 0 | 1 | 2 | 3;

export const dmaDirectionName = (d: DmaDataDirection) =>
  (["DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE", "DMA_NONE"] as const)[d];

export const isValidDmaDirection = (d: number): d is DmaDataDirection => d === 0 || d === 1 || d === 2;

/** struct scatterlist: a physically contiguous run, and where the device sees it once mapped. */
export interface Scatterlist {
  /** Physical address of the run (page_to_phys(sg_page(sg)) + sg->offset). */
  readonly phys: number;
  readonly length: number;
  /** sg_dma_address(); valid for the first `nents` entries after dma_map_sgtable(). */
  dmaAddress: number;
  /** sg_dma_len() */
  dmaLength: number;
}

/**
 * struct sg_table: `sgl` lists the CPU-side runs (orig_nents of them); after mapping, the first
 * `nents` entries carry the device-side (DMA) runs, which an IOMMU may have merged.
 */
export class SgTable {
  nents = 0;
  constructor(readonly sgl: Scatterlist[]) {}

  get origNents(): number {
    return this.sgl.length;
  }

  /** Total bytes described (sum of the CPU-side lengths). */
  get size(): number {
    let n = 0;
    for (const s of this.sgl) n += s.length;
    return n;
  }

  /** The mapped DMA runs (for_each_sgtable_dma_sg). */
  dmaSegments(): { dmaAddress: number; dmaLength: number }[] {
    return this.sgl.slice(0, this.nents).map((s) => ({ dmaAddress: s.dmaAddress, dmaLength: s.dmaLength }));
  }

  /** Builds a table from physical runs, unmapped. */
  static fromRuns(runs: readonly { phys: number; length: number }[]): SgTable {
    return new SgTable(runs.map((r) => ({ phys: r.phys, length: r.length, dmaAddress: 0, dmaLength: 0 })));
  }
}

/** Where each piece starts when the pieces are laid end to end (the offsets of a vmap's or a mapping's segments). */
export function segmentStarts(pieces: readonly { readonly length: number }[]): number[] {
  const starts: number[] = [];
  let at = 0;
  for (const p of pieces) {
    starts.push(at);
    at += p.length;
  }
  return starts;
}

/** The piece holding byte `offset`: the last one starting at or before it (binary search over `starts`). */
export function segmentAt(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
