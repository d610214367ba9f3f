import {
  DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, Errno, check, isErrno, isValidDmaDirection, type DmaDataDirection,
  type Device, type SgTable,
} from "@dmabuf/core";
import type { Cma } from "./cma.js";
import { alignUp, offsetIn } from "./internal/align.js";
import type { CacheModel } from "./internal/cache-model.js";
import { hex } from "./internal/format.js";
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, type Iommu, type IommuDomain, type PhysRun } from "./iommu.js";
import type { PageAllocator } from "./page-allocator.js";
import { MAX_PAGE_ORDER } from "./page-allocator.js";
import { PAGE_SIZE, physToPfn, type PhysicalMemory } from "./physical-memory.js";
import type { Swiotlb } from "./swiotlb.js";

/* include/linux/dma-mapping.h */
export const DMA_ATTR_WRITE_COMBINE = 1 << 2;
export const DMA_ATTR_NO_KERNEL_MAPPING = 1 << 4;
export const DMA_ATTR_SKIP_CPU_SYNC = 1 << 5;
export const DMA_ATTR_FORCE_CONTIGUOUS = 1 << 6;
export const DMA_ATTR_NO_WARN = 1 << 8;
/** DMA_MAPPING_ERROR is ~(dma_addr_t)0; no valid bus address is negative, so -1 stands for it. */
export const DMA_MAPPING_ERROR = -1;
/** CONFIG_CMA_ALIGNMENT: dma_alloc_contiguous() aligns to at most 2^8 pages. */
export const CMA_ALIGNMENT = 8;

/** get_order(size) */
export const getOrder = (size: number) => Math.max(0, Math.ceil(Math.log2(Math.ceil(size / PAGE_SIZE))));

/** What a live streaming mapping remembers so that sync and unmap can undo it. */
export interface DmaMappingRecord {
  readonly dev: Device;
  readonly dir: DmaDataDirection;
  readonly attrs: number;
  /** dma-iommu: the one IOVA range the whole table lives in. */
  readonly iova?: { readonly domain: IommuDomain; readonly addr: number; readonly size: number };
  /** dma-direct: per entry, the swiotlb slot it bounces through, or -1. */
  readonly bounce: readonly number[];
}

/** A dma_alloc_attrs() buffer: cpu_addr (a view) and dma_handle, physically contiguous. */
export interface DmaCoherentBuffer {
  readonly dev: Device;
  readonly phys: number;
  readonly size: number;
  /** dma_handle: the bus address the device uses (an IOVA behind an IOMMU). */
  readonly dmaAddress: number;
  /** Where the pages came from: a CMA area, or the buddy allocator (order). */
  readonly cma?: Cma;
  readonly order?: number;
}

export interface DmaMappingDeps {
  mem: PhysicalMemory;
  pages: PageAllocator;
  iommus: ReadonlyMap<string, Iommu>;
  swiotlb: Swiotlb | undefined;
  cache: CacheModel;
  /** dev_get_cma_area(): the device's memory-region, else the default area. */
  cmaFor(dev: Device): Cma | undefined;
  printk(msg: string): void;
}

/**
 * The DMA mapping API (kernel/dma/mapping.c) with its two back ends: dma-direct for devices without
 * an IOMMU (bus address = physical address; beyond the mask, bounce through swiotlb or fail) and
 * dma-iommu (one IOVA range per table, below the device's mask, segments merged up to
 * max_segment_size and never across segment_boundary_mask). Non-coherent devices get cache
 * maintenance at map, unmap and sync, through the explicit cache model.
 */
export class DmaMapping {
  private readonly records = new WeakMap<SgTable, DmaMappingRecord>();
  private readonly singles = new Map<Device, Map<number, DmaMappingRecord & { phys: number; size: number }>>();
  private readonly coherent = new Set<DmaCoherentBuffer>();

  constructor(private readonly d: DmaMappingDeps) {}

  /** The device's IOMMU domain, if it sits behind one. */
  domainOf(dev: Device): IommuDomain | undefined {
    if (dev.iommu === undefined) return undefined;
    const iommu = this.d.iommus.get(dev.iommu);
    if (!iommu) throw new Error(`${dev.name}: IOMMU "${dev.iommu}" is not on this board`);
    return iommu.domainFor(dev);
  }

