import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { isErrno } from "@dmabuf/core";
import { v4l2FillPixfmt, v4l2FillPixfmtMp } from "../src/formats.js";
import {
  V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV12M, V4L2_PIX_FMT_P010, V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_XRGB32, V4L2_PIX_FMT_YUYV, type v4l2_pix_format, type v4l2_pix_format_mplane,
} from "../src/uapi.js";

const pix = (): v4l2_pix_format => ({ width: 0, height: 0, pixelformat: 0, field: 0, bytesperline: 0, sizeimage: 0, colorspace: 0 });
const mp = (): v4l2_pix_format_mplane => ({ width: 0, height: 0, pixelformat: 0, field: 0, colorspace: 0, plane_fmt: [], num_planes: 0 });

describe("v4l2_fill_pixfmt / v4l2_fill_pixfmt_mp (v4l2-common.c)", () => {
  it.each([
    ["YUYV", V4L2_PIX_FMT_YUYV, 3840, 4147200],
    ["NV12", V4L2_PIX_FMT_NV12, 1920, 3110400],
    ["RGB3", V4L2_PIX_FMT_RGB24, 5760, 6220800],
    ["XR24", V4L2_PIX_FMT_XBGR32, 7680, 8294400],
    ["BX24", V4L2_PIX_FMT_XRGB32, 7680, 8294400],
    ["P010 (bpp {2,4}, 2x2 subsampled)", V4L2_PIX_FMT_P010, 3840, 6220800],
  ])("1920x1080 %s: bytesperline and sizeimage as Linux computes them", (_n, f, bpl, size) => {
    const p = pix();
    v4l2FillPixfmt(p, f, 1920, 1080);
    expect([p.bytesperline, p.sizeimage]).toEqual([bpl, size]);
  });

  it("NM12 has two memory planes: 2,073,600 + 1,036,800 bytes at 1080p", () => {
    const m = mp();
    v4l2FillPixfmtMp(m, V4L2_PIX_FMT_NV12M, 1920, 1080);
    expect(m.num_planes).toBe(2);
    expect(m.plane_fmt).toEqual([{ bytesperline: 1920, sizeimage: 2073600 }, { bytesperline: 1920, sizeimage: 1036800 }]);
  });

  it("refuses a multi-memory-plane format in the single-planar API with EINVAL", () => {
    expect(() => v4l2FillPixfmt(pix(), V4L2_PIX_FMT_NV12M, 640, 480)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    let err: unknown;
    try {
      v4l2FillPixfmt(pix(), 0x12345678, 640, 480);
    } catch (e) {
      err = e;
    }
    expect(isErrno(err, "EINVAL")).toBe(true);
  });

  it("NV12 and NM12 need the same bytes for any even size; sizeimage >= bytesperline * height", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2048 }), fc.integer({ min: 1, max: 2048 }), (w2, h2) => {
        const [w, h] = [w2 * 2, h2 * 2];
        const single = pix();
        v4l2FillPixfmt(single, V4L2_PIX_FMT_NV12, w, h);
        const multi = mp();
        v4l2FillPixfmtMp(multi, V4L2_PIX_FMT_NV12M, w, h);
        expect(multi.plane_fmt[0]!.sizeimage + multi.plane_fmt[1]!.sizeimage).toBe(single.sizeimage);
        expect(single.sizeimage).toBeGreaterThanOrEqual(single.bytesperline * h);
      }),
      { numRuns: 200 },
    );
  });
});
