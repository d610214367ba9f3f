/**
 * The IOVA allocator of drivers/iommu/iova.c, ported in behaviour: allocated ranges kept sorted
 * (the rb-tree), a top-down search from the limit for the first gap that fits a size-aligned range,
 * the two cached nodes (32-bit and full) that start the search, the retry from the limit, and the
 * per-size range caches (rcache magazines) that make freed ranges come back first.
 */

/** An allocated range of IOVA page frames (struct iova), both ends inclusive. */
export interface Iova {
  readonly pfnLo: number;
  readonly pfnHi: number;
}

/** IOVA_RANGE_CACHE_MAX_SIZE: sizes up to 2^5 granules are cached. */
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;
/** IOVA_MAG_SIZE (6.x) */
export const IOVA_MAG_SIZE = 127;
/** MAX_GLOBAL_MAGS: full magazines kept in the depot per size. */
const MAX_GLOBAL_MAGS = 32;
/** IOVA_ANCHOR: the sentinel node at the top of the space. */
const ANCHOR: Iova = { pfnLo: Number.MAX_SAFE_INTEGER, pfnHi: Number.MAX_SAFE_INTEGER };

/** fls_long(x): index of the highest set bit, 1-based (0 for 0). */
const fls = (x: number) => (x <= 0 ? 0 : Math.floor(Math.log2(x)) + 1);
/** order_base_2() */
const orderBase2 = (n: number) => fls(n - 1);

interface Rcache {
  loaded: number[];
  prev: number[];
  depot: number[][];
}

export class IovaDomain {
  /** dma_32bit_pfn: the first granule at or above 4 GiB. */
  readonly dma32bitPfn: number;
  /** Allocated ranges sorted by pfnLo, the anchor last. */
  private nodes: Iova[] = [ANCHOR];
  private cached32: Iova = ANCHOR;
  private cached: Iova = ANCHOR;
  private max32AllocSize: number;
  private readonly rcaches: Rcache[] = Array.from({ length: IOVA_RANGE_CACHE_MAX_SIZE }, () => ({ loaded: [], prev: [], depot: [] }));

  /** init_iova_domain(iovad, granule, start_pfn) */
  constructor(
    readonly granule: number,
    readonly startPfn: number,
  ) {
    this.dma32bitPfn = 2 ** 32 / granule;
    this.max32AllocSize = this.dma32bitPfn;
  }

  /** Live ranges, lowest first (cached ranges included: they stay allocated in the tree). */
  get ranges(): readonly Iova[] {
    return this.nodes.slice(0, -1);
  }

