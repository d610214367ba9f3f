/**
 * 1080p NV12 encode and decode: through the codec core alone (row conversion through device buffer
 * access + JPEG library), with the chosen library (sharp) against jpeg-js in the same run, and
 * through the whole V4L2 mem2mem device (QBUF/DQBUF on both queues, vb2, job scheduling, DMA through
 * the IOMMU mapping, the earliest-completion and completion timers).
 *
 * The framework's share of a frame: the same paths with an instant "library" (a precomputed JPEG or
 * picture) isolate the rest; framework = device (no library) - core (no library), and its share is
 * that over the device frame time with sharp.
 */
import jpegJs from "jpeg-js";
import { atLeast, below, defineSuite } from "@dmabuf/tooling/bench";
import type { Kernel, Process } from "@dmabuf/core";
import { V4L2_EVENT_SOURCE_CHANGE, V4L2_PIX_FMT_NV12, VIDIOC_DQEVENT, VIDIOC_SUBSCRIBE_EVENT, type v4l2_event, libv4l2 } from "@dmabuf/v4l2-sim";
import {
  JpegCodec, V4L2_PIX_FMT_JPEG, V4L2_SEL_TGT_CROP, VIDIOC_S_SELECTION, sharpJpegBackend, type DeviceBufferAccess,
  type JpegBackend, type RawFrameLayout,
} from "../src/index.js";
import { CAP, OUT, bootSoc, dqbuf, qbuf, sFmt } from "../test/codec-helpers.js";
import { heapAccess as heap } from "../test/heap-access.js";

const W = 1920, H = 1080, BPL = 1920, BH = 1088; // the encoder's 16-line aligned buffer
const layout: RawFrameLayout = { pixelformat: V4L2_PIX_FMT_NV12, width: W, height: H, bytesperline: BPL, chromaOffset: BPL * BH };

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


/** A camera-like NV12 frame: bars over a textured ramp. */
function frame(): Uint8Array {
  const m = new Uint8Array(BPL * BH * 1.5);
  const bars = [[235, 128, 128], [210, 16, 146], [170, 166, 16], [145, 54, 34], [106, 202, 222], [81, 90, 240], [41, 240, 110], [16, 128, 128]];
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const bar = bars[(x * 8 / W) | 0]!, top = y < H / 2;
      m[y * BPL + x] = top ? bar[0]! : 16 + ((x + ((x ^ y) & 15)) % 219);
      if (!(x & 1) && !(y & 1)) m.set(top ? [bar[1]!, bar[2]!] : [128, 128], BPL * BH + (y >> 1) * BPL + x);
    }
  return m;
}

/** A "library" that takes no time: returns a JPEG and a picture computed once by sharp. */
async function instantBackend(): Promise<JpegBackend> {
  const jpeg = await new JpegCodec().encode(heap(frame()), layout);
  const picture = await sharpJpegBackend.decode(jpeg);
  return { name: "instant", channels: 3, encode: async () => jpeg, decode: async () => picture };
}

const coreEncode = (backend: JpegBackend) => ({
  setup: () => ({ codec: new JpegCodec(backend), src: heap(frame()) }),
  fn: (s: { codec: JpegCodec; src: DeviceBufferAccess }) => s.codec.encode(s.src, layout),
});
const coreDecode = (backend: JpegBackend) => ({
  setup: async () => {
    const codec = new JpegCodec(backend);
    return { codec, jpeg: await codec.encode(heap(frame()), layout), dst: heap(new Uint8Array(BPL * BH * 1.5)) };
  },
  fn: async (s: { codec: JpegCodec; jpeg: Uint8Array; dst: DeviceBufferAccess }) => s.codec.store(await s.codec.decode(s.jpeg), s.dst, layout),
});

interface Device {
  kernel: Kernel;
  p: Process;
  fd: number;
  bytes: number;
}

/** The encoder at 1080p with one MMAP buffer per queue, streaming. */
async function encoderDevice(backend?: JpegBackend): Promise<Device> {
  const kernel = await bootSoc(backend && { backend });
  const p = kernel.spawn("bench-enc");
  const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
  await sFmt(p, fd, CAP, V4L2_PIX_FMT_JPEG, 0, 0);
  await sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, W, H);
  await p.ioctl(fd, VIDIOC_S_SELECTION, { type: OUT, target: V4L2_SEL_TGT_CROP, flags: 0, r: { left: 0, top: 0, width: W, height: H } });
  const [out] = await libv4l2.mmapBuffers(p, fd, OUT, 1);
  out!.write(0, frame());
  await libv4l2.mmapBuffers(p, fd, CAP, 1);
  await libv4l2.streamOn(p, fd, OUT, CAP);
  return { kernel, p, fd, bytes: 0 };
}

