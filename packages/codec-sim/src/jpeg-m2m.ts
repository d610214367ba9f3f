/**
 * The stateful JPEG encoder and decoder: V4L2 mem2mem devices following
 * Documentation/userspace-api/media/v4l/dev-encoder.rst and dev-decoder.rst, structured like Linux's
 * reference codec drivers/media/test-drivers/vicodec/vicodec-core.c (one driver, an encoder and a
 * decoder instance). OUTPUT carries raw frames into the encoder or JPEG into the decoder; CAPTURE
 * carries JPEG out of the encoder or raw frames out of the decoder. A job's library work runs beside
 * the simulation (on libuv's thread pool for sharp) while virtual time goes on; the job completes
 * after the cost model's duration, and virtual time never passes that point before the work is done.
 */
import { Errno, check, type Device, type Kernel, type Timer } from "@dmabuf/core";
import {
  V4L2_BUF_FLAG_KEYFRAME, V4L2_BUF_FLAG_LAST, V4L2_BUF_FLAG_TIMESTAMP_COPY, V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_CAP_STREAMING, V4L2_CAP_TIMEPERFRAME, V4L2_CAP_VIDEO_M2M, V4L2_CID_MIN_BUFFERS_FOR_CAPTURE,
  V4L2_CID_MIN_BUFFERS_FOR_OUTPUT, V4L2_COLORSPACE_SMPTE170M, V4L2_CTRL_FLAG_READ_ONLY, V4L2_CTRL_TYPE_INTEGER,
  V4L2_EVENT_EOS, V4L2_EVENT_SOURCE_CHANGE, V4L2_EVENT_SRC_CH_RESOLUTION, V4L2_FIELD_ANY, V4L2_FIELD_NONE,
  V4L2_FRMSIZE_TYPE_STEPWISE, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_YUYV, V4L2_TYPE_IS_OUTPUT, VB2_BUF_STATE_DONE,
  VB2_BUF_STATE_ERROR, VB2_DMABUF, VB2_MMAP, V4l2CtrlHandler, V4l2M2mCtx, V4l2M2mDev, Vb2Queue, VideoDevice, fourccToString,
  v4l2M2mFileHooks, v4l2M2mIoctlOps, v4l2M2mJobFinish, vb2DmaContigMemOps, vb2QueueInit, type V4l2Fh, type V4l2IoctlOps,
  type Vb2Buffer, type Vb2BufferState, type Vb2Ops, type v4l2_buffer, type v4l2_capability, type v4l2_event_subscription,
  type v4l2_fmtdesc, type v4l2_format, type v4l2_fract, type v4l2_frmsizeenum, type v4l2_streamparm,
} from "@dmabuf/v4l2-sim";
import { alignUp, codecConstraints, type CodecConstraints } from "./codec-constraints.js";
import {
  V4L2_CID_JPEG_COMPRESSION_QUALITY, V4L2_COLORSPACE_JPEG, V4L2_DEC_CMD_START, V4L2_DEC_CMD_STOP, V4L2_ENC_CMD_START, V4L2_ENC_CMD_STOP,
  V4L2_FMT_FLAG_COMPRESSED, V4L2_FMT_FLAG_DYN_RESOLUTION, V4L2_PIX_FMT_JPEG, V4L2_PIX_FMT_MJPEG, V4L2_SEL_TGT_COMPOSE,
  V4L2_SEL_TGT_COMPOSE_BOUNDS, V4L2_SEL_TGT_COMPOSE_DEFAULT, V4L2_SEL_TGT_COMPOSE_PADDED, V4L2_SEL_TGT_CROP,
  V4L2_SEL_TGT_CROP_BOUNDS, V4L2_SEL_TGT_CROP_DEFAULT, VIDIOC_DECODER_CMD, VIDIOC_ENCODER_CMD, VIDIOC_G_SELECTION,
  VIDIOC_S_SELECTION, VIDIOC_TRY_DECODER_CMD, VIDIOC_TRY_ENCODER_CMD, type v4l2_decoder_cmd, type v4l2_encoder_cmd,
  type v4l2_selection,
} from "./codec-uapi.js";
import {
  JpegCodec, RAW_DECODE_FORMATS, RAW_ENCODE_FORMATS, RAW_LAYOUT, jobTimeNs, probeJpeg, type CodecCostModel, type RawFrameLayout,
} from "./jpeg-codec.js";
import type { JpegBackend } from "./jpeg-backend.js";
import { M2mCodecState, bufCopyMetadata } from "./internal/m2m-codec-state.js";
import { planeAccess } from "./internal/plane-access.js";

export type CodecRole = "encoder" | "decoder";

/** Per-queue format state (struct vicodec_q_data). */
interface QueueData {
  pixelformat: number;
  /** Format width/height: the coded (aligned) size for raw queues. */
  width: number;
  height: number;
  bytesperline: number;
  sizeimage: number;
  /** Encoder OUTPUT crop / decoder CAPTURE compose: the picture in the JPEG. */
  visibleWidth: number;
  visibleHeight: number;
  /** sizeimage when the buffers were set up (queue_setup), what buf_prepare checks against. */
  vb2Sizeimage: number;
  sequence: number;
}

