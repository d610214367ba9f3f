/**
 * The ISP's pixel pipeline: packed 4:2:2 YUYV in, semi-planar 4:2:0 NV12 out, optionally
 * downscaled 2:1 in both directions (a box filter). Luma is kept exactly at full size, so the
 * camera's burned-in frame counter survives the conversion.
 */

/** Geometry of one conversion; strides in bytes. */
export interface ConvertLayout {
  width: number;
  height: number;
  srcStride: number;
  /** 1: same size; 2: half width and half height. */
  scale: 1 | 2;
  dstStride: number;
}

/** Bytes of an NV12 frame of `width` x `height` with `stride`: luma plane, then the interleaved CbCr plane. */
export const nv12Size = (stride: number, height: number): number => stride * height + stride * (height / 2);

/** Converts `src` (YUYV) into `dst` (NV12, luma then CbCr at `dstStride * outHeight`). */
export function yuyvToNv12(src: Uint8Array, dst: Uint8Array, l: ConvertLayout): void {
  const ow = l.width / l.scale;
  const oh = l.height / l.scale;
  const uvBase = l.dstStride * oh;
  for (let y = 0; y < oh; y++) {
    const sy = y * l.scale;
    const row = sy * l.srcStride;
    const out = y * l.dstStride;
    if (l.scale === 1) for (let x = 0; x < ow; x++) dst[out + x] = src[row + 2 * x]!;
    else
      for (let x = 0; x < ow; x++) {
        const a = row + 4 * x;
        const b = a + l.srcStride;
        dst[out + x] = (src[a]! + src[a + 2]! + src[b]! + src[b + 2]! + 2) >> 2;
      }
  }
  // Chroma: one CbCr pair per 2x2 output block, averaged from the two source rows it covers.
  for (let y = 0; y < oh / 2; y++) {
    const r0 = 2 * y * l.scale * l.srcStride;
    const r1 = r0 + l.scale * l.srcStride;
    const out = uvBase + y * l.dstStride;
    for (let x = 0; x < ow / 2; x++) {
      const s = 4 * x * l.scale;
      dst[out + 2 * x] = (src[r0 + s + 1]! + src[r1 + s + 1]! + 1) >> 1;
      dst[out + 2 * x + 1] = (src[r0 + s + 3]! + src[r1 + s + 3]! + 1) >> 1;
    }
  }
}
