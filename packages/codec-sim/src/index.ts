export { sharpJpegBackend, type JpegBackend, type RgbImage } from "./jpeg-backend.js";
export {
  JpegCodec, jobTimeNs, probeJpeg, rawFrameBytes, ENCODER_COST, DECODER_COST, RAW_ENCODE_FORMATS, RAW_DECODE_FORMATS,
  type CodecCostModel, type DeviceBufferAccess, type RawFrameLayout,
} from "./jpeg-codec.js";
export { psnr } from "./psnr.js";
