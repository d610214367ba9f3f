import { Errno, type Device, type DmaDataDirection, type Kernel, type SgTable } from "@dmabuf/core";
import type { InjectionToken } from "tsyringe";
import { Cma } from "./cma.js";
import { addCmaHeap } from "./heaps/cma-heap.js";
import { addDeferredHeap } from "./heaps/deferred-heap.js";
import { dmaHeapRemove, type DmaHeap } from "./heaps/dma-heap.js";
import { addSystemHeap } from "./heaps/system-heap.js";
import { CopyCounter } from "./copy-counter.js";
import { DmaEngine } from "./dma-engine.js";
import { DmaMapping, type DmaCoherentBuffer } from "./dma-mapping.js";
import { CacheModel } from "./internal/cache-model.js";
import { hex16 } from "./internal/format.js";
import { Iommu } from "./iommu.js";
import { MAX_PAGE_ORDER, PageAllocator } from "./page-allocator.js";
import { PAGE_SIZE, PhysicalMemory, physToPfn } from "./physical-memory.js";
import { Placement } from "./placement.js";
import { IO_TLB_DEFAULT_SIZE, Swiotlb } from "./swiotlb.js";

/** Options of the mm plugin. */
export interface MmOptions {
  /** order_per_bit of every CMA area (default 0: one bit per page, as for devicetree areas). */
  readonly cmaOrderPerBit?: number;
  /**
   * swiotlb: "auto" (default) sets up the bounce pool only when RAM reaches beyond 4 GiB, as arm64
   * does; true forces it (swiotlb=force's pool), false leaves it out (bouncing cannot help).
   */
  readonly swiotlb?: boolean | "auto";
  /** Bounce pool size in bytes (default 64 MiB). */
  readonly swiotlbSize?: number;
}

/** A page count written to a debugfs alloc/free file (DEFINE_DEBUGFS_ATTRIBUTE parses a u64). */
function debugCount(text: string, file: string): number {
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < 0) throw new Errno("EINVAL", "write", `cma debugfs ${file}: "${text.trim()}" is not a page count`);
  return n;
}

/** Resolve the memory manager with `kernel.resolve(MM)`. */
export const MM: InjectionToken<MemoryManager> = Symbol.for("@dmabuf/mm/MemoryManager");

/** The smallest CMA alignment: a whole MAX_PAGE_ORDER block (4 MiB), so pageblocks never mix. */
const CMA_MIN_ALIGNMENT = PAGE_SIZE << MAX_PAGE_ORDER;
const FOUR_GIB = 2 ** 32;
/** The placement log (a model extension next to core's bufinfo). */
export const PLACEMENT_DEBUGFS = "/sys/kernel/debug/dma_buf/placement";

interface Range {
  start: number;
  end: number;
}

/**
 * The memory side of the simulated kernel, built at boot from the board: physical RAM, the buddy
 * allocator, CMA areas, IOMMUs, swiotlb, the DMA mapping API and the device DMA engine. Drivers
 * resolve it with `kernel.resolve(MM)`.
 */
export class MemoryManager {
  readonly copies: CopyCounter;
  readonly mem: PhysicalMemory;
  readonly pages: PageAllocator;
  readonly cmaAreas: readonly Cma[];
  readonly iommus: ReadonlyMap<string, Iommu>;
  readonly swiotlb: Swiotlb | undefined;
  readonly cache: CacheModel;
  readonly dma: DmaMapping;
  readonly engine: DmaEngine;
  /** Placement of deferred buffers and the log of its decisions. */
  readonly placement: Placement;
  /** /dev/dma_heap/system, one CMA heap per CMA area, and /dev/dma_heap/deferred (a model extension). */
  readonly heaps: readonly DmaHeap[];