  /** The live mapping of `sgt`, if mapped. */
  mappingOf(sgt: SgTable): DmaMappingRecord | undefined {
    return this.records.get(sgt);
  }

  /** dma_capable(): addr + size - 1 <= the device's mask. */
  dmaCapable(dev: Device, addr: number, size: number): boolean {
    return addr + size - 1 <= dev.dmaLimit;
  }

  /** dma_get_max_seg_size(): the device's max_segment_size (board default 64 KiB), an unsigned int. */
  maxSegmentSize(dev: Device): number {
    return Math.min(dev.maxSegmentSize, 0xffffffff) || 65536;
  }

  /**
   * dma_map_sgtable(dev, sgt, dir, attrs): maps every entry for `dev` and sets `sgt.nents` to the
   * number of DMA segments. Errors: EINVAL (bad direction, table already mapped), ENOMEM (no IOVA
   * space), EIO (an entry beyond the mask that swiotlb cannot bounce). A failure maps nothing.
   */
  dmaMapSgtable(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs = 0): void {
    // plain ifs: no message is built unless the call fails
    if (!isValidDmaDirection(dir)) throw new Errno("EINVAL", "dma_map_sgtable", `invalid DMA direction ${dir}`);
    if (this.records.has(sgt)) throw new Errno("EINVAL", "dma_map_sgtable", "the table is already mapped; each attachment maps its own copy");
    if (sgt.origNents === 0) throw new Errno("EIO", "dma_map_sgtable", "the table has no entries");
    const rec = dev.iommu !== undefined ? this.mapSgIommu(dev, sgt, dir, attrs) : this.mapSgDirect(dev, sgt, dir, attrs);
    this.records.set(sgt, rec);
  }

  /** dma_map_sg(): the old calling convention, returning the segment count or 0 on failure. */
  dmaMapSg(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs = 0): number {
    try {
      this.dmaMapSgtable(dev, sgt, dir, attrs);
      return sgt.nents;
    } catch (e) {
      if (isErrno(e) && e.code !== "EINVAL") return 0;
      throw e;
    }
  }

  /** dma_unmap_sgtable(): undoes the mapping; implies sync_for_cpu unless DMA_ATTR_SKIP_CPU_SYNC. */
  dmaUnmapSgtable(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs = 0): void {
    const rec = this.recordOf(dev, sgt, "dma_unmap_sgtable");
    const skip = (attrs & DMA_ATTR_SKIP_CPU_SYNC) !== 0;
    if (rec.iova) {
      for (const s of sgt.sgl) {
        if (dev.coherent) continue;
        if (!skip && dir !== DMA_TO_DEVICE) this.d.cache.invalidate(s.phys, s.length);
        this.d.cache.detach(s.phys, s.length);
      }
      this.unmapIova(rec.iova.domain, rec.iova.addr, rec.iova.size);
    } else this.unmapDirectEntries(dev, sgt, sgt.origNents, rec.bounce, dir, skip);
    for (const s of sgt.sgl) {
      s.dmaAddress = 0;
      s.dmaLength = 0;
    }
    sgt.nents = 0;
    this.records.delete(sgt);
  }

  /** dma_unmap_sg(): the old calling convention of dmaUnmapSgtable (pass the table that was mapped). */
  dmaUnmapSg(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs = 0): void {
    this.dmaUnmapSgtable(dev, sgt, dir, attrs);
  }

  /** dma_sync_sgtable_for_cpu(): hand the buffer to the CPU (invalidate; copy back from bounce slots). */
  dmaSyncSgtableForCpu(dev: Device, sgt: SgTable, dir: DmaDataDirection): void {
    const rec = this.recordOf(dev, sgt, "dma_sync_sgtable_for_cpu");
    sgt.sgl.forEach((s, i) => {
      const b = rec.bounce[i] ?? -1;
      if (!dev.coherent && dir !== DMA_TO_DEVICE) this.d.cache.invalidate(b >= 0 ? b : s.phys, s.length);
      if (b >= 0) this.d.swiotlb!.syncForCpu(b, s.length, dir);
    });
  }