const CODED_FORMATS = [V4L2_PIX_FMT_JPEG, V4L2_PIX_FMT_MJPEG];
const FORMAT_NAMES: ReadonlyMap<number, string> = new Map([
  [V4L2_PIX_FMT_NV12, "Y/UV 4:2:0"],
  [V4L2_PIX_FMT_YUYV, "YUYV 4:2:2"],
  [V4L2_PIX_FMT_XBGR32, "32-bit BGRX 8-8-8-8"],
  [V4L2_PIX_FMT_JPEG, "JFIF JPEG"],
  [V4L2_PIX_FMT_MJPEG, "Motion-JPEG"],
]);
const DECODER_VISIBLE_TARGETS = [
  V4L2_SEL_TGT_CROP, V4L2_SEL_TGT_CROP_DEFAULT, V4L2_SEL_TGT_COMPOSE, V4L2_SEL_TGT_COMPOSE_DEFAULT, V4L2_SEL_TGT_COMPOSE_BOUNDS,
  V4L2_SEL_TGT_COMPOSE_PADDED,
];
/** How much of a bitstream buffer the decoder reads to find the frame header. */
const HEADER_PROBE_BYTES = 64 * 1024;
/** Smallest coded buffer the driver accepts. */
const MIN_CODED_SIZE = 4096;
const MAX_CODED_SIZE = 64 << 20;
/** Size the stream is assumed to have before its headers are parsed (V4L2 drivers use a default too). */
const DEFAULT_WIDTH = 1280;
const DEFAULT_HEIGHT = 720;

/** What a job's library work yields: the bitstream size and the output DMA to run at completion. */
interface JobResult {
  readonly bytes: number;
  readonly store: () => void;
}

/** One hardware job in flight. */
interface Job {
  readonly src: Vb2Buffer;
  readonly dst: Vb2Buffer;
  readonly startNs: number;
  /** The visible picture's size when the job started (what its cost is counted over). */
  readonly width: number;
  readonly height: number;
  /** Settles when the library is done; `outcome` is then set (`result` undefined: the job failed). */
  work?: Promise<void>;
  outcome?: { result: JobResult | undefined };
  timer?: Timer;
  aborted: boolean;
}

/** Options of the codec plugin's devices. */
export interface JpegM2mOptions {
  /** The JPEG library (default: sharp / libjpeg-turbo). */
  backend?: JpegBackend;
  /** Virtual-time cost of a job (the plugin passes ENCODER_COST / DECODER_COST unless told otherwise). */
  cost: CodecCostModel;
}

/**
 * One codec device (struct vicodec_dev_instance): its /dev/videoN node, the device-wide job queue,
 * the codec core and the device's constraints.
 */
export class JpegM2mDevice {
  readonly constraints: CodecConstraints;
  readonly codec: JpegCodec;
  readonly m2mDev: V4l2M2mDev;
  readonly vdev: VideoDevice;
  readonly ctrls = new V4l2CtrlHandler();
  readonly contexts = new Set<JpegCtx>();

  constructor(
    readonly kernel: Kernel,
    readonly dev: Device,
    readonly role: CodecRole,
    private readonly options: JpegM2mOptions,
  ) {
    this.constraints = codecConstraints(dev);
    this.codec = new JpegCodec(options.backend);
    this.m2mDev = new V4l2M2mDev(kernel, {
      deviceRun: (priv) => (priv as JpegCtx).deviceRun(),
      jobReady: (priv) => (priv as JpegCtx).jobReady(),
      jobAbort: (priv) => (priv as JpegCtx).jobAbort(),
    });
    const enc = role === "encoder";
    this.ctrls.add({
      id: enc ? V4L2_CID_MIN_BUFFERS_FOR_OUTPUT : V4L2_CID_MIN_BUFFERS_FOR_CAPTURE,
      name: enc ? "Min Number of Output Buffers" : "Min Number of Capture Buffers",
      type: V4L2_CTRL_TYPE_INTEGER, min: 1, max: 1, def: 1, flags: V4L2_CTRL_FLAG_READ_ONLY,
    });
    if (enc)
      this.ctrls.add({
        id: V4L2_CID_JPEG_COMPRESSION_QUALITY, name: "Compression Quality", type: V4L2_CTRL_TYPE_INTEGER,
        min: 1, max: 100, def: this.codec.quality, set: (v) => (this.codec.quality = v),
      });
    this.vdev = new VideoDevice(kernel, {
      name: enc ? "sim-jpeg-encoder" : "sim-jpeg-decoder",
      deviceCaps: V4L2_CAP_VIDEO_M2M | V4L2_CAP_STREAMING,
      ioctlOps: jpegIoctlOps,
      ctrlHandler: this.ctrls,
      fileHooks: {
        ...v4l2M2mFileHooks,
        open: (fh) => void this.contexts.add(new JpegCtx(this, fh)),
        release: (fh) => {
          const ctx = fh.priv as JpegCtx;
          ctx.m2m.release();
          this.contexts.delete(ctx);
        },
      },
    });
  }

  get cost(): CodecCostModel {
    return this.options.cost;
  }

  /** The raw format's layout for `width` x `height` with at least `bytesperline` (0: minimum). */
  rawFormat(pixelformat: number, width: number, height: number, bytesperline = 0): Pick<QueueData, "bytesperline" | "sizeimage"> {
    const { bpp, num, den } = RAW_LAYOUT.get(pixelformat)!;
    const bpl = alignUp(Math.max(bytesperline, width * bpp), this.constraints.strideAlign);
    return { bytesperline: bpl, sizeimage: (bpl * height * num) / den };
  }

  /** Clamps and aligns a requested raw size to what the device can code. */
  codedSize(width: number, height: number): [number, number] {
    const c = this.constraints;
    const clamp = (v: number, lo: number, hi: number, a: number) => alignUp(Math.min(Math.max(v || lo, lo), hi), a);
    return [clamp(width, c.minWidth, c.maxWidth, c.widthAlign), clamp(height, c.minHeight, c.maxHeight, c.heightAlign)];
  }

