import type { FaultInjection, Tracer } from "@dmabuf/core";
import { pagePtr, hex } from "./internal/format.js";
import { PAGE_SIZE, type PhysicalMemory } from "./physical-memory.js";

/** MAX_PAGE_ORDER (6.x): the largest buddy block is 2^10 pages, 4 MiB. */
export const MAX_PAGE_ORDER = 10;
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
/** pageblock_order with 4 KiB pages on arm64 */
export const PAGEBLOCK_ORDER = 9;

/** enum migratetype (include/linux/mmzone.h), as mm_page_alloc prints it. */
export const MIGRATE_UNMOVABLE = 0;
export const MIGRATE_MOVABLE = 1;
export const MIGRATE_CMA = 4;
export const MIGRATE_ISOLATE = 5;

/** What a page frame is, as far as the buddy allocator knows (for invariant checks and debug). */
export type PageState = "free" | "allocated" | "contig" | "isolated" | "reserved";

/** The subset of gfp_t the model honours. */
export interface GfpFlags {
  /** __GFP_MOVABLE: the allocation may be migrated, so it may borrow CMA pageblocks. */
  readonly movable?: boolean;
  /** __GFP_ZERO */
  readonly zero?: boolean;
  /** Only zones wholly below this physical address (GFP_DMA32 for a 32-bit mask). */
  readonly limitPhys?: number | undefined;
  /** Printed as gfp_flags by mm_page_alloc (e.g. "GFP_HIGHUSER|__GFP_ZERO|__GFP_COMP"). */
  readonly name?: string;
}

/**
 * A movable allocation (anonymous or page-cache memory of a process, in Linux terms). Its pages
 * may be migrated when CMA needs them back: `pfn` changes and the bytes are copied (and counted).
 * A pinned allocation (get_user_pages with FOLL_LONGTERM, say) cannot move: CMA sees EBUSY.
 */
export class MovablePages {
  pinned = 0;
  freed = false;
  constructor(
    public pfn: number,
    readonly order: number,
  ) {}
  get phys(): number {
    return this.pfn * PAGE_SIZE;
  }
  get size(): number {
    return PAGE_SIZE << this.order;
  }
}

const NONE = -1;
/** alloc[] value for a page handed out by alloc_contig_range (each page is order 0 on its own). */
const CONTIG = 11;
/** Pool index: normal pageblocks and MIGRATE_CMA pageblocks keep separate free lists. */
const NORMAL = 0;
const CMA = 1;
const RESERVED = 2;

/** struct zone: one per RAM bank (named DMA32 below 4 GiB, Normal above). */
class Zone {
  readonly pages: number;
  /** free_area[order] per pool, each a stack of block head pfns (LIFO, as list_add + list_first). */
  readonly free: number[][][] = [0, 1].map(() => Array.from({ length: NR_PAGE_ORDERS }, () => []));
  /** Per page: order of the free block it heads, or -1. */
  readonly freeOrder: Int8Array;
  /** Per page: order of the allocated block it heads, CONTIG, or -1. */
  readonly alloc: Int8Array;
  /** Per page: pool (NORMAL, CMA, RESERVED). */
  readonly pool: Uint8Array;
  /** Per page: index in its free stack. */
  readonly pos: Int32Array;
  nrFree = 0;
  nrFreeCma = 0;
  managed = 0;
  cmaPages = 0;
  constructor(
    readonly name: string,
    readonly startPfn: number,
    readonly endPfn: number,
  ) {
    this.pages = endPfn - startPfn;
    this.freeOrder = new Int8Array(this.pages).fill(NONE);
    this.alloc = new Int8Array(this.pages).fill(NONE);
    this.pool = new Uint8Array(this.pages).fill(RESERVED);
    this.pos = new Int32Array(this.pages);
  }
}

/**
 * The buddy page allocator (mm/page_alloc.c): free lists per order 0..MAX_PAGE_ORDER, blocks split
 * on allocation (the lower half is handed out, upper halves go back, as expand() does) and merged
 * with their buddy (pfn ^ 1 << order) on free. Fragmentation emerges from use. CMA pageblocks sit in
 * their own lists; only movable allocations may borrow them, and CMA takes them back through
 * allocContigRange, migrating what it must.
 */
