/**
 * A vivid-like camera (drivers/media/test-drivers/vivid/, capture part): one /dev/videoN per board
 * device with compatible "sim,vivid", formats from formats.ts, frame sizes and intervals, S_PARM,
 * test-pattern controls, and a capture thread on the virtual clock that writes one frame per frame
 * interval through the device's DMA engine into the next queued buffer.
 */
import { inject, injectable, type InjectionToken } from "tsyringe";
import { KERNEL, check, type Device, type Kernel, type PlatformDriver, type Timer } from "@dmabuf/core";
import { planeSink } from "./internal/plane-sink.js";
import { v4l2FillPixfmtMp, v4l2FormatInfo, componentPlanes, V4L2_FORMATS, V4L2_PIXEL_ENC_RGB, type V4l2FormatInfo } from "./formats.js";
import { TPG_MOVE_NONE, TPG_MOVE_STRINGS, TPG_PATTERN_STRINGS, Tpg } from "./tpg.js";
import { V4l2CtrlHandler } from "./v4l2-ctrls.js";
import { VideoDevice, type V4l2IoctlOps } from "./v4l2-ioctl.js";
import { vb2DmaContigMemOps } from "./videobuf2-dma-contig.js";
import { vb2DmaSgMemOps } from "./videobuf2-dma-sg.js";
import { VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR, VB2_DMABUF, VB2_MMAP, VB2_USERPTR, Vb2Queue, type Vb2Buffer, type Vb2Ops } from "./videobuf2-core.js";
import { vb2QueueInit } from "./videobuf2-v4l2.js";
import {
  V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC, V4L2_BUF_FLAG_TSTAMP_SRC_EOF, V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_CAP_EXT_PIX_FORMAT, V4L2_CAP_STREAMING, V4L2_CAP_TIMEPERFRAME,
  V4L2_CAP_VIDEO_CAPTURE, V4L2_CAP_VIDEO_CAPTURE_MPLANE, V4L2_COLORSPACE_REC709, V4L2_COLORSPACE_SMPTE170M,
  V4L2_COLORSPACE_SRGB, V4L2_CTRL_TYPE_MENU, V4L2_FIELD_NONE, V4L2_FRMIVAL_TYPE_CONTINUOUS,
  V4L2_FRMSIZE_TYPE_STEPWISE, V4L2_PIX_FMT_YUYV, type v4l2_captureparm, type v4l2_format, type v4l2_fract, type v4l2_pix_format,
  type v4l2_pix_format_mplane,
} from "./uapi.js";

/** vivid's private control ids (drivers/media/test-drivers/vivid/vivid-ctrls.c). */
export const VIVID_CID_VIVID_BASE = 0x00f00000 | 0xf000;
export const VIVID_CID_TEST_PATTERN = VIVID_CID_VIVID_BASE + 0;
export const VIVID_CID_OSD_TEXT_MODE = VIVID_CID_VIVID_BASE + 1;
export const VIVID_CID_HOR_MOVEMENT = VIVID_CID_VIVID_BASE + 2;
/** vivid's OSD text modes; the model burns the frame counter for "All" and "Counters Only". */
export const VIVID_OSD_TEXT_MODES = ["All", "Counters Only", "None"] as const;

export const VIVID_MIN_WIDTH = 160;
export const VIVID_MIN_HEIGHT = 120;
export const VIVID_MAX_WIDTH = 4096;
export const VIVID_MAX_HEIGHT = 2304;
/** Frame intervals offered: 1/240 s .. 1 s (continuous). */
export const VIVID_MIN_INTERVAL: v4l2_fract = { numerator: 1, denominator: 240 };
export const VIVID_MAX_INTERVAL: v4l2_fract = { numerator: 1, denominator: 1 };
/** KERNEL_VERSION(6, 6, 0), what QUERYCAP reports as the driver version. */
const KERNEL_VERSION = (6 << 16) | (6 << 8);

