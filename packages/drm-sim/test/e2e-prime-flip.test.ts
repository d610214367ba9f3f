/**
 * The end-to-end check: a buffer from a dma-heap (CMA) or another device (vgem, the IGT exporter) is imported
 * into the display through PRIME, wrapped in a framebuffer with ADDFB2, and flipped to with an
 * IN_FENCE_FD (a sw_sync point) that signals later. The flip must wait for the fence
 * (drm_atomic_helper_wait_for_fences), its event must arrive at the first vblank after the signal,
 * and the picture scanned out (PNG and CRC) must be the pattern written into the buffer.
 * Also IGT prime_vgem basic-fence-flip / fence-flip-hang with a vgem WRITE fence (implicit sync).
 */
import { MAP_SHARED, O_CLOEXEC, O_RDWR, POLLIN, PROT_READ, PROT_WRITE, SW_SYNC_DEBUGFS_PATH, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC, type SwSyncCreateFenceData } from "@dmabuf/core";
import { DMA_HEAP_IOCTL_ALLOC, type DmaHeapAllocationData } from "@dmabuf/mm";
import { describe, expect, it } from "vitest";
import { ScanoutFrame, VGEM_FENCE_TIMEOUT_NS } from "../src/index.js";
import * as U from "../src/uapi.js";
import { addFb, atomic, createDumb, fdToHandle, handleToFd, kmsIds, mapDumb, modeset } from "../src/libdrm.js";
import { bootDrm, kmsOf, mode, VGEM, VKMS } from "./support/drm.js";

const W = 640;
const H = 480;
/** vblank period of 640x480@60 (25.175 MHz, 800 x 525): framedur_ns. */
const PERIOD = Math.floor((800 * 525 * 1e6) / 25175);
const pattern = (x: number, y: number) => ((Math.floor((x * 255) / (W - 1)) << 16) | (Math.floor((y * 255) / (H - 1)) << 8) | ((x ^ y) & 0xff)) >>> 0;