export class PageAllocator {
  readonly zones: Zone[];
  /** Isolated pfn ranges (start_isolate_page_range); frees inside them are parked, not merged. */
  private isolated: { start: number; end: number; parked: [number, number][] }[] = [];
  private readonly movable = new Map<number, MovablePages>();
  /** Constant byte runs for filled(). */
  private readonly runs = new Map<number, Buffer>();

  constructor(
    private readonly mem: PhysicalMemory,
    private readonly trace?: Tracer,
    /** The kernel's fault points: `fail_page_alloc` makes alloc_pages() fail (should_fail_alloc_page). */
    private readonly faults?: FaultInjection,
  ) {
    this.zones = mem.banks.map((b) => new Zone(b.base + b.size <= 2 ** 32 ? "DMA32" : "Normal", b.startPfn, b.endPfn));
  }

  /** Boot: hands every page not reserved below to the allocator (memblock_free_all). */
  online(reserved: readonly { start: number; end: number }[], cma: readonly { start: number; end: number }[]): void {
    for (const z of this.zones) {
      const mark = (ranges: readonly { start: number; end: number }[], pool: number) => {
        for (const r of ranges) if (r.start < z.endPfn && r.end > z.startPfn) z.pool.fill(pool, Math.max(r.start, z.startPfn) - z.startPfn, Math.min(r.end, z.endPfn) - z.startPfn);
      };
      z.pool.fill(NORMAL);
      mark(cma, CMA);
      mark(reserved, RESERVED);
      for (let i = 0; i < z.pages; ) {
        const pool = z.pool[i];
        let j = i + 1;
        while (j < z.pages && z.pool[j] === pool) j++;
        if (pool !== RESERVED) {
          z.managed += j - i;
          if (pool === CMA) z.cmaPages += j - i;
          this.freeRange(z.startPfn + i, z.startPfn + j);
        }
        i = j;
      }
    }
  }

  zoneOf(pfn: number): Zone | undefined {
    for (const z of this.zones) if (pfn >= z.startPfn && pfn < z.endPfn) return z;
    return undefined;
  }

  get nrFree(): number {
    return this.zones.reduce((n, z) => n + z.nrFree, 0);
  }
  get nrFreeCma(): number {
    return this.zones.reduce((n, z) => n + z.nrFreeCma, 0);
  }
  get managedPages(): number {
    return this.zones.reduce((n, z) => n + z.managed, 0);
  }
  get cmaPages(): number {
    return this.zones.reduce((n, z) => n + z.cmaPages, 0);
  }
  /** Pages held by movable allocations (AnonPages in meminfo). */
  get movablePages(): number {
    let n = 0;
    for (const m of this.movable.values()) n += 1 << m.order;
    return n;
  }

