import { conversionTables } from "./colour.js";

/** The part of the WebAssembly API used here (lib "dom" is not in this project's tsconfig). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: { memory: { buffer: SharedArrayBuffer; grow(pages: number): number }; nv12: Nv12Fn } };
}
type Nv12Fn = (y: number, uv: number, width: number, height: number, out: number, channels: number) => void;
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

/** nv12-to-rgb.wat, assembled (the rebuild command is in its header). */
const MODULE = new wasm.Module(Buffer.from("AGFzbQEAAAABCgFgBn9/f39/fwADAgEABQUBAwWAQAcRAgZtZW1vcnkCAARudjEyAAAKpQQBogQBEH8gBUEERiETIAJBAWpBfnEhFCACIAVsIRUCQANAIAYgA08NASAAIAYgAmxqIQggBCAGIBVsaiELIAghCSALIQwgBkEBaiADSQRAIAggAmohCSALIBVqIQwLIAEgBkEBdiAUbGohCkEAIQcCQANAIAcgAk8NASAKIAdqLQAAIRAgCiAHai0AASERIBFBAnQoAoAIIQ0gEEECdCgCgBAhDyAQQQh0IBFyQQJ0KAKAOCEOIAggB2otAABBAnQoAgAhEiALIBIgDWotAIAYOgAAIAsgEiAOai0AgBg6AAEgCyASIA9qLQCAGDoAAiATBEAgC0H/AToAAwsgCSAHai0AAEECdCgCACESIAwgEiANai0AgBg6AAAgDCASIA5qLQCAGDoAASAMIBIgD2otAIAYOgACIBMEQCAMQf8BOgADCyAHQQFqIAJJBEAgCCAHQQFqai0AAEECdCgCACESIAsgBWogEiANai0AgBg6AAAgCyAFaiASIA5qLQCAGDoAASALIAVqIBIgD2otAIAYOgACIBMEQCALIAVqQf8BOgADCyAJIAdBAWpqLQAAQQJ0KAIAIRIgDCAFaiASIA1qLQCAGDoAACAMIAVqIBIgDmotAIAYOgABIAwgBWogEiAPai0AgBg6AAIgEwRAIAwgBWpB/wE6AAMLCyALIAVBAXRqIQsgDCAFQQF0aiEMIAdBAmohBwwACwsgBkECaiEGDAALCws=", "base64"));
/** Where the .wat expects its tables, and where frames start. */
const LUMA = 0, CR_R = 1024, CB_B = 2048, CLAMP = 3072, CBCR_G = 7168, FRAMES = 269312;
const PAGE = 65536;

/**
 * NV12 -> packed RGB(A) for the encoder, in WebAssembly: the device's rows are gathered into the
 * module's memory (one copy of the 1.5 bytes per pixel it reads anyway) and converted there, about
 * twice as fast as the same table-driven loop in JavaScript. One per codec; the picture returned
 * lives in the module's memory until the next conversion.
 */
export class Nv12Converter {
  private readonly memory;
  private readonly nv12: Nv12Fn;
  private bytes: Uint8Array;

  constructor() {
    const { exports } = new wasm.Instance(MODULE, {});
    this.memory = exports.memory;
    this.nv12 = exports.nv12;
    this.bytes = new Uint8Array(this.memory.buffer);
    const t = conversionTables();
    const words = new Int32Array(this.memory.buffer);
    words.set(t.luma, LUMA / 4);
    words.set(t.crR, CR_R / 4);
    words.set(t.cbB, CB_B / 4);
    words.set(t.cbcrG, CBCR_G / 4);
    this.bytes.set(t.clamp, CLAMP);
  }

  /**
   * Converts a `width` x `height` NV12 picture read as rows (`luma(y)`, `chroma(y)` for y up to
   * ceil(height / 2)) into `channels` (3 or 4) bytes per pixel.
   */
  convert(luma: (y: number) => Uint8Array, chroma: (y: number) => Uint8Array, width: number, height: number, channels: number): Uint8Array {
    const cw = Math.ceil(width / 2) * 2;
    const uv = FRAMES + width * height;
    const out = uv + cw * Math.ceil(height / 2);
    const end = out + width * height * channels;
    if (end > this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((end - this.memory.buffer.byteLength) / PAGE));
      this.bytes = new Uint8Array(this.memory.buffer);
    }
    const m = this.bytes;
    for (let y = 0; y < height; y++) m.set(luma(y), FRAMES + y * width);
    for (let y = 0; y < Math.ceil(height / 2); y++) m.set(chroma(y), uv + y * cw);
    this.nv12(FRAMES, uv, width, height, out, channels);
    return m.subarray(out, end);
  }
}
