/**
 * The SoC pipeline, written as the userspace of a real system would be: a camera process captures
 * into MMAP buffers and exports them (VIDIOC_EXPBUF); it passes the dma-buf fds over a socket
 * (SCM_RIGHTS) to an encoder process, which imports them into a JPEG encoder (V4L2_MEMORY_DMABUF),
 * and to a compositor process, which imports them into the display (PRIME) and flips to them with
 * an IN_FENCE_FD taken from the buffer's implicit fences. Everything runs in virtual time.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import "reflect-metadata";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE, DMA_BUF_SYNC_READ, Kernel, MAP_SHARED, O_CLOEXEC, O_RDWR, isErrno, PROT_READ, PROT_WRITE,
  WaitQueue, type BootOptions, type DriverPlugin, type VmArea,
} from "@dmabuf/core";
import codecSim, { V4L2_PIX_FMT_JPEG, V4L2_SEL_TGT_CROP, VIDIOC_S_SELECTION } from "@dmabuf/codec-sim";
import drmSim, * as D from "@dmabuf/drm-sim";
import mm, { DMA_HEAP_IOCTL_ALLOC, MM } from "@dmabuf/mm";
import v4l2Sim, { V4L2_MEMORY_DMABUF, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUYV, readFrameCounter } from "@dmabuf/v4l2-sim";
import { runIspPipeline } from "./isp-pipeline.js";
import { libdrm as K } from "@dmabuf/drm-sim";
import { libv4l2 as V } from "@dmabuf/v4l2-sim";

export type Variant = "full" | "display" | "encode" | "copy" | "copy-display" | "isp";
export const VARIANTS: Record<Variant, string> = {
  full: "camera -> encoder (MJPEG file) + display, zero copy",
  display: "camera -> display, zero copy",
  encode: "camera -> encoder, zero copy",
  copy: "USERPTR capture, then CPU copies into the encoder's and the display's buffers (what dma-buf replaced)",
  "copy-display": "USERPTR capture, then a CPU copy into the display's buffer",
  isp: "camera (YUYV) -> an ISP driver plugin (--plugin, default @example/out-of-tree-isp) -> display (NV12), zero copy",
};

export const FORMATS = {
  NV12: { v4l2: V4L2_PIX_FMT_NV12, drm: D.DRM_FORMAT_NV12 },
  YUYV: { v4l2: V4L2_PIX_FMT_YUYV, drm: D.DRM_FORMAT_YUYV },
} as const;
export type FormatName = keyof typeof FORMATS;

export interface PipelineOptions {
  variant: Variant;
  frames: number;
  width: number;
  height: number;
  format: FormatName;
  fps: number;
  /** Board JSON text; default: the built-in SoC board. */
  board?: string;
  /**
   * Capture into buffers from /dev/dma_heap/<heap> (V4L2_MEMORY_DMABUF) instead of the camera's own
   * MMAP buffers: "system" (scattered pages), "linux,cma" (contiguous) or "deferred" (placed at first
   * map to satisfy every device attached by then).
   */
  heap?: string;
  /** The "isp" variant's driver plugin: a package name (loaded like a board config names one) or an instance. */
  plugin?: string | DriverPlugin;
  realtime?: boolean;
  /**
   * false: the camera completes frames without drawing them and nothing checks their frame counter,
   * so that a run costs only the framework (the benchmark's per-frame overhead). Default true.
   */
  pixels?: boolean;
  /** false: tracing_on is 0 for the run (no events recorded, an empty trace). Default true. */
  trace?: boolean;
  /** Directories and files to write; absent ones are not produced. */
  pngDir?: string;
  mjpegFile?: string;
  /** Called after each captured frame. */
  onProgress?: (p: { frame: number; frames: number; virtualNs: number }) => void;
  /** Called after each flip with what a live view shows (the web view). Composes every frame. */
  onDisplay?: (s: Snapshot) => void;
}

