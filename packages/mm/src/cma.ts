import { Errno, type FaultInjection, type Tracer } from "@dmabuf/core";
import { Bitmap } from "./internal/bitmap.js";
import { hex, pagePtr } from "./internal/format.js";
import type { PageAllocator } from "./page-allocator.js";
import { PAGE_SIZE } from "./physical-memory.js";

/** The `pfn` cma_alloc_finish prints when nothing was allocated: (unsigned long)-1. */
const NO_PFN = "0xffffffffffffffff";

/**
 * struct cma (mm/cma.c, mm/cma.h): a reserved physically contiguous area with a bitmap of one bit
 * per 2^order_per_bit pages. A reusable area (a `shared-dma-pool` with `reusable`) lends its free
 * pages to the page allocator as MIGRATE_CMA pageblocks that movable allocations may borrow; a
 * non-reusable one is a plain carve-out nobody else touches.
 */
export class Cma {
  readonly bitmap: Bitmap;
  /** /sys/kernel/mm/cma/<name>/alloc_pages_success, alloc_pages_fail, release_pages_success */
  allocPagesSuccess = 0;
  allocPagesFail = 0;
  releasePagesSuccess = 0;
  /** cma->mem_head: what the debugfs alloc file took. */
  private readonly debugMem: { pfn: number; n: number }[] = [];

  constructor(
    readonly name: string,
    readonly basePfn: number,
    /** pages in the area */
    readonly count: number,
    readonly orderPerBit: number,
    readonly reusable: boolean,
    private readonly pages: PageAllocator,
    private readonly trace?: Tracer,
    private readonly printk: (msg: string) => void = () => {},
    /** The kernel's fault points: `fail_cma_alloc` makes cma_alloc() fail with ENOMEM. */
    private readonly faults?: FaultInjection,
  ) {
    this.bitmap = new Bitmap(this.bitmapMaxno);
  }

  get base(): number {
    return this.basePfn * PAGE_SIZE;
  }
  get size(): number {
    return this.count * PAGE_SIZE;
  }

  /** cma_bitmap_maxno() */
  get bitmapMaxno(): number {
    return this.count >> this.orderPerBit;
  }

  /** debugfs `used`: pages whose bit is set. */
  get used(): number {
    return this.bitmap.weight << this.orderPerBit;
  }

  /** debugfs `maxchunk`: the longest free run, in pages. */
  get maxchunk(): number {
    return this.bitmap.longestZeroRun() << this.orderPerBit;
  }

  /** cma_get_size() / PAGE_SIZE minus used: free pages as CmaFree counts them for this area. */
  get available(): number {
    return this.count - this.used;
  }

  /**
   * cma_alloc(cma, count, align, no_warn): `count` contiguous pages whose first pfn is aligned to
   * 2^align pages (alignment is physical: mask and offset as cma_bitmap_aligned_mask/_offset).
   * First fit over the bitmap; the candidate's bits are reserved, then alloc_contig_range()
   * empties the range; a busy range (a pinned page) is skipped and the search resumes at the next
   * aligned candidate; any other failure ends the search. Returns the first pfn; throws ENOMEM
   * (Linux returns NULL) and leaves the area as it was.
   */
  alloc(count: number, align: number, noWarn = false): number {
    if (!(Number.isInteger(count) && count > 0)) throw new Errno("ENOMEM", "cma_alloc", `${this.name}: count ${count} is not a positive page count`);
    if (this.trace?.on) this.trace.emit("cma_alloc_start", { name: this.name, count, align });
    const mask = align <= this.orderPerBit ? 0 : 2 ** (align - this.orderPerBit) - 1;
    const offset = Math.floor((this.basePfn % 2 ** align) / 2 ** this.orderPerBit);
    const maxno = this.bitmapMaxno;
    const bits = this.pagesToBits(count);
    let ret = -12;
    if (this.faults?.shouldFail("fail_cma_alloc", this.name, count * PAGE_SIZE)) {
      this.finish(-1, count, align, ret);
      return this.fail(count, align, noWarn, "fault injected (fail_cma_alloc)", ret);
    }
    if (bits > maxno) {
      this.finish(-1, count, align, ret);
      return this.fail(count, align, noWarn, `request exceeds the area's ${this.count} pages`, ret);
    }
    let start = 0;
    for (;;) {
      const bitmapNo = this.bitmap.findNextZeroAreaOff(maxno, start, bits, mask, offset);
      if (bitmapNo >= maxno) break;
      this.bitmap.set(bitmapNo, bits);
      const pfn = this.basePfn + bitmapNo * 2 ** this.orderPerBit;
      const r = this.reusable ? this.pages.allocContigRange(pfn, pfn + count) : 0;
      if (r === 0) {
        this.finish(pfn, count, align, 0);
        this.allocPagesSuccess += count;
        return pfn;
      }
      this.bitmap.clear(bitmapNo, bits);
      ret = r === "EBUSY" ? -16 : -12;
      if (r !== "EBUSY") break;
      if (this.trace?.on) this.trace.emit("cma_alloc_busy_retry", { name: this.name, pfn: hex(pfn), page: pagePtr(pfn), count, align });
      start = bitmapNo + mask + 1;
    }
    this.finish(-1, count, align, ret);
    return this.fail(count, align, noWarn, ret === -16 ? "every fitting range holds pages that cannot be migrated" : "no free range is large enough (fragmented or exhausted)", ret);
  }

