/*
 * Row-wise colour conversion between the raw V4L2 formats and packed RGB, BT.601 limited range
 * (V4L2_YCBCR_ENC_601, V4L2_QUANTIZATION_LIM_RANGE: what vivid's test pattern generator produces for
 * YUV formats by default), through integer tables (from RGB: fixed point). Odd widths reuse the last
 * chroma sample. NV12 -> RGB itself runs in WebAssembly (nv12-converter.ts) on these tables.
 */

// R = 1.164(Y-16) + 1.596(Cr-128); G = 1.164(Y-16) - 0.392(Cb-128) - 0.813(Cr-128); B = 1.164(Y-16) + 2.017(Cb-128),
// as per-sample integer tables (libjpeg's jdcolor.c approach) summed and clamped through a table: no
// multiply or shift per pixel. Each term is rounded on its own, so a channel may be 1 off the exact value.
const OFF = 1024;
const LUMA = new Int16Array(256), CR_R = new Int16Array(256), CB_B = new Int16Array(256), CBCR_G = new Int16Array(65536);
for (let i = 0; i < 256; i++) {
  LUMA[i] = Math.round(1.164383 * (i - 16));
  CR_R[i] = Math.round(1.596027 * (i - 128)) + OFF;
  CB_B[i] = Math.round(2.017232 * (i - 128)) + OFF;
}
for (let cb = 0; cb < 256; cb++)
  for (let cr = 0; cr < 256; cr++) CBCR_G[(cb << 8) | cr] = Math.round(-0.391762 * (cb - 128) - 0.812968 * (cr - 128)) + OFF;
/** CLAMP[v + OFF] = v clamped to 0..255. */
const CLAMP = new Uint8Array(4 * OFF).map((_, i) => Math.max(0, Math.min(255, i - OFF)));

/** The tables, for the WebAssembly NV12 converter (nv12-converter.ts), which keeps its own copy. */
export function conversionTables() {
  return { luma: LUMA, crR: CR_R, cbB: CB_B, cbcrG: CBCR_G, clamp: CLAMP };
}

/** Writes one pixel from a luma term and the chroma terms of its pair (each already offset by OFF). */
function put(out: Uint8Array, o: number, luma: number, r: number, g: number, b: number, channels: number): void {
  out[o] = CLAMP[luma + r];
  out[o + 1] = CLAMP[luma + g];
  out[o + 2] = CLAMP[luma + b];
  if (channels === 4) out[o + 3] = 255;
}

/** Converts one packed YUYV row (Y0 Cb Y1 Cr per pixel pair) to RGB(A). */
export function yuyvRowToRgb(row: Uint8Array, width: number, out: Uint8Array, outOff: number, channels: number): void {
  for (let x = 0, o = outOff, p = 0; x < width; x += 2, o += 2 * channels, p += 4) {
    const cb = row[p + 1], cr = row[p + 3];
    const r = CR_R[cr], g = CBCR_G[(cb << 8) | cr], b = CB_B[cb];
    put(out, o, LUMA[row[p]], r, g, b, channels);
    if (x + 1 < width) put(out, o + channels, LUMA[row[p + 2]], r, g, b, channels);
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
const HALF = 1 << 15;
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
