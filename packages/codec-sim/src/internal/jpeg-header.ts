/** What the decoder learns from a JPEG's headers before decoding it (ITU T.81 B.2.2, frame header). */
export interface JpegHeader {
  readonly width: number;
  readonly height: number;
  readonly components: number;
  readonly progressive: boolean;
}

/**
 * Walks the marker segments from SOI to the first SOFn and returns the frame size, or null when
 * the bytes are not a JPEG or end before the frame header. Does not decode anything.
 */
export function parseJpegHeader(b: Uint8Array): JpegHeader | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return null;
    const marker = b[p + 1];
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    const len = (b[p + 2] << 8) | b[p + 3];
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (p + 10 > b.length) return null;
      const height = (b[p + 5] << 8) | b[p + 6];
      const width = (b[p + 7] << 8) | b[p + 8];
      if (width === 0 || height === 0) return null;
      return { width, height, components: b[p + 9], progressive: marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce };
    }
    if (marker === 0xd9 || marker === 0xda || len < 2) return null; // EOI or scan before any frame header
    p += 2 + len;
  }
  return null;
}