  /** Default size of a JPEG buffer for a picture: one byte per pixel, page aligned. */
  codedBufferSize(width: number, height: number): number {
    return Math.min(Math.max(alignUp(width * height, 4096), MIN_CODED_SIZE), MAX_CODED_SIZE);
  }
}

/** Per-open state (struct vicodec_ctx). */
export class JpegCtx {
  readonly m2m: V4l2M2mCtx;
  readonly state: M2mCodecState;
  readonly out: QueueData;
  readonly cap: QueueData;
  /** Encoder: raw (OUTPUT) and coded (CAPTURE) frame intervals, S_PARM. */
  private intervals = { out: { numerator: 1, denominator: 30 }, cap: { numerator: 1, denominator: 30 } };
  /** Encoder: the CAPTURE sizeimage the client asked for (S_FMT), kept across OUTPUT format changes. */
  private requestedCodedSize = 0;
  /** Decoder: the first SOURCE_CHANGE of this stream was sent (buf_queue parsed the headers). */
  private firstSourceChangeSent = false;
  /** Decoder: a resolution change is pending until CAPTURE is restarted. */
  private sourceChanged = false;
  private job: Job | undefined;

  constructor(
    readonly device: JpegM2mDevice,
    readonly fh: V4l2Fh,
  ) {
    const d = device;
    const [w, h] = d.codedSize(DEFAULT_WIDTH, DEFAULT_HEIGHT);
    const raw = (pf: number): QueueData => ({ pixelformat: pf, width: w, height: h, ...d.rawFormat(pf, w, h), visibleWidth: w, visibleHeight: h, vb2Sizeimage: 0, sequence: 0 });
    const coded = (): QueueData => ({ pixelformat: V4L2_PIX_FMT_JPEG, width: DEFAULT_WIDTH, height: DEFAULT_HEIGHT, bytesperline: 0, sizeimage: d.codedBufferSize(w, h), visibleWidth: DEFAULT_WIDTH, visibleHeight: DEFAULT_HEIGHT, vb2Sizeimage: 0, sequence: 0 });
    this.out = d.role === "encoder" ? raw(V4L2_PIX_FMT_NV12) : coded();
    this.cap = d.role === "encoder" ? coded() : raw(V4L2_PIX_FMT_NV12);
    const queue = (type: number) =>
      vb2QueueInit(new Vb2Queue(d.kernel, {
        type, ioModes: VB2_MMAP | VB2_DMABUF, ops: this.vb2Ops, memOps: vb2DmaContigMemOps, dev: d.dev, drvPriv: this,
        timestampFlags: V4L2_BUF_FLAG_TIMESTAMP_COPY, isOutput: V4L2_TYPE_IS_OUTPUT(type), isMultiplanar: false,
      }));
    this.m2m = new V4l2M2mCtx(d.m2mDev, this, queue(V4L2_BUF_TYPE_VIDEO_OUTPUT), queue(V4L2_BUF_TYPE_VIDEO_CAPTURE));
    this.state = new M2mCodecState(this.m2m);
    fh.m2mCtx = this.m2m;
    fh.priv = this;
  }

  get isEncoder(): boolean {
    return this.device.role === "encoder";
  }

  qdata(type: number): QueueData {
    return V4L2_TYPE_IS_OUTPUT(type) ? this.out : this.cap;
  }

  private get kernel(): Kernel {
    return this.device.kernel;
  }

  private queueEos(): void {
    this.fh.queueEvent(V4L2_EVENT_EOS, 0, {});
  }

  private queueSourceChange(): void {
    this.fh.queueEvent(V4L2_EVENT_SOURCE_CHANGE, 0, { src_change: { changes: V4L2_EVENT_SRC_CH_RESOLUTION } });
  }

  /* ------------------------------------------------------------------ formats */

  /** vidioc_g_fmt() */
  gFmt(f: v4l2_format): void {
    const q = this.qdata(f.type);
    f.fmt.pix = {
      width: q.width, height: q.height, pixelformat: q.pixelformat, field: V4L2_FIELD_NONE, bytesperline: q.bytesperline,
      sizeimage: q.sizeimage, colorspace: RAW_LAYOUT.has(q.pixelformat) ? V4L2_COLORSPACE_SMPTE170M : V4L2_COLORSPACE_JPEG,
    };
  }

