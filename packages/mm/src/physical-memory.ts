import { Errno } from "@dmabuf/core";
import type { CopyCounter } from "./copy-counter.js";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** PFN_DOWN / PFN_PHYS without 32-bit overflow (physical addresses can exceed 4 GiB). */
export const physToPfn = (phys: number) => Math.floor(phys / PAGE_SIZE);
export const pfnToPhys = (pfn: number) => pfn * PAGE_SIZE;

/** One RAM bank: a SharedArrayBuffer the OS commits page by page as it is first touched. */
export interface MemoryBank {
  readonly base: number;
  readonly size: number;
  readonly startPfn: number;
  readonly endPfn: number;
  readonly sab: SharedArrayBuffer;
  /** Per page: 1 when the page may hold non-zero bytes (someone was given a view of it). */
  readonly dirty: Uint8Array;
}

/** A zero page to fill from: Buffer#fill(Buffer) takes Node's memcpy path, not V8's atomic stores. */
const ZERO = Buffer.alloc(1);

/**
 * The board's RAM. Each bank is one SharedArrayBuffer, so a physical address is an offset into
 * it and every view shares the same bytes: a page frame is never copied to be shared. Nothing is
 * committed until touched, so a 1 GiB board costs almost nothing until used. Pages start zeroed
 * (fresh from the OS); `zero` clears only pages that were handed out since, which keeps __GFP_ZERO
 * cheap and never touches untouched memory.
 */
export class PhysicalMemory {
  readonly banks: readonly MemoryBank[];
  readonly totalPages: number;

  constructor(
    banks: readonly { base: number; size: number }[],
    private readonly copies: CopyCounter,
  ) {
    this.banks = [...banks]
      .sort((a, b) => a.base - b.base)
      .map((b) => ({ base: b.base, size: b.size, startPfn: physToPfn(b.base), endPfn: physToPfn(b.base + b.size), sab: new SharedArrayBuffer(b.size), dirty: new Uint8Array(b.size / PAGE_SIZE) }));
    this.totalPages = this.banks.reduce((n, b) => n + b.size / PAGE_SIZE, 0);
  }

  /** pfn_valid() */
  pfnValid(pfn: number): boolean {
    return this.banks.some((b) => pfn >= b.startPfn && pfn < b.endPfn);
  }

  /** The bank holding [phys, phys+len), or EFAULT when the range is not RAM or crosses banks. */
  bankOf(phys: number, len: number, call = "phys"): MemoryBank {
    for (const b of this.banks) if (phys >= b.base && phys + len <= b.base + b.size) return b;
    throw new Errno("EFAULT", call, `physical range 0x${phys.toString(16)}+0x${len.toString(16)} is not inside one RAM bank`);
  }

  /**
   * A zero-copy view of physical memory [phys, phys+len) (phys_to_virt / kmap). The pages count as
   * written from now on, since the holder may store through the view.
   */
  view(phys: number, len: number): Uint8Array {
    const b = this.bankOf(phys, len, "view");
    b.dirty.fill(1, Math.floor((phys - b.base) / PAGE_SIZE), Math.ceil((phys - b.base + len) / PAGE_SIZE));
    return new Uint8Array(b.sab, phys - b.base, len);
  }

  /** Views of [phys, phys+len), one per bank it spans (a run may cross adjacent banks). */
  views(phys: number, len: number, out: Uint8Array[]): void {
    while (len > 0) {
      const b = this.bankOf(phys, 1, "view");
      const n = Math.min(len, b.base + b.size - phys);
      out.push(this.view(phys, n));
      phys += n;
      len -= n;
    }
  }

  /** Clears [phys, phys+len) where it may be non-zero (clear_page for __GFP_ZERO). */
  zero(phys: number, len: number): void {
    const b = this.bankOf(phys, len, "zero");
    const off = phys - b.base;
    let p = Math.floor(off / PAGE_SIZE);
    const end = Math.ceil((off + len) / PAGE_SIZE);
    const dirty = b.dirty.subarray(0, end);
    while (p < end) {
      p = dirty.indexOf(1, p);
      if (p < 0) return;
      let q = p + 1;
      while (q < end && b.dirty[q] === 1) q++;
      Buffer.from(b.sab, p * PAGE_SIZE, (q - p) * PAGE_SIZE).fill(ZERO);
      b.dirty.fill(0, p, q);
      p = q;
    }
  }

  /** Copies `len` bytes between physical addresses (a migration or bounce), counted as `kind`. */
  copy(dst: number, src: number, len: number, kind: string): void {
    this.view(dst, len).set(this.view(src, len));
    this.copies.record(kind, len);
  }
}
