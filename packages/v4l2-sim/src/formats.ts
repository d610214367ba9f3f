/**
 * Pixel format descriptions and the bytesperline/sizeimage rules of drivers/media/v4l2-core/
 * v4l2-common.c (`struct v4l2_format_info`, `v4l2_fill_pixfmt`, `v4l2_fill_pixfmt_mp`).
 */
import { Errno } from "@dmabuf/core";
import {
  V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV12M, V4L2_PIX_FMT_P010, V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_XRGB32, V4L2_PIX_FMT_YUYV, VIDEO_MAX_PLANES, type v4l2_pix_format, type v4l2_pix_format_mplane,
} from "./uapi.js";

export const V4L2_PIXEL_ENC_YUV = 1;
export const V4L2_PIXEL_ENC_RGB = 2;

/** struct v4l2_format_info, plus the description ENUM_FMT reports (v4l_fill_fmtdesc). */
export interface V4l2FormatInfo {
  readonly format: number;
  readonly description: string;
  readonly pixel_enc: number;
  readonly mem_planes: number;
  readonly comp_planes: number;
  readonly bpp: readonly number[];
  readonly bpp_div: readonly number[];
  readonly hdiv: number;
  readonly vdiv: number;
  readonly block_w: readonly number[];
  readonly block_h: readonly number[];
}

const info = (format: number, description: string, enc: number, mem: number, comp: number, bpp: number[], hdiv: number, vdiv: number): V4l2FormatInfo => ({
  format, description, pixel_enc: enc, mem_planes: mem, comp_planes: comp, bpp, bpp_div: [1, 1, 1, 1], hdiv, vdiv, block_w: [0, 0, 0, 0], block_h: [0, 0, 0, 0],
});

/** The formats the model knows, with v4l2-common.c's values. */
export const V4L2_FORMATS: readonly V4l2FormatInfo[] = [
  info(V4L2_PIX_FMT_YUYV, "YUYV 4:2:2", V4L2_PIXEL_ENC_YUV, 1, 1, [2, 0, 0, 0], 2, 1),
  info(V4L2_PIX_FMT_NV12, "Y/UV 4:2:0", V4L2_PIXEL_ENC_YUV, 1, 2, [1, 2, 0, 0], 2, 2),
  info(V4L2_PIX_FMT_NV12M, "Y/UV 4:2:0 (N-C)", V4L2_PIXEL_ENC_YUV, 2, 2, [1, 2, 0, 0], 2, 2),
  info(V4L2_PIX_FMT_RGB24, "24-bit RGB 8-8-8", V4L2_PIXEL_ENC_RGB, 1, 1, [3, 0, 0, 0], 1, 1),
  info(V4L2_PIX_FMT_XBGR32, "32-bit BGRX 8-8-8-8", V4L2_PIXEL_ENC_RGB, 1, 1, [4, 0, 0, 0], 1, 1),
  info(V4L2_PIX_FMT_XRGB32, "32-bit XRGB 8-8-8-8", V4L2_PIXEL_ENC_RGB, 1, 1, [4, 0, 0, 0], 1, 1),
  // bpp {2, 4}, vdiv 2: the values after the 2023 fix (older kernels had {2, 2} with vdiv 1).
  info(V4L2_PIX_FMT_P010, "10-bit Y/UV 4:2:0", V4L2_PIXEL_ENC_YUV, 1, 2, [2, 4, 0, 0], 2, 2),
];

/** v4l2_format_info(): undefined for formats the model does not know. */
export function v4l2FormatInfo(format: number): V4l2FormatInfo | undefined {
  return V4L2_FORMATS.find((f) => f.format === format);
}

const ALIGN = (x: number, a: number) => (a ? Math.ceil(x / a) * a : x);
const DIV_ROUND_UP = (x: number, d: number) => Math.ceil(x / d);

