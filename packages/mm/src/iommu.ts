import { Errno, type Device, type Tracer } from "@dmabuf/core";
import { isAligned } from "./internal/align.js";
import { hex, hex16 } from "./internal/format.js";
import { IovaDomain } from "./iova.js";

/* include/linux/iommu.h prot bits and fault flags */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
export const IOMMU_CACHE = 1 << 2;
export const IOMMU_FAULT_READ = 0x0;
export const IOMMU_FAULT_WRITE = 0x1;

/** One leaf entry of the page table: `size` is one of the IOMMU's page sizes. */
export interface IommuPte {
  readonly iova: number;
  readonly paddr: number;
  readonly size: number;
  readonly prot: number;
}

/** A physically contiguous piece of a translated IOVA range. */
export interface PhysRun {
  phys: number;
  length: number;
}

/** An IOMMU instance from the board (iommus[]), with its page sizes and IOVA width. */
export class Iommu {
  readonly domains = new Map<string, IommuDomain>();
  constructor(
    readonly name: string,
    /** pgsize_bitmap as a list, ascending */
    readonly pageSizes: readonly number[],
    readonly iovaBits: number,
    private readonly trace?: Tracer,
  ) {}

  /**
   * The device's default DMA domain (iommu_get_dma_domain). Devices naming the same
   * `iommu-group` property share one domain, as devices of one iommu_group do; the others get
   * their own.
   */
  domainFor(dev: Device): IommuDomain {
    const group = typeof dev.properties["iommu-group"] === "string" ? `group:${dev.properties["iommu-group"]}` : dev.name;
    let d = this.domains.get(group);
    if (!d) {
      d = new IommuDomain(this, group, this.trace);
      this.domains.set(group, d);
    }
    return d;
  }
}

/**
 * A run of `count` leaf entries of one page size, contiguous in IOVA and in physical memory: what
 * one ops->map_pages(pgsize, pgcount) call writes. The page table is a sorted list of these.
 */
interface Extent {
  iova: number;
  paddr: number;
  pgsize: number;
  count: number;
  prot: number;
}
const extentEnd = (e: Extent) => e.iova + e.pgsize * e.count;

/**
 * struct iommu_domain of type IOMMU_DOMAIN_DMA: the device's I/O page table plus the IOVA
 * allocator dma-iommu keeps for it. Leaf entries use the IOMMU's page sizes (4K/2M/1G by default),
 * chosen per chunk as iommu_pgsize() does; runs of equal leaves are kept together, as
 * map_pages()/unmap_pages() handle them.
 */
export class IommuDomain {
  readonly iovad: IovaDomain;
  /** Leaf runs sorted by IOVA, never overlapping. */
  private extents: Extent[] = [];
  /** Faults taken (report_iommu_fault). */
  faults = 0;
  /** Bytes currently mapped. */
  mapped = 0;
  /** Bumped whenever translations disappear, so that cached translations are rebuilt. */
  generation = 0;

  constructor(
    readonly iommu: Iommu,
    readonly name: string,
    private readonly trace?: Tracer,
  ) {
    this.iovad = new IovaDomain(this.minPagesz, 1);
  }

  get minPagesz(): number {
    return this.iommu.pageSizes[0]!;
  }

  /** geometry.aperture_end */
  get apertureEnd(): number {
    return 2 ** this.iommu.iovaBits - 1;
  }

  /** Leaf entries, lowest IOVA first (what a page-table dump shows). */
  entries(): IommuPte[] {
    const out: IommuPte[] = [];
    for (const e of this.extents)
      for (let k = 0; k < e.count; k++) out.push({ iova: e.iova + k * e.pgsize, paddr: e.paddr + k * e.pgsize, size: e.pgsize, prot: e.prot });
    return out;
  }

