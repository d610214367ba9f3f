import { describe, expect, it } from "vitest";
import fc from "fast-check";
import sharp from "sharp";
import { JpegCodec, probeJpeg, psnr, jobTimeNs, ENCODER_COST, rawFrameBytes } from "../src/index.js";
import { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_YUYV } from "@dmabuf/v4l2-sim";
import { heapAccess, nv12Pattern } from "./heap-access.js";

const W = 320, H = 240, BPL = 320, BH = 240;
const nv12 = { pixelformat: V4L2_PIX_FMT_NV12, width: W, height: H, bytesperline: BPL, chromaOffset: BPL * BH };

describe("JpegCodec (codec core, heap buffers)", () => {
  it("encodes NV12 into a JFIF JPEG that any decoder reads, and decodes it back above 35 dB luma PSNR", async () => {
    const codec = new JpegCodec();
    const src = nv12Pattern(W, H, BPL, BH);
    const jpeg = await codec.encode(heapAccess(src), nv12);
    expect([jpeg[0], jpeg[1], jpeg.at(-2), jpeg.at(-1)]).toEqual([0xff, 0xd8, 0xff, 0xd9]); // SOI ... EOI
    expect(probeJpeg(jpeg)).toEqual({ width: W, height: H, components: 3, progressive: false });
    // An independent reader (libvips) agrees on what the file is.
    const meta = await sharp(Buffer.from(jpeg)).metadata();
    expect([meta.format, meta.width, meta.height, meta.chromaSubsampling]).toEqual(["jpeg", W, H, "4:2:0"]);

    // Decode into a buffer with a wider, 64-aligned pitch and a 16-aligned height, as the decoder's CAPTURE.
    const dBpl = 384, dBh = 240;
    const out = new Uint8Array(dBpl * dBh * 1.5);
    codec.store(await codec.decode(jpeg), heapAccess(out), { ...nv12, bytesperline: dBpl, chromaOffset: dBpl * dBh });
    expect(psnr(src, BPL, out, dBpl, W, H)).toBeGreaterThan(35);
    expect(psnr(src.subarray(BPL * BH), BPL, out.subarray(dBpl * dBh), dBpl, W, H / 2)).toBeGreaterThan(35);
  });

  it("reads YUYV and XBGR32 (DRM XRGB8888 layout) rows and decodes to XBGR32", async () => {
    const codec = new JpegCodec();
    const src = nv12Pattern(W, H, BPL, BH);
    const yuyv = new Uint8Array(W * 2 * H);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x += 2) {
        const c = BPL * BH + (y >> 1) * BPL + x, o = y * W * 2 + x * 2;
        yuyv.set([src[y * BPL + x], src[c], src[y * BPL + x + 1], src[c + 1]], o);
      }
    const j1 = await codec.encode(heapAccess(yuyv), { pixelformat: V4L2_PIX_FMT_YUYV, width: W, height: H, bytesperline: W * 2, chromaOffset: 0 });
    const x1 = new Uint8Array(W * 4 * H);
    codec.store(await codec.decode(j1), heapAccess(x1), { pixelformat: V4L2_PIX_FMT_XBGR32, width: W, height: H, bytesperline: W * 4, chromaOffset: 0 });
    expect(x1[3]).toBe(0xff);
    // Re-encode the XBGR32 picture: a second generation stays close to the first.
    const j2 = await codec.encode(heapAccess(x1), { pixelformat: V4L2_PIX_FMT_XBGR32, width: W, height: H, bytesperline: W * 4, chromaOffset: 0 });
    const x2 = new Uint8Array(W * 4 * H);
    codec.store(await codec.decode(j2), heapAccess(x2), { pixelformat: V4L2_PIX_FMT_XBGR32, width: W, height: H, bytesperline: W * 4, chromaOffset: 0 });
    expect(psnr(x1, W * 4, x2, W * 4, W * 4, H)).toBeGreaterThan(35);
  });

  it("decodes odd sizes, grey and progressive JPEGs from other encoders", async () => {
    const codec = new JpegCodec();
    const grey = await sharp({ create: { width: 33, height: 17, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg({ progressive: true }).toBuffer();
    expect(probeJpeg(grey)).toMatchObject({ width: 33, height: 17, progressive: true });
    const out = new Uint8Array(64 * 32 * 1.5);
    codec.store(await codec.decode(grey), heapAccess(out), { pixelformat: V4L2_PIX_FMT_NV12, width: 33, height: 17, bytesperline: 64, chromaOffset: 64 * 32 });
    // sRGB 128 grey is Y = 16 + 219 * 128/255 = 126 in limited range, chroma neutral.
    expect(Math.abs(out[0] - 126)).toBeLessThanOrEqual(1);
    expect(Math.abs(out[64 * 16 + 32] - 126)).toBeLessThanOrEqual(1);
    expect(Math.abs(out[64 * 32 + 16] - 128)).toBeLessThanOrEqual(1);
  });

  it("decodes webcam Motion-JPEG frames that omit their Huffman tables (UVC MJPEG: the decoder uses ITU T.81 K.3's)", async () => {
    const codec = new JpegCodec();
    const rgb = Uint8Array.from({ length: 64 * 48 * 3 }, (_, i) => (i * 7) & 255);
    const jpeg = new Uint8Array(await sharp(rgb, { raw: { width: 64, height: 48, channels: 3 } }).jpeg({ quality: 90, optimiseCoding: false }).toBuffer());
    // Drop every DHT (0xFFC4) segment before the scan, as UVC cameras do.
    const kept: Uint8Array[] = [jpeg.subarray(0, 2)];
    let p = 2;
    while (jpeg[p + 1] !== 0xda) {
      const len = (jpeg[p + 2]! << 8) | jpeg[p + 3]!;
      if (jpeg[p + 1] !== 0xc4) kept.push(jpeg.subarray(p, p + 2 + len));
      p += 2 + len;
    }
    kept.push(jpeg.subarray(p));
    const mjpeg = Buffer.concat(kept);
    expect(mjpeg.length).toBeLessThan(jpeg.length);
    const [a, b] = [await codec.decode(jpeg), await codec.decode(mjpeg)];
    expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
  });

  it("rejects a corrupt stream, a size mismatch and a too-small buffer without writing anything", async () => {
    const codec = new JpegCodec();
    const out = new Uint8Array(W * H * 1.5).fill(7);
    await expect(codec.decode(new Uint8Array([0xff, 0xd8, 1, 2, 3]))).rejects.toThrow();
    const pic = await codec.decode(await codec.encode(heapAccess(nv12Pattern(W, H, BPL, BH)), nv12));
    expect(() => codec.store(pic, heapAccess(out), { ...nv12, width: 160 })).toThrow(/320x240/);
    expect(() => codec.store(pic, heapAccess(out.subarray(1)), nv12)).toThrow(RangeError);
    expect(out.every((b) => b === 7)).toBe(true);
    expect(rawFrameBytes(nv12)).toBe(W * H * 1.5);
  });

  it("probeJpeg never throws on arbitrary bytes and only reports non-zero sizes (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, soi) => {
        const b = soi ? Uint8Array.from([0xff, 0xd8, ...bytes]) : bytes;
        const h = probeJpeg(b);
        return h === null || (h.width > 0 && h.height > 0);
      }),
      { numRuns: 300 },
    );
  });

  it("cost model: 1080p encode with a 200 KB JPEG takes 50 us + 8160 macroblocks x 1.5 us + 400 us", () => {
    expect(jobTimeNs(ENCODER_COST, 1920, 1080, 200_000)).toBe(50_000 + 8160 * 1_500 + 400_000);
  });
});
