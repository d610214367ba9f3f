/**
 * The JPEG library choice: encode and decode of one 1080p picture by each candidate, on its own
 * preferred input (RGB for sharp, RGBA for jpeg-js and @jsquash/jpeg), quality 90, 4:2:0.
 * sharp = libjpeg-turbo (mozjpeg build) in libvips, native prebuilt; @jsquash/jpeg = mozjpeg in
 * WebAssembly (baseline, no trellis: its fastest settings); jpeg-js = pure JavaScript.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import jpegJs from "jpeg-js";
import { defineSuite } from "@dmabuf/tooling/bench";
import { sharpJpegBackend } from "../src/index.js";

const W = 1920, H = 1080, Q = 90;

/** A picture with bars, a ramp and fine texture, so the entropy coder has real work. */
function picture(channels: 3 | 4): Uint8Array {
  const p = new Uint8Array(W * H * channels);
  const bars = [[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0], [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0]];
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * channels;
      const bar = bars[(x * 8 / W) | 0];
      for (let c = 0; c < 3; c++) p[o + c] = y < H / 2 ? bar[c] : ((x * 255) / W + ((x ^ y) & 31)) & 255;
      if (channels === 4) p[o + 3] = 255;
    }
  return p;
}

/** The part of the WebAssembly API used here (lib "dom" is not in this project's tsconfig). */
interface Wasm {
  compile(bytes: Uint8Array): Promise<object>;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

interface Squash {
  encode(data: Uint8Array, width: number, height: number, options: Record<string, unknown>): Uint8Array;
  decode(data: Uint8Array, preserveOrientation: boolean): { data: Uint8ClampedArray };
}

/** @jsquash/jpeg's emscripten modules, instantiated from the packaged .wasm files (no fetch in Node). */
async function squash(): Promise<{ enc: Squash; dec: Squash }> {
  const require = createRequire(import.meta.url);
  // The decoder's glue builds a browser ImageData; Node 20 has none.
  (globalThis as { ImageData?: unknown }).ImageData ??= class { constructor(readonly data: Uint8ClampedArray, readonly width: number, readonly height: number) {} };
  const load = async (glue: string, file: string): Promise<Squash> => {
    const factory = ((await import(glue)) as { default: (o: object) => Promise<Squash> }).default;
    const module = await wasm.compile(readFileSync(require.resolve(file)));
    return factory({
      noInitialRun: true,
      instantiateWasm: (imports: object, cb: (i: { exports: object }) => void) => {
        const instance = new wasm.Instance(module, imports);
        cb(instance);
        return instance.exports;
      },
    });
  };
  return {
    enc: await load("@jsquash/jpeg/codec/enc/mozjpeg_enc.js", "@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm"),
    dec: await load("@jsquash/jpeg/codec/dec/mozjpeg_dec.js", "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm"),
  };
}

const SQUASH_FAST = {
  quality: Q, baseline: true, arithmetic: false, progressive: false, optimize_coding: true, smoothing: 0, color_space: 3,
  quant_table: 3, trellis_multipass: false, trellis_opt_zero: false, trellis_opt_table: false, trellis_loops: 1,
  auto_subsample: false, chroma_subsample: 2, separate_chroma_quality: false, chroma_quality: Q,
};

const rgbImage = () => ({ data: picture(3), width: W, height: H, channels: 3 as const });

export default defineSuite({
  name: "codec-sim: JPEG libraries at 1080p",
  cases: {
    "sharp encode": { setup: rgbImage, fn: (img) => sharpJpegBackend.encode(img, Q), baseline: true },
    "sharp decode": { setup: () => sharpJpegBackend.encode(rgbImage(), Q), fn: (jpeg) => sharpJpegBackend.decode(jpeg) },
    "jpeg-js encode": { setup: () => ({ data: picture(4), width: W, height: H }), fn: (img) => jpegJs.encode(img, Q) },
    "jpeg-js decode": {
      setup: () => jpegJs.encode({ data: picture(4), width: W, height: H }, Q).data,
      fn: (jpeg) => jpegJs.decode(jpeg, { useTArray: true }),
    },
    "@jsquash/jpeg encode": {
      setup: async () => ({ ...(await squash()), rgba: picture(4) }),
      fn: (s) => s.enc.encode(s.rgba, W, H, SQUASH_FAST),
    },
    "@jsquash/jpeg decode": {
      setup: async () => {
        const s = await squash();
        return { ...s, jpeg: s.enc.encode(picture(4), W, H, SQUASH_FAST).slice() };
      },
      fn: (s) => s.dec.decode(s.jpeg, false),
    },
  },
});
