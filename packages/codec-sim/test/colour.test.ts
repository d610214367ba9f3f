/*
 * The NV12/YUYV -> RGB row conversion the encoder runs before the JPEG library: BT.601 limited range
 * (V4L2_YCBCR_ENC_601, V4L2_QUANTIZATION_LIM_RANGE, Documentation/userspace-api/media/v4l/colorspaces-details.rst),
 * checked against the floating-point formula.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { yuyvRowToRgb } from "../src/internal/colour.js";
import { Nv12Converter } from "../src/internal/nv12-converter.js";
import { nv12Pattern } from "./heap-access.js";

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
/** colorspaces-details.rst, BT.601 limited range to R'G'B'. */
function rgbOf(y: number, cb: number, cr: number): [number, number, number] {
  const l = (255 / 219) * (y - 16), u = (255 / 224) * (cb - 128), v = (255 / 224) * (cr - 128);
  return [clamp(l + 1.402 * v), clamp(l - 0.344136 * u - 0.714136 * v), clamp(l + 1.772 * u)];
}

const sample = fc.integer({ min: 0, max: 255 });

describe("BT.601 limited-range YCbCr -> RGB rows", () => {
  it("NV12 (WebAssembly converter): every pixel within 1 of the exact formula, any width and height, 3 or 4 channels (fast-check)", () => {
    const converter = new Nv12Converter();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom(3, 4), fc.array(sample, { minLength: 80, maxLength: 80 }), (width, height, channels, s) => {
        const cw = Math.ceil(width / 2) * 2;
        const luma = (y: number) => Uint8Array.from(s.slice(y * width, (y + 1) * width));
        const chroma = (y: number) => Uint8Array.from(s.slice(45 + y * cw, 45 + (y + 1) * cw));
        const out = converter.convert(luma, chroma, width, height, channels);
        expect(out.length).toBe(width * height * channels);
        for (let y = 0; y < height; y++)
          for (let x = 0; x < width; x++) {
            const o = (y * width + x) * channels;
            const uv = chroma(y >> 1);
            const want = rgbOf(luma(y)[x]!, uv[x & ~1]!, uv[(x & ~1) + 1]!);
            for (let c = 0; c < 3; c++) expect(Math.abs(out[o + c]! - want[c]!)).toBeLessThanOrEqual(1);
            if (channels === 4) expect(out[o + 3]).toBe(255);
          }
      }),
      { numRuns: 200 },
    );
  });

  it("NV12 at 1080p gives the same picture as the per-pixel formula to within 1, with the memory grown for it", () => {
    const W = 1920, H = 1080;
    const mem = nv12Pattern(W, H, W, H);
    const out = new Nv12Converter().convert((y) => mem.subarray(y * W, (y + 1) * W), (y) => mem.subarray(W * H + y * W, W * H + (y + 1) * W), W, H, 3);
    for (const [x, y] of [[0, 0], [W - 1, 0], [W >> 1, H >> 1], [W - 1, H - 1], [123, 1001]] as const) {
      const c = W * H + (y >> 1) * W + (x & ~1);
      const want = rgbOf(mem[y * W + x]!, mem[c]!, mem[c + 1]!);
      for (let k = 0; k < 3; k++) expect(Math.abs(out[(y * W + x) * 3 + k]! - want[k]!)).toBeLessThanOrEqual(1);
    }
  });

  it("YUYV: the same conversion from packed Y0 Cb Y1 Cr (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(sample, { minLength: 8, maxLength: 8 }), (s) => {
        const row = Uint8Array.from(s);
        const out = new Uint8Array(4 * 3);
        yuyvRowToRgb(row, 4, out, 0, 3);
        for (let x = 0; x < 4; x++) {
          const p = (x >> 1) * 4;
          const want = rgbOf(row[p + (x & 1) * 2]!, row[p + 1]!, row[p + 3]!);
          for (let c = 0; c < 3; c++) expect(Math.abs(out[x * 3 + c]! - want[c]!)).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 200 },
    );
  });
});
