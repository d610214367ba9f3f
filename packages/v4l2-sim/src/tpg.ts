/**
 * Test pattern generator, after drivers/media/common/v4l2-tpg/v4l2-tpg-core.c: colour bars and other
 * patterns in any supported format, horizontal movement, and an on-screen frame counter.
 *
 * Speed: a pattern is rendered once per (pattern, format, width) into row templates twice the frame
 * width; each frame line is then one `set` of a template slice into the buffer row (movement = a
 * different slice start), so a frame costs one row copy per line, never a per-pixel loop.
 */
import { componentPlanes, type ComponentPlane, type V4l2FormatInfo } from "./formats.js";
import {
  V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV12M, V4L2_PIX_FMT_P010, V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_XRGB32, V4L2_PIX_FMT_YUYV,
} from "./uapi.js";

/** tpg_pattern_strings[] up to the last pattern this generator draws (V4L2_CID_TEST_PATTERN menu). */
export const TPG_PATTERN_STRINGS = [
  "75% Colorbar", "100% Colorbar", "CSC Colorbar", "Horizontal 100% Colorbar", "100% Color Squares",
  "100% Black", "100% White", "100% Red", "100% Green", "100% Blue", "16x16 Checkers",
] as const;

/** enum tpg_move_mode, in the order of vivid's "Horizontal Movement" menu. */
export const TPG_MOVE_STRINGS = [
  "Move Left Fast", "Move Left", "Move Left Slow", "No Movement", "Move Right Slow", "Move Right", "Move Right Fast",
] as const;
export const TPG_MOVE_NONE = 3;

/** Where the frame counter is burned in, and how big. The digits are a 3x5 font scaled by 4. */
export const TPG_COUNTER_DIGITS = 8;
const OSD_X = 16;
const OSD_Y = 16;
const SCALE = 4;
const CELL = 16;
const GLYPH_W = 3;
const GLYPH_H = 5;
/** Smallest frame that holds the counter. */
export const TPG_MIN_WIDTH = OSD_X + TPG_COUNTER_DIGITS * CELL;
export const TPG_MIN_HEIGHT = OSD_Y + GLYPH_H * SCALE;

/** 3x5 digit glyphs, one row per 3-bit number (bit 2 = left column). */
const GLYPHS = [
  [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
  [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 1, 1], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
];

type Rgb = readonly [number, number, number];
const BARS_100: Rgb[] = [[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0], [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0]];
const BARS_75: Rgb[] = BARS_100.map(([r, g, b]) => [(r * 3) >> 2, (g * 3) >> 2, (b * 3) >> 2] as const);

/** A plane laid out in rows: `rowBytes` of data every `stride` bytes from `offset` (mm's RowLayout). */
export interface RowLayout {
  readonly offset: number;
  readonly stride: number;
  readonly rowBytes: number;
  readonly rows: number;
}

/**
 * Where the frame's bytes go: the device's DMA engine. `writeRows` stores `row(y)` (exactly
 * `rowBytes` long, a view of a template, not a copy) at line y of memory plane `memPlane`: one copy
 * per row, template to buffer, which is the DMA write itself.
 */
export interface FrameSink {
  writeRows(memPlane: number, layout: RowLayout, row: (y: number) => Uint8Array): void;
}

/** BT.601 limited-range Y'CbCr of an RGB colour (what the TPG uses for SDTV YUV formats). */
function ycbcr([r, g, b]: Rgb): Rgb {
  return [
    Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255),
    Math.round(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255),
    Math.round(128 + (112 * r - 93.786 * g - 18.214 * b) / 255),
  ];
}

/**
 * Packs `rgb` pixels into the row of component plane `plane` for `format`. Chroma of subsampled
 * formats takes the left pixel of each pair (the TPG averages; bars are constant across pairs).
 */
