import sharp from "sharp";

/** An RGB (or RGBA) picture in host memory, rows packed with no padding. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
}

/**
 * The JPEG library behind the codec core (the "hardware block" that does DCT and entropy coding).
 * Called by JpegCodec only, one job at a time per codec instance; both calls may be asynchronous
 * (the hardware working beside the CPU): the device's completion never comes before the library is
 * done (see VirtualClock.hold), so the library's real speed never shows in the model's timings.
 */
export interface JpegBackend {
  readonly name: string;
  /** Channels the backend takes on encode and returns on decode: 3 (R,G,B) or 4 (R,G,B,A). */
  readonly channels: 3 | 4;
  /**
   * Required. Compresses `image` (whose channels equal `this.channels`) into a baseline JFIF JPEG
   * with 4:2:0 chroma at `quality` (1..100). Returns the complete file (SOI..EOI).
   */
  encode(image: RgbImage, quality: number): Promise<Uint8Array>;
  /**
   * Required. Decompresses one JPEG (baseline or progressive, any chroma subsampling, grey or
   * colour) into `this.channels` channels. Rejects on a corrupt or truncated stream.
   */
  decode(jpeg: Uint8Array): Promise<RgbImage>;
}

/**
 * libjpeg-turbo (in sharp's prebuilt libvips) through sharp: the fastest of the candidates on
 * Node 20 (see README, "Choice of JPEG library"). Works from RGB with no alpha channel.
 * Encodes with the standard Huffman tables of ITU T.81 Annex K (optimiseCoding off), as hardware
 * JPEG encoders do: one pass instead of two, 2.5x faster at 1080p for a file about 1.6x larger.
 */
export const sharpJpegBackend: JpegBackend = {
  name: "sharp",
  channels: 3,
  async encode(image, quality) {
    const { data, width, height, channels } = image;
    const input = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return sharp(input, { raw: { width, height, channels } })
      .jpeg({ quality, chromaSubsampling: "4:2:0", optimiseCoding: false })
      .toBuffer();
  },
  async decode(jpeg) {
    const input = Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
    // toColourspace("srgb") turns a grey JPEG into three equal channels.
    const { data, info } = await sharp(input).toColourspace("srgb").removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: 3 };
  },
};
