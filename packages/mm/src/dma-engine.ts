import { Errno, segmentAt, segmentStarts, type Device, type SgTable, type Tracer } from "@dmabuf/core";
import type { CopyCounter } from "./copy-counter.js";
import type { DmaMapping, DmaMappingRecord } from "./dma-mapping.js";
import type { CacheModel } from "./internal/cache-model.js";
import { hex } from "./internal/format.js";
import type { PhysicalMemory } from "./physical-memory.js";

/** A frame plane laid out in rows: `rowBytes` of data every `stride` bytes, from `offset`. */
export interface RowLayout {
  readonly offset: number;
  readonly stride: number;
  readonly rowBytes: number;
  readonly rows: number;
}

/**
 * The device side of memory access: what a simulated DMA master reads and writes, always through
 * its mapping (the DMA addresses of a mapped SgTable, or a bus address it was given). Behind an
 * IOMMU every access is translated by the page tables, and an unmapped or read-only IOVA is a fault
 * that writes nothing; without one, the bus address is the physical address (possibly a swiotlb
 * slot). Non-coherent devices see DRAM behind the CPU cache. Views are zero copy: a device that
 * fills a buffer writes into physical memory itself.
 */
export class DmaEngine {
  /** Per mapped table: its translated views, for writes and for reads. */
  private readonly writeCache = new WeakMap<SgTable, { rec: DmaMappingRecord; generation: number; pieces: Uint8Array[]; starts: number[] }>();
  private readonly readCache = new WeakMap<SgTable, { rec: DmaMappingRecord; generation: number; pieces: Uint8Array[]; starts: number[] }>();

  constructor(
    private readonly mem: PhysicalMemory,
    private readonly mapping: DmaMapping,
    private readonly cache: CacheModel,
    private readonly copies: CopyCounter,
    private readonly trace?: Tracer,
  ) {}

  /**
   * Zero-copy views of bytes [offset, offset+len) of a buffer as `dev` sees it through its mapping
   * of `sgt` (for_each_sgtable_dma_sg). The whole range is translated before anything is returned,
   * so a fault leaves memory untouched. EINVAL when the table is not mapped for `dev`.
   */
  views(dev: Device, sgt: SgTable, offset: number, len: number, write: boolean): Uint8Array[] {
    const rec = this.mapping.mappingOf(sgt);
    if (!rec || rec.dev !== dev) throw new Errno("EINVAL", "dma", `${dev.name}: DMA through a table that is not mapped for it`);
    if (!(offset >= 0 && len >= 0 && offset + len <= this.dmaSize(sgt))) throw new Errno("EFAULT", "dma", `${dev.name}: access ${offset}+${len} is outside the ${sgt.size}-byte mapping`);
    const all = this.translated(dev, sgt, rec, write);
    // the pieces covering [offset, offset+len), trimmed at both ends
    const lo = segmentAt(all.starts, offset);
    const out: Uint8Array[] = [];
    for (let i = lo, left = len, at = offset - all.starts[lo]!; left > 0; i++, at = 0) {
      const v = all.pieces[i]!;
      const n = Math.min(v.length - at, left);
      out.push(at === 0 && n === v.length ? v : v.subarray(at, at + n));
      left -= n;
    }
    return out;
  }