function packRow(format: number, plane: number, px: readonly Rgb[]): Uint8Array {
  const n = px.length;
  switch (format) {
    case V4L2_PIX_FMT_YUYV: {
      const out = new Uint8Array(n * 2);
      for (let x = 0; x < n; x += 2) {
        const [y0, u, v] = ycbcr(px[x]!);
        out[2 * x] = y0;
        out[2 * x + 1] = u;
        out[2 * x + 2] = ycbcr(px[x + 1]!)[0];
        out[2 * x + 3] = v;
      }
      return out;
    }
    case V4L2_PIX_FMT_NV12:
    case V4L2_PIX_FMT_NV12M: {
      if (plane === 0) return Uint8Array.from(px, (p) => ycbcr(p)[0]);
      const out = new Uint8Array(n);
      for (let x = 0; x < n; x += 2) [, out[x], out[x + 1]] = ycbcr(px[x]!);
      return out;
    }
    case V4L2_PIX_FMT_P010: {
      // Little-endian 16-bit words holding the 8-bit value in the top byte (10 bits: low 2 zero).
      const out = new Uint8Array(2 * n);
      if (plane === 0) for (let x = 0; x < n; x++) out[2 * x + 1] = ycbcr(px[x]!)[0];
      else
        for (let x = 0; x < n; x += 2) {
          const [, u, v] = ycbcr(px[x]!);
          out[2 * x + 1] = u;
          out[2 * x + 3] = v;
        }
      return out;
    }
    case V4L2_PIX_FMT_RGB24:
      return Uint8Array.from(px.flatMap(([r, g, b]) => [r, g, b]));
    case V4L2_PIX_FMT_XBGR32:
      return Uint8Array.from(px.flatMap(([r, g, b]) => [b, g, r, 0xff]));
    case V4L2_PIX_FMT_XRGB32:
      return Uint8Array.from(px.flatMap(([r, g, b]) => [0xff, r, g, b]));
  }
  throw new Error(`tpg: no packer for format 0x${format.toString(16)}`);
}

/** Colour of pattern `pattern` at (x, y) of a `w` x `h` frame. */
function patternColor(pattern: number, x: number, y: number, w: number, h: number): Rgb {
  switch (pattern) {
    case 0:
    case 2:
      return BARS_75[Math.floor((x * 8) / w)]!;
    case 1:
      return BARS_100[Math.floor((x * 8) / w)]!;
    case 3:
      return BARS_100[Math.floor((y * 8) / h)]!;
    case 4:
      return BARS_100[(Math.floor((x * 4) / w) + 4 * Math.floor((y * 2) / h)) & 7]!;
    case 5:
      return [0, 0, 0];
    case 6:
      return [255, 255, 255];
    case 7:
      return [255, 0, 0];
    case 8:
      return [0, 255, 0];
    case 9:
      return [0, 0, 255];
    default:
      return ((x >> 4) + (y >> 4)) & 1 ? [0, 0, 0] : [255, 255, 255];
  }
}

/** Which row template line `y` uses: lines with the same key are identical before movement. */
function rowKey(pattern: number, y: number, h: number): number {
  if (pattern === 3) return Math.floor((y * 8) / h);
  if (pattern === 4) return Math.floor((y * 2) / h);
  if (pattern === 10) return (y >> 4) & 1;
  return 0;
}

/** Luma bytes per pixel and where the luma sample of pixel x sits, per format (plane 0). */
function lumaLayout(format: number): { bpp: number; at: number; rgb: boolean; wide: boolean } {
  switch (format) {
    case V4L2_PIX_FMT_YUYV:
      return { bpp: 2, at: 0, rgb: false, wide: false };
    case V4L2_PIX_FMT_P010:
      return { bpp: 2, at: 1, rgb: false, wide: true };
    case V4L2_PIX_FMT_RGB24:
      return { bpp: 3, at: 1, rgb: true, wide: false };
    case V4L2_PIX_FMT_XBGR32:
      return { bpp: 4, at: 1, rgb: true, wide: false };
    case V4L2_PIX_FMT_XRGB32:
      return { bpp: 4, at: 2, rgb: true, wide: false };
    default:
      return { bpp: 1, at: 0, rgb: false, wide: false };
  }
}

