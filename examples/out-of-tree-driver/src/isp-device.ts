/**
 * One ISP instance: a V4L2 mem2mem node (like drivers/media/test-drivers/vim2m.c) whose OUTPUT
 * queue takes YUYV frames and whose CAPTURE queue returns NV12, built on @dmabuf/v4l2-sim's public
 * framework: videobuf2 (dma-contig memory, MMAP and DMABUF), the mem2mem job scheduler and
 * VideoDevice. The hardware is modelled as a DMA engine that reads the source and writes the
 * result through the device's own mappings, taking virtual time per pixel.
 */
import { Errno, NSEC_PER_USEC, check, type Device, type Kernel } from "@dmabuf/core";
import { MM } from "@dmabuf/mm";
import {
  V4L2_BUF_FLAG_TIMESTAMP_COPY, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_CAP_STREAMING, V4L2_CAP_VIDEO_M2M,
  V4L2_COLORSPACE_SMPTE170M, V4L2_FIELD_NONE, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUYV, VB2_BUF_STATE_ERROR, VB2_DMABUF, VB2_MMAP,
  V4l2M2mCtx, V4l2M2mDev, Vb2Queue, VideoDevice, v4l2FillPixfmt, v4l2M2mFileHooks, v4l2M2mIoctlOps, v4l2M2mJobFinish,
  vb2DmaContigMemOps, vb2QueueInit, type V4l2Fh, type Vb2Buffer, type v4l2_format, type v4l2_pix_format,
} from "@dmabuf/v4l2-sim";
import { yuyvToNv12 } from "./yuyv-to-nv12.js";

export const ISP_MIN_WIDTH = 32;
export const ISP_MIN_HEIGHT = 32;
export const ISP_MAX_WIDTH = 4096;
export const ISP_MAX_HEIGHT = 2304;
/** Virtual time the hardware spends per source pixel (1 ns: a 1080p frame in about 2 ms). */
export const ISP_NS_PER_PIXEL = 1;

/** Per-open state: the two formats and the m2m context. */
interface IspCtx {
  out: v4l2_pix_format;
  cap: v4l2_pix_format;
  m2m: V4l2M2mCtx;
  sequence: number;
}

const clampEven = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v)) & ~1;

/** The OUTPUT (YUYV) format nearest to what was asked. */
function tryOutput(f: v4l2_pix_format): v4l2_pix_format {
  const pix = {} as v4l2_pix_format;
  v4l2FillPixfmt(pix, V4L2_PIX_FMT_YUYV, clampEven(f.width, ISP_MIN_WIDTH, ISP_MAX_WIDTH), clampEven(f.height, ISP_MIN_HEIGHT, ISP_MAX_HEIGHT));
  return { ...pix, field: V4L2_FIELD_NONE, colorspace: V4L2_COLORSPACE_SMPTE170M };
}

/** The CAPTURE (NV12) format for `out`: the same size, or half of it (in multiples of 2) when asked for that or less. */
function tryCapture(out: v4l2_pix_format, f: Pick<v4l2_pix_format, "width" | "height">): v4l2_pix_format {
  const half = f.width > 0 && f.height > 0 && f.width <= out.width / 2 && f.height <= out.height / 2 && (out.width / 2) % 2 === 0 && (out.height / 2) % 2 === 0;
  const pix = {} as v4l2_pix_format;
  v4l2FillPixfmt(pix, V4L2_PIX_FMT_NV12, half ? out.width / 2 : out.width, half ? out.height / 2 : out.height);
  return { ...pix, field: V4L2_FIELD_NONE, colorspace: V4L2_COLORSPACE_SMPTE170M };
}

const isOutput = (type: number) => type === V4L2_BUF_TYPE_VIDEO_OUTPUT;

export class IspDevice {
  readonly vdev: VideoDevice;
  private readonly m2mDev: V4l2M2mDev;

  constructor(
    private readonly kernel: Kernel,
    private readonly dev: Device,
    name: string,
  ) {
    this.m2mDev = new V4l2M2mDev(kernel, { deviceRun: (priv) => this.deviceRun(priv as IspCtx) });
    const ctxOf = (fh: V4l2Fh) => fh.priv as IspCtx;
    this.vdev = new VideoDevice(kernel, {
      name,
      deviceCaps: V4L2_CAP_VIDEO_M2M | V4L2_CAP_STREAMING,
      ioctlOps: {
        vidioc_querycap: (_fh, cap) => Object.assign(cap, { driver: "example-isp", card: name, bus_info: `platform:${dev.name}` }),
        vidioc_enum_fmt: (_fh, f) => {
          check(f.index === 0, "EINVAL", "VIDIOC_ENUM_FMT", `index ${f.index} out of range`);
          const out = isOutput(f.type);
          Object.assign(f, { pixelformat: out ? V4L2_PIX_FMT_YUYV : V4L2_PIX_FMT_NV12, description: out ? "YUYV 4:2:2" : "Y/UV 4:2:0", flags: 0, mbus_code: 0 });
        },
        vidioc_g_fmt: (fh, f) => {
          const c = ctxOf(fh);
          f.fmt = { pix: { ...(isOutput(f.type) ? c.out : c.cap) } };
        },
        vidioc_try_fmt: (fh, f) => {
          f.fmt = { pix: this.tryFmt(ctxOf(fh), f) };
        },
        vidioc_s_fmt: (fh, f) => {
          const c = ctxOf(fh);
          const pix = this.tryFmt(c, f);
          // vb2_is_busy(): no format change while the queue has buffers (for OUTPUT, CAPTURE's too: it follows).
          check(!c.m2m.vq(f.type).isBusy && (!isOutput(f.type) || !c.m2m.capQ.isBusy), "EBUSY", "VIDIOC_S_FMT", "buffers are allocated");
          if (isOutput(f.type)) {
            c.out = pix;
            c.cap = tryCapture(pix, c.out);
          } else c.cap = pix;
          f.fmt = { pix: { ...pix } };
        },
        ...v4l2M2mIoctlOps,
      },
      fileHooks: {
        open: (fh) => {
          const out = tryOutput({ width: 640, height: 480 } as v4l2_pix_format);
          const c = { out, cap: tryCapture(out, out), sequence: 0 } as IspCtx;
          c.m2m = new V4l2M2mCtx(this.m2mDev, c, this.queue(c, V4L2_BUF_TYPE_VIDEO_OUTPUT), this.queue(c, V4L2_BUF_TYPE_VIDEO_CAPTURE));
          fh.priv = c;
          fh.m2mCtx = c.m2m;
        },
        release: (fh) => ctxOf(fh).m2m.release(),
        ...v4l2M2mFileHooks,
      },
    });
  }

