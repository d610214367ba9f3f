/**
 * Display costs: what a compositor pays per frame to show a buffer from another device (PRIME
 * import, a cache hit after the first frame, plus an atomic page flip and its event), and what the
 * vkms composer costs per 1080p frame (XRGB8888 and NV12 primaries), against a 1080p frame copy.
 */
import { Kernel, MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_WRITE, type Process } from "@dmabuf/core";
import mm, { DMA_HEAP_IOCTL_ALLOC, type DmaHeapAllocationData } from "@dmabuf/mm";
import { atLeast, below, copyBaseline, defineSuite } from "@dmabuf/tooling/bench";
import drmSim, { drmDeviceOf, type DrmCrtc } from "../src/index.js";
import * as U from "../src/uapi.js";
import { addFb, atomic, fdToHandle, kmsIds, modeset, type KmsIds } from "../src/libdrm.js";
import { mode } from "../test/support/drm.js";

const W = 1920;
const H = 1080;
const FRAME = 1e9 / 60;

interface Scene {
  kernel: Kernel;
  p: Process;
  card: number;
  ids: KmsIds;
  bufs: number[];
  fbs: number[];
  crtc: DrmCrtc;
  n: number;
}

/** vkms at 1080p showing one of two CMA-heap buffers imported through PRIME. */
async function scene(format: "XRGB8888" | "NV12"): Promise<Scene> {
  const kernel = await Kernel.boot({ plugins: [mm(), drmSim()] });
  kernel.trace.on = false;
  const p = kernel.spawn("compositor");
  const card = p.open("/dev/dri/card0");
  const ids = await kmsIds(p, card);
  const heap = p.open("/dev/dma_heap/linux,cma");
  const bufs: number[] = [];
  const fbs: number[] = [];
  const nv12 = format === "NV12";
  const size = nv12 ? (W * H * 3) / 2 : W * H * 4;
  for (let i = 0; i < 2; i++) {
    const alloc: DmaHeapAllocationData = { len: size, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
    await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, alloc);
    const map = p.mmap(null, size, PROT_WRITE, MAP_SHARED, alloc.fd, 0);
    map.write(0, Uint8Array.from({ length: size }, (_, j) => (j * 7 + i) & 0xff));
    p.munmap(map);
    const h = await fdToHandle(p, card, alloc.fd);
    bufs.push(alloc.fd);
    fbs.push(nv12
      ? await addFb(p, card, W, H, U.DRM_FORMAT_NV12, [h, h], [W, W], [0, W * H])
      : await addFb(p, card, W, H, U.DRM_FORMAT_XRGB8888, [h], [W * 4]));
  }
  await modeset(p, card, ids, mode(ids, W, H), fbs[0]!);
  return { kernel, p, card, ids, bufs, fbs, crtc: drmDeviceOf(kernel, "/dev/dri/card0").kms!.crtcs[0]!, n: 0 };
}

/** One frame of a kmssink-like loop: import the frame's dma-buf (cached handle), flip to it, take the event. */
async function frame(s: Scene): Promise<void> {
  const i = ++s.n & 1;
  await fdToHandle(s.p, s.card, s.bufs[i]!);
  await atomic(s.p, s.card, s.ids, { [s.ids.primary]: { FB_ID: s.fbs[i]! } }, U.DRM_MODE_PAGE_FLIP_EVENT);
  await s.p.read(s.card);
}

const teardown = (s: Scene) => s.kernel.shutdown();

const COPY = "copy 1080p XRGB8888 frame (Uint8Array.set)";
const FLIP = "PRIME import (cached) + atomic flip + event, per frame";
const COMPOSE = "compose 1080p frame, XRGB8888 primary";
const COMPOSE_NV12 = "compose 1080p frame, NV12 primary (YUV->RGB)";

export default defineSuite({
  name: "drm-sim-display",
  cases: {
    [COPY]: copyBaseline(W * H * 4),
    [FLIP]: { setup: () => scene("XRGB8888"), fn: frame, teardown },
    [COMPOSE]: { setup: () => scene("XRGB8888"), fn: (s: Scene) => s.crtc.compose(), teardown, bytes: W * H * 4 },
    [COMPOSE_NV12]: { setup: () => scene("NV12"), fn: (s: Scene) => s.crtc.compose(), teardown, bytes: (W * H * 3) / 2 },
  },
  goals: [
    atLeast("1080p XRGB8888 composition fps (vblank at 60 Hz needs >= 60)", (m) => 1e9 / m[COMPOSE], 60, "fps"),
    atLeast("1080p NV12 composition fps", (m) => 1e9 / m[COMPOSE_NV12], 30, "fps"),
    below("PRIME import (cached) + flip per frame, share of a 60 Hz frame", (m) => (100 * m[FLIP]) / FRAME, 1, "%"),
  ],
});