/** A byte-addressable frame plane: a Uint8Array or a mapping with `read(offset, length)` (VmArea). */
export type PlaneReader = Uint8Array | { read(offset: number, length: number): Uint8Array };

const readByte = (plane: PlaneReader, off: number) => (plane instanceof Uint8Array ? plane[off]! : plane.read(off, 1)[0]!);

/**
 * Reads back the frame counter the TPG burned into plane 0 of a frame in `pixelformat` with luma
 * stride `bytesperline`. Returns undefined when no counter is there (OSD off, or not a TPG frame).
 */
export function readFrameCounter(plane0: PlaneReader, pixelformat: number, bytesperline: number): number | undefined {
  const { bpp, at } = lumaLayout(pixelformat);
  let value = 0;
  for (let d = 0; d < TPG_COUNTER_DIGITS; d++) {
    const rows: number[] = [];
    for (let gy = 0; gy < GLYPH_H; gy++) {
      let bits = 0;
      for (let gx = 0; gx < GLYPH_W; gx++) {
        const x = OSD_X + d * CELL + gx * SCALE + SCALE / 2;
        const y = OSD_Y + gy * SCALE + SCALE / 2;
        bits = (bits << 1) | (readByte(plane0, y * bytesperline + x * bpp + at) > 128 ? 1 : 0);
      }
      rows.push(bits);
    }
    const digit = GLYPHS.findIndex((g) => g.every((r, i) => r === rows[i]));
    if (digit < 0) return undefined;
    value = value * 10 + digit;
  }
  return value;
}

interface PlaneTemplates {
  readonly plane: ComponentPlane;
  /** Bytes per pixel in this plane's row (chroma planes: per luma pixel, so shifts stay aligned). */
  readonly bytesPerPixel: number;
  readonly rowBytes: number;
  /** Row templates by key, each covering 2 x width pixels so that any shift is one slice. */
  readonly rows: Map<number, Uint8Array>;
}

/** The generator state of one device (struct tpg_data, reduced). */
export class Tpg {
  pattern = 0;
  /** Index into {@link TPG_MOVE_STRINGS}. */
  hmove = TPG_MOVE_NONE;
  /** Burn the frame counter into the picture (vivid's OSD "Counters Only"). */
  showCounter = true;
  private fi: V4l2FormatInfo | undefined;
  private width = 0;
  private height = 0;
  private planes: PlaneTemplates[] = [];
  private templatesFor = "";
  /** The counter's glyph rows (by glyph row), and the frame and template row each was built for. */
  private readonly osdRow = new Map<number, Uint8Array>();
  private readonly osdFrame: number[] = [];
  private readonly osdSource: Uint8Array[] = [];

  /** tpg_reset_source + tpg_s_bytesperline: the format, size and luma strides (per memory plane). */
  setFormat(fi: V4l2FormatInfo, width: number, height: number, strides: readonly number[]): void {
    this.fi = fi;
    this.width = width;
    this.height = height;
    this.planes = componentPlanes(fi, height, strides).map((plane, i) => {
      const rowBytes = (fi.bpp[i]! * Math.ceil(width / (i ? fi.hdiv : 1))) / fi.bpp_div[i]!;
      return { plane, bytesPerPixel: rowBytes / width, rowBytes, rows: new Map() };
    });
    this.templatesFor = "";
  }

  /** Horizontal shift in pixels at frame `n` (tpg_update_mv_step: fast/normal/slow steps, even). */
  private shift(n: number): number {
    const w = this.width;
    const step = [((w + 319) / 320) | 0, ((w + 639) / 640) | 0, 1][Math.min(this.hmove, 6 - this.hmove)]! * 2;
    if (this.hmove === TPG_MOVE_NONE) return 0;
    const dir = this.hmove < TPG_MOVE_NONE ? 1 : -1;
    const s = (((dir * step * n) % w) + w) % w;
    return s & ~1;
  }

