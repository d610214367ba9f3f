/**
 * The "isp" variant: camera -> a third-party ISP driver plugin -> display, zero copy. The camera
 * captures YUYV into MMAP buffers and exports them (EXPBUF); the ISP process imports them on its
 * OUTPUT queue (V4L2_MEMORY_DMABUF) and exports its NV12 CAPTURE buffers; the compositor imports
 * those (PRIME) and flips to them. The ISP is any mem2mem plugin loaded by package name, the way a
 * board config names a driver package (Linux: a module loaded for a devicetree compatible).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { container } from "tsyringe";
import {
  DEFAULT_BOARD, Kernel, O_RDWR, PLATFORM_DRIVER, loadPlugin, parseBoard, type BoardInput, type DriverPlugin, type PlatformDriver, type Process,
  type VmArea,
} from "@dmabuf/core";
import drmSim, * as D from "@dmabuf/drm-sim";
import mm, { MM } from "@dmabuf/mm";
import v4l2Sim, {
  V4L2_CAP_VIDEO_M2M, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUYV, VIDIOC_QUERYCAP, readFrameCounter,
  type v4l2_capability,
} from "@dmabuf/v4l2-sim";
import type { PipelineOptions, RunSummary } from "./pipeline.js";
import { PipelineError } from "./pipeline.js";
import { libdrm as K } from "@dmabuf/drm-sim";
import { libv4l2 as V } from "@dmabuf/v4l2-sim";

/** The example plugin in this repository, used when --plugin is not given. */
export const DEFAULT_ISP_PLUGIN = "@example/out-of-tree-isp";
const BUFFERS = 4;

/**
 * A driver plugin by package name (or path), resolved from the current directory first (which
 * finds a package's own name by self-reference) and then from soc-demo's own dependencies; core's
 * loadPlugin reports a missing package or a non-plugin.
 */
export async function loadPluginByName(spec: string): Promise<DriverPlugin> {
  const path = spec.startsWith(".") || isAbsolute(spec) ? resolve(spec) : undefined;
  // A package folder is resolved by its name from inside it, so its "exports" apply: require.resolve
  // of a folder reads only "main", which an ESM package with an exports map usually lacks.
  const manifest = path && join(path, "package.json");
  const attempts: [from: string, request: string][] =
    manifest && existsSync(manifest)
      ? [[manifest, (JSON.parse(readFileSync(manifest, "utf8")) as { name: string }).name], [manifest, path]]
      : [[join(process.cwd(), "noop.js"), path ?? spec], [import.meta.filename, path ?? spec]];
  for (const [from, request] of attempts)
    try {
      return await loadPlugin(pathToFileURL(createRequire(from).resolve(request)).href);
    } catch (e) {
      if ((e as { code?: string }).code !== "MODULE_NOT_FOUND") throw e;
    }
  return loadPlugin(spec);
}

/** The compatibles a plugin's platform drivers bind, read by registering it in a scratch container. */
function compatiblesOf(plugin: DriverPlugin): string[] {
  const scratch = container.createChildContainer();
  plugin.register(scratch);
  try {
    return scratch.isRegistered(PLATFORM_DRIVER) ? scratch.resolveAll<PlatformDriver>(PLATFORM_DRIVER).flatMap((d) => d.compatible) : [];
  } catch {
    return [];
  } finally {
    void scratch.dispose();
  }
}

/**
 * The board with an "isp.0" device for the plugin, unless the board already has one it binds.
 * No IOMMU: its buffers come from CMA, contiguous, as the display (vkms, no IOMMU) needs.
 */
function boardWithIsp(boardText: string | undefined, compatibles: string[]): BoardInput {
  const board = parseBoard(boardText ?? DEFAULT_BOARD);
  if (compatibles.length === 0) throw new PipelineError("the --plugin registers no platform driver: it cannot be the ISP");
  if (board.devices.some((d) => d.compatible.some((c) => compatibles.includes(c)))) return board;
  return { ...board, devices: [...board.devices, { name: "isp.0", compatible: [compatibles[0]!], dmaMask: 32 }] } as BoardInput;
}

