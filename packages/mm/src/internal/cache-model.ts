import type { CopyCounter } from "../copy-counter.js";
import { PAGE_SIZE, physToPfn, type PhysicalMemory } from "../physical-memory.js";

/**
 * The CPU cache as a non-coherent device experiences it. Physical memory (the SharedArrayBuffer)
 * is what the CPU sees, caches included; while a non-coherent device has pages mapped, each such
 * page also has a shadow: the DRAM behind the cache, which is what the device reads and writes.
 * clean (arch_sync_dma_for_device) writes the CPU's view back to DRAM; invalidate
 * (arch_sync_dma_for_cpu) makes the CPU see DRAM again. Skip either and the other side sees stale
 * bytes, as on a real non-coherent SoC. Each maintenance copy is counted as "cache".
 */
export class CacheModel {
  private readonly shadows = new Map<number, { bytes: Uint8Array; refs: number }>();

  constructor(
    private readonly mem: PhysicalMemory,
    private readonly copies: CopyCounter,
  ) {}

  /** Pages currently shadowed. */
  get pages(): number {
    return this.shadows.size;
  }

  /** A non-coherent mapping of [phys, phys+len) begins: DRAM starts as the CPU last wrote it. */
  attach(phys: number, len: number): void {
    this.eachPage(phys, len, (pfn) => {
      const s = this.shadows.get(pfn);
      if (s) s.refs++;
      else this.shadows.set(pfn, { bytes: new Uint8Array(PAGE_SIZE), refs: 1 });
    });
    this.clean(phys, len);
  }

  detach(phys: number, len: number): void {
    this.eachPage(phys, len, (pfn) => {
      const s = this.shadows.get(pfn)!;
      if (--s.refs === 0) this.shadows.delete(pfn);
    });
  }

  /** dcache_clean_poc: DRAM := what the CPU sees. */
  clean(phys: number, len: number): void {
    this.eachPiece(phys, len, (shadow, cpu) => shadow.set(cpu));
  }

  /** dcache_inval_poc: the CPU sees DRAM again. */
  invalidate(phys: number, len: number): void {
    this.eachPiece(phys, len, (shadow, cpu) => cpu.set(shadow));
  }

  /** What the device touches for [phys, phys+len): shadow views where shadowed, RAM elsewhere. */
  deviceViews(phys: number, len: number, out: Uint8Array[]): void {
    if (this.shadows.size === 0) {
      this.mem.views(phys, len, out);
      return;
    }
    for (let at = phys; at < phys + len; ) {
      const pfn = physToPfn(at);
      const off = at - pfn * PAGE_SIZE;
      const s = this.shadows.get(pfn);
      if (s) {
        const n = Math.min(PAGE_SIZE - off, phys + len - at);
        out.push(s.bytes.subarray(off, off + n));
        at += n;
      } else {
        let end = (pfn + 1) * PAGE_SIZE;
        while (end < phys + len && !this.shadows.has(physToPfn(end))) end += PAGE_SIZE;
        end = Math.min(end, phys + len);
        this.mem.views(at, end - at, out);
        at = end;
      }
    }
  }

  private eachPage(phys: number, len: number, fn: (pfn: number) => void): void {
    for (let pfn = physToPfn(phys); pfn * PAGE_SIZE < phys + len; pfn++) fn(pfn);
  }

  private eachPiece(phys: number, len: number, fn: (shadow: Uint8Array, cpu: Uint8Array) => void): void {
    let bytes = 0;
    for (let at = phys; at < phys + len; ) {
      const pfn = physToPfn(at);
      const off = at - pfn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, phys + len - at);
      const s = this.shadows.get(pfn);
      if (s) {
        fn(s.bytes.subarray(off, off + n), this.mem.view(at, n));
        bytes += n;
      }
      at += n;
    }
    if (bytes) this.copies.record("cache", bytes);
  }
}