  /**
   * iommu_map(domain, iova, paddr, size, prot) (drivers/iommu/iommu.c): iova, paddr and size must
   * be aligned to the smallest page size (EINVAL, "unaligned: ..."); each chunk takes the largest
   * page size both addresses are aligned to. Mapping over a live entry is EEXIST (io-pgtable-arm).
   * Nothing is mapped when it fails.
   */
  map(iova: number, paddr: number, size: number, prot: number): void {
    this.mapSg(iova, [{ phys: paddr, length: size }], prot, "iommu_map");
  }

  /**
   * iommu_map_sg(): maps the physical runs back to back from `iova`, each run as iommu_map would
   * (same alignment EINVAL and EEXIST), all or nothing. Returns the bytes mapped.
   */
  mapSg(iova: number, runs: readonly PhysRun[], prot: number, call = "iommu_map_sg"): number {
    const min = this.minPagesz;
    let size = 0;
    for (const r of runs) {
      const at = iova + size;
      if (!isAligned(at, min) || !isAligned(r.phys, min) || !isAligned(r.length, min))
        throw new Errno("EINVAL", call, `unaligned: iova ${hex(at)} pa ${hex16(r.phys)} size ${hex(r.length)} min_pagesz ${hex(min)}`);
      size += r.length;
    }
    if (iova + size - 1 > this.apertureEnd) throw new Errno("EINVAL", call, `iova ${hex(iova)}+${hex(size)} is beyond the aperture end ${hex(this.apertureEnd)}`);
    const i = this.firstEndingAfter(iova);
    const next = this.extents[i];
    if (next && next.iova < iova + size) throw new Errno("EEXIST", call, `iova ${hex(Math.max(iova, next.iova))} is already mapped`);
    const add: Extent[] = [];
    let at = iova;
    for (const r of runs) {
      this.decompose(add, at, r.phys, r.length, prot);
      if (this.trace?.on) this.trace.emit("map", { iova: hex16(at), iova_end: hex16(at + r.length), paddr: hex16(r.phys), size: r.length });
      at += r.length;
    }
    this.extents = this.extents.slice(0, i).concat(add, this.extents.slice(i));
    this.mapped += size;
    return size;
  }

  /**
   * iommu_unmap(): returns the bytes unmapped, which can be fewer than asked when part of the range
   * is not mapped (it stops at the first page-size chunk with nothing mapped); 0 when iova or size
   * is unaligned. Unmapping part of a large page splits it; a block-sized chunk over smaller
   * entries removes all of them.
   */
  unmap(iova: number, size: number): number {
    const min = this.minPagesz;
    if (!isAligned(iova, min) || !isAligned(size, min)) return 0;
    const end = iova + size;
    let at = iova;
    let i = this.firstEndingAfter(iova);
    // Fast path: runs covering the whole range without a hole unmap all of it.
    for (let j = i, covered = iova; j < this.extents.length && this.extents[j]!.iova <= covered; j++) {
      covered = extentEnd(this.extents[j]!);
      if (covered >= end) {
        at = end;
        break;
      }
    }
    while (at < end) {
      const pg = this.pgsize(at, at, end - at);
      while (i < this.extents.length && extentEnd(this.extents[i]!) <= at) i++;
      const e = this.extents[i];
      if (!e || e.iova >= at + pg) break;
      at += pg;
    }
    if (at > iova) {
      this.cut(iova, at);
      this.generation++;
    }
    const unmapped = at - iova;
    this.mapped -= unmapped;
    if (this.trace?.on) this.trace.emit("unmap", { iova: hex16(iova), iova_end: hex16(end), size, unmapped_size: unmapped });
    return unmapped;
  }

  /** iommu_iova_to_phys(): the physical address, or undefined when unmapped. */
  iovaToPhys(iova: number): number | undefined {
    const e = this.extents[this.firstEndingAfter(iova)];
    return e && e.iova <= iova ? e.paddr + (iova - e.iova) : undefined;
  }