  private templates(): void {
    const key = `${this.pattern}`;
    if (this.templatesFor === key) return;
    const { width: w, height: h, fi } = this;
    for (const [i, t] of this.planes.entries()) {
      t.rows.clear();
      const vdiv = i ? fi!.vdiv : 1;
      for (let line = 0; line < t.plane.lines; line++) {
        const y = line * vdiv;
        const k = rowKey(this.pattern, y, h);
        if (t.rows.has(k)) continue;
        const px: Rgb[] = [];
        for (let x = 0; x < 2 * w; x++) px.push(patternColor(this.pattern, x % w, y, w, h));
        t.rows.set(k, packRow(fi!.format, i, px));
      }
    }
    this.osdRow.clear();
    this.osdFrame.length = 0;
    this.osdSource.length = 0;
    this.templatesFor = key;
  }

  /**
   * Renders frame `n` into `sink`: one row copy per line, the counter lines patched in a scratch
   * row first. Returns the number of bytes written.
   */
  fillFrame(sink: FrameSink, n: number): number {
    if (!this.fi) throw new Error("tpg: setFormat() first");
    this.templates();
    const s = this.shift(n);
    let bytes = 0;
    for (const [i, t] of this.planes.entries()) {
      const vdiv = i ? this.fi.vdiv : 1;
      const start = Math.round(s * t.bytesPerPixel);
      const { memPlane, offset, stride, lines } = t.plane;
      // One view per distinct row this frame (bars: one for the whole plane), not one per line.
      const slices = new Map<number, Uint8Array>();
      sink.writeRows(memPlane, { offset, stride, rowBytes: t.rowBytes, rows: lines }, (line) => {
        const y = line * vdiv;
        const key = rowKey(this.pattern, y, this.height);
        let row = slices.get(key);
        if (!row) slices.set(key, (row = t.rows.get(key)!.subarray(start, start + t.rowBytes)));
        return i === 0 && this.showCounter && y >= OSD_Y && y < OSD_Y + GLYPH_H * SCALE ? this.counterRow(row, y - OSD_Y, n) : row;
      });
      bytes += t.rowBytes * lines;
    }
    return bytes;
  }

  /**
   * Line `dy` of the counter block over `row`: white digits on a black box, luma (or R=G=B) only.
   * The SCALE lines of one glyph row are the same: each is built once per frame and reused.
   */
  private counterRow(row: Uint8Array, dy: number, n: number): Uint8Array {
    const gy = Math.floor(dy / SCALE);
    let out = this.osdRow.get(gy);
    if (out && out.length === row.length && this.osdFrame[gy] === n && this.osdSource[gy] === row) return out;
    if (!out || out.length !== row.length) this.osdRow.set(gy, (out = new Uint8Array(row.length)));
    this.osdFrame[gy] = n;
    this.osdSource[gy] = row;
    out.set(row);
    const { bpp, at, rgb, wide } = lumaLayout(this.fi!.format);
    const [fg, bg] = rgb ? [255, 0] : [235, 16];
    const text = String(n % 10 ** TPG_COUNTER_DIGITS).padStart(TPG_COUNTER_DIGITS, "0");
    for (let d = 0; d < TPG_COUNTER_DIGITS; d++) {
      const bits = GLYPHS[text.charCodeAt(d) - 48]![gy]!;
      for (let x = 0; x < CELL; x++) {
        const gx = Math.floor(x / SCALE);
        const on = gx < GLYPH_W && (bits >> (GLYPH_W - 1 - gx)) & 1;
        const v = on ? fg : bg;
        const o = (OSD_X + d * CELL + x) * bpp;
        // RGB: the three colour bytes around the green one (`at`); the pad byte is left alone.
        if (rgb) out[o + at - 1] = out[o + at] = out[o + at + 1] = v;
        else if (wide) {
          out[o] = 0;
          out[o + 1] = v;
        } else out[o + at] = v;
      }
    }
    return out;
  }
}
