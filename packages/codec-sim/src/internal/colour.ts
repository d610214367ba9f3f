/*
 * Row-wise colour conversion between the raw V4L2 formats and packed RGB, BT.601 limited range
 * (V4L2_YCBCR_ENC_601, V4L2_QUANTIZATION_LIM_RANGE: what vivid's test pattern generator produces for
 * YUV formats by default), in fixed point. Odd widths reuse the last chroma sample.
 */

// R = 1.164(Y-16) + 1.596(Cr-128); G = 1.164(Y-16) - 0.392(Cb-128) - 0.813(Cr-128); B = 1.164(Y-16) + 2.017(Cb-128),
// as per-sample tables with 8 fractional bits (libjpeg's jdcolor.c approach), clamped through a table.
const HALF = 1 << 15;
const TY = new Int32Array(256), TRV = new Int32Array(256), TGU = new Int32Array(256), TGV = new Int32Array(256), TBU = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  TY[i] = ((i - 16) * 76309 + HALF) >> 8;
  TRV[i] = (104597 * (i - 128)) >> 8;
  TGU[i] = (25674 * (i - 128)) >> 8;
  TGV[i] = (53278 * (i - 128)) >> 8;
  TBU[i] = (132201 * (i - 128)) >> 8;
}
/** CLAMP[(v >> 8) + 1024] = v >> 8 clamped to 0..255. */
const CLAMP = new Uint8Array(4096).map((_, i) => Math.max(0, Math.min(255, i - 1024)));

/** Writes one pixel from a luma sample and the chroma terms of its pair. */
function put(out: Uint8Array, o: number, luma: number, rv: number, g: number, bu: number, channels: number): void {
  const l = TY[luma];
  out[o] = CLAMP[((l + rv) >> 8) + 1024];
  out[o + 1] = CLAMP[((l - g) >> 8) + 1024];
  out[o + 2] = CLAMP[((l + bu) >> 8) + 1024];
  if (channels === 4) out[o + 3] = 255;
}

/** Converts one luma row with its chroma row (NV12: interleaved Cb,Cr at half width) to RGB(A). */
export function nv12RowToRgb(y: Uint8Array, uv: Uint8Array, width: number, out: Uint8Array, outOff: number, channels: number): void {
  for (let x = 0, o = outOff; x < width; x += 2, o += 2 * channels) {
    const u = uv[x], v = uv[x + 1];
    const rv = TRV[v], g = TGU[u] + TGV[v], bu = TBU[u];
    put(out, o, y[x], rv, g, bu, channels);
    if (x + 1 < width) put(out, o + channels, y[x + 1], rv, g, bu, channels);
  }
}

/** Converts one packed YUYV row (Y0 Cb Y1 Cr per pixel pair) to RGB(A). */
export function yuyvRowToRgb(row: Uint8Array, width: number, out: Uint8Array, outOff: number, channels: number): void {
  for (let x = 0, o = outOff, p = 0; x < width; x += 2, o += 2 * channels, p += 4) {
    const u = row[p + 1], v = row[p + 3];
    const rv = TRV[v], g = TGU[u] + TGV[v], bu = TBU[u];
    put(out, o, row[p], rv, g, bu, channels);
    if (x + 1 < width) put(out, o + channels, row[p + 2], rv, g, bu, channels);
  }
}

/** Converts one row of V4L2_PIX_FMT_XBGR32 (bytes B,G,R,X = DRM_FORMAT_XRGB8888) to RGB(A). */
export function xbgr32RowToRgb(row: Uint8Array, width: number, out: Uint8Array, outOff: number, channels: number): void {
  let o = outOff;
  for (let x = 0, p = 0; x < width; x++, p += 4) {
    out[o] = row[p + 2];
    out[o + 1] = row[p + 1];
    out[o + 2] = row[p];
    if (channels === 4) out[o + 3] = 255;
    o += channels;
  }
}

// Y = 16 + (65.738R + 129.057G + 25.064B)/256; Cb = 128 + (-37.945R - 74.494G + 112.439B)/256;
// Cr = 128 + (112.439R - 94.154G - 18.285B)/256
const YR = 16829, YG = 33039, YB = 6416;
const UR = -9714, UG = -19070, UB = 28784;
const VR = 28784, VG = -24103, VB = -4681;

/** Converts one RGB(A) row into an NV12 luma row. */
export function rgbRowToLuma(rgb: Uint8Array, off: number, width: number, channels: number, y: Uint8Array): void {
  for (let x = 0, i = off; x < width; x++, i += channels) y[x] = (YR * rgb[i] + YG * rgb[i + 1] + YB * rgb[i + 2] + (16 << 16) + HALF) >> 16;
}

/**
 * Converts two RGB(A) rows (`off0`, `off1`; equal for the last row of an odd height) into one NV12
 * chroma row (interleaved Cb,Cr), each sample the average of a 2x2 block.
 */
export function rgbRowsToChroma(rgb: Uint8Array, off0: number, off1: number, width: number, channels: number, uv: Uint8Array): void {
  for (let x = 0; x < width; x += 2) {
    const a = off0 + x * channels, c = off1 + x * channels;
    const step = x + 1 < width ? channels : 0;
    const r = rgb[a] + rgb[a + step] + rgb[c] + rgb[c + step];
    const g = rgb[a + 1] + rgb[a + step + 1] + rgb[c + 1] + rgb[c + step + 1];
    const b = rgb[a + 2] + rgb[a + step + 2] + rgb[c + 2] + rgb[c + step + 2];
    uv[x] = (UR * r + UG * g + UB * b + (512 << 16) + (1 << 17)) >> 18;
    uv[x + 1] = (VR * r + VG * g + VB * b + (512 << 16) + (1 << 17)) >> 18;
  }
}

/** Converts one RGB(A) row to V4L2_PIX_FMT_XBGR32 (bytes B,G,R,X; X written as 0xff). */
export function rgbRowToXbgr32(rgb: Uint8Array, off: number, width: number, channels: number, row: Uint8Array): void {
  for (let x = 0, p = 0, i = off; x < width; x++, p += 4, i += channels) {
    row[p] = rgb[i + 2];
    row[p + 1] = rgb[i + 1];
    row[p + 2] = rgb[i];
    row[p + 3] = 0xff;
  }
}
