import { PLATFORM_DRIVER, type DriverPlugin } from "@dmabuf/core";
import type { DependencyContainer } from "tsyringe";
import type { JpegBackend } from "./jpeg-backend.js";
import { DECODER_COST, ENCODER_COST, type CodecCostModel } from "./jpeg-codec.js";
import { JpegDriver } from "./jpeg-driver.js";

export { sharpJpegBackend, type JpegBackend, type RgbImage } from "./jpeg-backend.js";
export {
  JpegCodec, jobTimeNs, probeJpeg, rawFrameBytes, ENCODER_COST, DECODER_COST, RAW_ENCODE_FORMATS, RAW_DECODE_FORMATS,
  type CodecCostModel, type DeviceBufferAccess, type RawFrameLayout,
} from "./jpeg-codec.js";
export { psnr } from "./psnr.js";
export { codecConstraints, type CodecConstraints } from "./codec-constraints.js";
export { JpegDriver } from "./jpeg-driver.js";
export { JpegM2mDevice, JpegCtx, type CodecRole, type JpegM2mOptions } from "./jpeg-m2m.js";
export * from "./codec-uapi.js";

/** Options of the codec plugin. */
export interface CodecSimOptions {
  /** The JPEG library behind both devices (default: sharp). */
  backend?: JpegBackend;
  /** Virtual-time cost of an encode job (default {@link ENCODER_COST}). */
  encoderCost?: CodecCostModel;
  /** Virtual-time cost of a decode job (default {@link DECODER_COST}). */
  decoderCost?: CodecCostModel;
}

/**
 * The codec plugin: a stateful JPEG encoder for "sim,jpeg-enc" devices (jpeg-enc.0 on the default
 * board) and a stateful JPEG decoder for "sim,jpeg-dec" devices (jpeg-dec.0).
 */
export default function codecSim(options: CodecSimOptions = {}): DriverPlugin {
  return {
    name: "@dmabuf/codec-sim",
    register(container: DependencyContainer) {
      const backend = options.backend;
      container.register(PLATFORM_DRIVER, { useValue: new JpegDriver("encoder", { backend, cost: options.encoderCost ?? ENCODER_COST }) });
      container.register(PLATFORM_DRIVER, { useValue: new JpegDriver("decoder", { backend, cost: options.decoderCost ?? DECODER_COST }) });
    },
  };
}