  constructor(
    readonly kernel: Kernel,
    readonly options: MmOptions = {},
  ) {
    const board = kernel.board;
    const printk = (m: string) => kernel.printk(m);
    this.copies = new CopyCounter(kernel.trace);
    this.mem = new PhysicalMemory(board.memory, this.copies);
    this.pages = new PageAllocator(this.mem, kernel.trace, kernel.faults);

    // Reserved memory first (early_init_fdt_scan_reserved_mem), then the swiotlb pool below it.
    const taken: Range[] = [];
    const areas: { name: string; range: Range; reusable: boolean }[] = [];
    for (const r of board.reservedMemory) {
      const align = r.reusable ? Math.max(r.alignment, CMA_MIN_ALIGNMENT) : Math.max(r.alignment, PAGE_SIZE);
      const size = Math.ceil(r.size / align) * align;
      let base: number;
      if (r.base !== undefined) {
        if (r.base % align) throw new Errno("EINVAL", "cma_declare_contiguous", `Region at ${hex16(r.base)} must be aligned to ${hex16(align)} bytes (${r.name})`);
        base = r.base;
        if (taken.some((t) => base < t.end && base + size > t.start)) throw new Errno("EBUSY", "cma_declare_contiguous", `${r.name}: region ${hex16(base)}+${size} overlaps another reserved region`);
      } else base = this.placeTopDown(size, align, taken, r.name);
      const range = { start: base, end: base + size };
      taken.push(range);
      areas.push({ name: r.name, range, reusable: r.reusable });
      printk(r.reusable ? `Reserved memory: created CMA memory pool at ${hex16(base)}, size ${size >> 20} MiB` : `Reserved memory: created DMA memory pool at ${hex16(base)}, size ${size >> 20} MiB`);
      printk(`OF: reserved mem: initialized node ${r.name}, compatible id shared-dma-pool`);
    }
    const ramTop = Math.max(...board.memory.map((m) => m.base + m.size));
    const wantTlb = options.swiotlb === true || ((options.swiotlb ?? "auto") === "auto" && ramTop > FOUR_GIB);
    if (wantTlb) {
      const size = options.swiotlbSize ?? IO_TLB_DEFAULT_SIZE;
      const base = this.placeTopDown(size, PAGE_SIZE << MAX_PAGE_ORDER, taken, "swiotlb");
      taken.push({ start: base, end: base + size });
      this.swiotlb = new Swiotlb(base, size, this.mem, kernel.trace, printk);
      printk(`software IO TLB: area num 1.`);
      printk(`software IO TLB: mapped [mem ${hex16(base)}-${hex16(base + size - 1)}] (${size >> 20}MB)`);
    }
    const pfnRange = (r: Range) => ({ start: physToPfn(r.start), end: physToPfn(r.end) });
    this.pages.online(
      [...areas.filter((a) => !a.reusable).map((a) => pfnRange(a.range)), ...(this.swiotlb ? [pfnRange({ start: this.swiotlb.start, end: this.swiotlb.end })] : [])],
      areas.filter((a) => a.reusable).map((a) => pfnRange(a.range)),
    );
    const opb = options.cmaOrderPerBit ?? 0;
    this.cmaAreas = areas.map((a) => new Cma(a.name, physToPfn(a.range.start), (a.range.end - a.range.start) / PAGE_SIZE, opb, a.reusable, this.pages, kernel.trace, printk, kernel.faults));
    this.iommus = new Map(board.iommus.map((i) => [i.name, new Iommu(i.name, [...i.pageSizes].sort((a, b) => a - b), i.iovaBits, kernel.trace)]));
    this.cache = new CacheModel(this.mem, this.copies);
    this.dma = new DmaMapping({ mem: this.mem, pages: this.pages, iommus: this.iommus, swiotlb: this.swiotlb, cache: this.cache, cmaFor: (d) => this.cmaFor(d), printk });
    this.engine = new DmaEngine(this.mem, this.dma, this.cache, this.copies, kernel.trace);
    this.placement = new Placement(this);
    this.registerFiles();
    this.heaps = [addSystemHeap(kernel, this), ...this.cmaAreas.filter((c) => c.reusable).map((c) => addCmaHeap(kernel, this, c)), addDeferredHeap(kernel, this)];
  }

