import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { componentPlanes, v4l2FormatInfo } from "../src/formats.js";
import { TPG_MOVE_NONE, Tpg, readFrameCounter, type FrameSink } from "../src/tpg.js";
import {
  V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV12M, V4L2_PIX_FMT_P010, V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_XRGB32, V4L2_PIX_FMT_YUYV,
} from "../src/uapi.js";

const W = 320;
const H = 240;

/** Renders a frame into plain memory planes, recording every write. */
function render(format: number, n: number, setup?: (t: Tpg) => void, strides?: number[]) {
  const fi = v4l2FormatInfo(format)!;
  const bpl = strides ?? (fi.mem_planes === 1 ? [(fi.bpp[0]! * W)] : [W, W]);
  const layout = componentPlanes(fi, H, bpl);
  const sizes = [0, 0];
  for (const c of layout) sizes[c.memPlane] = Math.max(sizes[c.memPlane]!, c.offset + c.stride * c.lines);
  const planes = sizes.filter((s) => s > 0).map((s) => new Uint8Array(s));
  let writes = 0;
  const sink: FrameSink = {
    writeRows: (p, l, row) => {
      for (let y = 0; y < l.rows; y++, writes++) planes[p]!.set(row(y), l.offset + y * l.stride);
    },
  };
  const tpg = new Tpg();
  setup?.(tpg);
  tpg.setFormat(fi, W, H, bpl);
  const bytes = tpg.fillFrame(sink, n);
  return { planes, writes, bytes, bpl };
}

const FORMATS = [V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV12M, V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_XRGB32, V4L2_PIX_FMT_P010];

describe("test pattern generator (v4l2-tpg-core.c)", () => {
  it.each(FORMATS.map((f) => [String.fromCharCode(f & 0xff, (f >> 8) & 0xff, (f >> 16) & 0xff, f >>> 24), f]))(
    "%s: the burned-in frame counter reads back, one write per line",
    (_n, f) => {
      const r = render(f, 12345678);
      expect(readFrameCounter(r.planes[0]!, f, r.bpl[0]!)).toBe(12345678);
      const fi = v4l2FormatInfo(f)!;
      expect(r.writes).toBe(fi.comp_planes === 2 ? H + H / 2 : H);
    },
  );

  it("reads back any counter value, with any movement and pattern (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 10 }), fc.constantFrom(...FORMATS), (n, move, pattern, f) => {
        const r = render(f, n, (t) => ((t.hmove = move), (t.pattern = pattern)));
        expect(readFrameCounter(r.planes[0]!, f, r.bpl[0]!)).toBe(n);
      }),
      { numRuns: 100 },
    );
  });

  it("75% colour bars in YUYV: first bar Y=180 (75% white, BT.601 limited range), last bar black Y=16", () => {
    const r = render(V4L2_PIX_FMT_YUYV, 0, (t) => (t.showCounter = false));
    const row = r.planes[0]!.subarray(100 * r.bpl[0]!, 101 * r.bpl[0]!);
    expect(row[0]).toBe(180);
    expect(row[(W - 2) * 2]).toBe(16);
    expect(readFrameCounter(r.planes[0]!, V4L2_PIX_FMT_YUYV, r.bpl[0]!)).toBeUndefined();
  });

  it("honours a padded stride: lines land at bytesperline, padding untouched", () => {
    const r = render(V4L2_PIX_FMT_NV12, 7, undefined, [W + 64]);
    const luma = r.planes[0]!;
    expect(luma[(W + 64) * 50 + W + 10]).toBe(0);
    expect(readFrameCounter(luma, V4L2_PIX_FMT_NV12, W + 64)).toBe(7);
  });

  it("horizontal movement shifts the pattern between frames, no movement keeps it", () => {
    const line = (move: number, n: number) => {
      const r = render(V4L2_PIX_FMT_RGB24, n, (t) => ((t.hmove = move), (t.showCounter = false)));
      return Array.from(r.planes[0]!.subarray(200 * W * 3, 201 * W * 3));
    };
    expect(line(TPG_MOVE_NONE, 0)).toEqual(line(TPG_MOVE_NONE, 5));
    expect(line(1, 0)).not.toEqual(line(1, 5));
  });
});