  /** dma_sync_sgtable_for_device(): hand the buffer back to the device (bounce out; clean). */
  dmaSyncSgtableForDevice(dev: Device, sgt: SgTable, dir: DmaDataDirection): void {
    const rec = this.recordOf(dev, sgt, "dma_sync_sgtable_for_device");
    sgt.sgl.forEach((s, i) => {
      const b = rec.bounce[i] ?? -1;
      if (b >= 0) this.d.swiotlb!.syncForDevice(b, s.length, dir);
      if (!dev.coherent) this.d.cache.clean(b >= 0 ? b : s.phys, s.length);
    });
  }

  /** dma_sync_sg_for_cpu() */
  dmaSyncSgForCpu(dev: Device, sgt: SgTable, dir: DmaDataDirection): void {
    this.dmaSyncSgtableForCpu(dev, sgt, dir);
  }

  /** dma_sync_sg_for_device() */
  dmaSyncSgForDevice(dev: Device, sgt: SgTable, dir: DmaDataDirection): void {
    this.dmaSyncSgtableForDevice(dev, sgt, dir);
  }

  /**
   * dma_map_page_attrs() for [phys, phys+size): the bus address, or DMA_MAPPING_ERROR (check it
   * with dmaMappingError) when the range cannot be reached or no IOVA space is left.
   */
  dmaMapPage(dev: Device, phys: number, size: number, dir: DmaDataDirection, attrs = 0): number {
    if (!isValidDmaDirection(dir)) throw new Errno("EINVAL", "dma_map_page", `invalid DMA direction ${dir}`);
    const skip = (attrs & DMA_ATTR_SKIP_CPU_SYNC) !== 0;
    const domain = this.domainOf(dev);
    let addr: number;
    let bounce = -1;
    let iova: DmaMappingRecord["iova"];
    if (domain) {
      const g = domain.minPagesz;
      const off = offsetIn(phys, g);
      const len = alignUp(size + off, g);
      const base = this.allocIova(domain, dev, len);
      if (!base) return DMA_MAPPING_ERROR;
      domain.map(base, phys - off, len, this.prot(dev, dir));
      if (!dev.coherent) this.d.cache.attach(phys, size);
      addr = base + off;
      iova = { domain, addr: base, size: len };
    } else {
      addr = this.directAddr(dev, phys, size, skip, (attrs & DMA_ATTR_NO_WARN) !== 0);
      if (addr === DMA_MAPPING_ERROR) return addr;
      if (addr !== phys) bounce = addr;
      if (!dev.coherent) this.d.cache.attach(addr, size);
    }
    let m = this.singles.get(dev);
    if (!m) this.singles.set(dev, (m = new Map()));
    m.set(addr, { dev, dir, attrs, bounce: [bounce], phys, size, ...(iova && { iova }) });
    return addr;
  }

  /** dma_mapping_error() */
  dmaMappingError(_dev: Device, addr: number): boolean {
    return addr === DMA_MAPPING_ERROR;
  }

  /** dma_unmap_page_attrs() */
  dmaUnmapPage(dev: Device, addr: number, size: number, dir: DmaDataDirection, attrs = 0): void {
    const rec = this.singles.get(dev)?.get(addr);
    if (!rec || rec.size !== size)
      throw new Error(`DMA-API: ${dev.name}: device driver tries to free DMA memory it has not allocated [device address=${hex(addr)}] [size=${size} bytes] (or with another size)`);
    const skip = (attrs & DMA_ATTR_SKIP_CPU_SYNC) !== 0;
    const b = rec.bounce[0]!;
    if (!dev.coherent) {
      const at = rec.iova ? rec.phys : addr;
      if (!skip && dir !== DMA_TO_DEVICE) this.d.cache.invalidate(at, size);
      this.d.cache.detach(at, size);
    }
    if (b >= 0) this.d.swiotlb!.unmap(b, size, dir, skip);
    if (rec.iova) this.unmapIova(rec.iova.domain, rec.iova.addr, rec.iova.size);
    this.singles.get(dev)!.delete(addr);
  }

  /** dma_sync_single_for_cpu() */
  dmaSyncSingleForCpu(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
    const rec = this.singleOf(dev, addr, "dma_sync_single_for_cpu");
    const b = rec.bounce[0]!;
    if (!dev.coherent && dir !== DMA_TO_DEVICE) this.d.cache.invalidate(rec.iova ? rec.phys : addr, size);
    if (b >= 0) this.d.swiotlb!.syncForCpu(b, size, dir);
  }

