/**
 * Camera throughput and the videobuf2 framework's per-frame cost.
 *
 * - "camera <size>": one captured frame per call (QBUF, then a blocking DQBUF during which virtual time
 *   jumps to the next frame interval and vivid writes the frame through its DMA mapping). Frames per
 *   second = 1e9 / median.
 * - "QBUF+DQBUF DMABUF 1080p": the framework alone, through the ioctl path: QBUF of an imported
 *   dma-buf (attachment and mapping reused, as vb2 does when the same dma-buf returns) on a queue whose
 *   device completes at once, then DQBUF. Tracepoints off, as on a production kernel.
 */
import { below, copyBaseline, defineSuite } from "@dmabuf/tooling/bench";
import { Kernel, O_NONBLOCK, O_RDWR, type Process } from "@dmabuf/core";
import mm from "@dmabuf/mm";
import v4l2Sim, {
  V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_CAP_STREAMING, V4L2_CAP_VIDEO_CAPTURE,
  V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUYV, VB2_BUF_STATE_DONE, VB2_DMABUF, VB2_MMAP,
  VIDIOC_DQBUF, VIDIOC_EXPBUF, VIDIOC_QBUF, VIDIOC_REQBUFS, VIDIOC_S_FMT, VIDIOC_S_PARM, VIDIOC_STREAMON, Vb2Queue,
  VideoDevice, vb2DmaContigMemOps, vb2Dqbuf, vb2QueueInit, vb2Qbuf, type v4l2_buffer, type v4l2_exportbuffer,
} from "../src/index.js";

const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;
const NV12_1080P = (1920 * 1080 * 3) / 2;
const BUFFERS = 4;

interface Cam {
  k: Kernel;
  p: Process;
  fd: number;
  b: v4l2_buffer;
  /** The queue behind `fd` (framework cases). */
  q?: Vb2Queue;
}

/** /dev/video0 streaming `pixelformat` at w x h in MMAP mode, every buffer queued once. */
async function camera(pixelformat: number, width: number, height: number): Promise<Cam> {
  const k = await Kernel.boot({ plugins: [mm(), v4l2Sim()] });
  k.trace.on = false;
  const p = k.spawn("bench");
  const fd = p.open("/dev/video0");
  await p.ioctl(fd, VIDIOC_S_FMT, { type: CAP, fmt: { pix: { width, height, pixelformat, field: 0, bytesperline: 0, sizeimage: 0, colorspace: 0 } } });
  await p.ioctl(fd, VIDIOC_S_PARM, { type: CAP, parm: { capture: { timeperframe: { numerator: 1, denominator: 240 } } } });
  await p.ioctl(fd, VIDIOC_REQBUFS, { count: BUFFERS, type: CAP, memory: V4L2_MEMORY_MMAP });
  for (let i = 0; i < BUFFERS; i++) await p.ioctl(fd, VIDIOC_QBUF, { index: i, type: CAP, memory: V4L2_MEMORY_MMAP });
  await p.ioctl(fd, VIDIOC_STREAMON, CAP);
  return { k, p, fd, b: { index: 0, type: CAP, memory: V4L2_MEMORY_MMAP, m: {} } };
}

/** One frame: dequeue the next done buffer (waiting for it in virtual time) and queue it again. */
async function frame({ p, fd, b }: Cam): Promise<void> {
  await p.ioctl(fd, VIDIOC_DQBUF, b);
  await p.ioctl(fd, VIDIOC_QBUF, b);
}

const shutdown = ({ k }: { k: Kernel }) => k.shutdown();

/**
 * A queue on a device that completes every buffer as soon as it is queued (no DMA, no timer), on a
 * node of its own; the buffers are 1080p NV12 dma-bufs exported by vivid and imported by fd.
 */
async function framework(): Promise<Cam> {
  const k = await Kernel.boot({ plugins: [mm(), v4l2Sim()] });
  k.trace.on = false;
  const p = k.spawn("bench");
  const cam = p.open("/dev/video0");
  await p.ioctl(cam, VIDIOC_S_FMT, { type: CAP, fmt: { pix: { width: 1920, height: 1080, pixelformat: V4L2_PIX_FMT_NV12, field: 0, bytesperline: 0, sizeimage: 0, colorspace: 0 } } });
  await p.ioctl(cam, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_MMAP });
  const fds: number[] = [];
  for (let i = 0; i < 2; i++) {
    const eb: v4l2_exportbuffer = { type: CAP, index: i, plane: 0, flags: O_RDWR };
    await p.ioctl(cam, VIDIOC_EXPBUF, eb);
    fds.push(eb.fd!);
  }
  const dev = k.devices.find((d) => d.name === "jpeg-enc.0")!;
  const q: Vb2Queue = vb2QueueInit(
    new Vb2Queue(k, {
      type: CAP, ioModes: VB2_MMAP | VB2_DMABUF, memOps: vb2DmaContigMemOps, dev, isOutput: false, isMultiplanar: false,
      timestampFlags: V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC,
      ops: {
        queueSetup: (_q, a) => {
          a.numPlanes = 1;
          a.sizes = [NV12_1080P];
        },
        bufQueue: (vb) => q.bufferDone(vb, VB2_BUF_STATE_DONE),
      },
    }),
  );
  const vdev = new VideoDevice(k, { name: "null", deviceCaps: V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING, ioctlOps: { vidioc_querycap: () => {} }, queue: q });
  const path = vdev.register();
  const fd = p.open(path, O_RDWR | O_NONBLOCK);
  await p.ioctl(fd, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_DMABUF });
  const b: v4l2_buffer = { index: 0, type: CAP, memory: V4L2_MEMORY_DMABUF, m: { fd: fds[0]! }, length: NV12_1080P };
  await p.ioctl(fd, VIDIOC_QBUF, b);
  await p.ioctl(fd, VIDIOC_STREAMON, CAP);
  await p.ioctl(fd, VIDIOC_DQBUF, b);
  return { k, p, fd, b, q };
}

