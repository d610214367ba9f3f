/**
 * Encode and decode at 1080p NV12 through the codec core (row conversion through device buffer
 * access + JPEG library), with the chosen library (sharp) against jpeg-js in the same run.
 */
import jpegJs from "jpeg-js";
import { defineSuite } from "@dmabuf/tooling/bench";
import { JpegCodec, sharpJpegBackend, type DeviceBufferAccess, type JpegBackend, type RawFrameLayout } from "../src/index.js";

const W = 1920, H = 1080, BPL = 1920, BH = 1088; // the encoder's 16-line aligned buffer
const NV12 = 0x3231564e;
const layout: RawFrameLayout = { pixelformat: NV12, width: W, height: H, bytesperline: BPL, chromaOffset: BPL * BH };

/** jpeg-js behind the same interface: the pure-JavaScript alternative. */
const jpegJsBackend: JpegBackend = {
  name: "jpeg-js",
  channels: 4,
  encode: async (img, quality) => jpegJs.encode({ data: img.data, width: img.width, height: img.height }, quality).data,
  decode: async (jpeg) => {
    const { data, width, height } = jpegJs.decode(jpeg, { useTArray: true, formatAsRGBA: true });
    return { data, width, height, channels: 4 };
  },
};

const heap = (mem: Uint8Array): DeviceBufferAccess => ({
  size: mem.length,
  read: (o, d) => d.set(mem.subarray(o, o + d.length)),
  write: (o, s) => mem.set(s, o),
});

/** A camera-like NV12 frame: bars over a textured ramp. */
function frame(): Uint8Array {
  const m = new Uint8Array(BPL * BH * 1.5);
  const bars = [[235, 128, 128], [210, 16, 146], [170, 166, 16], [145, 54, 34], [106, 202, 222], [81, 90, 240], [41, 240, 110], [16, 128, 128]];
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const bar = bars[(x * 8 / W) | 0], top = y < H / 2;
      m[y * BPL + x] = top ? bar[0] : 16 + ((x + ((x ^ y) & 15)) % 219);
      if (!(x & 1) && !(y & 1)) m.set(top ? [bar[1], bar[2]] : [128, 128], BPL * BH + (y >> 1) * BPL + x);
    }
  return m;
}

const encodeCase = (backend: JpegBackend) => ({
  setup: () => ({ codec: new JpegCodec(backend), src: heap(frame()) }),
  fn: (s: { codec: JpegCodec; src: DeviceBufferAccess }) => s.codec.encode(s.src, layout),
});
const decodeCase = (backend: JpegBackend) => ({
  setup: async () => {
    const codec = new JpegCodec(backend);
    return { codec, jpeg: await codec.encode(heap(frame()), layout), dst: heap(new Uint8Array(BPL * BH * 1.5)) };
  },
  fn: async (s: { codec: JpegCodec; jpeg: Uint8Array; dst: DeviceBufferAccess }) => s.codec.store(await s.codec.decode(s.jpeg), s.dst, layout),
});

export default defineSuite({
  name: "codec-sim: 1080p NV12 encode/decode",
  cases: {
    "core encode (sharp)": { ...encodeCase(sharpJpegBackend), baseline: true },
    "core decode (sharp)": decodeCase(sharpJpegBackend),
    "core encode (jpeg-js)": encodeCase(jpegJsBackend),
    "core decode (jpeg-js)": decodeCase(jpegJsBackend),
  },
});