  /** vidioc_try_fmt(): adjusts `f` to what the device would set, changing nothing. */
  tryFmt(f: v4l2_format): void {
    const pix = (f.fmt.pix ??= { width: 0, height: 0, pixelformat: 0, field: 0, bytesperline: 0, sizeimage: 0, colorspace: 0 });
    const d = this.device;
    const rawSide = this.isEncoder === V4L2_TYPE_IS_OUTPUT(f.type);
    pix.field = V4L2_FIELD_NONE;
    if (rawSide) {
      const allowed = this.isEncoder ? RAW_ENCODE_FORMATS : RAW_DECODE_FORMATS;
      if (!allowed.includes(pix.pixelformat)) pix.pixelformat = this.qdata(f.type).pixelformat;
      // Decoder CAPTURE: the size comes from the stream, not from the client.
      const [w, h] = this.isEncoder ? d.codedSize(pix.width, pix.height) : [this.cap.width, this.cap.height];
      Object.assign(pix, { width: w, height: h }, d.rawFormat(pix.pixelformat, w, h, pix.bytesperline));
      pix.colorspace = V4L2_COLORSPACE_SMPTE170M;
    } else {
      if (!CODED_FORMATS.includes(pix.pixelformat) || (this.isEncoder && pix.pixelformat !== V4L2_PIX_FMT_JPEG)) pix.pixelformat = V4L2_PIX_FMT_JPEG;
      if (this.isEncoder) {
        // Encoder CAPTURE: width/height are read-only, the picture the OUTPUT crop selects.
        pix.width = this.out.visibleWidth;
        pix.height = this.out.visibleHeight;
      } else if (pix.width || pix.height) {
        const c = d.constraints;
        pix.width = Math.min(Math.max(pix.width, c.minWidth), c.maxWidth);
        pix.height = Math.min(Math.max(pix.height, c.minHeight), c.maxHeight);
      }
      pix.bytesperline = 0;
      const def = this.isEncoder ? d.codedBufferSize(this.out.width, this.out.height) : d.codedBufferSize(pix.width || DEFAULT_WIDTH, pix.height || DEFAULT_HEIGHT);
      pix.sizeimage = pix.sizeimage ? Math.min(Math.max(pix.sizeimage, MIN_CODED_SIZE), MAX_CODED_SIZE) : def;
      pix.colorspace = V4L2_COLORSPACE_JPEG;
    }
  }

  /** vidioc_s_fmt(): TRY, then commit unless the queue's buffers make the change impossible (EBUSY). */
  sFmt(f: v4l2_format): void {
    this.tryFmt(f);
    const pix = f.fmt.pix!;
    const q = this.qdata(f.type);
    const vq = this.m2m.vq(f.type);
    const changed = q.pixelformat !== pix.pixelformat || q.width !== pix.width || q.height !== pix.height || q.bytesperline !== pix.bytesperline || q.sizeimage !== pix.sizeimage;
    check(!(vq.isBusy && changed), "EBUSY", "VIDIOC_S_FMT", `${fourccToString(q.pixelformat)} buffers are allocated on this queue`);
    if (this.isEncoder && !V4L2_TYPE_IS_OUTPUT(f.type))
      // dev-encoder.rst "Commit points": CAPTURE is the master format; no change while either queue has buffers.
      check(!this.m2m.outQ.isBusy || !changed, "EBUSY", "VIDIOC_S_FMT", "OUTPUT buffers are allocated");
    if (this.isEncoder && V4L2_TYPE_IS_OUTPUT(f.type)) {
      const codedSize = Math.max(this.requestedCodedSize, this.device.codedBufferSize(pix.width, pix.height));
      check(!this.m2m.capQ.isBusy || codedSize <= this.cap.sizeimage, "EBUSY", "VIDIOC_S_FMT", "CAPTURE buffers are too small for the new size");
      Object.assign(q, { pixelformat: pix.pixelformat, width: pix.width, height: pix.height, bytesperline: pix.bytesperline, sizeimage: pix.sizeimage });
      // Setting the OUTPUT format resets the crop to the whole frame (dev-encoder.rst, step 3).
      q.visibleWidth = pix.width;
      q.visibleHeight = pix.height;
      Object.assign(this.cap, { width: pix.width, height: pix.height, visibleWidth: pix.width, visibleHeight: pix.height, sizeimage: codedSize });
      return;
    }
    if (this.isEncoder) this.requestedCodedSize = pix.sizeimage;
    Object.assign(q, { pixelformat: pix.pixelformat, width: pix.width, height: pix.height, bytesperline: pix.bytesperline, sizeimage: pix.sizeimage });
    if (!this.isEncoder && V4L2_TYPE_IS_OUTPUT(f.type) && pix.width && pix.height && !this.m2m.capQ.isBusy)
      // A decoder told the size up front sets CAPTURE to match until the stream says otherwise.
      this.setCaptureSize(pix.width, pix.height);
  }

  /** update_capture_data_from_header(): the decoder's CAPTURE format for a `width` x `height` picture. */
  private setCaptureSize(width: number, height: number): void {
    const [w, h] = this.device.codedSize(width, height);
    Object.assign(this.cap, { width: w, height: h, visibleWidth: width, visibleHeight: height }, this.device.rawFormat(this.cap.pixelformat, w, h));
  }

  /**
   * vidioc_g_selection(): the encoder's OUTPUT crop (bounds and default: the whole frame), the
   * decoder's CAPTURE rectangles as dev-decoder.rst states them for hardware that neither scales nor
   * writes padding: everything is the visible rectangle except CROP_BOUNDS, the coded size.
   */
  gSelection(s: v4l2_selection): void {
    const q = this.qdata(s.type);
    const full = { left: 0, top: 0, width: q.width, height: q.height };
    const visible = { left: 0, top: 0, width: q.visibleWidth, height: q.visibleHeight };
    if (this.isEncoder && s.type === V4L2_BUF_TYPE_VIDEO_OUTPUT) {
      if (s.target === V4L2_SEL_TGT_CROP) return void (s.r = visible);
      if (s.target === V4L2_SEL_TGT_CROP_DEFAULT || s.target === V4L2_SEL_TGT_CROP_BOUNDS) return void (s.r = full);
    } else if (!this.isEncoder && s.type === V4L2_BUF_TYPE_VIDEO_CAPTURE) {
      if (s.target === V4L2_SEL_TGT_CROP_BOUNDS) return void (s.r = full);
      if (DECODER_VISIBLE_TARGETS.includes(s.target)) return void (s.r = visible);
    }
    throw new Errno("EINVAL", "VIDIOC_G_SELECTION", `target 0x${s.target.toString(16)} is not supported on buffer type ${s.type}`);
  }

