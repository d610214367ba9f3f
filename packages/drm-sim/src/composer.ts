/**
 * The CRTC composer, after drivers/gpu/drm/vkms/vkms_composer.c: every active plane, in zpos order,
 * is read one line at a time with a per-format reader into an ARGB line and blended into the output
 * with pre-multiplied alpha (`out = src + dst * (1 - src_alpha)`) over a black background. YUV
 * formats are converted with BT.601 limited-range coefficients, chroma taken from the co-sited
 * sample (no interpolation), as vkms' default COLOR_ENCODING/COLOR_RANGE do.
 *
 * The output is XRGB8888 held as 32-bit words 0x00RRGGBB (the unused byte cleared, as vkms' CRC
 * over XRGB words was), so CRCs of equal pictures are equal whatever the planes' X bytes held.
 */
import type { DrmFormatInfo } from "./drm-format.js";
import type { SegmentedBytes } from "./internal/segmented-bytes.js";
import * as U from "./uapi.js";

/** One format plane of a framebuffer in memory: the buffer's bytes, where the plane starts, its pitch. */
export interface PlaneMemory {
  readonly bytes: SegmentedBytes;
  readonly offset: number;
  readonly pitch: number;
}

/** A plane as the composer sees it: integer source rectangle in the fb, destination position on the CRTC. */
export interface ComposerPlane {
  readonly format: DrmFormatInfo;
  readonly memory: readonly PlaneMemory[];
  readonly srcX: number;
  readonly srcY: number;
  readonly width: number;
  readonly height: number;
  readonly dstX: number;
  readonly dstY: number;
}

/** Formats the composer reads (a plane's format list must be a subset). */
export const COMPOSER_FORMATS: readonly number[] = [
  U.DRM_FORMAT_XRGB8888, U.DRM_FORMAT_ARGB8888, U.DRM_FORMAT_XBGR8888, U.DRM_FORMAT_ABGR8888, U.DRM_FORMAT_RGB565,
  U.DRM_FORMAT_RGB888, U.DRM_FORMAT_BGR888, U.DRM_FORMAT_YUYV, U.DRM_FORMAT_UYVY, U.DRM_FORMAT_NV12, U.DRM_FORMAT_NV21,
  U.DRM_FORMAT_NV16, U.DRM_FORMAT_YUV420,
];
/** Formats the writeback connector writes (WRITEBACK_PIXEL_FORMATS). */
export const WRITEBACK_FORMATS: readonly number[] = [U.DRM_FORMAT_XRGB8888, U.DRM_FORMAT_ARGB8888];

/* BT.601 limited range, integer form (R = (298(Y-16) + 409(V-128) + 128) >> 8, ...), as lookup tables. */
const tab = (f: (i: number) => number) => Int32Array.from({ length: 256 }, (_, i) => f(i));
const Y_C = tab((y) => 298 * (y - 16) + 128);
const V_R = tab((v) => 409 * (v - 128));
const U_G = tab((u) => -100 * (u - 128));
const V_G = tab((v) => -208 * (v - 128));
const U_B = tab((u) => 516 * (u - 128));
/** clamp to 0..255 of (value >> 8), indexed by (value >> 8) + 512. */
const CLAMP = Uint8Array.from({ length: 1536 }, (_, i) => Math.max(0, Math.min(255, i - 512)));

/** One pixel as int32 0xFFRRGGBB. */
function yuv(y: number, u: number, v: number): number {
  const c = Y_C[y]!;
  return 0xff000000 | (CLAMP[((c + V_R[v]!) >> 8) + 512]! << 16) | (CLAMP[((c + U_G[u]! + V_G[v]!) >> 8) + 512]! << 8) | CLAMP[((c + U_B[u]!) >> 8) + 512]!;
}

/** BT.601 limited range Y'CbCr -> 0xFFRRGGBB (integer form of the matrix, as in many kernel drivers). */
export function yuvToArgb(y: number, u: number, v: number): number {
  return yuv(y, u, v) >>> 0;
}

/**
 * Fills `line[0..w)` with int32 0xAARRGGBB pixels of row `y` (fb coordinates) starting at column `x`.
 * For formats without alpha the A byte is left undefined: the composer treats them as opaque.
 */
type LineReader = (p: ComposerPlane, x: number, y: number, w: number, line: Int32Array) => void;

const row = (p: ComposerPlane, i: number, x: number, y: number, w: number, cpp: number) => {
  const m = p.memory[i]!;
  return m.bytes.slice(m.offset + y * m.pitch + x * cpp, w * cpp);
};

