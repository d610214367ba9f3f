/*
 * The NV12/YUYV -> RGB row conversion the encoder runs before the JPEG library: BT.601 limited range
 * (V4L2_YCBCR_ENC_601, V4L2_QUANTIZATION_LIM_RANGE, Documentation/userspace-api/media/v4l/colorspaces-details.rst),
 * checked against the floating-point formula, and the codec's use of two rows at a time.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { V4L2_PIX_FMT_NV12 } from "@dmabuf/v4l2-sim";
import { nv12RowsToRgb, yuyvRowToRgb } from "../src/internal/colour.js";
import { JpegCodec, type DeviceBufferAccess } from "../src/index.js";
import { heapAccess, nv12Pattern } from "./heap-access.js";

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
/** colorspaces-details.rst, BT.601 limited range to R'G'B'. */
function rgbOf(y: number, cb: number, cr: number): [number, number, number] {
  const l = (255 / 219) * (y - 16), u = (255 / 224) * (cb - 128), v = (255 / 224) * (cr - 128);
  return [clamp(l + 1.402 * v), clamp(l - 0.344136 * u - 0.714136 * v), clamp(l + 1.772 * u)];
}

const sample = fc.integer({ min: 0, max: 255 });

describe("BT.601 limited-range YCbCr -> RGB rows", () => {
  it("NV12: every pixel of a 2-row pair within 1 of the exact formula, any width, 3 or 4 channels (fast-check)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.constantFrom(3, 4), fc.array(sample, { minLength: 40, maxLength: 40 }), (width, channels, s) => {
        const y0 = Uint8Array.from(s.slice(0, width)), y1 = Uint8Array.from(s.slice(10, 10 + width));
        const uv = Uint8Array.from(s.slice(20, 20 + Math.ceil(width / 2) * 2));
        const out = new Uint8Array(2 * width * channels).fill(7);
        nv12RowsToRgb(y0, y1, uv, width, out, 0, width * channels, channels);
        for (let row = 0; row < 2; row++)
          for (let x = 0; x < width; x++) {
            const o = (row * width + x) * channels;
            const want = rgbOf((row ? y1 : y0)[x]!, uv[x & ~1]!, uv[(x & ~1) + 1]!);
            for (let c = 0; c < 3; c++) expect(Math.abs(out[o + c]! - want[c]!)).toBeLessThanOrEqual(1);
            if (channels === 4) expect(out[o + 3]).toBe(255);
          }
      }),
      { numRuns: 200 },
    );
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

  it("the encoder reads two rows at a time within DeviceBufferAccess's contract: rows copied into two rotating scratch rows give the same JPEG", async () => {
    const W = 64, H = 33, BPL = 64, BH = 48;
    const mem = nv12Pattern(W, H, BPL, BH);
    const layout = { pixelformat: V4L2_PIX_FMT_NV12, width: W, height: H, bytesperline: BPL, chromaOffset: BPL * BH };
    // Every row comes back as a copy that the call after next overwrites (as planeAccess's split rows).
    const copying: DeviceBufferAccess = {
      ...heapAccess(mem),
      readRows: (l) => {
        const scratch = [new Uint8Array(l.rowBytes), new Uint8Array(l.rowBytes)];
        let turn = 0;
        return (y) => {
          turn ^= 1;
          scratch[turn]!.set(mem.subarray(l.offset + y * l.stride, l.offset + y * l.stride + l.rowBytes));
          return scratch[turn]!;
        };
      },
    };
    const direct = await new JpegCodec().encode(heapAccess(mem), layout);
    expect(await new JpegCodec().encode(copying, layout)).toEqual(direct);
  });
});
