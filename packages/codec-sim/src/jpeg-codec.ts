import { sharpJpegBackend, type JpegBackend, type RgbImage } from "./jpeg-backend.js";
import { rgbRowToLuma, rgbRowToXbgr32, rgbRowsToChroma, xbgr32RowToRgb, yuyvRowToRgb } from "./internal/colour.js";
import { parseJpegHeader, type JpegHeader } from "./internal/jpeg-header.js";
import { Nv12Converter } from "./internal/nv12-converter.js";
import { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_YUYV } from "@dmabuf/v4l2-sim";

/** A plane laid out in rows: `rowBytes` of data every `stride` bytes, from `offset` (as mm's RowLayout). */
export interface PlaneRows {
  readonly offset: number;
  readonly stride: number;
  readonly rowBytes: number;
  readonly rows: number;
}

/**
 * A device's access to one buffer through its DMA mapping (for a V4L2 buffer: the plane's mapped
 * SgTable, driven by mm's DmaEngine). Every byte the codec reads or writes goes through it, a
 * picture row by row and a bitstream as one range, as a hardware block's DMA would. The whole range
 * is translated (and checked) before any row is touched.
 */
export interface DeviceBufferAccess {
  /** Bytes the device may touch, from offset 0. */
  readonly size: number;
  /**
   * Device reads of a plane: returns `row(y)`, row y as the device sees it, a zero-copy view where
   * the row lies in one contiguous piece of memory (else a copy, valid until the next call).
   */
  readRows(plane: PlaneRows): (y: number) => Uint8Array;
  /** Device writes of a plane: `fill(row, y)` writes row y in place (zero copy where contiguous). */
  writeRows(plane: PlaneRows, fill: (row: Uint8Array, y: number) => void): void;
  /** Device reads `dst.length` bytes at `offset` (a bitstream). */
  read(offset: number, dst: Uint8Array): void;
  /** Device writes `src` at `offset` (a bitstream). */
  write(offset: number, src: Uint8Array): void;
}

/** Where a raw picture lies in its buffer: the V4L2 format plus the visible size. */
export interface RawFrameLayout {
  /** V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUYV or V4L2_PIX_FMT_XBGR32. */
  readonly pixelformat: number;
  /** Visible (cropped) size: what goes into or comes out of the JPEG. */
  readonly width: number;
  readonly height: number;
  readonly bytesperline: number;
  /** NV12: offset of the CbCr plane, bytesperline x the buffer's (aligned) height. Else unused. */
  readonly chromaOffset: number;
}

/** Bytes per pixel of plane 0 (luma for NV12) and frame size over bytesperline x lines, per raw format. */
export const RAW_LAYOUT: ReadonlyMap<number, { readonly bpp: number; readonly num: number; readonly den: number }> = new Map([
  [V4L2_PIX_FMT_NV12, { bpp: 1, num: 3, den: 2 }],
  [V4L2_PIX_FMT_YUYV, { bpp: 2, num: 1, den: 1 }],
  [V4L2_PIX_FMT_XBGR32, { bpp: 4, num: 1, den: 1 }],
]);

/** Raw formats the codec core reads (encoder OUTPUT). */
export const RAW_ENCODE_FORMATS: readonly number[] = [V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_XBGR32];
/** Raw formats the codec core writes (decoder CAPTURE); the first is the default. */
export const RAW_DECODE_FORMATS: readonly number[] = [V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32];

/**
 * Virtual processing time of one job: `jobOverheadNs + macroblocks x perMacroblockNs +
 * bitstream bytes x perBitstreamByteNs`, macroblocks counted as 16x16 blocks of the visible picture.
 */
export interface CodecCostModel {
  /** Per job: programming the registers, interrupt latency. */
  readonly jobOverheadNs: number;
  /** Per 16x16 macroblock: colour conversion, DCT and quantisation. */
  readonly perMacroblockNs: number;
  /** Per byte of JPEG produced (encoder) or consumed (decoder): entropy coding. */
  readonly perBitstreamByteNs: number;
}

/** 1080p with a ~200 KB JPEG: 50 us + 8160 MB x 1.5 us + 0.4 ms = 12.7 ms, about 79 fps. */
export const ENCODER_COST: CodecCostModel = { jobOverheadNs: 50_000, perMacroblockNs: 1_500, perBitstreamByteNs: 2 };
/** 1080p with a ~200 KB JPEG: 50 us + 8160 MB x 1.0 us + 0.4 ms = 8.6 ms, about 116 fps. */
export const DECODER_COST: CodecCostModel = { jobOverheadNs: 50_000, perMacroblockNs: 1_000, perBitstreamByteNs: 2 };

export function jobTimeNs(cost: CodecCostModel, width: number, height: number, bitstreamBytes: number): number {
  const macroblocks = Math.ceil(width / 16) * Math.ceil(height / 16);
  return cost.jobOverheadNs + macroblocks * cost.perMacroblockNs + bitstreamBytes * cost.perBitstreamByteNs;
}

/** Bytes the picture occupies in its buffer (what the device reads or writes). */
export function rawFrameBytes(l: RawFrameLayout): number {
  if (l.pixelformat === V4L2_PIX_FMT_NV12) return l.chromaOffset + (Math.ceil(l.height / 2) - 1) * l.bytesperline + Math.ceil(l.width / 2) * 2;
  return (l.height - 1) * l.bytesperline + l.width * RAW_LAYOUT.get(l.pixelformat)!.bpp;
}