  /** dma_sync_single_for_device() */
  dmaSyncSingleForDevice(dev: Device, addr: number, size: number, dir: DmaDataDirection): void {
    const rec = this.singleOf(dev, addr, "dma_sync_single_for_device");
    const b = rec.bounce[0]!;
    if (b >= 0) this.d.swiotlb!.syncForDevice(b, size, dir);
    if (!dev.coherent) this.d.cache.clean(rec.iova ? rec.phys : addr, size);
  }

  /**
   * dma_alloc_attrs(dev, size, &handle, GFP_KERNEL, attrs): zeroed, physically contiguous memory
   * the device and CPU share without syncs. Pages come from the device's CMA area (or the default
   * one for more than a page; align = min(get_order(size), CONFIG_CMA_ALIGNMENT)), falling back to
   * the buddy allocator for what fits in one block; for dma-direct the memory must lie below the
   * device's mask. Behind an IOMMU the buffer is mapped at an IOVA. Throws ENOMEM.
   */
  dmaAllocAttrs(dev: Device, size: number, attrs = 0): DmaCoherentBuffer {
    check(Number.isSafeInteger(size) && size > 0, "ENOMEM", "dma_alloc_attrs", `${dev.name}: size ${size} is not a positive byte count`);
    const len = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const count = len / PAGE_SIZE;
    const domain = this.domainOf(dev);
    const reachable = (phys: number) => domain !== undefined || this.dmaCapable(dev, phys, len);
    let buf: { phys: number; cma?: Cma; order?: number } | undefined;
    const cma = dev.memoryRegion !== undefined || count > 1 ? this.d.cmaFor(dev) : undefined;
    if (cma) {
      try {
        const pfn = cma.alloc(count, Math.min(getOrder(len), CMA_ALIGNMENT), (attrs & DMA_ATTR_NO_WARN) !== 0);
        if (reachable(pfn * PAGE_SIZE)) buf = { phys: pfn * PAGE_SIZE, cma };
        else cma.release(pfn, count);
      } catch (e) {
        if (!isErrno(e, "ENOMEM")) throw e;
      }
    }
    const order = getOrder(len);
    if (!buf && order <= MAX_PAGE_ORDER) {
      const pfn = this.d.pages.allocPages(order, { name: "GFP_KERNEL", limitPhys: domain ? undefined : dev.dmaLimit });
      if (pfn >= 0) buf = { phys: pfn * PAGE_SIZE, order };
    }
    if (!buf) throw new Errno("ENOMEM", "dma_alloc_attrs", `${dev.name}: no ${count}-page contiguous block${domain ? "" : ` below ${hex(dev.dmaLimit)}`} (CMA ${cma ? `"${cma.name}" exhausted or fragmented` : "area: none"}; buddy: no free order-${order} block)`);
    let dmaAddress = buf.phys;
    if (domain) {
      const iova = this.allocIova(domain, dev, len);
      if (!iova) {
        this.freePagesOf(buf, count);
        throw new Errno("ENOMEM", "dma_alloc_attrs", `${dev.name}: out of IOVA space in ${domain.iommu.name}`);
      }
      domain.map(iova, buf.phys, len, this.prot(dev, DMA_BIDIRECTIONAL));
      dmaAddress = iova;
    }
    this.d.mem.zero(buf.phys, len);
    const out: DmaCoherentBuffer = { dev, phys: buf.phys, size: len, dmaAddress, ...(buf.cma && { cma: buf.cma }), ...(buf.order !== undefined && { order: buf.order }) };
    this.coherent.add(out);
    return out;
  }

  /** dma_free_attrs() */
  dmaFreeAttrs(buf: DmaCoherentBuffer): void {
    if (!this.coherent.delete(buf)) throw new Error(`DMA-API: ${buf.dev.name}: freeing coherent memory at ${hex(buf.phys)} that is not allocated`);
    const domain = this.domainOf(buf.dev);
    if (domain) this.unmapIova(domain, buf.dmaAddress, buf.size);
    this.freePagesOf(buf, buf.size / PAGE_SIZE);
  }