export interface VividOptions {
  /** Use the multi-planar API (vivid's multiplanar=2), which also offers NM12. Default false. */
  multiplanar?: boolean;
  /** vb2 memory back-end (vivid's allocators=): "dma-contig" (default) or "dma-sg". */
  allocator?: "dma-contig" | "dma-sg";
  /**
   * Draw the test pattern into every frame (default true). false completes frames without writing
   * their pixels, for benchmarks of the framework alone (the model's option; vivid always draws).
   */
  draw?: boolean;
}

/** The negotiated capture format: memory planes, strides and sizes. */
interface VividFormat {
  fi: V4l2FormatInfo;
  width: number;
  height: number;
  bytesperline: number[];
  sizeimage: number[];
}

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
const colorspaceOf = (fi: V4l2FormatInfo, height: number) =>
  fi.pixel_enc === V4L2_PIXEL_ENC_RGB ? V4L2_COLORSPACE_SRGB : height <= 576 ? V4L2_COLORSPACE_SMPTE170M : V4L2_COLORSPACE_REC709;

/** Per-device state (struct vivid_dev, capture part). */
export class VividDevice {
  readonly tpg = new Tpg();
  readonly ctrls = new V4l2CtrlHandler();
  readonly queue: Vb2Queue;
  readonly vdev: VideoDevice;
  readonly multiplanar: boolean;
  readonly bufType: number;
  private readonly draw: boolean;
  fmt: VividFormat;
  timeperframe: v4l2_fract = { numerator: 1, denominator: 30 };
  /** Buffers the driver owns, in queue order (vid_cap_active). */
  private readonly active: Vb2Buffer[] = [];
  /** Frame periods since STREAMON (vid_cap_seq_count); dropped frames count too. */
  private seq = 0;
  private timer: Timer | undefined;
  private readonly track: string;
  /** The frame timer's name, made once (the timer is armed every frame). */
  private readonly timerName: string;
  /** Frames written and frames dropped for lack of a buffer since boot. */
  readonly stats = { frames: 0, dropped: 0, bytes: 0 };

  constructor(
    readonly kernel: Kernel,
    readonly dev: Device,
    options: VividOptions,
  ) {
    this.multiplanar = options.multiplanar ?? dev.properties["multiplanar"] === true;
    this.draw = options.draw ?? true;
    const allocator = options.allocator ?? (dev.properties["allocator"] as string | undefined) ?? "dma-contig";
    check(allocator === "dma-contig" || allocator === "dma-sg", "EINVAL", "vivid probe", `unknown allocator "${allocator}"`);
    this.bufType = this.multiplanar ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE : V4L2_BUF_TYPE_VIDEO_CAPTURE;
    this.track = `${dev.name} camera`;
    this.timerName = `${dev.name} frame`;
    this.fmt = this.tryFormat(V4L2_PIX_FMT_YUYV, 640, 480, []);
    this.setupControls();
    this.queue = vb2QueueInit(
      new Vb2Queue(kernel, {
        type: this.bufType,
        ioModes: VB2_MMAP | VB2_USERPTR | VB2_DMABUF,
        ops: this.vb2Ops(),
        memOps: allocator === "dma-sg" ? vb2DmaSgMemOps : vb2DmaContigMemOps,
        dev,
        drvPriv: this,
        timestampFlags: V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC | V4L2_BUF_FLAG_TSTAMP_SRC_EOF,
        minQueuedBuffers: 2,
        isOutput: false,
        isMultiplanar: this.multiplanar,
      }),
    );
    this.vdev = new VideoDevice(kernel, {
      name: `vivid-${dev.name}-vid-cap`,
      deviceCaps: (this.multiplanar ? V4L2_CAP_VIDEO_CAPTURE_MPLANE : V4L2_CAP_VIDEO_CAPTURE) | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT,
      ioctlOps: this.ioctlOps(),
      queue: this.queue,
      ctrlHandler: this.ctrls,
    });
  }

  private setupControls(): void {
    const menu = (id: number, name: string, items: readonly string[], def: number, set: (v: number) => void) =>
      this.ctrls.add({ id, name, type: V4L2_CTRL_TYPE_MENU, min: 0, max: items.length - 1, def, menu: items, set });
    menu(VIVID_CID_TEST_PATTERN, "Test Pattern", TPG_PATTERN_STRINGS, 0, (v) => (this.tpg.pattern = v));
    menu(VIVID_CID_OSD_TEXT_MODE, "OSD Text Mode", VIVID_OSD_TEXT_MODES, 1, (v) => (this.tpg.showCounter = v !== 2));
    menu(VIVID_CID_HOR_MOVEMENT, "Horizontal Movement", TPG_MOVE_STRINGS, TPG_MOVE_NONE, (v) => (this.tpg.hmove = v));
  }