  /** The CMA area or carve-out named `name`. */
  cma(name: string): Cma | undefined {
    return this.cmaAreas.find((c) => c.name === name);
  }

  /** dma_contiguous_default_area: the area marked `default` (linux,cma-default). */
  get defaultCma(): Cma | undefined {
    const i = this.kernel.board.reservedMemory.findIndex((r) => r.default && r.reusable);
    return i < 0 ? undefined : this.cmaAreas[i];
  }

  /** dev_get_cma_area(): the device's memory-region, else the default area. */
  cmaFor(dev: Device): Cma | undefined {
    return dev.memoryRegion !== undefined ? this.cma(dev.memoryRegion) : this.defaultCma;
  }

  /** A zero-copy view of physical memory (phys_to_virt). */
  view(phys: number, len: number): Uint8Array {
    return this.mem.view(phys, len);
  }

  /** cma_alloc(): `count` contiguous pages aligned to 2^align pages; the first pfn. Throws ENOMEM. */
  cmaAlloc(cma: Cma, count: number, align: number): number {
    return cma.alloc(count, align);
  }

  /** cma_release(): false when the pages are not the area's. */
  cmaRelease(cma: Cma, pfn: number, count: number): boolean {
    return cma.release(pfn, count);
  }

  /* The DMA mapping API, as drivers call it (see DmaMapping for each one's contract). */
  dmaMapSgtable(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs = 0): void {
    this.dma.dmaMapSgtable(dev, sgt, dir, attrs);
  }
  dmaUnmapSgtable(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs = 0): void {
    this.dma.dmaUnmapSgtable(dev, sgt, dir, attrs);
  }
  dmaSyncSgtableForCpu(dev: Device, sgt: SgTable, dir: DmaDataDirection): void {
    this.dma.dmaSyncSgtableForCpu(dev, sgt, dir);
  }
  dmaSyncSgtableForDevice(dev: Device, sgt: SgTable, dir: DmaDataDirection): void {
    this.dma.dmaSyncSgtableForDevice(dev, sgt, dir);
  }
  dmaMapSg(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs = 0): number {
    return this.dma.dmaMapSg(dev, sgt, dir, attrs);
  }
  dmaUnmapSg(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs = 0): void {
    this.dma.dmaUnmapSg(dev, sgt, dir, attrs);
  }
  dmaMapPage(dev: Device, phys: number, size: number, dir: DmaDataDirection, attrs = 0): number {
    return this.dma.dmaMapPage(dev, phys, size, dir, attrs);
  }
  dmaUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs = 0): void {
    this.dma.dmaUnmapPage(dev, addr, size, dir, attrs);
  }
  dmaAllocAttrs(dev: Device, size: number, attrs = 0): DmaCoherentBuffer {
    return this.dma.dmaAllocAttrs(dev, size, attrs);
  }
  dmaFreeAttrs(buf: DmaCoherentBuffer): void {
    this.dma.dmaFreeAttrs(buf);
  }

  /** The board device called `name` (ENODEV when absent). */
  device(name: string): Device {
    const d = this.kernel.devices.find((x) => x.name === name);
    if (!d) throw new Errno("ENODEV", "mm", `no device "${name}" on this board`);
    return d;
  }

  /** /proc/meminfo (fs/proc/meminfo.c field names and layout). */
  meminfo(): string {
    const kb = (pages: number) => pages * (PAGE_SIZE / 1024);
    const line = (name: string, pages: number) => `${(name + ":").padEnd(16)}${String(kb(pages)).padStart(8)} kB\n`;
    const free = this.pages.nrFree;
    const cmaTotal = this.cmaAreas.filter((c) => c.reusable).reduce((n, c) => n + c.count, 0);
    return (
      line("MemTotal", this.pages.managedPages) +
      line("MemFree", free) +
      line("MemAvailable", free) +
      line("Buffers", 0) +
      line("Cached", 0) +
      line("SwapCached", 0) +
      line("AnonPages", this.pages.movablePages) +
      line("SwapTotal", 0) +
      line("SwapFree", 0) +
      line("CmaTotal", cmaTotal) +
      line("CmaFree", this.pages.nrFreeCma)
    );
  }

  /** Where memblock would put a floating region: the highest free spot, below 4 GiB if possible. */
  private placeTopDown(size: number, align: number, taken: readonly Range[], name: string): number {
    const banks = [...this.mem.banks].reverse();
    for (const limit of [FOUR_GIB, Infinity])
      for (const b of banks) {
        let top = Math.min(b.base + b.size, limit);
        for (;;) {
          const base = Math.floor((top - size) / align) * align;
          if (base < b.base) break;
          const clash = taken.find((t) => base < t.end && base + size > t.start);
          if (!clash) return base;
          top = clash.start;
        }
      }
    throw new Errno("ENOMEM", "memblock_alloc", `${name}: no room for ${size} bytes (aligned to ${align}) in RAM`);
  }

  private registerFiles(): void {
    const vfs = this.kernel.vfs;
    vfs.createText("/proc/buddyinfo", () => this.pages.buddyinfo());
    vfs.createText("/proc/meminfo", () => this.meminfo());
    vfs.createText(PLACEMENT_DEBUGFS, () => this.placement.show());
    for (const c of this.cmaAreas) {
      if (!c.reusable) continue;
      const dbg = `/sys/kernel/debug/cma/${c.name}`;
      const u = (n: number) => `${n}\n`;
      vfs.createText(`${dbg}/base_pfn`, () => u(c.basePfn));
      vfs.createText(`${dbg}/count`, () => u(c.count));
      vfs.createText(`${dbg}/order_per_bit`, () => u(c.orderPerBit));
      vfs.createText(`${dbg}/used`, () => u(c.used));
      vfs.createText(`${dbg}/maxchunk`, () => u(c.maxchunk));
      vfs.createText(`${dbg}/bitmap`, () => c.bitmapText());
      vfs.createText(`${dbg}/alloc`, () => "", (t) => c.debugAlloc(debugCount(t, "alloc")));
      vfs.createText(`${dbg}/free`, () => "", (t) => c.debugFree(debugCount(t, "free")));
      const sys = `/sys/kernel/mm/cma/${c.name}`;
      vfs.createText(`${sys}/alloc_pages_success`, () => u(c.allocPagesSuccess));
      vfs.createText(`${sys}/alloc_pages_fail`, () => u(c.allocPagesFail));
      vfs.createText(`${sys}/release_pages_success`, () => u(c.releasePagesSuccess));
      vfs.createText(`${sys}/total_pages`, () => u(c.count));
      vfs.createText(`${sys}/available_pages`, () => u(c.available));
    }
  }

  /** Module exit: removes the files the subsystem created. */
  teardown(): void {
    const vfs = this.kernel.vfs;
    for (const h of this.heaps) dmaHeapRemove(this.kernel, h);
    for (const p of ["/proc/buddyinfo", "/proc/meminfo", PLACEMENT_DEBUGFS]) vfs.remove(p);
    for (const c of this.cmaAreas) {
      for (const f of ["base_pfn", "count", "order_per_bit", "used", "maxchunk", "bitmap", "alloc", "free"]) vfs.remove(`/sys/kernel/debug/cma/${c.name}/${f}`);
      for (const f of ["alloc_pages_success", "alloc_pages_fail", "release_pages_success", "total_pages", "available_pages"]) vfs.remove(`/sys/kernel/mm/cma/${c.name}/${f}`);
    }
  }
}