  /** vidioc_s_selection(): only the encoder's OUTPUT crop, clamped into the frame. */
  sSelection(s: v4l2_selection): void {
    check(this.isEncoder && s.type === V4L2_BUF_TYPE_VIDEO_OUTPUT && s.target === V4L2_SEL_TGT_CROP, "EINVAL", "VIDIOC_S_SELECTION", "only the encoder's OUTPUT crop can be set");
    const c = this.device.constraints;
    const w = alignUp(Math.min(Math.max(s.r.width, c.minWidth), this.out.width), 2);
    const h = alignUp(Math.min(Math.max(s.r.height, c.minHeight), this.out.height), 2);
    s.r = { left: 0, top: 0, width: Math.min(w, this.out.width), height: Math.min(h, this.out.height) };
    this.out.visibleWidth = s.r.width;
    this.out.visibleHeight = s.r.height;
    this.cap.width = s.r.width;
    this.cap.height = s.r.height;
  }

  interval(type: number): v4l2_fract {
    return V4L2_TYPE_IS_OUTPUT(type) ? this.intervals.out : this.intervals.cap;
  }

  /** S_PARM(OUTPUT) also sets the coded frame interval (dev-encoder.rst step 4); S_PARM(CAPTURE) only that. */
  setInterval(type: number, interval: v4l2_fract): void {
    if (V4L2_TYPE_IS_OUTPUT(type)) this.intervals.out = interval;
    this.intervals.cap = interval;
  }

  /* ------------------------------------------------------------------ commands */

  /** vicodec_encoder_cmd() / vicodec_decoder_cmd(): STOP starts the drain, START resumes. */
  command(cmd: number, call: string): void {
    // Without OUTPUT streaming there is nothing to drain: success, no effect (dev-encoder.rst "Drain").
    if (!this.m2m.outQ.isStreaming) return;
    const wasStopped = this.state.hasStopped;
    this.state.command(cmd, call);
    if (cmd === V4L2_ENC_CMD_STOP && this.state.hasStopped) this.queueEos();
    // START resumes a stopped codec: CAPTURE may be dequeued again (vb2_clear_last_buffer_dequeued).
    // Only a START that finds the codec stopped clears it (vicodec-core.c vicodec_encoder_cmd(), guarded by
    // v4l2_m2m_has_stopped(), meant as the state before v4l2_m2m_encoder_cmd() cleared has_stopped): a START
    // issued while the LAST buffer is still undequeued resumes the codec, and once that LAST buffer is
    // dequeued a later START leaves DQBUF(CAPTURE) at EPIPE until STREAMOFF (videobuf2-core.c).
    if (cmd === V4L2_ENC_CMD_START && wasStopped) this.m2m.capQ.lastBufferDequeued = false;
  }

  /* ------------------------------------------------------------------ vb2 ops */

  readonly vb2Ops: Vb2Ops = {
    queueSetup: (q, args) => {
      const data = this.qdata(q.type);
      if (args.numPlanes) {
        check(args.sizes[0]! >= data.sizeimage, "EINVAL", "queue_setup", `plane size ${args.sizes[0]} < sizeimage ${data.sizeimage}`);
        data.vb2Sizeimage = data.sizeimage;
        return;
      }
      args.numPlanes = 1;
      args.sizes[0] = data.sizeimage;
      data.vb2Sizeimage = data.sizeimage;
    },
    bufOutValidate: (vb) => {
      vb.field = V4L2_FIELD_NONE;
    },
    bufPrepare: (vb) => {
      if (vb.queue.isOutput) {
        if (vb.field === V4L2_FIELD_ANY) vb.field = V4L2_FIELD_NONE;
        check(vb.field === V4L2_FIELD_NONE, "EINVAL", "buf_prepare", `field ${vb.field} is not supported`);
      }
      const need = this.qdata(vb.queue.type).vb2Sizeimage;
      check(vb.planeSize(0) >= need, "EINVAL", "buf_prepare", `data will not fit into plane (${vb.planeSize(0)} < ${need})`);
    },
    bufQueue: (vb) => this.bufQueue(vb),
    startStreaming: (q) => {
      this.qdata(q.type).sequence = 0;
      this.state.updateStartStreamingState(q);
    },
    stopStreaming: (q) => this.stopStreaming(q),
  };

  /** vicodec_buf_queue() */
  private bufQueue(vb: Vb2Buffer): void {
    const q = vb.queue;
    if (!q.isOutput && q.isStreaming && this.state.dstBufIsLast()) {
      vb.setPlanePayload(0, 0);
      vb.field = V4L2_FIELD_NONE;
      vb.sequence = this.cap.sequence++;
      this.state.lastBufferDone(vb);
      this.queueEos();
      return;
    }
    // Only the decoder's OUTPUT, before both queues stream, parses headers here (the first SOURCE_CHANGE).
    if (this.isEncoder || !q.isOutput || this.firstSourceChangeSent || (this.m2m.outQ.isStreaming && this.m2m.capQ.isStreaming))
      return this.m2m.bufQueue(vb);
    const header = probeJpeg(this.readBitstream(vb, HEADER_PROBE_BYTES));
    if (!header) return this.m2m.bufDone(vb, VB2_BUF_STATE_ERROR);
    this.setCaptureSize(header.width, header.height);
    this.firstSourceChangeSent = true;
    this.queueSourceChange();
    this.m2m.bufQueue(vb);
  }