async function qdq({ p, fd, b }: Cam): Promise<void> {
  await p.ioctl(fd, VIDIOC_QBUF, b);
  await p.ioctl(fd, VIDIOC_DQBUF, b);
}

/** The same work at the driver face (vb2_qbuf + vb2_dqbuf), without the syscall layer. */
function vb2Only({ k, p, b, q }: Cam): void {
  k.current = p; // dma_buf_get() resolves the fd in the calling process
  vb2Qbuf(q!, b);
  void vb2Dqbuf(q!, b, true);
  k.current = undefined;
}

/** A plain 1080p copy inside the model's physical memory (SharedArrayBuffer to SharedArrayBuffer). */
function sabCopy() {
  const src = new Uint8Array(new SharedArrayBuffer(NV12_1080P));
  for (let i = 0; i < src.length; i++) src[i] = (i * 31) & 0xff;
  const dst = new Uint8Array(new SharedArrayBuffer(NV12_1080P));
  dst.set(src);
  return { src, dst };
}

const COPY = "memcpy 1080p NV12 (Uint8Array.set)";
const VGA = "camera 640x480 YUYV frame";
const FHD = "camera 1920x1080 NV12 frame";
const UHD = "camera 3840x2160 NV12 frame";
const SAB_COPY = "memcpy 1080p NV12 in physical memory (SAB to SAB)";
const FW = "QBUF+DQBUF DMABUF 1080p (framework only)";
const VB2 = "vb2_qbuf+vb2_dqbuf DMABUF 1080p (driver face, no syscall)";

const fps = (ns: number) => 1e9 / ns;

export default defineSuite({
  name: "v4l2-camera",
  cases: {
    [COPY]: copyBaseline(NV12_1080P),
    [SAB_COPY]: { setup: sabCopy, fn: ({ src, dst }) => dst.set(src), bytes: NV12_1080P },
    [VGA]: { setup: () => camera(V4L2_PIX_FMT_YUYV, 640, 480), fn: frame, teardown: shutdown, bytes: 640 * 480 * 2 },
    [FHD]: { setup: () => camera(V4L2_PIX_FMT_NV12, 1920, 1080), fn: frame, teardown: shutdown, bytes: NV12_1080P },
    [UHD]: { setup: () => camera(V4L2_PIX_FMT_NV12, 3840, 2160), fn: frame, teardown: shutdown, bytes: NV12_1080P * 4 },
    [FW]: { setup: framework, fn: qdq, teardown: shutdown },
    [VB2]: { setup: framework, fn: vb2Only, teardown: shutdown },
  },
  goals: [
    below("framework cost per frame (QBUF+DQBUF ioctls, DMABUF import) < 1% of a 1080p copy in physical memory", (m) => (100 * m[FW]) / m[SAB_COPY], 1, "%", "also shown: the same against the ArrayBuffer memcpy baseline, and the vb2 part alone"),
    {
      name: "framework cost against the ArrayBuffer memcpy baseline / vb2 part alone (driver face)",
      evaluate: (m) => ({
        value: Number(((100 * m[FW]) / m[COPY]).toFixed(2)),
        unit: "% of AB memcpy",
        target: "< 1",
        met: (100 * m[FW]) / m[COPY] < 1,
        note: `vb2 alone: ${((100 * m[VB2]) / m[SAB_COPY]).toFixed(2)} % of the SAB copy, ${((100 * m[VB2]) / m[COPY]).toFixed(2)} % of the AB memcpy`,
      }),
    },
    {
      name: "camera frames per second (as fast as possible): 640x480 YUYV / 1080p NV12 / 2160p NV12",
      evaluate: (m) => ({
        value: Math.round(fps(m[FHD])),
        unit: "fps at 1080p",
        target: ">= 60",
        met: fps(m[FHD]) >= 60,
        note: `VGA ${Math.round(fps(m[VGA]))} fps, 1080p ${Math.round(fps(m[FHD]))} fps, 2160p ${Math.round(fps(m[UHD]))} fps; a 1080p frame costs ${(m[FHD] / m[COPY]).toFixed(2)}x a memcpy`,
      }),
    },
  ],
});
