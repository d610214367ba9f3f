import { MM } from "@dmabuf/mm";
import type { Vb2Buffer } from "@dmabuf/v4l2-sim";
import type { DeviceBufferAccess } from "../jpeg-codec.js";

/**
 * Plane 0 of `vb` as the codec device reaches it: every read and write goes through mm's DmaEngine
 * and the plane's DMA mapping for the device (IOMMU-translated, faulting outside the mapping).
 */
export function planeAccess(vb: Vb2Buffer): DeviceBufferAccess {
  const { dev, sgt } = vb.planeCookie(0);
  const engine = vb.queue.kernel.resolve(MM).engine;
  return {
    size: vb.planeSize(0),
    read: (offset, dst) => engine.readInto(dev, sgt, offset, dst),
    write: (offset, src) => engine.write(dev, sgt, offset, src),
  };
}
