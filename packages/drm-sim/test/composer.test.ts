import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { composeFrame, writeFrame, yuvToArgb, type ComposerPlane } from "../src/composer.js";
import { drmFormatInfo } from "../src/drm-format.js";
import { SegmentedBytes } from "../src/internal/segmented-bytes.js";
import { ScanoutFrame } from "../src/scanout-frame.js";
import * as U from "../src/uapi.js";

const plane = (format: number, bufs: { bytes: Uint8Array; offset: number; pitch: number }[], w: number, h: number, dstX = 0, dstY = 0): ComposerPlane => ({
  format: drmFormatInfo(format)!,
  memory: bufs.map((b) => ({ bytes: new SegmentedBytes([b.bytes]), offset: b.offset, pitch: b.pitch })),
  srcX: 0, srcY: 0, width: w, height: h, dstX, dstY,
});

describe("composer (vkms_composer.c blend and format readers)", () => {
  it("XRGB8888 primary is copied with the X byte cleared (vkms CRC over XRGB words)", () => {
    const bytes = new Uint8Array(4 * 4 * 2);
    new Uint32Array(bytes.buffer).fill(0xab123456);
    const out = new Uint32Array(8);
    composeFrame(out, 4, 2, [plane(U.DRM_FORMAT_XRGB8888, [{ bytes, offset: 0, pitch: 16 }], 4, 2)]);
    expect([...out]).toEqual(new Array(8).fill(0x123456));
  });

  it("background is black where no plane covers the CRTC; overlay is clipped to the CRTC", () => {
    const bytes = new Uint8Array(4 * 2 * 2);
    new Uint32Array(bytes.buffer).fill(0xffff0000);
    const out = new Uint32Array(16);
    composeFrame(out, 4, 4, [plane(U.DRM_FORMAT_ARGB8888, [{ bytes, offset: 0, pitch: 8 }], 2, 2, 3, 3)]);
    expect(out[15]).toBe(0xff0000);
    expect(out.filter((p) => p !== 0).length).toBe(1);
  });

  it("ARGB8888 blends with pre-multiplied alpha: out = src + dst * (1 - a)", () => {
    const prim = new Uint8Array(4);
    new Uint32Array(prim.buffer)[0] = 0x0000ff00; // green
    const ov = new Uint8Array(4);
    new Uint32Array(ov.buffer)[0] = 0x80800000; // half-transparent red, premultiplied
    const out = new Uint32Array(1);
    composeFrame(out, 1, 1, [plane(U.DRM_FORMAT_XRGB8888, [{ bytes: prim, offset: 0, pitch: 4 }], 1, 1), plane(U.DRM_FORMAT_ARGB8888, [{ bytes: ov, offset: 0, pitch: 4 }], 1, 1)]);
    expect(out[0]).toBe((0x80 << 16) | (Math.round((255 * 127) / 255) << 8));
  });

  it("BT.601 limited range: Y=16 is black, Y=235 is white, (81,90,240) is red", () => {
    expect(yuvToArgb(16, 128, 128)).toBe(0xff000000);
    expect(yuvToArgb(235, 128, 128)).toBe(0xffffffff);
    const red = yuvToArgb(81, 90, 240);
    expect((red >>> 16) & 0xff).toBeGreaterThan(250);
    expect((red >>> 8) & 0xff).toBeLessThan(5);
  });

  it("NV12 and YUYV of the same picture compose to the same RGB (format conversion)", () => {
    const w = 4, h = 2;
    const Y = [16, 81, 145, 235, 41, 81, 170, 210];
    const nv12 = new Uint8Array(w * h + w * (h / 2));
    nv12.set(Y);
    nv12.set([90, 240, 54, 34], w * h); // chroma for pixel pairs 0 and 1
    const yuyv = new Uint8Array(w * h * 2);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x += 2) {
        const c = (x >> 1) * 2;
        yuyv.set([Y[y * w + x]!, [90, 54][c >> 1]!, Y[y * w + x + 1]!, [240, 34][c >> 1]!], y * w * 2 + x * 2);
      }
    const a = new Uint32Array(w * h);
    const b = new Uint32Array(w * h);
    composeFrame(a, w, h, [plane(U.DRM_FORMAT_NV12, [{ bytes: nv12, offset: 0, pitch: w }, { bytes: nv12, offset: w * h, pitch: w }], w, h)]);
    composeFrame(b, w, h, [plane(U.DRM_FORMAT_YUYV, [{ bytes: yuyv, offset: 0, pitch: w * 2 }], w, h)]);
    expect([...a]).toEqual([...b]);
    expect(a[0]).toBe(yuvToArgb(16, 90, 240) & 0xffffff);
    expect(a[3]).toBe(yuvToArgb(235, 54, 34) & 0xffffff);
  });

  it("a scattered buffer (line across a segment boundary) composes like a contiguous one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 63 }), fc.uint8Array({ minLength: 4 * 8 * 4, maxLength: 4 * 8 * 4 }), (cut, data) => {
        const cont = new Uint32Array(32);
        const scat = new Uint32Array(32);
        composeFrame(cont, 8, 4, [plane(U.DRM_FORMAT_XRGB8888, [{ bytes: data, offset: 0, pitch: 32 }], 8, 4)]);
        const split: ComposerPlane = {
          ...plane(U.DRM_FORMAT_XRGB8888, [{ bytes: data, offset: 0, pitch: 32 }], 8, 4),
          memory: [{ bytes: new SegmentedBytes([data.slice(0, cut * 2), data.slice(cut * 2)]), offset: 0, pitch: 32 }],
        };
        composeFrame(scat, 8, 4, [split]);
        expect([...scat]).toEqual([...cont]);
      }),
      { numRuns: 100 },
    );
  });

  it("writeback writes XRGB8888 words with alpha 0xff, line by line at the fb pitch", () => {
    const dst = new Uint8Array(2 * 12);
    writeFrame(Uint32Array.of(0x112233, 0x445566, 0x778899, 0xaabbcc), 2, 2, { bytes: new SegmentedBytes([dst]), offset: 0, pitch: 12 });
    const v = new DataView(dst.buffer);
    expect([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(12, true), v.getUint32(16, true)]).toEqual([0xff112233, 0xff445566, 0xff778899, 0xffaabbcc]);
    expect(v.getUint32(8, true)).toBe(0);
  });
});

describe("ScanoutFrame: PNG and CRC of what was scanned out", () => {
  it("PNG round-trips the pixels; CRC is crc32 over the XRGB bytes", () => {
    const px = Uint32Array.from({ length: 6 }, (_, i) => i * 0x101010);
    const f = new ScanoutFrame(1, 3, 2, px, 7, 1000);
    const back = ScanoutFrame.pixelsFromPng(f.toPng());
    expect(back.width).toBe(3);
    expect([...back.pixels]).toEqual([...px]);
    const g = new ScanoutFrame(1, 3, 2, px.slice(), 8, 2000);
    expect(g.crc()).toBe(f.crc());
    px[0] = 1;
    expect(f.crc()).not.toBe(g.crc());
  });
});