  /**
   * vivid_try_fmt_vid_cap(): unknown formats become YUYV, sizes are clamped and aligned to 2, a
   * larger user bytesperline is kept (stride padding), single-planar API hides multi-plane formats.
   */
  tryFormat(pixelformat: number, width: number, height: number, userBpl: readonly number[]): VividFormat {
    let fi = v4l2FormatInfo(pixelformat);
    if (!fi || (!this.multiplanar && fi.mem_planes > 1)) fi = v4l2FormatInfo(V4L2_PIX_FMT_YUYV)!;
    const w = clamp(width & ~1, VIVID_MIN_WIDTH, VIVID_MAX_WIDTH);
    const h = clamp(height & ~1, VIVID_MIN_HEIGHT, VIVID_MAX_HEIGHT);
    const mp: v4l2_pix_format_mplane = { width: w, height: h, pixelformat: fi.format, field: V4L2_FIELD_NONE, colorspace: 0, plane_fmt: [], num_planes: 0 };
    v4l2FillPixfmtMp(mp, fi.format, w, h);
    const minBpl = fi.mem_planes > 1 ? mp.plane_fmt.map((p) => p.bytesperline) : [mp.plane_fmt[0]!.bytesperline];
    const bytesperline = minBpl.map((min, p) => clamp(userBpl[p] ?? 0, min, (min * VIVID_MAX_WIDTH) / w));
    // Strides may differ from the minimum: sizes follow from the plane layout.
    const planes = componentPlanes(fi, h, bytesperline);
    const sizeimage = minBpl.map((_, p) => planes.filter((c) => c.memPlane === p).reduce((s, c) => s + c.stride * c.lines, 0));
    return { fi, width: w, height: h, bytesperline, sizeimage };
  }

  private fillFormat(f: v4l2_format, vf: VividFormat): void {
    const colorspace = colorspaceOf(vf.fi, vf.height);
    // Written into the caller's struct, as copy_to_user does.
    if (this.multiplanar)
      f.fmt.pix_mp = Object.assign(f.fmt.pix_mp ?? ({} as v4l2_pix_format_mplane), {
        width: vf.width, height: vf.height, pixelformat: vf.fi.format, field: V4L2_FIELD_NONE, colorspace, num_planes: vf.fi.mem_planes,
        plane_fmt: vf.sizeimage.map((sizeimage, p) => ({ sizeimage, bytesperline: vf.bytesperline[p]! })), flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0,
      });
    else
      f.fmt.pix = Object.assign(f.fmt.pix ?? ({} as v4l2_pix_format), {
        width: vf.width, height: vf.height, pixelformat: vf.fi.format, field: V4L2_FIELD_NONE, bytesperline: vf.bytesperline[0]!,
        sizeimage: vf.sizeimage[0]!, colorspace, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0,
      });
  }

  private tryFromUser(f: v4l2_format): VividFormat {
    if (this.multiplanar) {
      const mp = f.fmt.pix_mp;
      check(mp, "EINVAL", "VIDIOC_TRY_FMT", "fmt.pix_mp missing");
      return this.tryFormat(mp.pixelformat, mp.width, mp.height, (mp.plane_fmt ?? []).map((p) => p.bytesperline));
    }
    const pix = f.fmt.pix;
    check(pix, "EINVAL", "VIDIOC_TRY_FMT", "fmt.pix missing");
    return this.tryFormat(pix.pixelformat, pix.width, pix.height, [pix.bytesperline ?? 0]);
  }

  private formats(): V4l2FormatInfo[] {
    return V4L2_FORMATS.filter((f) => this.multiplanar || f.mem_planes === 1);
  }

