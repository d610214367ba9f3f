import { Errno, type Kernel } from "@dmabuf/core";
import { MM } from "@dmabuf/mm";
import type { FrameSink } from "../tpg.js";
import type { Vb2Buffer } from "../videobuf2-core.js";

/**
 * A FrameSink writing `vb`'s planes as its device: the whole plane range is translated once through
 * the device's mapping (mm's DmaEngine.views, IOMMU faults included), then each row is stored into
 * the pieces it covers. A row that straddles two discontiguous pieces is stored in two parts; no
 * intermediate copy is made.
 */
export function planeSink(kernel: Kernel, vb: Vb2Buffer): FrameSink {
  const engine = kernel.resolve(MM).engine;
  return {
    writeRows(memPlane, { offset, stride, rowBytes, rows }, row) {
      if (rows <= 0) return;
      if (stride < rowBytes) throw new Errno("EINVAL", "dma", `stride ${stride} is smaller than a row (${rowBytes} bytes)`);
      const c = vb.planeCookie(memPlane);
      const pieces = engine.views(c.dev, c.sgt, offset, (rows - 1) * stride + rowBytes, true);
      let p = 0;
      let base = 0;
      for (let y = 0; y < rows; y++) {
        const data = row(y);
        let at = y * stride;
        let done = 0;
        while (done < rowBytes) {
          while (at >= base + pieces[p]!.length) base += pieces[p++]!.length;
          const piece = pieces[p]!;
          const n = Math.min(piece.length - (at - base), rowBytes - done);
          piece.set(n === data.length ? data : data.subarray(done, done + n), at - base);
          done += n;
          at += n;
        }
      }
    },
  };
}