  /**
   * Translates a device access to [iova, iova+len) into physical runs. Any unmapped granule, or a
   * write through a read-only entry, is an IOMMU fault: the io_page_fault tracepoint fires and the
   * access is refused as a whole (the device writes nothing).
   */
  translate(dev: Device, iova: number, len: number, write: boolean): PhysRun[] {
    const runs: PhysRun[] = [];
    let i = this.firstEndingAfter(iova);
    for (let at = iova; at < iova + len; ) {
      const e = this.extents[i];
      if (!e || e.iova > at || !(e.prot & (write ? IOMMU_WRITE : IOMMU_READ))) {
        this.faults++;
        const flags = write ? IOMMU_FAULT_WRITE : IOMMU_FAULT_READ;
        if (this.trace?.on) this.trace.emit("io_page_fault", { device: dev.name, driver: dev.driver?.name ?? "", iova: hex16(at), flags: "0x" + flags.toString(16).padStart(4, "0") });
        throw new Errno("EIO", "iommu", `${this.iommu.name}: unhandled ${write ? "write" : "read"} fault from ${dev.name} at iova ${hex16(at)} (${e && e.iova <= at ? "read-only mapping" : "not mapped"})`);
      }
      const n = Math.min(extentEnd(e), iova + len) - at;
      const phys = e.paddr + (at - e.iova);
      const last = runs[runs.length - 1];
      if (last && last.phys + last.length === phys) last.length += n;
      else runs.push({ phys, length: n });
      at += n;
      i++;
    }
    return runs;
  }

  /** iommu_pgsize(): the largest supported size <= len to which both addresses are aligned. */
  private pgsize(iova: number, paddr: number, len: number): number {
    const sizes = this.iommu.pageSizes;
    for (let i = sizes.length - 1; i > 0; i--) {
      const s = sizes[i]!;
      if (s <= len && isAligned(iova, s) && isAligned(paddr, s)) return s;
    }
    return sizes[0]!;
  }

  /** Appends to `out` the leaves __iommu_map() writes for a chunk, as runs of one page size. */
  private decompose(out: Extent[], iova: number, paddr: number, size: number, prot: number): void {
    const first = out.length;
    for (let done = 0; done < size; ) {
      const pg = this.pgsize(iova + done, paddr + done, size - done);
      const last = out.length > first ? out[out.length - 1]! : undefined;
      if (last && last.pgsize === pg) last.count++;
      else out.push({ iova: iova + done, paddr: paddr + done, pgsize: pg, count: 1, prot });
      done += pg;
    }
  }

  /** Removes [from, to) from the table, splitting the runs (and large leaves) at its edges. */
  private cut(from: number, to: number): void {
    const i = this.firstEndingAfter(from);
    let j = i;
    const keep: Extent[] = [];
    for (; j < this.extents.length && this.extents[j]!.iova < to; j++) {
      const e = this.extents[j]!;
      if (e.iova < from) this.decompose(keep, e.iova, e.paddr, from - e.iova, e.prot);
      if (extentEnd(e) > to) this.decompose(keep, to, e.paddr + (to - e.iova), extentEnd(e) - to, e.prot);
    }
    this.extents.splice(i, j - i, ...keep);
  }

  /** Index of the first run that ends after `iova` (the one containing it, or the next). */
  private firstEndingAfter(iova: number): number {
    let lo = 0;
    let hi = this.extents.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (extentEnd(this.extents[mid]!) <= iova) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** iommu_map(): see {@link IommuDomain.map}. */
export function iommuMap(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): void {
  domain.map(iova, paddr, size, prot);
}

/** iommu_map_sg(): see {@link IommuDomain.mapSg}. */
export function iommuMapSg(domain: IommuDomain, iova: number, runs: readonly PhysRun[], prot: number): number {
  return domain.mapSg(iova, runs, prot);
}

/** iommu_unmap(): see {@link IommuDomain.unmap}; returns the bytes unmapped. */
export function iommuUnmap(domain: IommuDomain, iova: number, size: number): number {
  return domain.unmap(iova, size);
}