  /** vicodec_stop_streaming() */
  private stopStreaming(q: Vb2Queue): void {
    const rdy = q.isOutput ? this.m2m.rdySrc : this.m2m.rdyDst;
    for (const vb of rdy.splice(0)) this.m2m.bufDone(vb, VB2_BUF_STATE_ERROR);
    this.state.updateStopStreamingState(q);
    if (q.isOutput && this.state.hasStopped) this.queueEos();
    if (!this.isEncoder && q.isOutput) this.firstSourceChangeSent = false;
    if (!this.isEncoder && !q.isOutput) this.sourceChanged = false;
  }

  /* ------------------------------------------------------------------ jobs */

  /** The device reads the OUTPUT buffer's payload (the JPEG) through its mapping. */
  private readBitstream(vb: Vb2Buffer, limit = Infinity): Uint8Array {
    const bytes = new Uint8Array(Math.min(vb.planes[0]!.bytesused, limit));
    planeAccess(vb).read(0, bytes);
    return bytes;
  }

  /** job_ready() */
  jobReady(): boolean {
    // __v4l2_m2m_try_queue(): a stopped context runs no job until START or a restart.
    if (this.state.hasStopped || this.sourceChanged) return false;
    if (this.isEncoder) return true;
    const src = this.m2m.nextSrcBuf()!;
    const header = probeJpeg(this.readBitstream(src, HEADER_PROBE_BYTES));
    // A corrupt stream is failed by device_run.
    if (!header || (header.width === this.cap.visibleWidth && header.height === this.cap.visibleHeight)) return true;
    // Resolution change: finish the old resolution with an empty LAST buffer and tell the client.
    const dst = this.m2m.dstBufRemove()!;
    this.setCaptureSize(header.width, header.height);
    this.queueSourceChange();
    dst.setPlanePayload(0, 0);
    dst.sequence = this.cap.sequence++;
    bufCopyMetadata(src, dst, false);
    dst.flags |= V4L2_BUF_FLAG_LAST;
    this.m2m.bufDone(dst, VB2_BUF_STATE_DONE);
    this.sourceChanged = true;
    return false;
  }

  private layout(q: QueueData): RawFrameLayout {
    return { pixelformat: q.pixelformat, width: q.visibleWidth, height: q.visibleHeight, bytesperline: q.bytesperline, chromaOffset: q.bytesperline * q.height };
  }

  /**
   * device_run(): start the hardware on the next OUTPUT/CAPTURE pair. The library works beside the
   * simulation; the job cannot complete before every macroblock is done (the cost model with no
   * bitstream yet), so virtual time runs freely up to that point, and is held there only if the
   * library is still busy. The completion is then armed at the job's full cost. Both timers are
   * armed at fixed points of virtual time, so the trace does not depend on the library's real speed.
   */
  deviceRun(): void {
    const src = this.m2m.nextSrcBuf()!;
    const dst = this.m2m.dstBufRemove()!;
    const q = this.isEncoder ? this.out : this.cap;
    const job: Job = { src, dst, startNs: this.kernel.clock.now(), width: q.visibleWidth, height: q.visibleHeight, aborted: false };
    this.job = job;
    const cost = this.device.cost;
    this.kernel.trace.emit("codec_job_start", { dev: this.device.dev.name, src: src.index, dst: dst.index, seq: this.out.sequence });
    let earliest = cost.jobOverheadNs;
    try {
      const work = this.isEncoder ? this.startEncode(src, dst) : this.startDecode(src, dst);
      job.work = work.then(
        (result) => void (job.outcome = { result }),
        () => void (job.outcome = { result: undefined }),
      );
      earliest = jobTimeNs(cost, job.width, job.height, 0);
    } catch {
      // Refused before the hardware started (bad layout, not a JPEG of the negotiated size).
      job.outcome = { result: undefined };
    }
    job.timer = this.kernel.clock.addTimer(earliest, () => this.jobDue(job), `${this.device.dev.name} job`);
  }

  /** Encoder: the device reads the raw frame now (job start); the bitstream is written at completion. */
  private startEncode(src: Vb2Buffer, dst: Vb2Buffer): Promise<JobResult> {
    return this.device.codec.encode(planeAccess(src), this.layout(this.out)).then((jpeg) => ({ bytes: jpeg.length, store: () => this.storeBitstream(dst, jpeg) }));
  }

  /** Decoder: the device reads the bitstream now; the picture is written at completion. */
  private startDecode(src: Vb2Buffer, dst: Vb2Buffer): Promise<JobResult> {
    const jpeg = this.readBitstream(src);
    const header = probeJpeg(jpeg);
    check(header !== null && header.width === this.cap.visibleWidth && header.height === this.cap.visibleHeight, "EINVAL", "device_run", "not a JPEG of the negotiated size");
    const codec = this.device.codec;
    return codec.decode(jpeg).then((pic) => ({
      bytes: jpeg.length,
      store: () => {
        codec.store(pic, planeAccess(dst), this.layout(this.cap));
        dst.setPlanePayload(0, this.cap.sizeimage);
      },
    }));
  }

  /** The job's earliest completion time: complete it if the library is done, else hold time until it is. */
  private jobDue(job: Job): void {
    if (job.outcome) return this.completeAt(job);
    void this.kernel.clock.hold(job.work!).then(() => this.completeAt(job));
  }

  /** Writes the JPEG into the CAPTURE buffer. Too small a buffer is an error (dev-encoder.rst). */
  private storeBitstream(dst: Vb2Buffer, jpeg: Uint8Array): void {
    check(jpeg.length <= dst.planeSize(0), "ENOSPC", "device_run", `JPEG of ${jpeg.length} bytes does not fit the ${dst.planeSize(0)}-byte CAPTURE buffer`);
    planeAccess(dst).write(0, jpeg);
    dst.setPlanePayload(0, jpeg.length);
  }

