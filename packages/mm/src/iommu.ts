import { Errno, type Device, type Tracer } from "@dmabuf/core";
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
 * struct iommu_domain of type IOMMU_DOMAIN_DMA: the device's I/O page table plus the IOVA
 * allocator dma-iommu keeps for it. Leaf entries use the IOMMU's page sizes (4K/2M/1G by default),
 * chosen per chunk as iommu_pgsize() does.
 */
export class IommuDomain {
  readonly iovad: IovaDomain;
  /** Leaf entries by IOVA. */
  private readonly ptes = new Map<number, IommuPte>();
  /** For each page size: how many smaller entries sit inside each aligned region of that size. */
  private readonly occupancy: Map<number, number>[];
  /** Faults taken (report_iommu_fault). */
  faults = 0;
  /** Bytes currently mapped. */
  mapped = 0;

  constructor(
    readonly iommu: Iommu,
    readonly name: string,
    private readonly trace?: Tracer,
  ) {
    this.iovad = new IovaDomain(this.minPagesz, 1);
    this.occupancy = iommu.pageSizes.map(() => new Map());
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
    return [...this.ptes.values()].sort((a, b) => a.iova - b.iova);
  }

  /**
   * iommu_map(domain, iova, paddr, size, prot) (drivers/iommu/iommu.c): iova, paddr and size must
   * be aligned to the smallest page size (EINVAL, "unaligned: ..."); each chunk takes the largest
   * page size both addresses are aligned to. Mapping over a live entry is EEXIST (io-pgtable-arm).
   * Nothing is mapped when it fails.
   */
  map(iova: number, paddr: number, size: number, prot: number): void {
    const min = this.minPagesz;
    if (iova % min || paddr % min || size % min)
      throw new Errno("EINVAL", "iommu_map", `unaligned: iova ${hex(iova)} pa ${hex16(paddr)} size ${hex(size)} min_pagesz ${hex(min)}`);
    if (iova + size - 1 > this.apertureEnd) throw new Errno("EINVAL", "iommu_map", `iova ${hex(iova)}+${hex(size)} is beyond the aperture end ${hex(this.apertureEnd)}`);
    const chunks: IommuPte[] = [];
    for (let done = 0; done < size; ) {
      const pg = this.pgsize(iova + done, paddr + done, size - done);
      if (this.overlaps(iova + done, pg)) throw new Errno("EEXIST", "iommu_map", `iova ${hex(iova + done)} is already mapped`);
      chunks.push({ iova: iova + done, paddr: paddr + done, size: pg, prot });
      done += pg;
    }
    for (const c of chunks) this.insert(c);
    this.mapped += size;
    if (this.trace?.on) this.trace.emit("map", { iova: hex16(iova), iova_end: hex16(iova + size), paddr: hex16(paddr), size });
  }

  /**
   * iommu_unmap(): returns the bytes unmapped, which can be fewer than asked when part of the range
   * is not mapped; 0 when iova or size is unaligned. Unmapping part of a large page splits it.
   */
  unmap(iova: number, size: number): number {
    const min = this.minPagesz;
    if (iova % min || size % min) return 0;
    let unmapped = 0;
    while (unmapped < size) {
      const at = iova + unmapped;
      const pg = this.pgsize(at, at, size - unmapped);
      const n = this.unmapPage(at, pg);
      if (!n) break;
      unmapped += n;
    }
    this.mapped -= unmapped;
    if (this.trace?.on) this.trace.emit("unmap", { iova: hex16(iova), iova_end: hex16(iova + size), size, unmapped_size: unmapped });
    return unmapped;
  }

  /** iommu_iova_to_phys(): the physical address, or undefined when unmapped. */
  iovaToPhys(iova: number): number | undefined {
    const e = this.lookup(iova);
    return e ? e.paddr + (iova - e.iova) : undefined;
  }