/** Reads a JPEG's frame header (size, components) without decoding it; null if it is not a JPEG. */
export function probeJpeg(jpeg: Uint8Array): JpegHeader | null {
  return parseJpegHeader(jpeg);
}

/**
 * The codec core: raw frames <-> JPEG, with the format conversion done row by row between the
 * device's buffer access and a working RGB picture that the JPEG library consumes or produces.
 * One job at a time; working memory is kept between jobs.
 */
export class JpegCodec {
  private rgb = new Uint8Array(0);
  private nv12: Nv12Converter | undefined;
  private inFlight = 0;

  constructor(
    readonly backend: JpegBackend = sharpJpegBackend,
    /** JPEG quality 1..100 (V4L2_CID_JPEG_COMPRESSION_QUALITY). */
    public quality = 90,
  ) {}

  /**
   * Encodes the visible picture of `src` (laid out as `layout`) into one JFIF JPEG. The device reads
   * `src` before this returns (the job's input DMA); the promise settles when the library is done.
   */
  encode(src: DeviceBufferAccess, layout: RawFrameLayout): Promise<Uint8Array> {
    checkFits(src, layout, RAW_ENCODE_FORMATS);
    const { width, height, bytesperline: stride, pixelformat } = layout;
    const ch = this.backend.channels;
    const { bpp } = RAW_LAYOUT.get(pixelformat)!;
    const row = src.readRows({ offset: 0, stride, rowBytes: width * bpp, rows: height });
    let picture: Uint8Array;
    if (pixelformat === V4L2_PIX_FMT_NV12) {
      const chroma = src.readRows({ offset: layout.chromaOffset, stride, rowBytes: Math.ceil(width / 2) * 2, rows: Math.ceil(height / 2) });
      // An aborted job still in the library may see the converter's memory rewritten: its result is dropped anyway.
      picture = (this.nv12 ??= new Nv12Converter()).convert(row, chroma, width, height, ch);
    } else {
      // A job still in the library keeps its picture; a new one (after an aborted job) gets its own.
      picture = this.inFlight ? new Uint8Array(width * height * ch) : this.workRgb(width * height * ch);
      const convert = pixelformat === V4L2_PIX_FMT_YUYV ? yuyvRowToRgb : xbgr32RowToRgb;
      for (let y = 0; y < height; y++) convert(row(y), width, picture, y * width * ch, ch);
    }
    return this.track(this.backend.encode({ data: picture, width, height, channels: ch }, this.quality));
  }

  /** Decodes one JPEG into a picture held by the codec; rejects on a corrupt stream. Touches no buffer. */
  decode(jpeg: Uint8Array): Promise<RgbImage> {
    return this.track(this.backend.decode(jpeg));
  }

  /**
   * Writes a decoded picture into `dst` laid out as `layout` (NV12 or XBGR32), whose visible size
   * must be the picture's: the job's output DMA, done when the job completes.
   */
  store(img: RgbImage, dst: DeviceBufferAccess, layout: RawFrameLayout): void {
    checkFits(dst, layout, RAW_DECODE_FORMATS);
    if (img.width !== layout.width || img.height !== layout.height)
      throw new RangeError(`store: picture is ${img.width}x${img.height}, the buffer is laid out for ${layout.width}x${layout.height}`);
    if (layout.pixelformat === V4L2_PIX_FMT_NV12) this.writeNv12(img, dst, layout);
    else this.writeXbgr32(img, dst, layout);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight++;
    const done = () => void this.inFlight--;
    p.then(done, done);
    return p;
  }

  private writeNv12(img: RgbImage, dst: DeviceBufferAccess, l: RawFrameLayout): void {
    const { width, height, channels: ch, data } = img;
    const stride = width * ch;
    dst.writeRows({ offset: 0, stride: l.bytesperline, rowBytes: width, rows: height }, (row, y) => rgbRowToLuma(data, y * stride, width, ch, row));
    const chroma = { offset: l.chromaOffset, stride: l.bytesperline, rowBytes: Math.ceil(width / 2) * 2, rows: Math.ceil(height / 2) };
    dst.writeRows(chroma, (row, y) => rgbRowsToChroma(data, 2 * y * stride, Math.min(2 * y + 1, height - 1) * stride, width, ch, row));
  }

  private writeXbgr32(img: RgbImage, dst: DeviceBufferAccess, l: RawFrameLayout): void {
    const { width, height, channels: ch, data } = img;
    dst.writeRows({ offset: 0, stride: l.bytesperline, rowBytes: width * 4, rows: height }, (row, y) => rgbRowToXbgr32(data, y * width * ch, width, ch, row));
  }

  private workRgb(n: number): Uint8Array {
    if (this.rgb.length < n) this.rgb = new Uint8Array(n);
    return this.rgb.subarray(0, n);
  }

}

function checkFits(buf: DeviceBufferAccess, l: RawFrameLayout, formats: readonly number[]): void {
  if (!formats.includes(l.pixelformat)) throw new RangeError(`unsupported raw pixelformat 0x${l.pixelformat.toString(16)}`);
  if (rawFrameBytes(l) > buf.size) throw new RangeError(`frame needs ${rawFrameBytes(l)} bytes, buffer has ${buf.size}`);
}