  /** Arms the completion at the job's start plus the modelled cost (now at the earliest). */
  private completeAt(job: Job): void {
    // fail_device_stall: the completion interrupt never comes; STREAMOFF or close aborts the job.
    if (job.aborted || this.kernel.faults.shouldFail("fail_device_stall", this.device.dev.name)) return;
    const { result } = job.outcome!;
    // The bitstream size (JPEG produced or consumed) is known once the library is done; a job
    // refused at the start costs the fixed overhead, one failed in the library its macroblocks too.
    const cost = result ? jobTimeNs(this.device.cost, job.width, job.height, result.bytes) : this.device.cost.jobOverheadNs;
    const delay = Math.max(0, job.startNs + cost - this.kernel.clock.now());
    job.timer = this.kernel.clock.addTimer(delay, () => this.finish(job, result), `${this.device.dev.name} irq`);
  }

  /** The hardware's completion interrupt: device_run()'s second half in vicodec. */
  private finish(job: Job, result: JobResult | undefined): void {
    const { src, dst } = job;
    this.job = undefined;
    let state: Vb2BufferState = VB2_BUF_STATE_DONE;
    const bytes = result?.bytes ?? 0;
    try {
      if (!result) throw new Errno("EIO", "device_run", "codec error");
      result.store();
      dst.flags |= V4L2_BUF_FLAG_KEYFRAME;
      dst.sequence = this.cap.sequence++;
    } catch {
      state = VB2_BUF_STATE_ERROR;
      dst.setPlanePayload(0, 0);
    }
    dst.flags &= ~V4L2_BUF_FLAG_LAST;
    bufCopyMetadata(src, dst, false);
    if (this.state.isLastDrainingSrcBuf(src)) {
      dst.flags |= V4L2_BUF_FLAG_LAST;
      this.queueEos();
      this.state.markStopped();
    }
    src.sequence = this.out.sequence++;
    this.m2m.srcBufRemove();
    this.m2m.bufDone(src, state);
    this.m2m.bufDone(dst, state);
    const now = this.kernel.clock.now();
    const name = this.device.dev.name;
    this.kernel.trace.emit("codec_job_finish", { dev: name, src: src.index, dst: dst.index, bytes, status: state === VB2_BUF_STATE_DONE ? 0 : -5 });
    this.kernel.trace.slice(name, this.isEncoder ? "encode" : "decode", job.startNs, now - job.startNs, { frame: src.sequence, bytes });
    v4l2M2mJobFinish(this.device.m2mDev, this.m2m);
  }

  /** job_abort(): STREAMOFF or close while a job runs: the CAPTURE buffer comes back in error. */
  jobAbort(): void {
    const job = this.job;
    if (!job) return;
    job.aborted = true;
    this.kernel.clock.cancelTimer(job.timer);
    this.job = undefined;
    job.dst.setPlanePayload(0, 0);
    this.m2m.bufDone(job.dst, VB2_BUF_STATE_ERROR);
    // v4l2_m2m_cancel_job() waits for the job to end; here it ends now.
    const m2mDev = this.device.m2mDev;
    if (m2mDev.currCtx === this.m2m) {
      m2mDev.currCtx = undefined;
      this.m2m.running = false;
      m2mDev.scheduleRun();
    }
  }
}

const ctxOf = (fh: V4l2Fh) => fh.priv as JpegCtx;