/** Bytes per line of component plane `i` (ALIGN(width, block_w) * bpp / bpp_div, chroma subsampled). */
export function planeBytesPerLine(fi: V4l2FormatInfo, i: number, width: number): number {
  const w = ALIGN(width, fi.block_w[i]!);
  return (fi.bpp[i]! * DIV_ROUND_UP(w, i ? fi.hdiv : 1)) / fi.bpp_div[i]!;
}

/** Lines of component plane `i`. */
export function planeLines(fi: V4l2FormatInfo, i: number, height: number): number {
  return DIV_ROUND_UP(ALIGN(height, fi.block_h[i]!), i ? fi.vdiv : 1);
}

/** v4l2_fill_pixfmt(): single-planar API; formats with more than one memory plane are EINVAL. */
export function v4l2FillPixfmt(pix: v4l2_pix_format, pixelformat: number, width: number, height: number): void {
  const fi = v4l2FormatInfo(pixelformat);
  if (!fi || fi.mem_planes !== 1) throw new Errno("EINVAL", "v4l2_fill_pixfmt", `format ${pixelformat.toString(16)} is unknown or needs the multi-planar API`);
  pix.width = width;
  pix.height = height;
  pix.pixelformat = pixelformat;
  pix.bytesperline = planeBytesPerLine(fi, 0, width);
  pix.sizeimage = 0;
  for (let i = 0; i < fi.comp_planes; i++) pix.sizeimage += planeBytesPerLine(fi, i, width) * planeLines(fi, i, height);
}

/** v4l2_fill_pixfmt_mp(): one plane_fmt per memory plane. */
export function v4l2FillPixfmtMp(pix: v4l2_pix_format_mplane, pixelformat: number, width: number, height: number): void {
  const fi = v4l2FormatInfo(pixelformat);
  if (!fi) throw new Errno("EINVAL", "v4l2_fill_pixfmt_mp", `format ${pixelformat.toString(16)} is unknown`);
  pix.width = width;
  pix.height = height;
  pix.pixelformat = pixelformat;
  pix.num_planes = fi.mem_planes;
  if (fi.mem_planes === 1) {
    const single = { width, height, pixelformat, field: 0, bytesperline: 0, sizeimage: 0, colorspace: 0 };
    v4l2FillPixfmt(single, pixelformat, width, height);
    pix.plane_fmt = [{ bytesperline: single.bytesperline, sizeimage: single.sizeimage }];
    return;
  }
  pix.plane_fmt = [];
  for (let i = 0; i < fi.mem_planes && i < VIDEO_MAX_PLANES; i++) {
    const bytesperline = planeBytesPerLine(fi, i, width);
    pix.plane_fmt.push({ bytesperline, sizeimage: bytesperline * planeLines(fi, i, height) });
  }
}

/**
 * Where each component plane of a frame lives: memory plane, byte offset in it, stride and lines.
 * For single-memory-plane formats the chroma plane follows the luma plane at bytesperline * height.
 */
export interface ComponentPlane {
  readonly memPlane: number;
  readonly offset: number;
  readonly stride: number;
  readonly lines: number;
}

/** The component planes of `fi` at `width` x `height`, given the luma stride the format chose. */
export function componentPlanes(fi: V4l2FormatInfo, height: number, strides: readonly number[]): ComponentPlane[] {
  const out: ComponentPlane[] = [];
  let offset = 0;
  for (let i = 0; i < fi.comp_planes; i++) {
    const memPlane = fi.mem_planes === 1 ? 0 : i;
    // Chroma stride scales with the luma stride (bpp[i] per hdiv pixels against bpp[0] per pixel).
    const stride = fi.mem_planes === 1 ? (i === 0 ? strides[0]! : (strides[0]! * fi.bpp[i]!) / (fi.bpp[0]! * fi.hdiv)) : strides[i]!;
    const lines = planeLines(fi, i, height);
    if (fi.mem_planes > 1) offset = 0;
    out.push({ memPlane, offset, stride, lines });
    offset += stride * lines;
  }
  return out;
}