  /**
   * alloc_iova(): a range of `size` granules at or below `limitPfn`, aligned to the next power of
   * two of `size` when `sizeAligned`; the highest gap that fits wins. Undefined when none fits.
   */
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): Iova | undefined {
    if (!(size > 0)) return undefined;
    const limit = limitPfn + 1;
    const align = sizeAligned ? 2 ** fls(size - 1) : 1;
    let high = limit;
    let low = this.startPfn;
    if (limit <= this.dma32bitPfn && size >= this.max32AllocSize) return undefined;
    let curr = this.indexOf(limit <= this.dma32bitPfn ? this.cached32 : this.cached);
    const retryPfn = this.nodes[curr]!.pfnHi;
    let newPfn: number;
    let prev: number;
    for (;;) {
      do {
        high = Math.min(high, this.nodes[curr]!.pfnLo);
        newPfn = Math.floor((high - size) / align) * align;
        prev = curr;
        curr--;
      } while (curr >= 0 && newPfn <= this.nodes[curr]!.pfnHi && newPfn >= low);
      if (high < size || newPfn < low) {
        if (low === this.startPfn && retryPfn < limit) {
          high = limit;
          low = retryPfn + 1;
          curr = this.findLimit(limit);
          continue;
        }
        this.max32AllocSize = size;
        return undefined;
      }
      break;
    }
    const iova: Iova = { pfnLo: newPfn, pfnHi: newPfn + size - 1 };
    this.nodes.splice(prev, 0, iova);
    if (iova.pfnHi < this.dma32bitPfn) this.cached32 = iova;
    else this.cached = iova;
    return iova;
  }

  /** find_iova(): the range containing `pfn`. */
  findIova(pfn: number): Iova | undefined {
    const i = this.upperBound(pfn) - 1;
    const n = i >= 0 ? this.nodes[i] : undefined;
    return n && n !== ANCHOR && pfn <= n.pfnHi ? n : undefined;
  }

  /** free_iova(): false when no range contains `pfn`. */
  freeIova(pfn: number): boolean {
    const iova = this.findIova(pfn);
    if (!iova) return false;
    const i = this.indexOf(iova);
    const next = this.nodes[i + 1]!;
    // __cached_rbnode_delete_update()
    if (iova === this.cached32 || (iova.pfnHi < this.dma32bitPfn && iova.pfnLo >= this.cached32.pfnLo)) this.cached32 = next;
    if (iova.pfnLo < this.dma32bitPfn) this.max32AllocSize = this.dma32bitPfn;
    if (iova.pfnLo >= this.cached.pfnLo) this.cached = next;
    this.nodes.splice(i, 1);
    return true;
  }

  /**
   * alloc_iova_fast(): sizes below 32 granules are rounded up to a power of two (so frees match the
   * caches); the range cache is tried first, then the tree; on failure every cached range is freed
   * once and the tree tried again. Returns the first pfn, or 0.
   */
  allocIovaFast(size: number, limitPfn: number, flushRcache = true): number {
    if (size < 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1)) size = 2 ** orderBase2(size);
    const cached = this.rcacheGet(size, limitPfn + 1);
    if (cached) return cached;
    for (;;) {
      const iova = this.allocIova(size, limitPfn, true);
      if (iova) return iova.pfnLo;
      if (!flushRcache) return 0;
      flushRcache = false;
      this.flushRcaches();
    }
  }

  /** free_iova_fast(): into the range cache when it takes it, else back to the tree. */
  freeIovaFast(pfn: number, size: number): void {
    if (this.rcacheInsert(pfn, size)) return;
    this.freeIova(pfn);
  }

  /** Frees every cached range to the tree (free_cpu_cached_iovas + free_global_cached_iovas). */
  flushRcaches(): void {
    for (const rc of this.rcaches) {
      for (const mag of [rc.loaded, rc.prev, ...rc.depot]) for (const pfn of mag) this.freeIova(pfn);
      rc.loaded = [];
      rc.prev = [];
      rc.depot = [];
    }
  }

  private rcacheInsert(pfn: number, size: number): boolean {
    const log = orderBase2(size);
    if (log >= IOVA_RANGE_CACHE_MAX_SIZE) return false;
    const rc = this.rcaches[log]!;
    if (rc.loaded.length >= IOVA_MAG_SIZE) {
      if (rc.prev.length < IOVA_MAG_SIZE) [rc.loaded, rc.prev] = [rc.prev, rc.loaded];
      else {
        if (rc.depot.length < MAX_GLOBAL_MAGS) rc.depot.push(rc.loaded);
        else for (const p of rc.loaded) this.freeIova(p);
        rc.loaded = [];
      }
    }
    rc.loaded.push(pfn);
    return true;
  }

  private rcacheGet(size: number, limitPfn: number): number {
    const log = orderBase2(size);
    if (log >= IOVA_RANGE_CACHE_MAX_SIZE) return 0;
    const rc = this.rcaches[log]!;
    if (rc.loaded.length === 0) {
      if (rc.prev.length) [rc.loaded, rc.prev] = [rc.prev, rc.loaded];
      else if (rc.depot.length) rc.loaded = rc.depot.pop()!;
      else return 0;
    }
    // iova_magazine_pop(): only entries at or below the limit qualify.
    const mag = rc.loaded;
    let i = mag.length - 1;
    while (mag[i]! > limitPfn - size) if (i-- === 0) return 0;
    const pfn = mag[i]!;
    mag[i] = mag[mag.length - 1]!;
    mag.pop();
    return pfn;
  }

  /** iova_find_limit(): where the retry starts, the lowest node at or above the limit. */
  private findLimit(limit: number): number {
    if (limit > this.dma32bitPfn) return this.nodes.length - 1;
    let lo = 0;
    let hi = this.nodes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.nodes[mid]!.pfnLo >= limit) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private indexOf(n: Iova): number {
    if (n === ANCHOR) return this.nodes.length - 1;
    const i = this.upperBound(n.pfnLo) - 1;
    if (this.nodes[i] !== n) throw new Error("iova: cached node is not in the tree");
    return i;
  }

  /** The first index whose pfnLo is above `pfn`. */
  private upperBound(pfn: number): number {
    let lo = 0;
    let hi = this.nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.nodes[mid]!.pfnLo <= pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
