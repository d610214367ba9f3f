import type { Kernel } from "@dmabuf/core";
import { MM } from "@dmabuf/mm";
import type { FrameSink } from "../tpg.js";
import type { Vb2Buffer } from "../videobuf2-core.js";

/** A FrameSink writing `vb`'s planes through the device's DMA engine (mm's DmaEngine.writeRows). */
export function planeSink(kernel: Kernel, vb: Vb2Buffer): FrameSink {
  const engine = kernel.resolve(MM).engine;
  return {
    writeRows(memPlane, layout, fill) {
      const c = vb.planeCookie(memPlane);
      engine.writeRows(c.dev, c.sgt, layout, fill);
    },
  };
}
