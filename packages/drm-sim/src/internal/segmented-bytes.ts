import { segmentAt, segmentStarts } from "@dmabuf/core";

/**
 * A buffer's memory as the CPU sees it through a vmap: possibly several physically discontiguous
 * segments laid end to end. Reads inside one segment are zero-copy views; a range crossing a
 * segment boundary is gathered into a scratch line (what a vmap's page tables hide on Linux).
 */
export class SegmentedBytes {
  readonly length: number;
  private readonly starts: number[];
  private scratch = new Uint8Array(0);

  constructor(readonly segments: readonly Uint8Array[]) {
    this.starts = segmentStarts(segments);
    this.length = segments.reduce((n, s) => n + s.length, 0);
  }

  /** The bytes [off, off+len); the view is valid until the next call that gathers. */
  slice(off: number, len: number): Uint8Array {
    if (off < 0 || off + len > this.length) throw new RangeError(`range ${off}+${len} outside ${this.length}-byte buffer`);
    let i = segmentAt(this.starts, off);
    let at = off - this.starts[i]!;
    const first = this.segments[i]!;
    if (at + len <= first.length) return first.subarray(at, at + len);
    if (this.scratch.length < len) this.scratch = new Uint8Array(len);
    for (let done = 0; done < len; at = 0) {
      const seg = this.segments[i++]!;
      const n = Math.min(seg.length - at, len - done);
      this.scratch.set(seg.subarray(at, at + n), done);
      done += n;
    }
    return this.scratch.subarray(0, len);
  }

  /** Stores `data` at `off`, across segments as needed. */
  write(off: number, data: Uint8Array): void {
    if (off < 0 || off + data.length > this.length) throw new RangeError(`range ${off}+${data.length} outside ${this.length}-byte buffer`);
    let i = segmentAt(this.starts, off);
    let at = off - this.starts[i]!;
    for (let done = 0; done < data.length; at = 0) {
      const seg = this.segments[i++]!;
      const n = Math.min(seg.length - at, data.length - done);
      seg.set(data.subarray(done, done + n), at);
      done += n;
    }
  }
}
