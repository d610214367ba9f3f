import { Errno } from "./errno.js";
import { segmentAt, segmentStarts } from "./scatterlist.js";
import type { File } from "./file.js";

/**
 * A userspace mapping (struct vm_area_struct) returned by `mmap`. The driver's mmap op fills
 * `segments` with views of the very memory it maps, so reads and writes through a VmArea touch the
 * buffer itself: no copy. A contiguous buffer is one segment; a scattered one is several, in order.
 */
export class VmArea {
  segments: Uint8Array[] = [];
  /** vm_ops->close: run by munmap or exit. */
  onClose?: () => void;
  private starts: number[] = [];
  private closed = false;

  constructor(
    public file: File,
    readonly start: number,
    readonly length: number,
    public pgoff: number,
    readonly prot: number,
    readonly flags: number,
  ) {}

  /** Called by the VFS after the driver's mmap op: checks the driver mapped exactly `length` bytes. */
  seal(): void {
    this.starts = segmentStarts(this.segments);
    const off = this.segments.reduce((n, s) => n + s.length, 0);
    if (off !== this.length) throw new Error(`${this.file.ops.name} mmap op mapped ${off} bytes for a ${this.length}-byte vma`);
  }

  /**
   * vma_set_file(): points the mapping at another file, taking a reference on it and dropping the
   * old one (a driver's mmap op forwarding to dma_buf_mmap does this).
   */
  setFile(file: File): void {
    const old = this.file;
    this.file = file.get();
    old.put();
  }

  get unmapped(): boolean {
    return this.closed;
  }

  /** munmap's side: drops the mapping; later access is a fault (SIGSEGV in Linux, EFAULT here). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose?.();
    this.segments = [];
    this.file.put();
  }

  /** The whole mapping as one view; only for single-segment (contiguous) mappings. */
  get bytes(): Uint8Array {
    this.live("bytes");
    if (this.segments.length !== 1) throw new Errno("EFAULT", "VmArea.bytes", `mapping has ${this.segments.length} discontiguous segments; use view(), read() or write() per range`);
    return this.segments[0]!;
  }

  /** A zero-copy view of [offset, offset+length); the range must lie inside one segment. */
  view(offset: number, length: number): Uint8Array {
    const [i, at] = this.locate(offset, length, "view");
    const seg = this.segments[i]!;
    if (at + length > seg.length) throw new Errno("EFAULT", "VmArea.view", `range ${offset}+${length} crosses a segment boundary; use read()/write()`);
    return seg.subarray(at, at + length);
  }

  /** Copies `data` into the mapping at `offset` (a CPU store through the mapping). */
  write(offset: number, data: Uint8Array): void {
    let [i, at] = this.locate(offset, data.length, "write");
    let done = 0;
    while (done < data.length) {
      const seg = this.segments[i++]!;
      const n = Math.min(seg.length - at, data.length - done);
      seg.set(data.subarray(done, done + n), at);
      done += n;
      at = 0;
    }
  }

  /** Copies `length` bytes out of the mapping at `offset` (a CPU load through the mapping). */
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let [i, at] = this.locate(offset, length, "read");
    let done = 0;
    while (done < length) {
      const seg = this.segments[i++]!;
      const n = Math.min(seg.length - at, length - done);
      out.set(seg.subarray(at, at + n), done);
      done += n;
      at = 0;
    }
    return out;
  }

  private live(call: string): void {
    if (this.closed) throw new Errno("EFAULT", `VmArea.${call}`, `mapping at 0x${this.start.toString(16)} was unmapped (SIGSEGV on Linux)`);
  }

  private locate(offset: number, length: number, call: string): [number, number] {
    this.live(call);
    if (offset < 0 || length < 0 || offset + length > this.length)
      throw new Errno("EFAULT", `VmArea.${call}`, `range ${offset}+${length} is outside the ${this.length}-byte mapping (SIGBUS/SIGSEGV on Linux)`);
    const i = segmentAt(this.starts, offset);
    return [i, offset - this.starts[i]!];
  }
}