  register(): string {
    return this.vdev.register();
  }

  unregister(): void {
    this.vdev.unregister();
  }

  private tryFmt(c: IspCtx, f: v4l2_format): v4l2_pix_format {
    const want = f.fmt.pix ?? ({ width: 0, height: 0 } as v4l2_pix_format);
    return isOutput(f.type) ? tryOutput(want) : tryCapture(c.out, want);
  }

  /** One vb2 queue of a context: dma-contig memory, MMAP and DMABUF, timestamps copied OUTPUT -> CAPTURE. */
  private queue(c: IspCtx, type: number): Vb2Queue {
    const output = isOutput(type);
    return vb2QueueInit(
      new Vb2Queue(this.kernel, {
        type, isOutput: output, isMultiplanar: false, dev: this.dev, memOps: vb2DmaContigMemOps, ioModes: VB2_MMAP | VB2_DMABUF,
        timestampFlags: V4L2_BUF_FLAG_TIMESTAMP_COPY, copyTimestamp: output,
        ops: {
          queueSetup: (_q, a) => {
            const size = (output ? c.out : c.cap).sizeimage;
            if (a.numPlanes) {
              if (a.sizes[0]! < size) throw new Errno("EINVAL", "queue_setup", `plane size ${a.sizes[0]} < sizeimage ${size}`);
              return;
            }
            a.numPlanes = 1;
            a.sizes = [size];
          },
          bufPrepare: (vb) => {
            const size = (output ? c.out : c.cap).sizeimage;
            check(vb.planes[0]!.length >= size, "EINVAL", "buf_prepare", `plane length ${vb.planes[0]!.length} < sizeimage ${size}`);
            if (!output) vb.setPlanePayload(0, size);
          },
          bufQueue: (vb) => c.m2m.bufQueue(vb),
          startStreaming: () => {
            c.sequence = 0;
          },
          stopStreaming: (q) => {
            for (const vb of (output ? c.m2m.rdySrc : c.m2m.rdyDst).splice(0)) q.bufferDone(vb, VB2_BUF_STATE_ERROR);
          },
        },
      }),
    );
  }

  /** device_run: convert one OUTPUT buffer into one CAPTURE buffer after the hardware's processing time. */
  private deviceRun(c: IspCtx): void {
    const src = c.m2m.srcBufRemove()!;
    const dst = c.m2m.dstBufRemove()!;
    const { out, cap } = c;
    const ns = Math.max(NSEC_PER_USEC, out.width * out.height * ISP_NS_PER_PIXEL);
    const start = this.kernel.clock.now();
    this.kernel.clock.addTimer(ns, () => {
      this.convert(src, dst, out, cap);
      this.kernel.trace.slice(`${this.dev.name} isp`, "convert", start, ns, { sequence: c.sequence });
      dst.timestamp = src.timestamp;
      dst.timecode = src.timecode;
      dst.field = V4L2_FIELD_NONE;
      src.sequence = dst.sequence = c.sequence++;
      c.m2m.bufDone(src);
      c.m2m.bufDone(dst);
      v4l2M2mJobFinish(this.m2mDev, c.m2m);
    }, `${this.dev.name} convert`);
  }

  /** The DMA: read the YUYV frame through the device's mapping, write NV12 through the other. */
  private convert(src: Vb2Buffer, dst: Vb2Buffer, out: v4l2_pix_format, cap: v4l2_pix_format): void {
    const engine = this.kernel.resolve(MM).engine;
    const s = src.planeCookie(0);
    const d = dst.planeCookie(0);
    const frame = engine.read(s.dev, s.sgt, src.planes[0]!.dataOffset, out.sizeimage);
    const result = new Uint8Array(cap.sizeimage);
    yuyvToNv12(frame, result, { width: out.width, height: out.height, srcStride: out.bytesperline, scale: cap.width === out.width ? 1 : 2, dstStride: cap.bytesperline });
    engine.write(d.dev, d.sgt, 0, result);
    dst.setPlanePayload(0, cap.sizeimage);
  }
}