  /** cma_alloc()'s failure: counted, warned about unless no_warn, and ENOMEM with the reason. */
  private fail(count: number, align: number, noWarn: boolean, why: string, ret: number): never {
    this.allocPagesFail += count;
    if (!noWarn) this.printk(`cma_alloc: ${this.name}: alloc failed, req-size: ${count} pages, ret: ${ret}`);
    throw new Errno("ENOMEM", "cma_alloc", `${this.name}: ${why} (req-size ${count} pages, align order ${align})`);
  }

  /** cma_release(): false when the pages are not this area's; otherwise frees them and clears their bits. */
  release(pfn: number, count: number): boolean {
    if (!(pfn >= this.basePfn && pfn < this.basePfn + this.count)) return false;
    if (pfn + count > this.basePfn + this.count) throw new Error(`BUG: cma_release of ${count} pages at ${hex(pfn)} overruns ${this.name}`);
    if (this.reusable) this.pages.freeContigRange(pfn, count);
    this.bitmap.clear((pfn - this.basePfn) >> this.orderPerBit, this.pagesToBits(count));
    this.releasePagesSuccess += count;
    if (this.trace?.on) this.trace.emit("cma_release", { name: this.name, pfn: hex(pfn), page: pagePtr(pfn), count });
    return true;
  }

  /** cma_bitmap_pages_to_bits() */
  private pagesToBits(pages: number): number {
    return Math.ceil(pages / 2 ** this.orderPerBit);
  }

  private finish(pfn: number, count: number, align: number, errorno: number): void {
    if (this.trace?.on) this.trace.emit("cma_alloc_finish", { name: this.name, pfn: pfn < 0 ? NO_PFN : hex(pfn), page: pfn < 0 ? "0000000000000000" : pagePtr(pfn), count, align, errorno });
  }

  /**
   * debugfs `alloc` (cma_alloc_mem): allocates `count` pages, unaligned, and keeps them on the
   * debug list, newest first. ENOMEM when cma_alloc fails.
   */
  debugAlloc(count: number): void {
    this.debugMem.unshift({ pfn: this.alloc(count, 0), n: count });
  }

  /**
   * debugfs `free` (cma_free_mem): releases `count` pages from the debug list, newest allocation
   * first; with order_per_bit 0 the last one may be released in part.
   */
  debugFree(count: number): void {
    while (count > 0) {
      const mem = this.debugMem.shift();
      if (!mem) return;
      if (mem.n <= count) {
        this.release(mem.pfn, mem.n);
        count -= mem.n;
      } else if (this.orderPerBit === 0) {
        this.release(mem.pfn, count);
        this.debugMem.unshift({ pfn: mem.pfn + count, n: mem.n - count });
        count = 0;
      } else {
        this.debugMem.unshift(mem); // "cannot release partial block when order_per_bit != 0"
        return;
      }
    }
  }

  /** The debugfs `bitmap` file: debugfs_create_u32_array output. */
  bitmapText(): string {
    return Array.from(this.bitmap.words, String).join(" ") + "\n";
  }
}