  private ioctlOps(): V4l2IoctlOps {
    const captureParm = (): v4l2_captureparm => ({ capability: V4L2_CAP_TIMEPERFRAME, capturemode: 0, timeperframe: { ...this.timeperframe }, extendedmode: 0, readbuffers: 0 });
    return {
      vidioc_querycap: (_fh, cap) => {
        Object.assign(cap, { driver: "vivid", card: "vivid", bus_info: `platform:${this.dev.name}`, version: KERNEL_VERSION, capabilities: 0 });
      },
      vidioc_enum_fmt: (_fh, f) => {
        const fi = this.formats()[f.index];
        check(fi, "EINVAL", "VIDIOC_ENUM_FMT", `index ${f.index} out of range`);
        Object.assign(f, { description: fi.description, pixelformat: fi.format, flags: 0, mbus_code: 0 });
      },
      vidioc_g_fmt: (_fh, f) => this.fillFormat(f, this.fmt),
      vidioc_try_fmt: (_fh, f) => this.fillFormat(f, this.tryFromUser(f)),
      vidioc_s_fmt: (_fh, f) => {
        const vf = this.tryFromUser(f);
        check(!this.queue.isBusy, "EBUSY", "VIDIOC_S_FMT", "buffers are allocated (vb2_is_busy)");
        this.fmt = vf;
        this.fillFormat(f, vf);
      },
      vidioc_enum_framesizes: (_fh, fs) => {
        const fi = this.formats().find((x) => x.format === fs.pixel_format);
        check(fi && fs.index === 0, "EINVAL", "VIDIOC_ENUM_FRAMESIZES", "unknown format or index out of range");
        fs.type = V4L2_FRMSIZE_TYPE_STEPWISE;
        fs.stepwise = { min_width: VIVID_MIN_WIDTH, max_width: VIVID_MAX_WIDTH, step_width: 2, min_height: VIVID_MIN_HEIGHT, max_height: VIVID_MAX_HEIGHT, step_height: 2 };
      },
      vidioc_enum_frameintervals: (_fh, fi) => {
        const known = this.formats().some((x) => x.format === fi.pixel_format);
        const sized = fi.width >= VIVID_MIN_WIDTH && fi.width <= VIVID_MAX_WIDTH && fi.height >= VIVID_MIN_HEIGHT && fi.height <= VIVID_MAX_HEIGHT;
        check(known && sized && fi.index === 0, "EINVAL", "VIDIOC_ENUM_FRAMEINTERVALS", "unknown format, size or index");
        fi.type = V4L2_FRMIVAL_TYPE_CONTINUOUS;
        fi.stepwise = { min: { ...VIVID_MIN_INTERVAL }, max: { ...VIVID_MAX_INTERVAL }, step: { numerator: 1, denominator: 1 } };
      },
      vidioc_g_parm: (_fh, p) => {
        p.parm.capture = captureParm();
      },
      vidioc_s_parm: (_fh, p) => {
        // vivid_vid_cap_s_parm(): a zero fraction selects the default; others are clamped to range.
        const t = p.parm.capture?.timeperframe;
        if (t && t.numerator > 0 && t.denominator > 0) {
          const want = t.numerator / t.denominator;
          const min = VIVID_MIN_INTERVAL.numerator / VIVID_MIN_INTERVAL.denominator;
          this.timeperframe = want < min ? { ...VIVID_MIN_INTERVAL } : want > 1 ? { ...VIVID_MAX_INTERVAL } : { numerator: t.numerator, denominator: t.denominator };
        } else this.timeperframe = { numerator: 1, denominator: 30 };
        p.parm.capture = Object.assign(p.parm.capture ?? captureParm(), captureParm());
      },
    };
  }

  /** The frame interval in ns of virtual time. */
  get intervalNs(): number {
    return Math.round((this.timeperframe.numerator * 1e9) / this.timeperframe.denominator);
  }