const rgb32 = (rShift: number, bShift: number, alpha: boolean): LineReader => (p, x, y, w, line) => {
  const s = row(p, 0, x, y, w, 4);
  // Little-endian words; an unaligned line (odd pitch or offset) is read a byte at a time.
  const words = (s.byteOffset & 3) === 0 ? new Int32Array(s.buffer, s.byteOffset, w) : undefined;
  if (words && rShift === 16) {
    line.set(words);
    return;
  }
  for (let i = 0, j = 0; i < w; i++, j += 4) {
    const px = words ? words[i]! : s[j]! | (s[j + 1]! << 8) | (s[j + 2]! << 16) | (s[j + 3]! << 24);
    const r = (px >>> rShift) & 0xff;
    const b = (px >>> bShift) & 0xff;
    line[i] = (alpha ? px & 0xff000000 : 0xff000000) | (r << 16) | (px & 0xff00) | b;
  }
};

const READERS = new Map<number, LineReader>([
  [U.DRM_FORMAT_XRGB8888, rgb32(16, 0, false)],
  [U.DRM_FORMAT_ARGB8888, rgb32(16, 0, true)],
  [U.DRM_FORMAT_XBGR8888, rgb32(0, 16, false)],
  [U.DRM_FORMAT_ABGR8888, rgb32(0, 16, true)],
  [U.DRM_FORMAT_RGB565, (p, x, y, w, line) => {
    const s = row(p, 0, x, y, w, 2);
    for (let i = 0; i < w; i++) {
      const v = s[2 * i]! | (s[2 * i + 1]! << 8);
      const r = (v >> 11) & 0x1f;
      const g = (v >> 5) & 0x3f;
      const b = v & 0x1f;
      line[i] = 0xff000000 | (((r << 3) | (r >> 2)) << 16) | (((g << 2) | (g >> 4)) << 8) | ((b << 3) | (b >> 2));
    }
  }],
  [U.DRM_FORMAT_RGB888, (p, x, y, w, line) => {
    const s = row(p, 0, x, y, w, 3); // [B, G, R] in memory (little-endian 24-bit R:G:B)
    for (let i = 0, j = 0; i < w; i++, j += 3) line[i] = 0xff000000 | (s[j + 2]! << 16) | (s[j + 1]! << 8) | s[j]!;
  }],
  [U.DRM_FORMAT_BGR888, (p, x, y, w, line) => {
    const s = row(p, 0, x, y, w, 3);
    for (let i = 0, j = 0; i < w; i++, j += 3) line[i] = 0xff000000 | (s[j]! << 16) | (s[j + 1]! << 8) | s[j + 2]!;
  }],
  [U.DRM_FORMAT_YUYV, packed422(0, 1, 3)],
  [U.DRM_FORMAT_UYVY, packed422(1, 0, 2)],
  [U.DRM_FORMAT_NV12, semiPlanar(0, 1)],
  [U.DRM_FORMAT_NV21, semiPlanar(1, 0)],
  [U.DRM_FORMAT_NV16, semiPlanar(0, 1)],
  [U.DRM_FORMAT_YUV420, (p, x, y, w, line) => {
    const cx = x >> 1;
    const cw = ((x + w + 1) >> 1) - cx;
    const cy = y >> 1;
    const ys = row(p, 0, x, y, w, 1).slice();
    const us = row(p, 1, cx, cy, cw, 1).slice();
    const vs = row(p, 2, cx, cy, cw, 1);
    for (let i = 0; i < w; i++) {
      const c = ((x + i) >> 1) - cx;
      line[i] = yuv(ys[i]!, us[c]!, vs[c]!);
    }
  }],
]);

/** YUYV / UYVY: 2 pixels per 4 bytes; `yo` the first luma byte, `uo`/`vo` the chroma bytes of the pair. */
function packed422(yo: number, uo: number, vo: number): LineReader {
  return (p, x, y, w, line) => {
    const x0 = x & ~1;
    const s = row(p, 0, x0, y, (x + w - x0 + 1) & ~1, 2);
    for (let i = 0; i < w; i++) {
      const px = x + i - x0;
      const pair = (px >> 1) * 4;
      line[i] = yuv(s[pair + yo + (px & 1) * 2]!, s[pair + uo]!, s[pair + vo]!);
    }
  };
}