  /** The CPU's view of a coherent buffer (cpu_addr). */
  coherentView(buf: DmaCoherentBuffer): Uint8Array {
    return this.d.mem.view(buf.phys, buf.size);
  }

  private freePagesOf(buf: { phys: number; cma?: Cma; order?: number }, count: number): void {
    if (buf.cma) buf.cma.release(physToPfn(buf.phys), count);
    else this.d.pages.freePages(physToPfn(buf.phys), buf.order!);
  }

  /** dma_info_to_prot() */
  private prot(dev: Device, dir: DmaDataDirection): number {
    const cache = dev.coherent ? IOMMU_CACHE : 0;
    if (dir === DMA_TO_DEVICE) return cache | IOMMU_READ;
    if (dir === DMA_FROM_DEVICE) return cache | IOMMU_WRITE;
    return cache | IOMMU_READ | IOMMU_WRITE;
  }

  /** iommu_dma_alloc_iova(): below min(dma mask, aperture end); 0 when out of space. */
  private allocIova(domain: IommuDomain, dev: Device, size: number): number {
    const g = domain.minPagesz;
    const limit = Math.min(dev.dmaLimit, domain.apertureEnd);
    return domain.iovad.allocIovaFast(size / g, Math.floor(limit / g), true) * g;
  }

  /** __iommu_dma_unmap(): unmap, then give the IOVA range back through the range cache. */
  private unmapIova(domain: IommuDomain, addr: number, size: number): void {
    const g = domain.minPagesz;
    domain.unmap(addr, size);
    domain.iovad.freeIovaFast(addr / g, size / g);
  }

  /** dma_direct_map_phys(): the bus address, a bounce slot, or DMA_MAPPING_ERROR. */
  private directAddr(dev: Device, phys: number, size: number, skip: boolean, noWarn: boolean): number {
    if (this.dmaCapable(dev, phys, size)) return phys;
    if (this.d.swiotlb) return this.d.swiotlb.map(dev, phys, size, skip);
    if (!noWarn) this.d.printk(`${dev.name}: DMA addr ${hex(phys)}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit 0).`);
    return DMA_MAPPING_ERROR;
  }

  private mapSgDirect(dev: Device, sgt: SgTable, dir: DmaDataDirection, attrs: number): DmaMappingRecord {
    const skip = (attrs & DMA_ATTR_SKIP_CPU_SYNC) !== 0;
    const bounce: number[] = [];
    for (const s of sgt.sgl) {
      const addr = this.directAddr(dev, s.phys, s.length, skip, (attrs & DMA_ATTR_NO_WARN) !== 0);
      if (addr === DMA_MAPPING_ERROR) {
        this.unmapDirectEntries(dev, sgt, bounce.length, bounce, dir, true);
        const why = this.d.swiotlb
          ? s.length > this.d.swiotlb.maxMappingSize
            ? `entry of ${s.length} bytes exceeds swiotlb's ${this.d.swiotlb.maxMappingSize}-byte maximum mapping`
            : "swiotlb buffer is full or beyond the device's mask"
          : "no swiotlb to bounce through";
        throw new Errno("EIO", "dma_map_sgtable", `${dev.name}: entry at ${hex(s.phys)}+${s.length} is beyond the ${dev.dmaMaskBits}-bit DMA mask and cannot be mapped (${why})`);
      }
      bounce.push(addr === s.phys ? -1 : addr);
      if (!dev.coherent) this.d.cache.attach(addr, s.length);
      s.dmaAddress = addr;
      s.dmaLength = s.length;
    }
    sgt.nents = sgt.origNents;
    return { dev, dir, attrs, bounce };
  }

  private unmapDirectEntries(dev: Device, sgt: SgTable, n: number, bounce: readonly number[], dir: DmaDataDirection, skip: boolean): void {
    for (let i = 0; i < n; i++) {
      const s = sgt.sgl[i]!;
      const b = bounce[i]!;
      const at = b >= 0 ? b : s.phys;
      if (!dev.coherent) {
        if (!skip && dir !== DMA_TO_DEVICE) this.d.cache.invalidate(at, s.length);
        this.d.cache.detach(at, s.length);
      }
      if (b >= 0) this.d.swiotlb!.unmap(b, s.length, dir, skip);
      s.dmaAddress = 0;
      s.dmaLength = 0;
    }
  }