  /**
   * The whole mapping as device-visible views, translated once per mapping and reused until the
   * mapping or its IOMMU's translations change (a fault found then is found again each time).
   * Read-only access skips the write-permission check, so a read translation is kept separately.
   */
  private translated(dev: Device, sgt: SgTable, rec: DmaMappingRecord, write: boolean): { pieces: Uint8Array[]; starts: number[] } {
    const domain = rec.iova?.domain;
    const key = write ? this.writeCache : this.readCache;
    const hit = key.get(sgt);
    if (hit && hit.rec === rec && hit.generation === (domain?.generation ?? 0)) return hit;
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < sgt.nents; i++) {
      const s = sgt.sgl[i]!;
      this.busViews(dev, s.dmaAddress, s.dmaLength, write, pieces);
    }
    const entry = { rec, generation: domain?.generation ?? 0, pieces, starts: segmentStarts(pieces) };
    key.set(sgt, entry);
    return entry;
  }

  private dmaSize(sgt: SgTable): number {
    let n = 0;
    for (let i = 0; i < sgt.nents; i++) n += sgt.sgl[i]!.dmaLength;
    return n;
  }

  /** Zero-copy views of bus range [dmaAddr, dmaAddr+len) (single mappings, coherent buffers). */
  busViews(dev: Device, dmaAddr: number, len: number, write: boolean, out: Uint8Array[] = []): Uint8Array[] {
    const domain = this.mapping.domainOf(dev);
    if (domain) {
      for (const r of domain.translate(dev, dmaAddr, len, write)) this.physViews(dev, r.phys, r.length, out);
    } else {
      if (!this.mapping.dmaCapable(dev, dmaAddr, len)) throw new Errno("EIO", "dma", `${dev.name}: bus address ${hex(dmaAddr)}+${len} is beyond its ${dev.dmaMaskBits}-bit mask`);
      this.physViews(dev, dmaAddr, len, out);
    }
    return out;
  }

  /** A device write of `data` at `offset` of the buffer (DMA to memory). */
  write(dev: Device, sgt: SgTable, offset: number, data: Uint8Array): void {
    let at = 0;
    for (const v of this.views(dev, sgt, offset, data.length, true)) {
      v.set(data.subarray(at, at + v.length));
      at += v.length;
    }
    this.traceXfer(dev, "write", data.length);
  }

  /** A device read of `len` bytes at `offset` into `dst` (DMA from memory). */
  readInto(dev: Device, sgt: SgTable, offset: number, dst: Uint8Array): void {
    let at = 0;
    for (const v of this.views(dev, sgt, offset, dst.length, false)) {
      dst.set(v, at);
      at += v.length;
    }
    this.traceXfer(dev, "read", dst.length);
  }

  read(dev: Device, sgt: SgTable, offset: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.readInto(dev, sgt, offset, out);
    return out;
  }

  /**
   * Writes a plane row by row: `fill(row, y)` writes each row straight into the buffer when the row
   * lies in one contiguous piece; a row that straddles two pieces is filled in a scratch row and
   * copied across (a counted "split-row" copy). Every row is translated before any is written.
   */
  writeRows(dev: Device, sgt: SgTable, layout: RowLayout, fill: (row: Uint8Array, y: number) => void): void {
    const { offset, stride, rowBytes, rows } = layout;
    if (rows <= 0) return;
    if (stride < rowBytes) throw new Errno("EINVAL", "dma", `${dev.name}: stride ${stride} is smaller than a row (${rowBytes} bytes)`);
    const pieces = this.views(dev, sgt, offset, (rows - 1) * stride + rowBytes, true);
    let scratch: Uint8Array | undefined;
    let p = 0;
    let base = 0;
    for (let y = 0; y < rows; y++) {
      let at = y * stride;
      while (at >= base + pieces[p]!.length) base += pieces[p++]!.length;
      const local = at - base;
      if (local + rowBytes <= pieces[p]!.length) {
        fill(pieces[p]!.subarray(local, local + rowBytes), y);
        continue;
      }
      scratch ??= new Uint8Array(rowBytes);
      fill(scratch, y);
      let done = 0;
      for (let q = p, qb = base; done < rowBytes; qb += pieces[q++]!.length) {
        const seg = pieces[q]!;
        const from = at - qb;
        const n = Math.min(seg.length - from, rowBytes - done);
        seg.set(scratch.subarray(done, done + n), from);
        done += n;
        at += n;
      }
      this.copies.record("split-row", rowBytes);
    }
    this.traceXfer(dev, "write", rows * rowBytes);
  }

  /**
   * Writes a plane row by row from `source(y)` (at least `rowBytes` long, e.g. a pattern generator's
   * line buffer): each row is stored straight into the buffer, split across pieces where it
   * straddles two, so no scratch copy is ever made. Every row is translated before any is written.
   */
  writeRowsFrom(dev: Device, sgt: SgTable, layout: RowLayout, source: (y: number) => Uint8Array): void {
    const { offset, stride, rowBytes, rows } = layout;
    if (rows <= 0) return;
    if (stride < rowBytes) throw new Errno("EINVAL", "dma", `${dev.name}: stride ${stride} is smaller than a row (${rowBytes} bytes)`);
    const pieces = this.views(dev, sgt, offset, (rows - 1) * stride + rowBytes, true);
    let p = 0;
    let base = 0;
    for (let y = 0; y < rows; y++) {
      const at = y * stride;
      while (at >= base + pieces[p]!.length) base += pieces[p++]!.length;
      const src = source(y);
      if (src.length < rowBytes) throw new Errno("EINVAL", "dma", `${dev.name}: row ${y} source has ${src.length} bytes, ${rowBytes} needed`);
      const seg = pieces[p]!;
      const local = at - base;
      if (local + rowBytes <= seg.length) {
        seg.set(src.length === rowBytes ? src : src.subarray(0, rowBytes), local);
        continue;
      }
      let done = 0;
      for (let q = p, qb = base; done < rowBytes; qb += pieces[q++]!.length) {
        const piece = pieces[q]!;
        const from = at + done - qb;
        const n = Math.min(piece.length - from, rowBytes - done);
        piece.set(src.subarray(done, done + n), from);
        done += n;
      }
    }
    this.traceXfer(dev, "write", rows * rowBytes);
  }

  private physViews(dev: Device, phys: number, len: number, out: Uint8Array[]): void {
    if (dev.coherent) this.mem.views(phys, len, out);
    else this.cache.deviceViews(phys, len, out);
  }

  private traceXfer(dev: Device, op: "read" | "write", bytes: number): void {
    if (this.trace?.on) this.trace.emit("mm_dma_transfer", { device: dev.name, op, bytes });
  }
}