/**
 * NV12/NV21/NV16 (hsub 2): a luma plane and an interleaved chroma plane (`u`/`v` the byte order).
 * The chroma terms are looked up once per pixel pair that shares them.
 */
function semiPlanar(u: number, v: number): LineReader {
  return (p, x, y, w, line) => {
    const cx = x >> 1;
    const cw = ((x + w + 1) >> 1) - cx;
    const ys = row(p, 0, x, y, w, 1).slice();
    const cs = row(p, 1, cx, Math.floor(y / p.format.vsub), cw, 2);
    let rv = 0;
    let guv = 0;
    let bu = 0;
    for (let i = 0; i < w; i++) {
      if (i === 0 || ((x + i) & 1) === 0) {
        const c = ((((x + i) >> 1) - cx) << 1);
        const cu = cs[c + u]!;
        const cv = cs[c + v]!;
        rv = V_R[cv]!;
        guv = U_G[cu]! + V_G[cv]!;
        bu = U_B[cu]!;
      }
      const l = Y_C[ys[i]!]!;
      line[i] = (CLAMP[((l + rv) >> 8) + 512]! << 16) | (CLAMP[((l + guv) >> 8) + 512]! << 8) | CLAMP[((l + bu) >> 8) + 512]!;
    }
  };
}

/**
 * Composes `planes` (lowest zpos first) into `out` (width x height, 0x00RRGGBB words), clipping
 * each plane to the CRTC. Opaque formats replace the pixels below; formats with alpha blend.
 */
export function composeFrame(out: Uint32Array, width: number, height: number, planes: readonly ComposerPlane[]): void {
  out.fill(0);
  const line = new Int32Array(width);
  // Opaque planes are read straight into the output row, then the X byte is cleared.
  const outI32 = new Int32Array(out.buffer, out.byteOffset, out.length);
  for (const p of planes) {
    const read = READERS.get(p.format.format);
    if (!read) throw new Error(`composer: no line reader for format ${U.fourccName(p.format.format)}`);
    const x0 = Math.max(0, p.dstX);
    const x1 = Math.min(width, p.dstX + p.width);
    const y0 = Math.max(0, p.dstY);
    const y1 = Math.min(height, p.dstY + p.height);
    if (x0 >= x1 || y0 >= y1) continue;
    const w = x1 - x0;
    const sx = p.srcX + (x0 - p.dstX);
    for (let y = y0; y < y1; y++) {
      const base = y * width + x0;
      if (!p.format.hasAlpha) {
        const dst = outI32.subarray(base, base + w);
        read(p, sx, p.srcY + (y - p.dstY), w, dst);
        for (let i = 0; i < w; i++) dst[i] = dst[i]! & 0xffffff;
        continue;
      }
      read(p, sx, p.srcY + (y - p.dstY), w, line);
      for (let i = 0; i < w; i++) {
        const s = line[i]!;
        const a = s >>> 24;
        out[base + i] = a === 0xff ? s & 0xffffff : blend(s, out[base + i]!, a);
      }
    }
  }
}

/** pre_mul_blend_channel(): DIV_ROUND_CLOSEST(src * 0xff + dst * (0xff - alpha), 0xff) per channel. */
function blend(src: number, dst: number, a: number): number {
  const inv = 255 - a;
  const r = Math.min(255, Math.floor((((src >>> 16) & 0xff) * 255 + ((dst >>> 16) & 0xff) * inv + 127) / 255));
  const g = Math.min(255, Math.floor((((src >>> 8) & 0xff) * 255 + ((dst >>> 8) & 0xff) * inv + 127) / 255));
  const b = Math.min(255, Math.floor(((src & 0xff) * 255 + (dst & 0xff) * inv + 127) / 255));
  return (r << 16) | (g << 8) | b;
}

/**
 * Writes a composed frame into a writeback framebuffer (vkms' write_line): XRGB8888 or ARGB8888 with
 * alpha 0xff. The fb must be the frame's size (checked at atomic check).
 */
export function writeFrame(frame: Uint32Array, width: number, height: number, dst: PlaneMemory): void {
  const lineBytes = new Uint8Array(width * 4);
  const words = new Uint32Array(lineBytes.buffer);
  for (let y = 0; y < height; y++) {
    const src = frame.subarray(y * width, (y + 1) * width);
    for (let i = 0; i < width; i++) words[i] = (src[i]! | 0xff000000) >>> 0;
    dst.bytes.write(dst.offset + y * dst.pitch, lineBytes);
  }
}