/** vicodec_ioctl_ops: formats, selections and codec commands here; buffer ioctls from v4l2-mem2mem. */
const jpegIoctlOps: V4l2IoctlOps = {
  ...v4l2M2mIoctlOps,
  vidioc_querycap(fh, cap: v4l2_capability) {
    const d = ctxOf(fh).device;
    cap.driver = "sim-jpeg";
    cap.card = d.vdev.name;
    cap.bus_info = `platform:${d.dev.name}`;
  },
  vidioc_enum_fmt(fh, f: v4l2_fmtdesc) {
    const ctx = ctxOf(fh);
    const rawSide = ctx.isEncoder === V4L2_TYPE_IS_OUTPUT(f.type);
    const list = rawSide ? (ctx.isEncoder ? RAW_ENCODE_FORMATS : RAW_DECODE_FORMATS) : ctx.isEncoder ? [V4L2_PIX_FMT_JPEG] : CODED_FORMATS;
    const pf = list[f.index];
    check(pf !== undefined, "EINVAL", "VIDIOC_ENUM_FMT", `index ${f.index} out of range`);
    f.pixelformat = pf;
    f.description = FORMAT_NAMES.get(pf)!;
    f.flags = rawSide ? 0 : V4L2_FMT_FLAG_COMPRESSED | (ctx.isEncoder ? 0 : V4L2_FMT_FLAG_DYN_RESOLUTION);
  },
  vidioc_g_fmt: (fh, f) => ctxOf(fh).gFmt(f),
  vidioc_try_fmt: (fh, f) => ctxOf(fh).tryFmt(f),
  vidioc_s_fmt: (fh, f) => ctxOf(fh).sFmt(f),
  /** Encoder only: the frame interval (dev-encoder.rst Initialization 4-5); S_PARM(OUTPUT) sets both queues'. */
  vidioc_g_parm(fh, sp: v4l2_streamparm) {
    const ctx = ctxOf(fh);
    if (!ctx.isEncoder) throw new Errno("ENOTTY", "VIDIOC_G_PARM", "a decoder has no frame interval");
    const interval = ctx.interval(sp.type);
    const parm = { capability: V4L2_CAP_TIMEPERFRAME, timeperframe: { ...interval } };
    sp.parm = V4L2_TYPE_IS_OUTPUT(sp.type) ? { output: { ...parm, outputmode: 0, extendedmode: 0, writebuffers: 0 } } : { capture: { ...parm, capturemode: 0, extendedmode: 0, readbuffers: 0 } };
  },
  vidioc_s_parm(fh, sp: v4l2_streamparm) {
    const ctx = ctxOf(fh);
    if (!ctx.isEncoder) throw new Errno("ENOTTY", "VIDIOC_S_PARM", "a decoder has no frame interval");
    const t = (V4L2_TYPE_IS_OUTPUT(sp.type) ? sp.parm.output : sp.parm.capture)?.timeperframe;
    // A zero fraction selects the default, as in v4l2 drivers; the hardware takes any other.
    const interval = t && t.numerator > 0 && t.denominator > 0 ? { numerator: t.numerator, denominator: t.denominator } : { numerator: 1, denominator: 30 };
    ctx.setInterval(sp.type, interval);
    jpegIoctlOps.vidioc_g_parm!(fh, sp);
  },
  vidioc_enum_framesizes(fh, fs: v4l2_frmsizeenum) {
    const ctx = ctxOf(fh);
    const known = [...(ctx.isEncoder ? RAW_ENCODE_FORMATS : RAW_DECODE_FORMATS), ...CODED_FORMATS];
    check(known.includes(fs.pixel_format) && fs.index === 0, "EINVAL", "VIDIOC_ENUM_FRAMESIZES", "unknown format or index");
    const c = ctx.device.constraints;
    fs.type = V4L2_FRMSIZE_TYPE_STEPWISE;
    fs.stepwise = { min_width: c.minWidth, max_width: c.maxWidth, step_width: c.widthAlign, min_height: c.minHeight, max_height: c.maxHeight, step_height: c.heightAlign };
  },
  vidioc_qbuf(fh, b: v4l2_buffer) {
    v4l2M2mIoctlOps.vidioc_qbuf!(fh, b);
    const ctx = ctxOf(fh);
    ctx.state.forceLastBufDoneIfStopped(ctx.m2m.vq(b.type));
  },
  vidioc_subscribe_event(fh, sub: v4l2_event_subscription) {
    const enc = ctxOf(fh).isEncoder;
    const ok = sub.type === V4L2_EVENT_EOS || (sub.type === V4L2_EVENT_SOURCE_CHANGE && !enc);
    check(ok, "EINVAL", "VIDIOC_SUBSCRIBE_EVENT", `event type ${sub.type} is not supported by this ${enc ? "encoder" : "decoder"}`);
  },
  vidioc_default(fh, request, arg) {
    const ctx = ctxOf(fh);
    switch (request) {
      case VIDIOC_G_SELECTION:
        ctx.gSelection(arg as v4l2_selection);
        return 0;
      case VIDIOC_S_SELECTION:
        ctx.sSelection(arg as v4l2_selection);
        return 0;
      case VIDIOC_TRY_ENCODER_CMD:
      case VIDIOC_ENCODER_CMD:
      case VIDIOC_TRY_DECODER_CMD:
      case VIDIOC_DECODER_CMD: {
        const enc = request === VIDIOC_TRY_ENCODER_CMD || request === VIDIOC_ENCODER_CMD;
        const call = enc ? (request === VIDIOC_ENCODER_CMD ? "VIDIOC_ENCODER_CMD" : "VIDIOC_TRY_ENCODER_CMD") : request === VIDIOC_DECODER_CMD ? "VIDIOC_DECODER_CMD" : "VIDIOC_TRY_DECODER_CMD";
        // v4l2_disable_ioctl(): the other role's commands do not exist on this node.
        if (enc !== ctx.isEncoder) throw new Errno("ENOTTY", call, `not ${enc ? "an encoder" : "a decoder"}`);
        const c = arg as v4l2_encoder_cmd & v4l2_decoder_cmd;
        tryCommand(c, enc, call);
        if (request === VIDIOC_ENCODER_CMD || request === VIDIOC_DECODER_CMD) ctx.command(c.cmd, call);
        return 0;
      }
      default:
        throw new Errno("ENOTTY", "ioctl", `${ctx.device.vdev.name}: unknown ioctl 0x${(request >>> 0).toString(16)}`);
    }
  },
};

/**
 * v4l2_m2m_ioctl_try_encoder_cmd() / v4l2_m2m_ioctl_try_decoder_cmd(): only START and STOP;
 * flags (and the decoder's stop.pts, start.speed/format) are cleared, stateful codecs support none.
 */
function tryCommand(c: v4l2_encoder_cmd & v4l2_decoder_cmd, enc: boolean, call: string): void {
  const [start, stop] = enc ? [V4L2_ENC_CMD_START, V4L2_ENC_CMD_STOP] : [V4L2_DEC_CMD_START, V4L2_DEC_CMD_STOP];
  check(c.cmd === start || c.cmd === stop, "EINVAL", call, `command ${c.cmd} is not supported by a stateful ${enc ? "encoder" : "decoder"}`);
  c.flags = 0;
  if (!enc) {
    if (c.cmd === V4L2_DEC_CMD_STOP) c.stop = { pts: 0n };
    else c.start = { speed: 0, format: 0 };
  }
}