/** The display shows black; a producer fills a buffer (a CMA dma-heap buffer or a vgem object) with the pattern. */
async function scene(source: "heap" | "vgem") {
  const k = await bootDrm();
  const p = k.spawn("compositor");
  const card = p.open(VKMS);
  const vgem = p.open(VGEM);
  const ids = await kmsIds(p, card);
  const black = await createDumb(p, card, W, H);
  const blackFb = await addFb(p, card, W, H, U.DRM_FORMAT_XRGB8888, [black.handle], [black.pitch]);
  await modeset(p, card, ids, mode(ids, W, H), blackFb);
  const bo = await createDumb(p, vgem, W, H);
  let dmabuf: number;
  let map;
  if (source === "heap") {
    const alloc: DmaHeapAllocationData = { len: W * H * 4, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
    await p.ioctl(p.open("/dev/dma_heap/linux,cma"), DMA_HEAP_IOCTL_ALLOC, alloc);
    dmabuf = alloc.fd;
    map = p.mmap(null, W * H * 4, PROT_READ | PROT_WRITE, MAP_SHARED, dmabuf, 0);
  } else {
    map = await mapDumb(p, vgem, bo.handle, bo.size);
    dmabuf = await handleToFd(p, vgem, bo.handle);
  }
  // X bytes left as garbage: scanout ignores them.
  const words = new Uint32Array(map.bytes.buffer, map.bytes.byteOffset, W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) words[y * W + x] = (0xaa000000 | pattern(x, y)) >>> 0;
  const handle = await fdToHandle(p, card, dmabuf);
  const fb = await addFb(p, card, W, H, U.DRM_FORMAT_XRGB8888, [handle], [W * 4]);
  const crtc = kmsOf(k).crtcs[0]!;
  const frames: ScanoutFrame[] = [];
  const stopFrames = crtc.onFrame((f) => frames.push(f));
  const expected = new ScanoutFrame(ids.crtc, W, H, Uint32Array.from({ length: W * H }, (_, i) => pattern(i % W, Math.floor(i / W))), 0, 0);
  return { k, p, card, vgem, ids, bo, fb, frames, expected, stopFrames };
}

describe("end to end: PRIME import + ADDFB2 + IN_FENCE_FD flip + PNG/CRC of the scanout", () => {
  it("a CMA dma-heap buffer: the flip waits for the sw_sync fence, completes at the next vblank, and scans out the pattern", async () => {
    const { k, p, card, ids, fb, frames, expected } = await scene("heap");
    const tl = p.open(SW_SYNC_DEBUGFS_PATH);
    const pt: SwSyncCreateFenceData = { value: 1, name: "render-done", fence: -1 };
    await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, pt);
    await atomic(p, card, ids, { [ids.primary]: { FB_ID: fb, IN_FENCE_FD: pt.fence } }, U.DRM_MODE_ATOMIC_NONBLOCK | U.DRM_MODE_PAGE_FLIP_EVENT, 0xcafen);
    p.close(pt.fence); // the commit holds its own reference

    // Five vblanks pass: no event, and the screen is still black.
    const pfd = { fd: card, events: POLLIN, revents: 0 };
    expect(await p.poll([pfd], Math.ceil((5 * PERIOD) / 1e6))).toBe(0);
    expect(frames.length).toBeGreaterThanOrEqual(5);
    expect(frames.every((f) => f.pixels.every((px) => px === 0))).toBe(true);
    // A second nonblocking flip while this one waits is refused (stall check).
    await expect(atomic(p, card, ids, { [ids.primary]: { FB_ID: fb } }, U.DRM_MODE_ATOMIC_NONBLOCK)).rejects.toThrow(/EBUSY/);

    const signalledAt = k.clock.now();
    await p.ioctl(tl, SW_SYNC_IOC_INC, 1);
    expect(await p.poll([pfd], 1000)).toBe(1);
    const [ev] = U.parseDrmEvents(await p.read(card));
    expect(ev).toMatchObject({ type: U.DRM_EVENT_FLIP_COMPLETE, user_data: 0xcafen, crtc_id: ids.crtc });
    const evNs = ev!.tv_sec * 1e9 + ev!.tv_usec * 1e3;
    // The event carries the first vblank after the signal.
    expect(evNs).toBeGreaterThanOrEqual(signalledAt - 1000);
    expect(evNs - signalledAt).toBeLessThanOrEqual(PERIOD);
    const flipped = frames.find((f) => f.sequence === ev!.sequence)!;
    expect(flipped.crc()).toBe(expected.crc());
    expect(flipped.crc()).not.toBe(frames[0]!.crc());
    const png = ScanoutFrame.pixelsFromPng(flipped.toPng());
    expect([png.width, png.height]).toEqual([W, H]);
    expect(png.pixels.every((px, i) => px === expected.pixels[i])).toBe(true);
    // The trace shows the flip after the fence wait, and the wait as a slice on the CRTC's commit track.
    const flipEv = k.trace.events("drm_page_flip").at(-1)!;
    expect(flipEv.ts).toBeGreaterThanOrEqual(signalledAt);
    const wait = k.trace.events("wait_for_fences").at(-1)!;
    expect(wait.track).toBe("vkms crtc-0 commit");
    expect(wait.ts + wait.dur!).toBeGreaterThanOrEqual(signalledAt);
    const perfetto = k.trace.chromeTrace().traceEvents as { name: string; ph: string; args?: { name?: string } }[];
    expect(perfetto.some((e) => e.ph === "M" && e.args?.name === "vkms crtc-0 vblank")).toBe(true);
    expect(perfetto.filter((e) => e.ph === "X" && e.name === "frame").length).toBeGreaterThan(5);
  });

  it("IGT prime_vgem basic-fence-flip: a vgem WRITE fence holds the flip (implicit sync) until FENCE_SIGNAL", async () => {
    const { p, card, vgem, ids, bo, fb, frames, expected } = await scene("vgem");
    const attach: U.drm_vgem_fence_attach = { handle: bo.handle, flags: U.VGEM_FENCE_WRITE };
    await p.ioctl(vgem, U.DRM_IOCTL_VGEM_FENCE_ATTACH, attach);
    await atomic(p, card, ids, { [ids.primary]: { FB_ID: fb } }, U.DRM_MODE_ATOMIC_NONBLOCK | U.DRM_MODE_PAGE_FLIP_EVENT);
    const pfd = { fd: card, events: POLLIN, revents: 0 };
    expect(await p.poll([pfd], Math.ceil((5 * PERIOD) / 1e6))).toBe(0);
    await p.ioctl(vgem, U.DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence: attach.out_fence!, flags: 0 });
    expect(await p.poll([pfd], Math.ceil((2 * PERIOD) / 1e6))).toBe(1);
    const [ev] = U.parseDrmEvents(await p.read(card));
    expect(frames.find((f) => f.sequence === ev!.sequence)!.crc()).toBe(expected.crc());
  });

  it("IGT prime_vgem fence-flip-hang: a never-signalled vgem fence still lets the flip complete, after its 10 s timeout", async () => {
    const { k, p, card, vgem, ids, bo, fb, stopFrames } = await scene("vgem");
    stopFrames();
    const attach: U.drm_vgem_fence_attach = { handle: bo.handle, flags: U.VGEM_FENCE_WRITE };
    await p.ioctl(vgem, U.DRM_IOCTL_VGEM_FENCE_ATTACH, attach);
    const t0 = k.clock.now();
    await atomic(p, card, ids, { [ids.primary]: { FB_ID: fb } }, U.DRM_MODE_ATOMIC_NONBLOCK | U.DRM_MODE_PAGE_FLIP_EVENT);
    const [ev] = U.parseDrmEvents(await p.read(card));
    const evNs = ev!.tv_sec * 1e9 + ev!.tv_usec * 1e3;
    expect(evNs - t0).toBeGreaterThanOrEqual(VGEM_FENCE_TIMEOUT_NS);
    expect(evNs - t0).toBeLessThanOrEqual(VGEM_FENCE_TIMEOUT_NS + PERIOD);
    // the fence had expired: signalling it now reports ETIMEDOUT
    await expect(p.ioctl(vgem, U.DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence: attach.out_fence!, flags: 0 })).rejects.toThrow(/ETIMEDOUT/);
  });
});