/** What the display showed and where the buffers were, right after a flip. */
export interface Snapshot {
  sequence: number;
  virtualNs: number;
  png: Buffer;
  /** Per camera buffer: who holds it now ("camera" when queued for capture). */
  buffers: string[];
  bufinfo: string;
  cma: { name: string; sizeBytes: number; usedBytes: number; maxchunkBytes: number; occupancy: number[] };
}

export interface StageLatency {
  stage: string;
  frames: number;
  meanMs: number;
  maxMs: number;
}

export interface RunSummary {
  variant: Variant;
  frames: number;
  captured: number;
  encoded: number;
  displayed: number;
  dropped: number;
  virtualNs: number;
  wallMs: number;
  latency: StageLatency[];
  /** Bytes copied by the framework (mm's copy counter) and by the application's own memcpy. */
  frameworkCopiedBytes: number;
  appCopiedBytes: number;
  cmaUsedBytes: number;
  cmaLargestFreeBytes: number;
  buffersAliveAtPeak: number;
  bufinfo: string;
  placement: string;
  files: string[];
  /** The run's trace as Chrome trace-event JSON (built on demand: it is large). */
  trace: () => object;
  mjpegBytes: number;
  framesChecked: number;
}

const BUFFERS = 4;
const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** A socket between two processes, reduced to what the pipeline sends: small messages, and fds. */
class Mailbox<T> {
  private readonly queue: T[] = [];
  private readonly wq = new WaitQueue();
  private closed = false;
  constructor(private readonly kernel: Kernel) {}
  send(m: T): void {
    this.queue.push(m);
    this.wq.wake();
  }
  close(): void {
    this.closed = true;
    this.wq.wake();
  }
  /** Blocks (in virtual time) until a message arrives; undefined once closed and drained. */
  recv(): Promise<T | undefined> {
    return this.wq.waitEvent(this.kernel.clock, () => this.queue.length > 0 || this.closed).then(() => this.queue.shift());
  }
}

interface Frame {
  index: number;
  sequence: number;
  capturedNs: number;
  timestamp: { tv_sec: number; tv_usec: number };
}

class Stats {
  readonly samples = new Map<string, number[]>();
  add(stage: string, ns: number): void {
    let s = this.samples.get(stage);
    if (!s) this.samples.set(stage, (s = []));
    s.push(ns);
  }
  table(): StageLatency[] {
    return [...this.samples].map(([stage, s]) => ({ stage, frames: s.length, meanMs: s.reduce((a, b) => a + b, 0) / s.length / 1e6, maxMs: Math.max(...s) / 1e6 }));
  }
}

export async function boot(opts: Pick<PipelineOptions, "board" | "realtime" | "pixels">): Promise<Kernel> {
  const boot: BootOptions = { plugins: [mm(), v4l2Sim({ draw: opts.pixels ?? true }), drmSim(), codecSim()], ...(opts.board !== undefined && { board: opts.board }), ...(opts.realtime && { realtime: 1 }) };
  return Kernel.boot(boot);
}