/** The decoder at 1080p, past its SOURCE_CHANGE, with one MMAP buffer per queue, streaming. */
async function decoderDevice(backend?: JpegBackend): Promise<Device> {
  const jpeg = await new JpegCodec().encode(heap(frame()), layout);
  const kernel = await bootSoc(backend && { backend });
  const p = kernel.spawn("bench-dec");
  const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-decoder"));
  await p.ioctl(fd, VIDIOC_SUBSCRIBE_EVENT, { type: V4L2_EVENT_SOURCE_CHANGE, id: 0, flags: 0 });
  await sFmt(p, fd, OUT, V4L2_PIX_FMT_JPEG, 0, 0, 1 << 20);
  const [out] = await libv4l2.mmapBuffers(p, fd, OUT, 1);
  out!.write(0, jpeg);
  await qbuf(p, fd, OUT, 0, jpeg.length);
  await libv4l2.streamOn(p, fd, OUT);
  await p.ioctl(fd, VIDIOC_DQEVENT, { type: 0 } as v4l2_event);
  await libv4l2.mmapBuffers(p, fd, CAP, 1);
  await qbuf(p, fd, CAP, 0);
  await libv4l2.streamOn(p, fd, CAP);
  await dqbuf(p, fd, CAP);
  await dqbuf(p, fd, OUT);
  return { kernel, p, fd, bytes: jpeg.length };
}

/** One frame through the device: QBUF both queues, DQBUF both. */
async function frameThrough(d: Device): Promise<void> {
  await qbuf(d.p, d.fd, OUT, 0, d.bytes);
  await qbuf(d.p, d.fd, CAP, 0);
  await dqbuf(d.p, d.fd, CAP);
  await dqbuf(d.p, d.fd, OUT);
}

const fps = (ns: number) => 1e9 / ns;
/**
 * Framework time (device less core, both without library) as a share of the real device frame. A
 * device frame measured cheaper than the core alone is below the processes' noise (the same JS loop
 * runs at different speeds in different processes): no figure (NaN, not met), never a negative one.
 */
const share = (frame: number, deviceNoLib: number, coreNoLib: number) => (deviceNoLib >= coreNoLib ? (100 * (deviceNoLib - coreNoLib)) / frame : NaN);

export default defineSuite({
  name: "codec-sim: 1080p NV12 encode/decode",
  cases: {
    "core encode (sharp)": { ...coreEncode(sharpJpegBackend), baseline: true },
    "core decode (sharp)": coreDecode(sharpJpegBackend),
    "core encode (jpeg-js)": coreEncode(jpegJsBackend),
    "core decode (jpeg-js)": coreDecode(jpegJsBackend),
    "V4L2 encoder frame (sharp)": { setup: () => encoderDevice(), fn: frameThrough, teardown: (d) => d.kernel.shutdown() },
    "V4L2 decoder frame (sharp)": { setup: () => decoderDevice(), fn: frameThrough, teardown: (d) => d.kernel.shutdown() },
    "core encode (no library)": { setup: async () => ({ codec: new JpegCodec(await instantBackend()), src: heap(frame()) }), fn: coreEncode(sharpJpegBackend).fn },
    "core decode (no library)": {
      setup: async () => ({ codec: new JpegCodec(await instantBackend()), jpeg: new Uint8Array(0), dst: heap(new Uint8Array(BPL * BH * 1.5)) }),
      fn: coreDecode(sharpJpegBackend).fn,
    },
    "V4L2 encoder frame (no library)": { setup: async () => encoderDevice(await instantBackend()), fn: frameThrough, teardown: (d) => d.kernel.shutdown() },
    "V4L2 decoder frame (no library)": { setup: async () => decoderDevice(await instantBackend()), fn: frameThrough, teardown: (d) => d.kernel.shutdown() },
  },
  goals: [
    atLeast("encode fps through V4L2 (sharp)", (m) => fps(m["V4L2 encoder frame (sharp)"]), 30, "fps"),
    atLeast("decode fps through V4L2 (sharp)", (m) => fps(m["V4L2 decoder frame (sharp)"]), 30, "fps"),
    atLeast("sharp vs jpeg-js, encode", (m) => m["core encode (jpeg-js)"] / m["core encode (sharp)"], 2, "x"),
    atLeast("sharp vs jpeg-js, decode", (m) => m["core decode (jpeg-js)"] / m["core decode (sharp)"], 2, "x"),
    below("framework share of an encoded frame", (m) => share(m["V4L2 encoder frame (sharp)"], m["V4L2 encoder frame (no library)"], m["core encode (no library)"]), 5, "%",
      "V4L2 ioctls + vb2 + m2m scheduling + DMA-engine access through the IOMMU + the earliest-completion and completion timers"),
    below("framework share of a decoded frame", (m) => share(m["V4L2 decoder frame (sharp)"], m["V4L2 decoder frame (no library)"], m["core decode (no library)"]), 5, "%",
      "V4L2 ioctls + vb2 + m2m scheduling + DMA-engine access; no figure when the core's row store alone measures slower than the whole device frame (per-process JIT variance)"),
  ],
});