  private vb2Ops(): Vb2Ops {
    return {
      queueSetup: (_q, args) => {
        const sizes = this.fmt.sizeimage;
        if (args.numPlanes) {
          // CREATE_BUFS: the requested sizes must hold the current format.
          check(args.numPlanes === sizes.length, "EINVAL", "queue_setup", `${args.numPlanes} planes requested, format has ${sizes.length}`);
          for (let p = 0; p < sizes.length; p++) check(args.sizes[p]! >= sizes[p]!, "EINVAL", "queue_setup", `plane ${p} size ${args.sizes[p]} < sizeimage ${sizes[p]}`);
        } else {
          args.numPlanes = sizes.length;
          args.sizes = sizes.slice();
        }
        if (this.queue && this.queue.numBuffers + args.numBuffers < 2) args.numBuffers = 2 - this.queue.numBuffers;
      },
      bufPrepare: (vb) => {
        for (let p = 0; p < vb.numPlanes; p++) {
          const size = this.fmt.sizeimage[p]!;
          check(vb.planeSize(p) >= size, "EINVAL", "buf_prepare", `plane ${p}: buffer too small (${vb.planeSize(p)} < ${size})`);
          vb.setPlanePayload(p, size);
        }
      },
      bufQueue: (vb) => {
        this.active.push(vb);
      },
      startStreaming: () => {
        this.seq = 0;
        this.tpg.setFormat(this.fmt.fi, this.fmt.width, this.fmt.height, this.fmt.bytesperline);
        this.timer = this.kernel.clock.addTimer(this.intervalNs, () => this.captureFrame(), this.timerName);
      },
      stopStreaming: () => {
        this.kernel.clock.cancelTimer(this.timer);
        this.timer = undefined;
        // vivid_stop_generating_vid_cap(): every buffer still owned goes back with ERROR.
        for (const vb of this.active.splice(0)) this.queue.bufferDone(vb, VB2_BUF_STATE_ERROR);
      },
    };
  }

  /** One frame period (vivid_thread_vid_cap): fill the oldest active buffer or drop the frame. */
  private captureFrame(): void {
    // fail_device_stall: the hardware hangs; no frame completes until STREAMOFF resets it.
    if (this.kernel.faults.shouldFail("fail_device_stall", this.dev.name)) return void (this.timer = undefined);
    const now = this.kernel.clock.now();
    const interval = this.intervalNs;
    const seq = this.seq++;
    const vb = this.active.shift();
    if (!vb) {
      this.stats.dropped++;
      this.kernel.trace.slice(this.track, "frame dropped", now - interval, interval, { sequence: seq });
    } else {
      const bytes = this.draw ? this.tpg.fillFrame(planeSink(this.kernel, vb), seq) : 0;
      this.stats.frames++;
      this.stats.bytes += bytes;
      vb.sequence = seq;
      vb.field = V4L2_FIELD_NONE;
      vb.timestamp = now;
      this.kernel.trace.slice(this.track, "frame", now - interval, interval, { sequence: seq, index: vb.index, bytes });
      this.queue.bufferDone(vb, VB2_BUF_STATE_DONE);
    }
    this.timer = this.kernel.clock.addTimer(interval, () => this.captureFrame(), this.timerName);
  }
}

/** Injection token of the plugin's {@link VividOptions}. */
export const VIVID_OPTIONS: InjectionToken<VividOptions> = Symbol.for("@dmabuf/v4l2-sim/VividOptions");

/** The platform driver binding "sim,vivid" devices. */
@injectable()
export class VividDriver implements PlatformDriver {
  readonly name = "vivid";
  readonly compatible = ["sim,vivid"];
  private readonly devices = new Map<Device, VividDevice>();

  constructor(
    @inject(KERNEL) readonly kernel: Kernel,
    @inject(VIVID_OPTIONS) readonly options: VividOptions,
  ) {}

  /** The VividDevice bound to `dev`, if any. */
  device(dev: Device): VividDevice | undefined {
    return this.devices.get(dev);
  }

  probe(dev: Device, kernel: Kernel): void {
    const vivid = new VividDevice(kernel, dev, this.options);
    vivid.vdev.register();
    dev.driverData = vivid;
    this.devices.set(dev, vivid);
    kernel.printk(`vivid ${dev.name}: V4L2 capture device registered as ${vivid.vdev.path}`);
  }

  remove(dev: Device): void {
    const vivid = this.devices.get(dev);
    if (!vivid) return;
    vivid.queue.release();
    vivid.vdev.unregister();
    this.devices.delete(dev);
  }
}