  /** What the allocator believes about one page frame. */
  pageState(pfn: number): PageState {
    const z = this.zoneOf(pfn);
    if (!z || z.pool[pfn - z.startPfn] === RESERVED) return "reserved";
    if (this.isolated.some((r) => r.parked.some(([p, o]) => pfn >= p && pfn < p + (1 << o)))) return "isolated";
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      const head = pfn - (pfn % (1 << o));
      if (head < z.startPfn) break;
      const i = head - z.startPfn;
      if (z.freeOrder[i] === o) return "free";
      if (o === 0 && z.alloc[i] === CONTIG) return "contig";
      if (z.alloc[i] === o) return "allocated";
    }
    throw new Error(`page allocator: pfn ${hex(pfn)} is in no state (corrupted free lists)`);
  }

  /**
   * alloc_pages(gfp, order): the pfn of a 2^order block, or -1 when no block is free (no reclaim or
   * compaction is modelled, as with __GFP_NORETRY). Zones are tried from the highest, as the
   * zonelist does. A movable request takes CMA pageblocks first when they hold more than half the
   * zone's free memory, and falls back to them otherwise (__rmqueue, mm/page_alloc.c).
   */
  allocPages(order: number, gfp: GfpFlags = {}): number {
    if (!(order >= 0 && order <= MAX_PAGE_ORDER)) return -1;
    if (this.faults?.shouldFail("fail_page_alloc", undefined, PAGE_SIZE << order)) return -1;
    for (let zi = this.zones.length - 1; zi >= 0; zi--) {
      const z = this.zones[zi]!;
      if (gfp.limitPhys !== undefined && z.endPfn * PAGE_SIZE - 1 > gfp.limitPhys) continue;
      const cmaFirst = gfp.movable && z.nrFreeCma > (z.nrFree >> 1);
      const pools = gfp.movable ? (cmaFirst ? [CMA, NORMAL] : [NORMAL, CMA]) : [NORMAL];
      for (const pool of pools) {
        const pfn = this.rmqueue(z, pool, order);
        if (pfn < 0) continue;
        z.alloc[pfn - z.startPfn] = order;
        if (gfp.zero) this.mem.zero(pfn * PAGE_SIZE, PAGE_SIZE << order);
        if (this.trace?.on)
          this.trace.emit("mm_page_alloc", { page: pagePtr(pfn), pfn: hex(pfn), order, migratetype: pool === CMA ? MIGRATE_CMA : gfp.movable ? MIGRATE_MOVABLE : MIGRATE_UNMOVABLE, gfp_flags: gfp.name ?? (gfp.movable ? "GFP_HIGHUSER_MOVABLE" : "GFP_HIGHUSER") + (gfp.zero ? "|__GFP_ZERO" : "") });
        return pfn;
      }
    }
    return -1;
  }

  /** __free_pages(page, order). Freeing what is not an allocated block of that order is a BUG. */
  freePages(pfn: number, order: number): void {
    const z = this.zoneOf(pfn);
    if (!z || z.alloc[pfn - z.startPfn] !== order) throw new Error(`BUG: Bad page state: pfn ${hex(pfn)} freed as order ${order} but is ${z ? this.pageState(pfn) : "not RAM"}`);
    z.alloc[pfn - z.startPfn] = NONE;
    if (this.trace?.on) this.trace.emit("mm_page_free", { page: pagePtr(pfn), pfn: hex(pfn), order });
    this.freeBlock(z, pfn, order);
  }

  /** A movable allocation of 2^order pages (GFP_HIGHUSER_MOVABLE), or undefined. */
  allocMovable(order: number): MovablePages | undefined {
    const pfn = this.allocPages(order, { movable: true });
    if (pfn < 0) return undefined;
    const m = new MovablePages(pfn, order);
    this.movable.set(pfn, m);
    return m;
  }

  freeMovable(m: MovablePages): void {
    if (m.freed || this.movable.get(m.pfn) !== m) throw new Error(`BUG: freeing movable pages at pfn ${hex(m.pfn)} twice`);
    this.movable.delete(m.pfn);
    m.freed = true;
    this.freePages(m.pfn, m.order);
  }

  /**
   * alloc_contig_range(start, end, MIGRATE_CMA) (mm/page_alloc.c): isolates the pageblocks around
   * the range, migrates the movable allocations out of it (each a counted copy) and takes its pages.
   * Returns 0, "EBUSY" when a page cannot move (pinned, or not a CMA/movable page), or "ENOMEM" when
   * no migration target is free. A failure leaves every free page where it was.
   */
  allocContigRange(start: number, end: number): 0 | "EBUSY" | "ENOMEM" {
    const z = this.zoneOf(start);
    if (!z || end > z.endPfn) return "EBUSY";
    // Every page must be a CMA page that is free or part of a movable allocation; anything else
    // allocated in the range is unmovable (has_unmovable_pages()): EBUSY. Whole-range compares
    // first (memcmp speed); the per-page walk only when something is allocated there.
    const a = start - z.startPfn;
    const b = end - z.startPfn;
    if (!this.filled(z.pool, a, b, CMA)) return "EBUSY";
    if (!this.filled(z.alloc, a, b, NONE))
      for (let i = a; i < b; i++) if (z.alloc[i] === CONTIG || (z.alloc[i]! >= 0 && !this.movable.has(i + z.startPfn))) return "EBUSY";
    const movers: MovablePages[] = [];
    if (this.movable.size) for (const m of this.movable.values()) if (m.pfn < end && m.pfn + (1 << m.order) > start) movers.push(m);
    if (movers.some((m) => m.pinned > 0)) return "EBUSY";
    const span = 1 << MAX_PAGE_ORDER;
    const iso = { start: Math.max(z.startPfn, Math.floor(start / span) * span), end: Math.min(z.endPfn, Math.ceil(end / span) * span), parked: [] as [number, number][] };
    this.isolate(z, iso);
    // Allocate every migration target first, so that running out changes nothing.
    const targets: number[] = [];
    for (const m of movers) {
      const t = this.allocPages(m.order, { movable: true, name: "GFP_HIGHUSER_MOVABLE" });
      if (t < 0) {
        movers.slice(0, targets.length).forEach((mm, k) => this.freePages(targets[k]!, mm.order));
        this.unisolate(iso);
        return "ENOMEM";
      }
      targets.push(t);
    }
    movers.forEach((m, k) => {
      const to = targets[k]!;
      this.mem.copy(to * PAGE_SIZE, m.pfn * PAGE_SIZE, m.size, "migration");
      this.movable.delete(m.pfn);
      this.movable.set(to, m);
      const from = m.pfn;
      m.pfn = to;
      this.freePages(from, m.order); // parked: the range is isolated
    });
    if (this.trace?.on && movers.length) this.trace.emit("mm_migrate_pages", { succeeded: movers.length, failed: 0, thp_succeeded: 0, thp_failed: 0, thp_split: 0, mode: "MIGRATE_SYNC", reason: "contig_range" });
    // Take [start, end) page by page; hand the rest of the isolated blocks back.
    const parked = iso.parked;
    iso.parked = [];
    this.isolated = this.isolated.filter((r) => r !== iso);
    for (const [p, o] of parked) {
      const e = p + (1 << o);
      if (Math.max(p, start) < Math.min(e, end)) z.alloc.fill(CONTIG, Math.max(p, start) - z.startPfn, Math.min(e, end) - z.startPfn);
      this.freeRange(p, Math.min(e, start));
      this.freeRange(Math.max(p, end), e);
    }
    return 0;
  }

  /** free_contig_range(pfn, nr_pages) */
  freeContigRange(pfn: number, count: number): void {
    const z = this.zoneOf(pfn);
    if (!z || pfn + count > z.endPfn || !this.filled(z.alloc, pfn - z.startPfn, pfn - z.startPfn + count, CONTIG))
      throw new Error(`BUG: free_contig_range: pages ${hex(pfn)}+${count} were not all taken by alloc_contig_range`);
    z.alloc.fill(NONE, pfn - z.startPfn, pfn - z.startPfn + count);
    this.freeRange(pfn, pfn + count);
  }

  /** True when arr[a..b) all hold `v` (a memcmp against a constant run). */
  private filled(arr: Int8Array | Uint8Array, a: number, b: number, v: number): boolean {
    let run = this.runs.get(v);
    if (!run || run.length < b - a) this.runs.set(v, (run = Buffer.alloc(Math.max(b - a, 1 << MAX_PAGE_ORDER), v & 0xff)));
    return Buffer.from(arr.buffer, arr.byteOffset + a, b - a).equals(run.subarray(0, b - a));
  }

  /** Frees [start, end) as the largest naturally aligned blocks (__free_pages_memory). */
  private freeRange(start: number, end: number): void {
    const z = this.zoneOf(start);
    let pfn = start;
    while (pfn < end) {
      let order = 0;
      while (order < MAX_PAGE_ORDER && pfn % (2 << order) === 0 && pfn + (2 << order) <= end) order++;
      this.freeBlock(z!, pfn, order);
      pfn += 1 << order;
    }
  }

  private freeBlock(z: Zone, pfn: number, order: number): void {
    const iso = this.isolated.find((r) => pfn >= r.start && pfn < r.end);
    if (iso) {
      iso.parked.push([pfn, order]);
      return;
    }
    const pool = z.pool[pfn - z.startPfn]!;
    while (order < MAX_PAGE_ORDER) {
      const buddy = Math.floor(pfn / (1 << order)) % 2 === 0 ? pfn + (1 << order) : pfn - (1 << order);
      const bi = buddy - z.startPfn;
      if (bi < 0 || bi >= z.pages || z.freeOrder[bi] !== order || z.pool[bi] !== pool) break;
      this.unlink(z, pool, buddy, order);
      pfn = Math.min(pfn, buddy);
      order++;
    }
    this.link(z, pool, pfn, order);
  }

  /** __rmqueue_smallest(): the smallest order with a free block, split down (expand()). */
  private rmqueue(z: Zone, pool: number, order: number): number {
    for (let o = order; o <= MAX_PAGE_ORDER; o++) {
      const list = z.free[pool]![o]!;
      if (list.length === 0) continue;
      const pfn = list[list.length - 1]!;
      this.unlink(z, pool, pfn, o);
      while (o > order) {
        o--;
        this.link(z, pool, pfn + (1 << o), o);
      }
      return pfn;
    }
    return -1;
  }

  private link(z: Zone, pool: number, pfn: number, order: number): void {
    const i = pfn - z.startPfn;
    const list = z.free[pool]![order]!;
    z.freeOrder[i] = order;
    z.pos[i] = list.length;
    list.push(pfn);
    z.nrFree += 1 << order;
    if (pool === CMA) z.nrFreeCma += 1 << order;
  }

  private unlink(z: Zone, pool: number, pfn: number, order: number): void {
    const i = pfn - z.startPfn;
    const list = z.free[pool]![order]!;
    const at = z.pos[i]!;
    const last = list.pop()!;
    if (last !== pfn) {
      list[at] = last;
      z.pos[last - z.startPfn] = at;
    }
    z.freeOrder[i] = NONE;
    z.nrFree -= 1 << order;
    if (pool === CMA) z.nrFreeCma -= 1 << order;
  }

  /** start_isolate_page_range(): takes the free blocks of [iso.start, iso.end) off the free lists. */
  private isolate(z: Zone, iso: { start: number; end: number; parked: [number, number][] }): void {
    for (let i = iso.start - z.startPfn; i < iso.end - z.startPfn; ) {
      const f = z.freeOrder[i]!;
      if (f >= 0) {
        this.unlink(z, z.pool[i]!, i + z.startPfn, f);
        iso.parked.push([i + z.startPfn, f]);
        i += 1 << f;
      } else i += z.alloc[i]! >= 0 && z.alloc[i] !== CONTIG ? 1 << z.alloc[i]! : 1;
    }
    this.isolated.push(iso);
  }

  private unisolate(iso: { start: number; end: number; parked: [number, number][] }): void {
    this.isolated = this.isolated.filter((r) => r !== iso);
    const z = this.zoneOf(iso.start)!;
    for (const [p, o] of iso.parked) this.freeBlock(z, p, o);
  }

  /** /proc/buddyinfo (mm/vmstat.c frag_show_print) */
  buddyinfo(): string {
    return this.zones
      .map((z) => {
        let line = `Node 0, zone ${z.name.padStart(8)} `;
        for (let o = 0; o <= MAX_PAGE_ORDER; o++) line += `${String(z.free[NORMAL]![o]!.length + z.free[CMA]![o]!.length).padStart(6)} `;
        return line + "\n";
      })
      .join("");
  }

  /** Free blocks per order, over all zones (what buddyinfo sums). */
  freeBlocks(): number[] {
    const n = new Array<number>(NR_PAGE_ORDERS).fill(0);
    for (const z of this.zones) for (let o = 0; o <= MAX_PAGE_ORDER; o++) n[o] += z.free[NORMAL]![o]!.length + z.free[CMA]![o]!.length;
    return n;
  }
}