  /**
   * Translates a device access to [iova, iova+len) into physical runs. Any unmapped granule, or a
   * write through a read-only entry, is an IOMMU fault: the io_page_fault tracepoint fires and the
   * access is refused as a whole (the device writes nothing).
   */
  translate(dev: Device, iova: number, len: number, write: boolean): PhysRun[] {
    const runs: PhysRun[] = [];
    for (let at = iova; at < iova + len; ) {
      const e = this.lookup(at);
      if (!e || !(e.prot & (write ? IOMMU_WRITE : IOMMU_READ))) {
        this.faults++;
        const flags = write ? IOMMU_FAULT_WRITE : IOMMU_FAULT_READ;
        if (this.trace?.on) this.trace.emit("io_page_fault", { device: dev.name, driver: dev.driver?.name ?? "", iova: hex16(at), flags: "0x" + flags.toString(16).padStart(4, "0") });
        throw new Errno("EIO", "iommu", `${this.iommu.name}: unhandled ${write ? "write" : "read"} fault from ${dev.name} at iova ${hex16(at)} (${e ? "read-only mapping" : "not mapped"})`);
      }
      const n = Math.min(e.iova + e.size, iova + len) - at;
      const phys = e.paddr + (at - e.iova);
      const last = runs[runs.length - 1];
      if (last && last.phys + last.length === phys) last.length += n;
      else runs.push({ phys, length: n });
      at += n;
    }
    return runs;
  }

  /** iommu_pgsize(): the largest supported size <= len to which both addresses are aligned. */
  private pgsize(iova: number, paddr: number, len: number): number {
    const sizes = this.iommu.pageSizes;
    for (let i = sizes.length - 1; i > 0; i--) {
      const s = sizes[i]!;
      if (s <= len && iova % s === 0 && paddr % s === 0) return s;
    }
    return sizes[0]!;
  }

  private lookup(iova: number): IommuPte | undefined {
    for (const s of this.iommu.pageSizes) {
      const e = this.ptes.get(iova - (iova % s));
      if (e && e.size === s) return e;
    }
    return undefined;
  }

  private overlaps(iova: number, size: number): boolean {
    if (this.lookup(iova)) return true;
    const i = this.iommu.pageSizes.indexOf(size);
    return i > 0 && (this.occupancy[i]!.get(iova) ?? 0) > 0;
  }

  private insert(e: IommuPte): void {
    this.ptes.set(e.iova, e);
    this.countIn(e, 1);
  }

  private remove(e: IommuPte): void {
    this.ptes.delete(e.iova);
    this.countIn(e, -1);
  }

  private countIn(e: IommuPte, d: number): void {
    this.iommu.pageSizes.forEach((s, i) => {
      if (s <= e.size) return;
      const key = e.iova - (e.iova % s);
      const n = (this.occupancy[i]!.get(key) ?? 0) + d;
      if (n) this.occupancy[i]!.set(key, n);
      else this.occupancy[i]!.delete(key);
    });
  }

  /** ops->unmap_pages for one page of size `pg` at `iova`. */
  private unmapPage(iova: number, pg: number): number {
    const e = this.lookup(iova);
    if (e && e.size >= pg) {
      // A larger block: split it (arm_lpae_split_blk_unmap), keeping the rest mapped.
      this.remove(e);
      for (const [from, to] of [[e.iova, iova], [iova + pg, e.iova + e.size]] as const)
        for (let at = from; at < to; ) {
          const s = this.pgsize(at, e.paddr + (at - e.iova), to - at);
          this.insert({ iova: at, paddr: e.paddr + (at - e.iova), size: s, prot: e.prot });
          at += s;
        }
      return pg;
    }
    // A table of smaller entries under a block-sized unmap: all of them go.
    let found = false;
    for (const s of this.iommu.pageSizes) {
      if (s >= pg) break;
      for (let at = iova; at < iova + pg; at += s) {
        const x = this.ptes.get(at);
        if (x && x.size === s) {
          this.remove(x);
          found = true;
        }
      }
    }
    return found ? pg : 0;
  }
}
