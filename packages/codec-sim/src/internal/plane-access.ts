import { MM } from "@dmabuf/mm";
import type { Vb2Buffer } from "@dmabuf/v4l2-sim";
import type { DeviceBufferAccess, PlaneRows } from "../jpeg-codec.js";

/**
 * Plane 0 of `vb` as the codec device reaches it: every access goes through mm's DmaEngine and the
 * plane's DMA mapping for the device (IOMMU-translated, faulting outside the mapping). Picture rows
 * are views into physical memory where a row lies in one contiguous piece; a row that straddles two
 * pieces is gathered into a scratch row, counted as a "split-row" copy as mm's writeRows counts them.
 */
export function planeAccess(vb: Vb2Buffer): DeviceBufferAccess {
  const { dev, sgt } = vb.planeCookie(0);
  const kernel = vb.queue.kernel;
  const mm = kernel.resolve(MM);
  const engine = mm.engine;
  return {
    size: vb.planeSize(0),
    readRows(l: PlaneRows) {
      if (l.rows <= 0) return () => new Uint8Array(0);
      const bytes = (l.rows - 1) * l.stride + l.rowBytes;
      const pieces = engine.views(dev, sgt, l.offset, bytes, false);
      const starts: number[] = [];
      let end = 0;
      for (const piece of pieces) {
        starts.push(end);
        end += piece.length;
      }
      if (kernel.trace.on) kernel.trace.emit("mm_dma_transfer", { device: dev.name, op: "read", bytes: l.rows * l.rowBytes });
      let scratch: Uint8Array | undefined;
      let p = 0;
      return (y: number) => {
        const at = y * l.stride;
        // Rows are read mostly in order: walk from the last piece, search when going back.
        if (at < starts[p]!) p = upperBound(starts, at) - 1;
        while (at >= starts[p]! + pieces[p]!.length) p++;
        const local = at - starts[p]!;
        if (local + l.rowBytes <= pieces[p]!.length) return pieces[p]!.subarray(local, local + l.rowBytes);
        scratch ??= new Uint8Array(l.rowBytes);
        for (let done = 0, q = p; done < l.rowBytes; q++) {
          const from = at + done - starts[q]!;
          const n = Math.min(pieces[q]!.length - from, l.rowBytes - done);
          scratch.set(pieces[q]!.subarray(from, from + n), done);
          done += n;
        }
        mm.copies.record("split-row", l.rowBytes);
        return scratch;
      };
    },
    writeRows: (l, fill) => engine.writeRows(dev, sgt, l, fill),
    read: (offset, dst) => engine.readInto(dev, sgt, offset, dst),
    write: (offset, src) => engine.write(dev, sgt, offset, src),
  };
}

/** Index of the first element greater than `x` in ascending `a`. */
function upperBound(a: readonly number[], x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
