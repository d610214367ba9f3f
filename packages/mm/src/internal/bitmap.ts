/**
 * A fixed-size bitmap on 32-bit words (include/linux/bitmap.h, lib/find_bit.c). Word-at-a-time
 * scans keep the searches cheap; bit i lives in word i >>> 5 at bit i & 31, as on a little-endian
 * machine, so the words print exactly as debugfs_create_u32_array shows Linux's bitmap.
 */
export class Bitmap {
  readonly words: Uint32Array;
  private setBits = 0;

  constructor(readonly size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  /** bitmap_weight() */
  get weight(): number {
    return this.setBits;
  }

  test(i: number): boolean {
    return ((this.words[i >>> 5]! >>> (i & 31)) & 1) === 1;
  }

  /** find_next_bit(): the first set bit in [start, end), or `end`. */
  findNextBit(start: number, end: number): number {
    return this.scan(start, end, 0);
  }

  /** find_next_zero_bit(): the first clear bit in [start, end), or `end`. */
  findNextZeroBit(start: number, end: number): number {
    return this.scan(start, end, 0xffffffff);
  }

  /** The last set bit in [start, end), or -1 (find_last_bit on a window). */
  findLastBit(start: number, end: number): number {
    if (start >= end) return -1;
    let w = (end - 1) >>> 5;
    let word = this.words[w]! & maskBelow(end - (w << 5));
    const first = start >>> 5;
    for (;;) {
      if (w === first) word &= ~maskBelow(start & 31);
      if (word !== 0) {
        const bit = (w << 5) + 31 - Math.clz32(word);
        return bit >= start ? bit : -1;
      }
      if (w === first) return -1;
      word = this.words[--w]!;
    }
  }

  private scan(start: number, end: number, invert: number): number {
    if (start >= end) return end;
    let w = start >>> 5;
    let word = (this.words[w]! ^ invert) & ~maskBelow(start & 31);
    const last = (end - 1) >>> 5;
    for (;;) {
      if (word !== 0) {
        const bit = (w << 5) + 31 - Math.clz32(word & -word);
        return bit < end ? bit : end;
      }
      if (w >= last) return end;
      word = this.words[++w]! ^ invert;
    }
  }

  /** bitmap_set() */
  set(start: number, n: number): void {
    this.fill(start, n, true);
  }

  /** bitmap_clear() */
  clear(start: number, n: number): void {
    this.fill(start, n, false);
  }

  private fill(start: number, n: number, on: boolean): void {
    let i = start;
    const end = start + n;
    while (i < end) {
      const w = i >>> 5;
      const lo = i & 31;
      const hi = Math.min(32, lo + end - i);
      const m = (maskBelow(hi) & ~maskBelow(lo)) >>> 0;
      const before = this.words[w]!;
      const after = on ? (before | m) >>> 0 : (before & ~m) >>> 0;
      this.setBits += popcount(after) - popcount(before);
      this.words[w] = after;
      i += hi - lo;
    }
  }

  /**
   * bitmap_find_next_zero_area_off() (lib/bitmap.c): the first `nr`-bit clear run at or after
   * `start` whose index satisfies ((index + alignOffset) & alignMask) === 0; returns a value > size
   * when there is none. Linux restarts after the first set bit inside a candidate window; restarting
   * after the last one visits the same candidates minus those doomed to hit that bit, so the answer
   * is identical and the worst case stays near one pass over the words.
   */
  findNextZeroAreaOff(size: number, start: number, nr: number, alignMask: number, alignOffset: number): number {
    for (;;) {
      let index = this.findNextZeroBit(start, size);
      index = alignUpMask(index + alignOffset, alignMask) - alignOffset;
      const end = index + nr;
      if (end > size) return end;
      const i = this.findLastBit(index, end);
      if (i < 0) return index;
      start = i + 1;
    }
  }

  /** Length of the longest clear run (the maxchunk of mm/cma_debug.c), in bits. */
  longestZeroRun(): number {
    let best = 0;
    let end = 0;
    for (;;) {
      const s = this.findNextZeroBit(end, this.size);
      if (s >= this.size) return best;
      end = this.findNextBit(s, this.size);
      best = Math.max(best, end - s);
    }
  }
}

/** A 32-bit mask of the bits below `n` (0..32). */
const maskBelow = (n: number) => (n >= 32 ? 0xffffffff : ((1 << n) - 1) >>> 0);

/** __ALIGN_MASK(x, mask) */
const alignUpMask = (x: number, mask: number) => (mask === 0 ? x : Math.floor((x + mask) / (mask + 1)) * (mask + 1));

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