/** The first mem2mem node (QUERYCAP), which on this board is the ISP. */
async function findM2mNode(p: Process): Promise<string> {
  for (const entry of p.readdir("/sys/class/video4linux")) {
    const fd = p.open(`/dev/${entry}`, O_RDWR);
    const cap = {} as v4l2_capability;
    await p.ioctl(fd, VIDIOC_QUERYCAP, cap);
    p.close(fd);
    if (cap.device_caps & V4L2_CAP_VIDEO_M2M) return `/dev/${entry}`;
  }
  throw new PipelineError("no mem2mem video node: the ISP plugin bound no device");
}

export async function runIspPipeline(o: PipelineOptions): Promise<RunSummary> {
  const wall0 = performance.now();
  const plugin = typeof o.plugin === "object" ? o.plugin : await loadPluginByName(o.plugin ?? DEFAULT_ISP_PLUGIN);
  const board = boardWithIsp(o.board, compatiblesOf(plugin));
  const kernel = await Kernel.boot({ board, plugins: [mm(), v4l2Sim(), drmSim(), plugin], ...(o.realtime && { realtime: 1 }) });
  const mem = kernel.resolve(MM);
  const W = o.width;
  const H = o.height;
  const camera = kernel.spawn("camera");
  const isp = kernel.spawn("isp");
  const compositor = kernel.spawn("compositor");

  // --- camera: YUYV, MMAP buffers exported as dma-bufs ---
  const cam = camera.open(await V.findVideoNode(camera, "vivid-vivid.0-vid-cap"), O_RDWR);
  const camPix = await V.setFormat(camera, cam, V.CAP, V4L2_PIX_FMT_YUYV, W, H);
  if (camPix.width !== W || camPix.height !== H) throw new PipelineError(`the camera cannot capture ${W}x${H}: it offered ${camPix.width}x${camPix.height}`);
  await V.setFrameRate(camera, cam, o.fps);
  await V.requestBuffers(camera, cam, V.CAP, V4L2_MEMORY_MMAP, BUFFERS);
  const camFds = await V.exportBuffers(camera, cam, V.CAP, BUFFERS);

  // --- ISP: YUYV dma-bufs in, NV12 MMAP buffers out (exported to the display) ---
  const node = await findM2mNode(isp);
  const ispFd = isp.open(node, O_RDWR);
  await V.setFormat(isp, ispFd, V.OUT, V4L2_PIX_FMT_YUYV, W, H);
  const out = await V.setFormat(isp, ispFd, V.CAP, V4L2_PIX_FMT_NV12, W, H);
  if (out.width !== W || out.height !== H) throw new PipelineError(`the ISP cannot produce ${W}x${H} NV12 (it offered ${out.width}x${out.height})`);
  await V.requestBuffers(isp, ispFd, V.OUT, V4L2_MEMORY_DMABUF, BUFFERS);
  const ispMaps: VmArea[] = await V.mmapBuffers(isp, ispFd, V.CAP, BUFFERS);
  const ispOutFds = await V.exportBuffers(isp, ispFd, V.CAP, BUFFERS);
  const ispInFds = camera.sendFds(isp, camFds);
  const dispFds = isp.sendFds(compositor, ispOutFds);

  // --- compositor: PRIME-import the ISP's NV12 buffers as framebuffers ---
  const card = compositor.open("/dev/dri/card0", O_RDWR);
  const pipe = await K.kmsIds(compositor, card);
  const mode = [...pipe.modes].reverse().find((m) => m.hdisplay >= W && m.vdisplay >= H);
  if (!mode) throw new PipelineError(`no display mode is large enough for ${W}x${H}`);
  const fbs: number[] = [];
  for (const fd of dispFds) {
    const handle = await K.fdToHandle(compositor, card, fd);
    fbs.push(await K.addFb(compositor, card, W, H, D.DRM_FORMAT_NV12, [handle, handle], [out.bytesperline, out.bytesperline], [0, out.bytesperline * H]));
  }
  await K.modeset(compositor, card, pipe, mode, fbs[0]!, W, H);
  if (o.pngDir) mkdirSync(o.pngDir, { recursive: true });
  const shown = new Map<number, D.ScanoutFrame>();
  const stopFrames = D.drmDeviceOf(kernel, "/dev/dri/card0").kms!.crtcs[0]!.onFrame((f) => {
    shown.set(f.sequence, f);
    shown.delete(f.sequence - 8);
  });

  for (let i = 0; i < BUFFERS; i++) await V.qbufMmap(isp, ispFd, V.CAP, i);
  await V.streamOn(isp, ispFd, V.OUT, V.CAP);
  for (let i = 0; i < BUFFERS; i++) await V.qbufMmap(camera, cam, V.CAP, i);
  await V.streamOn(camera, cam, V.CAP);

  let captured = 0;
  let displayed = 0;
  let dropped = 0;
  let framesChecked = 0;
  let lastSeq = -1;
  let onScreen = -1;
  const latency = { isp: [] as number[], screen: [] as number[] };
  const files: string[] = [];
  while (captured < o.frames) {
    const b = await V.dqbuf(camera, cam, V.CAP);
    const t0 = kernel.clock.now();
    dropped += b.sequence - lastSeq - 1;
    lastSeq = b.sequence;
    captured++;
    await V.qbufDmabuf(isp, ispFd, V.OUT, b.index, ispInFds[b.index]!, camPix.sizeimage, camPix.sizeimage, b.timestamp);
    const c = await V.dqbuf(isp, ispFd, V.CAP);
    await V.dqbuf(isp, ispFd, V.OUT, V4L2_MEMORY_DMABUF);
    await V.qbufMmap(camera, cam, V.CAP, b.index);
    latency.isp.push(kernel.clock.now() - t0);
    // The ISP keeps luma exactly: its NV12 output still carries the camera's burned-in frame counter.
    if (readFrameCounter(ispMaps[c.index]!.view(0, out.bytesperline * H), V4L2_PIX_FMT_NV12, out.bytesperline) === b.sequence) framesChecked++;
    await K.atomic(compositor, card, pipe, { [pipe.primary]: { FB_ID: fbs[c.index]! } }, D.DRM_MODE_ATOMIC_NONBLOCK | D.DRM_MODE_PAGE_FLIP_EVENT, BigInt(b.sequence));
    const [ev] = await K.readEvents(compositor, card);
    latency.screen.push(kernel.clock.now() - t0);
    displayed++;
    const frame = shown.get(ev!.sequence);
    if (o.pngDir && frame) {
      const file = join(o.pngDir, `frame-${String(b.sequence).padStart(4, "0")}.png`);
      writeFileSync(file, frame.toPng());
      files.push(file);
    }
    // The previous NV12 buffer leaves the screen with this flip: give it back to the ISP.
    if (onScreen >= 0) await V.qbufMmap(isp, ispFd, V.CAP, onScreen);
    onScreen = c.index;
    o.onProgress?.({ frame: captured, frames: o.frames, virtualNs: kernel.clock.now() });
  }
  stopFrames();
  const bufinfo = await camera.readFile("/sys/kernel/debug/dma_buf/bufinfo");
  await V.streamOff(camera, cam, V.CAP);
  await V.streamOff(isp, ispFd, V.OUT, V.CAP);
  const stat = (stage: string, s: number[]) => ({ stage, frames: s.length, meanMs: s.reduce((a, x) => a + x, 0) / s.length / 1e6, maxMs: Math.max(...s) / 1e6 });
  const cma = mem.defaultCma;
  const summary: RunSummary = {
    variant: "isp", frames: o.frames, captured, encoded: 0, displayed, dropped, virtualNs: kernel.clock.now(), wallMs: performance.now() - wall0,
    latency: [stat("capture -> ISP done", latency.isp), stat("capture -> on screen", latency.screen)],
    frameworkCopiedBytes: mem.copies.bytes, appCopiedBytes: 0, cmaUsedBytes: cma ? cma.used * 4096 : 0, cmaLargestFreeBytes: cma ? cma.maxchunk * 4096 : 0,
    buffersAliveAtPeak: BUFFERS, bufinfo, placement: "", files, trace: () => kernel.trace.chromeTrace(), mjpegBytes: 0, framesChecked,
  };
  kernel.shutdown();
  return summary;
}
