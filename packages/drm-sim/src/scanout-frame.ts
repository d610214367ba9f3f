import { crc32 } from "node:zlib";
import { PNG } from "pngjs";

/**
 * One frame a CRTC scanned out: the composed picture (XRGB8888 words 0x00RRGGBB), the vblank it was
 * shown at and when. `crc()` is what a CRC source would report; `toPng()` is the picture to look at.
 */
export class ScanoutFrame {
  constructor(
    readonly crtcId: number,
    readonly width: number,
    readonly height: number,
    /** 0x00RRGGBB per pixel, row-major. */
    readonly pixels: Uint32Array,
    /** The vblank counter value the frame was shown at. */
    readonly sequence: number,
    /** Virtual time of that vblank, ns. */
    readonly timestampNs: number,
  ) {}

  /** CRC-32 (IEEE, as crc32_le) over the frame's XRGB8888 bytes, little-endian, X bytes zero. */
  crc(): number {
    return crc32(new Uint8Array(this.pixels.buffer, this.pixels.byteOffset, this.pixels.byteLength)) >>> 0;
  }

  /** The pixel at (x, y) as 0xRRGGBB. */
  pixel(x: number, y: number): number {
    return this.pixels[y * this.width + x]!;
  }

  /** Encodes the frame as an 8-bit RGBA PNG (opaque). */
  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height, colorType: 6 });
    const d = png.data;
    for (let i = 0, j = 0; i < this.pixels.length; i++, j += 4) {
      const p = this.pixels[i]!;
      d[j] = (p >>> 16) & 0xff;
      d[j + 1] = (p >>> 8) & 0xff;
      d[j + 2] = p & 0xff;
      d[j + 3] = 0xff;
    }
    return PNG.sync.write(png);
  }

  /** Decodes a PNG written by {@link toPng} (or any RGB(A) PNG) back into 0x00RRGGBB words. */
  static pixelsFromPng(png: Uint8Array): { width: number; height: number; pixels: Uint32Array } {
    const img = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
    const pixels = new Uint32Array(img.width * img.height);
    for (let i = 0, j = 0; i < pixels.length; i++, j += 4) pixels[i] = (img.data[j]! << 16) | (img.data[j + 1]! << 8) | img.data[j + 2]!;
    return { width: img.width, height: img.height, pixels };
  }
}
