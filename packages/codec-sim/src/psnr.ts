/**
 * Peak signal-to-noise ratio in dB between two 8-bit planes of `width` x `height` samples, each
 * with its own row pitch: 10 log10(255^2 / MSE). Identical planes give Infinity.
 */
export function psnr(
  a: Uint8Array, aStride: number, b: Uint8Array, bStride: number, width: number, height: number,
): number {
  let sum = 0;
  for (let y = 0; y < height; y++) {
    const ra = y * aStride, rb = y * bStride;
    for (let x = 0; x < width; x++) {
      const d = a[ra + x] - b[rb + x];
      sum += d * d;
    }
  }
  if (sum === 0) return Infinity;
  return 10 * Math.log10((255 * 255 * width * height) / sum);
}