/** Runs one pipeline variant on a fresh kernel and returns what happened. */
export async function runPipeline(o: PipelineOptions): Promise<RunSummary> {
  if (o.variant === "isp") return runIspPipeline(o);
  const wall0 = performance.now();
  const kernel = await boot(o);
  if (o.trace === false) kernel.trace.on = false;
  const mem = kernel.resolve(MM);
  const stats = new Stats();
  const files: string[] = [];
  const useDisplay = o.variant !== "encode";
  const useEncoder = o.variant !== "display" && o.variant !== "copy-display";
  const fmt = FORMATS[o.format];
  // The encoder needs 16-line-aligned height and 64-byte-aligned stride: the camera captures that
  // layout and the others crop (the usual fix for the "codec alignment" mismatch).
  const codedH = align(o.height, 16);
  const bpp = o.format === "NV12" ? 1 : 2;
  const stride = align(o.width * bpp, 64);

  const camera = kernel.spawn("camera");
  const encoder = kernel.spawn("encoder");
  const compositor = kernel.spawn("compositor");

  // --- camera setup ---
  const cam = camera.open(await V.findVideoNode(camera, "vivid-vivid.0-vid-cap"), O_RDWR);
  const pix = await V.setFormat(camera, cam, V.CAP, fmt.v4l2, o.width, codedH);
  if (pix.width !== o.width || pix.height !== codedH || pix.pixelformat !== fmt.v4l2)
    throw new PipelineError(`the camera cannot capture ${o.width}x${o.height} ${o.format}: it offered ${pix.width}x${pix.height}; pick a size from 160x120 to 4096x2304 in steps of 2`);
  if (pix.bytesperline < stride) {
    pix.bytesperline = stride;
    Object.assign(pix, await V.setFormat(camera, cam, V.CAP, fmt.v4l2, o.width, codedH));
  }
  await V.setFrameRate(camera, cam, o.fps);
  const copyMode = o.variant === "copy" || o.variant === "copy-display";
  let camMaps: VmArea[] = [];
  let userBufs: Uint8Array[] = [];
  let camFds: number[] = [];
  if (copyMode) {
    await V.requestBuffers(camera, cam, V.CAP, 2 /* USERPTR */, BUFFERS);
    userBufs = Array.from({ length: BUFFERS }, () => new Uint8Array(pix.sizeimage));
  } else if (o.heap !== undefined) {
    // A central allocator (as on Android and ChromeOS): the camera imports heap buffers.
    const heapPath = `/dev/dma_heap/${o.heap}`;
    if (!kernel.vfs.exists(heapPath)) throw new PipelineError(`no dma-heap "${o.heap}" on this board (have: ${camera.readdir("/dev/dma_heap").join(", ")})`);
    const heap = camera.open(heapPath, O_RDWR);
    for (let i = 0; i < BUFFERS; i++) {
      const alloc = { len: pix.sizeimage, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
      await camera.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, alloc);
      camFds.push(alloc.fd);
    }
    camera.close(heap);
    await V.requestBuffers(camera, cam, V.CAP, V4L2_MEMORY_DMABUF, BUFFERS);
  } else {
    camMaps = await V.mmapBuffers(camera, cam, V.CAP, BUFFERS);
    camFds = await V.exportBuffers(camera, cam, V.CAP, BUFFERS);
  }
  const heapMode = o.heap !== undefined && !copyMode;
  const queueCapture = (index: number) =>
    copyMode ? V.qbufUserptr(camera, cam, V.CAP, index, userBufs[index]!)
    : heapMode ? V.qbufDmabuf(camera, cam, V.CAP, index, camFds[index]!, pix.sizeimage, 0)
    : V.qbufMmap(camera, cam, V.CAP, index);

  // --- SCM_RIGHTS: the camera hands its dma-bufs to the consumers ---
  const encFds = useEncoder && !copyMode ? camera.sendFds(encoder, camFds) : [];
  const dispFds = useDisplay && !copyMode ? camera.sendFds(compositor, camFds) : [];

  const toEncoder = new Mailbox<Frame>(kernel);
  const toDisplay = new Mailbox<Frame>(kernel);
  const released = new Mailbox<number>(kernel);
  let peakBuffers = 0;
  let bufinfo = "";

  // --- encoder setup ---
  let encoded = 0;
  let mjpeg: Uint8Array[] = [];
  let enc = -1;
  let encCapMaps: VmArea[] = [];
  let encOutMaps: VmArea[] = [];
  if (useEncoder) {
    enc = encoder.open(await V.findVideoNode(encoder, "sim-jpeg-encoder"), O_RDWR);
    await V.setFormat(encoder, enc, V.OUT, fmt.v4l2, o.width, o.height);
    await encoder.ioctl(enc, VIDIOC_S_SELECTION, { type: V.OUT, target: V4L2_SEL_TGT_CROP, flags: 0, r: { left: 0, top: 0, width: o.width, height: o.height } });
    await V.setFormat(encoder, enc, V.CAP, V4L2_PIX_FMT_JPEG, 0, 0);
    if (copyMode) encOutMaps = await V.mmapBuffers(encoder, enc, V.OUT, BUFFERS);
    else await V.requestBuffers(encoder, enc, V.OUT, V4L2_MEMORY_DMABUF, BUFFERS);
    encCapMaps = await V.mmapBuffers(encoder, enc, V.CAP, BUFFERS);
    for (let i = 0; i < encCapMaps.length; i++) await V.qbufMmap(encoder, enc, V.CAP, i);
    await V.streamOn(encoder, enc, V.OUT, V.CAP);
  }

  // --- compositor setup ---
  let displayed = 0;
  let framesChecked = 0;
  const card = useDisplay ? compositor.open("/dev/dri/card0", O_RDWR) : -1;
  let pipe: K.KmsIds | undefined;
  const fbs: number[] = [];
  const dumbMaps: VmArea[] = [];
  const shown = new Map<number, D.ScanoutFrame>();
  let stopFrames = () => {};
  if (useDisplay) {
    pipe = await K.kmsIds(compositor, card);
    const mode = [...pipe.modes].reverse().find((m) => m.hdisplay >= o.width && m.vdisplay >= o.height);
    if (!mode) throw new PipelineError(`no display mode is large enough for ${o.width}x${o.height} (largest: ${pipe.modes[0]!.hdisplay}x${pipe.modes[0]!.vdisplay})`);
    const planes = o.format === "NV12" ? 2 : 1;
    const offsets = [0, pix.bytesperline * codedH].slice(0, planes);
    const pitches = new Array<number>(planes).fill(pix.bytesperline);
    for (let i = 0; i < BUFFERS; i++) {
      let handle: number;
      if (copyMode) {
        const dumb: D.drm_mode_create_dumb = { width: pix.bytesperline / 4, height: Math.ceil(pix.sizeimage / pix.bytesperline), bpp: 32, flags: 0 };
        await compositor.ioctl(card, D.DRM_IOCTL_MODE_CREATE_DUMB, dumb);
        const md: D.drm_mode_map_dumb = { handle: dumb.handle! };
        await compositor.ioctl(card, D.DRM_IOCTL_MODE_MAP_DUMB, md);
        dumbMaps.push(compositor.mmap(null, dumb.size!, PROT_READ | PROT_WRITE, MAP_SHARED, card, md.offset!));
        handle = dumb.handle!;
      } else handle = await K.fdToHandle(compositor, card, dispFds[i]!).catch((e: unknown) => {
        if (isErrno(e, "EINVAL") && o.heap !== undefined)
          throw new PipelineError(`the display (vkms.0, no IOMMU) cannot scan out a buffer from the "${o.heap}" heap: it is not physically contiguous (PRIME import: ${(e as Error).message}); use --heap linux,cma or --heap deferred`);
        throw e;
      });
      fbs.push(await K.addFb(compositor, card, o.width, o.height, fmt.drm, new Array<number>(planes).fill(handle), pitches, offsets));
    }
    await K.modeset(compositor, card, pipe, mode, fbs[0]!, o.width, o.height);
    if (o.pngDir || o.onDisplay) {
      if (o.pngDir) mkdirSync(o.pngDir, { recursive: true });
      const crtc = D.drmDeviceOf(kernel, "/dev/dri/card0").kms!.crtcs[0]!;
      stopFrames = crtc.onFrame((f) => {
        shown.set(f.sequence, f);
        shown.delete(f.sequence - 8);
      });
    }
  }

  const holderNames = new Array<string[]>(BUFFERS).fill([]);
  const allReturned = new WaitQueue();
  const release = (index: number, by: string) => {
    holderNames[index] = holderNames[index]!.filter((h) => h !== by);
    if (holderNames[index]!.length > 0) return;
    released.send(index);
    allReturned.wake();
  };

  // --- the processes ---
  let captured = 0;
  let dropped = 0;
  const cameraProc = async () => {
    // The first QBUF maps the buffers: the consumers have attached by now, so a deferred heap
    // places them where every device can reach them.
    for (let i = 0; i < BUFFERS; i++) await queueCapture(i);
    await V.streamOn(camera, cam, V.CAP);
    let lastSeq = -1;
    const requeue = (async () => {
      for (;;) {
        const index = await released.recv();
        if (index === undefined) return;
        await queueCapture(index);
      }
    })();
    while (captured < o.frames) {
      const b = await V.dqbuf(camera, cam, V.CAP, copyMode ? 2 : heapMode ? V4L2_MEMORY_DMABUF : 1);
      dropped += b.sequence - lastSeq - 1;
      lastSeq = b.sequence;
      captured++;
      const frame: Frame = { index: b.index, sequence: b.sequence, capturedNs: kernel.clock.now(), timestamp: b.timestamp };
      holderNames[b.index] = [...(useEncoder ? ["encoder"] : []), ...(useDisplay ? ["display"] : [])];
      peakBuffers = Math.max(peakBuffers, holderNames.filter((h) => h.length > 0).length);
      if (captured === Math.ceil(o.frames / 2)) bufinfo = await camera.readFile("/sys/kernel/debug/dma_buf/bufinfo");
      if (useEncoder) toEncoder.send(frame);
      if (useDisplay) toDisplay.send(frame);
      o.onProgress?.({ frame: captured, frames: o.frames, virtualNs: kernel.clock.now() });
    }
    toEncoder.close();
    toDisplay.close();
    // Wait for the consumers to give every buffer back, then stop.
    await allReturned.waitEvent(kernel.clock, () => holderNames.every((h) => h.length === 0));
    released.close();
    await requeue;
    await V.streamOff(camera, cam, V.CAP);
  };

  const encoderProc = async () => {
    for (;;) {
      const f = await toEncoder.recv();
      if (!f) break;
      if (copyMode) {
        // the application copies the frame into the encoder's own buffer
        encOutMaps[f.index]!.write(0, userBufs[f.index]!);
        appCopied += pix.sizeimage;
        await V.qbufMmap(encoder, enc, V.OUT, f.index, pix.sizeimage, f.timestamp);
        release(f.index, "encoder");
      } else await V.qbufDmabuf(encoder, enc, V.OUT, f.index, encFds[f.index]!, pix.sizeimage, pix.sizeimage, f.timestamp);
      const coded = await V.dqbuf(encoder, enc, V.CAP);
      stats.add("capture -> encoded", kernel.clock.now() - f.capturedNs);
      if (o.mjpegFile) mjpeg.push(encCapMaps[coded.index]!.read(0, coded.bytesused));
      mjpegBytes += coded.bytesused;
      await V.qbufMmap(encoder, enc, V.CAP, coded.index);
      const done = await V.dqbuf(encoder, enc, V.OUT, copyMode ? 1 : V4L2_MEMORY_DMABUF);
      if (!copyMode) release(done.index, "encoder");
      encoded++;
    }
    await V.streamOff(encoder, enc, V.OUT, V.CAP);
  };

  let appCopied = 0;
  let mjpegBytes = 0;
  const compositorProc = async () => {
    let onScreen = -1;
    for (;;) {
      const f = await toDisplay.recv();
      if (!f) break;
      let inFence = -1;
      let target = f.index;
      if (copyMode) {
        target = displayed % BUFFERS;
        dumbMaps[target]!.write(0, userBufs[f.index]!);
        appCopied += pix.sizeimage;
        release(f.index, "display");
      } else {
        // Implicit -> explicit sync, as compositors do: wait for the buffer's writers before scanout.
        const sync = { flags: DMA_BUF_SYNC_READ, fd: -1 };
        await compositor.ioctl(dispFds[f.index]!, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, sync);
        inFence = sync.fd;
      }
      const props: Record<string, D.PropValue> = { FB_ID: fbs[target]! };
      if (inFence >= 0) props.IN_FENCE_FD = inFence;
      await K.atomic(compositor, card, pipe!, { [pipe!.primary]: props }, D.DRM_MODE_ATOMIC_NONBLOCK | D.DRM_MODE_PAGE_FLIP_EVENT, BigInt(f.sequence));
      if (inFence >= 0) compositor.close(inFence);
      const [ev] = await K.readEvents(compositor, card);
      stats.add("capture -> on screen", kernel.clock.now() - f.capturedNs);
      displayed++;
      const frame = shown.get(ev!.sequence);
      if (o.pngDir && frame) {
        const file = join(o.pngDir, `frame-${String(f.sequence).padStart(4, "0")}.png`);
        writeFileSync(file, frame.toPng());
        files.push(file);
      }
      if (o.onDisplay && frame) o.onDisplay(await snapshot(f.sequence, frame));
      // heap buffers are mapped for the CPU only once placed (an early mmap would place them for the CPU)
      if (heapMode) camMaps[f.index] ??= camera.mmap(null, pix.sizeimage, PROT_READ, MAP_SHARED, camFds[f.index]!, 0);
      if (!copyMode && o.format === "NV12" && o.pixels !== false && readFrameCounter(camMaps[f.index]!.view(0, pix.bytesperline * o.height), fmt.v4l2, pix.bytesperline) === f.sequence) framesChecked++;
      // The previous buffer leaves the screen with this flip: give it back to the camera.
      if (!copyMode && onScreen >= 0) release(onScreen, "display");
      onScreen = copyMode ? -1 : f.index;
    }
    if (onScreen >= 0) release(onScreen, "display");
  };

  const snapshot = async (sequence: number, frame: D.ScanoutFrame): Promise<Snapshot> => {
    const cma = mem.defaultCma!;
    const bins = 64;
    const bits = cma.bitmapMaxno;
    const occupancy = Array.from({ length: bins }, (_, b) => {
      const lo = Math.floor((b * bits) / bins);
      const hi = Math.floor(((b + 1) * bits) / bins);
      let used = 0;
      for (let i = lo; i < hi; i++) if (cma.bitmap.test(i)) used++;
      return used / Math.max(1, hi - lo);
    });
    return {
      sequence, virtualNs: kernel.clock.now(), png: frame.toPng(),
      buffers: holderNames.map((h) => (h.length ? h.join("+") : "camera")),
      bufinfo: await compositor.readFile("/sys/kernel/debug/dma_buf/bufinfo"),
      cma: { name: cma.name, sizeBytes: cma.size, usedBytes: cma.used * 4096, maxchunkBytes: cma.maxchunk * 4096, occupancy },
    };
  };

  await Promise.all([cameraProc(), useEncoder ? encoderProc() : null, useDisplay ? compositorProc() : null]);
  stopFrames();

  if (o.mjpegFile && mjpeg.length) {
    writeFileSync(o.mjpegFile, Buffer.concat(mjpeg));
    files.push(o.mjpegFile);
    mjpeg = [];
  }
  const placement = kernel.vfs.exists("/sys/kernel/debug/dma_buf/placement") ? await camera.readFile("/sys/kernel/debug/dma_buf/placement") : "";
  const cma = mem.defaultCma;
  const summary: RunSummary = {
    variant: o.variant, frames: o.frames, captured, encoded, displayed, dropped,
    virtualNs: kernel.clock.now(), wallMs: performance.now() - wall0, latency: stats.table(),
    frameworkCopiedBytes: mem.copies.bytes, appCopiedBytes: appCopied,
    cmaUsedBytes: cma ? cma.used * 4096 : 0, cmaLargestFreeBytes: cma ? cma.maxchunk * 4096 : 0,
    buffersAliveAtPeak: peakBuffers, bufinfo, placement, files, trace: () => kernel.trace.chromeTrace(), mjpegBytes, framesChecked,
  };
  kernel.shutdown();
  return summary;
}

/** A problem with the user's request (size, format, board): printed without a stack trace. */
export class PipelineError extends Error {
  override name = "PipelineError";
}