  /** iommu_dma_map_sg() with __finalise_sg() (drivers/iommu/dma-iommu.c). */
  private mapSgIommu(dev: Device, sgt: SgTable, dir: DmaDataDirection, _attrs: number): DmaMappingRecord {
    const domain = this.domainOf(dev)!;
    const g = domain.minPagesz;
    const boundary = dev.segmentBoundaryMask + 1;
    const sgl = sgt.sgl;
    const n = sgl.length;
    const offs = new Float64Array(n);
    const lens = new Float64Array(n);
    let iovaLen = 0;
    let prev = -1;
    for (let i = 0; i < n; i++) {
      const s = sgl[i]!;
      const off = offsetIn(s.phys, g);
      const rem = offsetIn(iovaLen, boundary);
      const pad = rem ? boundary - rem : 0;
      const len = alignUp(s.length + off, g);
      // The single size-aligned IOVA range starts on a boundary, so padding by length suffices.
      if (pad && pad < len - 1) {
        lens[prev] += pad;
        iovaLen += pad;
      }
      iovaLen += len;
      offs[i] = off;
      lens[i] = len;
      prev = i;
    }
    const iova = this.allocIova(domain, dev, iovaLen);
    if (!iova) throw new Errno("ENOMEM", "dma_map_sgtable", `${dev.name}: no ${iovaLen}-byte IOVA range left below ${hex(Math.min(dev.dmaLimit, domain.apertureEnd))} in ${domain.iommu.name}`);
    // iommu_map_sg(): physically contiguous entries go in one iommu_map() call.
    const runs: PhysRun[] = [];
    for (let i = 0; i < n; i++) {
      const start = sgl[i]!.phys - offs[i]!;
      const last = runs[runs.length - 1];
      if (last && last.phys + last.length === start) last.length += lens[i]!;
      else runs.push({ phys: start, length: lens[i]! });
    }
    domain.mapSg(iova, runs, this.prot(dev, dir));
    if (!dev.coherent) for (const s of sgl) this.d.cache.attach(s.phys, s.length);
    // __finalise_sg(): entries 0..count-1 receive the DMA segments, the rest DMA_MAPPING_ERROR/0.
    const segMask = dev.segmentBoundaryMask;
    const maxLen = this.maxSegmentSize(dev);
    let cur = 0;
    let curLen = 0;
    let count = 0;
    let dma = iova;
    for (let i = 0; i < n; i++) {
      const s = sgl[i]!;
      const off = offs[i]!;
      // Unsigned int arithmetic as in the kernel: once an entry alone exceeds max_len, the
      // subtraction wraps and the following entries are concatenated onto it.
      if (curLen && !off && offsetIn(dma, segMask + 1) !== 0 && (maxLen - curLen) >>> 0 >= s.length) curLen += s.length;
      else {
        if (i > 0) cur++;
        curLen = s.length;
        count++;
        sgl[cur]!.dmaAddress = dma + off;
      }
      sgl[cur]!.dmaLength = curLen;
      dma += lens[i]!;
      if (s.length + off < lens[i]!) curLen = 0;
    }
    for (let i = count; i < n; i++) {
      sgl[i]!.dmaAddress = DMA_MAPPING_ERROR;
      sgl[i]!.dmaLength = 0;
    }
    sgt.nents = count;
    return { dev, dir, attrs: _attrs, bounce: [], iova: { domain, addr: iova, size: iovaLen } };
  }

  /** The mapping of `sgt` for `dev`. A direction differing from the mapping's is only a DMA-API debug warning in Linux, so it is allowed. */
  private recordOf(dev: Device, sgt: SgTable, call: string): DmaMappingRecord {
    const rec = this.records.get(sgt);
    if (!rec) throw new Errno("EINVAL", call, `${dev.name}: the table is not mapped`);
    if (rec.dev !== dev) throw new Errno("EINVAL", call, `the table is mapped for ${rec.dev.name}, not ${dev.name}`);
    return rec;
  }

  private singleOf(dev: Device, addr: number, call: string): DmaMappingRecord & { phys: number; size: number } {
    const rec = this.singles.get(dev)?.get(addr);
    if (!rec) throw new Errno("EINVAL", call, `${dev.name}: ${hex(addr)} is not a live mapping`);
    return rec;
  }
}
