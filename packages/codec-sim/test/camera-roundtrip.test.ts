import { afterEach, describe, expect, it } from "vitest";
import {
  DMA_BUF_IOCTL_SYNC, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START, Kernel, MAP_SHARED, O_CLOEXEC, O_RDWR,
  PROT_READ, assertNoLeaks, type Process,
} from "@dmabuf/core";
import mm, { DMA_HEAP_IOCTL_ALLOC, type DmaHeapAllocationData } from "@dmabuf/mm";
import v4l2Sim from "@dmabuf/v4l2-sim";
import drmSim, {
  DRM_EVENT_FLIP_COMPLETE, DRM_MODE_ATOMIC_ALLOW_MODESET, DRM_FORMAT_NV12, DRM_MODE_ATOMIC_NONBLOCK, DRM_MODE_PAGE_FLIP_EVENT, drmDeviceOf, libdrm,
  parseDrmEvents, type KmsIds, type ScanoutFrame,
} from "@dmabuf/drm-sim";
import {
  V4L2_EVENT_SOURCE_CHANGE, V4L2_MEMORY_DMABUF, V4L2_PIX_FMT_NV12, VIDIOC_DQEVENT, VIDIOC_EXPBUF, VIDIOC_QBUF,
  VIDIOC_REQBUFS, VIDIOC_SUBSCRIBE_EVENT, V4L2_PIX_FMT_XBGR32, readFrameCounter, type v4l2_buffer, type v4l2_event, libv4l2 } from "@dmabuf/v4l2-sim";
import codecSim, { V4L2_PIX_FMT_JPEG, V4L2_SEL_TGT_CROP, VIDIOC_S_SELECTION, psnr } from "../src/index.js";
import { CAP, OUT, dqbuf, qbuf, sFmt } from "./codec-helpers.js";

/**
 * Luma PSNR every decoded frame must exceed. JPEG at quality 90 of vivid's colour bars and counter
 * measures 45.6 dB here (min over the 30 frames); 40 dB is visually lossless for this content.
 */
const PSNR_THRESHOLD_DB = 40;
const FRAMES = 30;
// 640x360 visible; the camera captures 368 lines so its NV12 layout is the encoder's 16-line-aligned one.
const W = 640, H = 360, CODED_H = 368, N = 4;

let kernel: Kernel | undefined;
// Every test ends with the kernel shut down and nothing left alive (no fd, dma-buf, attachment or mapping).
afterEach(() => {
  const k = kernel;
  kernel = undefined;
  if (k) assertNoLeaks(k);
});

async function expbufAll(p: Process, fd: number, type: number, count: number): Promise<number[]> {
  const fds: number[] = [];
  for (let index = 0; index < count; index++) {
    const e = { type, index, plane: 0, flags: 0, fd: -1 };
    await p.ioctl(fd, VIDIOC_EXPBUF, e);
    fds.push(e.fd);
  }
  return fds;
}

/** QBUF of a dma-buf; `length` is the dma-buf's size (vb2 checks bytesused against it, __verify_length). */
async function qbufDmabuf(p: Process, fd: number, type: number, index: number, dmabuf: number, length: number, bytesused: number, ts = { tv_sec: 0, tv_usec: 0 }) {
  const b: v4l2_buffer = { index, type, memory: V4L2_MEMORY_DMABUF, m: { fd: dmabuf }, length, bytesused, field: 0, flags: 0, timestamp: ts };
  await p.ioctl(fd, VIDIOC_QBUF, b);
}

describe("camera -> encoder -> decoder -> display through dma-bufs", () => {
  it(`encodes ${FRAMES} vivid frames imported as dma-bufs, decodes them into CMA dma-heap buffers that the display imports and scans out: every frame above ${PSNR_THRESHOLD_DB} dB with its burned-in counter intact, on screen too`, async () => {
    kernel = await Kernel.boot({ plugins: [mm(), v4l2Sim(), drmSim(), codecSim()] });
    const k = kernel;
    const p = kernel.spawn("pipeline");

    // Camera: MMAP buffers exported with EXPBUF (v4l2src io-mode=dmabuf).
    const cam = p.open(await libv4l2.findVideoNode(p, "vivid-vivid.0-vid-cap"));
    const camFmt = (await sFmt(p, cam, CAP, V4L2_PIX_FMT_NV12, W, CODED_H)).fmt.pix!;
    const camMaps = await libv4l2.mmapBuffers(p, cam, CAP, N);
    const camFds = await expbufAll(p, cam, CAP, N);

    // Encoder: raw OUTPUT imports the camera's dma-bufs (output-io-mode=dmabuf-import); crop to 640x360.
    const enc = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
    const encOut = (await sFmt(p, enc, OUT, V4L2_PIX_FMT_NV12, W, H)).fmt.pix!;
    expect(encOut).toMatchObject({ width: W, height: CODED_H, bytesperline: camFmt.bytesperline, sizeimage: camFmt.sizeimage });
    await p.ioctl(enc, VIDIOC_S_SELECTION, { type: OUT, target: V4L2_SEL_TGT_CROP, flags: 0, r: { left: 0, top: 0, width: W, height: H } });
    const jpegBufSize = (await sFmt(p, enc, CAP, V4L2_PIX_FMT_JPEG, 0, 0)).fmt.pix!.sizeimage;
    await p.ioctl(enc, VIDIOC_REQBUFS, { count: N, type: OUT, memory: V4L2_MEMORY_DMABUF });
    await libv4l2.mmapBuffers(p, enc, CAP, N);
    const jpegFds = await expbufAll(p, enc, CAP, N);
    for (let i = 0; i < N; i++) await qbuf(p, enc, CAP, i);

    // Decoder: the bitstream OUTPUT imports the encoder's CAPTURE dma-bufs; CAPTURE is exported for display.
    const dec = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-decoder"));
    await p.ioctl(dec, VIDIOC_SUBSCRIBE_EVENT, { type: V4L2_EVENT_SOURCE_CHANGE, id: 0, flags: 0 });
    await sFmt(p, dec, OUT, V4L2_PIX_FMT_JPEG, 0, 0, 64 * 1024);
    await p.ioctl(dec, VIDIOC_REQBUFS, { count: N, type: OUT, memory: V4L2_MEMORY_DMABUF });

    for (let i = 0; i < N; i++) await qbuf(p, cam, CAP, i);
    await libv4l2.streamOn(p, cam, CAP);
    await libv4l2.streamOn(p, enc, OUT, CAP);

    const decMaps: { fd: number; map: ReturnType<Process["mmap"]> }[] = [];
    const card = p.open("/dev/dri/card0"); // vkms on the default board
    let ids: KmsIds | undefined;
    const fbs: number[] = [];
    let shown: number | undefined;
    let waiting: ((f: ScanoutFrame) => void) | undefined;
    const stopFrames = drmDeviceOf(k, "/dev/dri/card0").kms!.crtcs[0]!.onFrame((f) => {
      waiting?.(f);
      waiting = undefined;
    });
    const nextScanout = () => k.clock.block(new Promise<ScanoutFrame>((resolve) => (waiting = resolve)));
    let decBpl = 0, decSize = 0;
    for (let n = 0; n < FRAMES; n++) {
      const frame = await dqbuf(p, cam, CAP);
      const original = camMaps[frame.index]!.read(0, camFmt.bytesperline * H);
      const counter = readFrameCounter(original, V4L2_PIX_FMT_NV12, camFmt.bytesperline);
      expect(counter).toBe(frame.sequence);

      await qbufDmabuf(p, enc, OUT, frame.index, camFds[frame.index]!, camFmt.sizeimage, camFmt.sizeimage, frame.timestamp);
      const coded = await dqbuf(p, enc, CAP);
      const used = await dqbuf(p, enc, OUT, V4L2_MEMORY_DMABUF);
      await qbuf(p, cam, CAP, used.index);
      expect(coded.timestamp).toEqual(frame.timestamp);

      await qbufDmabuf(p, dec, OUT, coded.index, jpegFds[coded.index]!, jpegBufSize, coded.bytesused!, coded.timestamp);
      if (n === 0) {
        await libv4l2.streamOn(p, dec, OUT);
        const ev = { type: 0 } as v4l2_event;
        await p.ioctl(dec, VIDIOC_DQEVENT, ev);
        expect(ev.type).toBe(V4L2_EVENT_SOURCE_CHANGE);
        const decFmt = (await sFmt(p, dec, CAP, V4L2_PIX_FMT_NV12, 0, 0)).fmt.pix!;
        expect(decFmt).toMatchObject({ width: W, height: CODED_H, bytesperline: 640 });
        decBpl = decFmt.bytesperline;
        // Frames for the display come from a central allocator (dma-heap, as on Android/ChromeOS),
        // imported by the decoder (behind an IOMMU) and by vkms (no IOMMU: it needs contiguous CMA).
        const heap = p.open("/dev/dma_heap/linux,cma", O_RDWR);
        decSize = decFmt.sizeimage;
        for (let i = 0; i < N; i++) {
          const alloc: DmaHeapAllocationData = { len: decSize, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
          await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, alloc);
          decMaps.push({ fd: alloc.fd, map: p.mmap(null, decSize, PROT_READ, MAP_SHARED, alloc.fd, 0) });
        }
        p.close(heap);
        await p.ioctl(dec, VIDIOC_REQBUFS, { count: N, type: CAP, memory: V4L2_MEMORY_DMABUF });
        for (let i = 0; i < N; i++) await qbufDmabuf(p, dec, CAP, i, decMaps[i]!.fd, decSize, 0);
        await libv4l2.streamOn(p, dec, CAP);
        // The display imports every decoded buffer once (PRIME) as an NV12 framebuffer: one handle,
        // chroma at bytesperline x the coded height (kmssink's single-fd NV12).
        ids = await libdrm.kmsIds(p, card);
        for (const { fd } of decMaps) {
          const handle = await libdrm.fdToHandle(p, card, fd);
          fbs.push(await libdrm.addFb(p, card, W, H, DRM_FORMAT_NV12, [handle, handle], [decBpl, decBpl], [0, decBpl * CODED_H]));
        }
      }
      const decoded = await dqbuf(p, dec, CAP, V4L2_MEMORY_DMABUF);
      const consumed = await dqbuf(p, dec, OUT, V4L2_MEMORY_DMABUF);
      await qbuf(p, enc, CAP, consumed.index);
      expect(decoded.timestamp).toEqual(frame.timestamp);

      const { fd, map } = decMaps[decoded.index]!;
      await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
      const luma = map.read(0, decBpl * H);
      await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ });
      expect(psnr(original, camFmt.bytesperline, luma, decBpl, W, H)).toBeGreaterThan(PSNR_THRESHOLD_DB);
      expect(readFrameCounter(luma, V4L2_PIX_FMT_NV12, decBpl)).toBe(counter);

      // Show it: the first frame with a modeset, then a page flip per frame; the buffer on screen goes
      // back to the decoder only once the next one has replaced it (kmssink keeps the last buffer).
      if (shown === undefined) {
        // 640x480 mode, the 640x360 picture unscaled at the top (vkms does not scale).
        const blob = await libdrm.modeBlob(p, card, ids!.modes.find((m) => m.hdisplay === 640 && m.vdisplay === 480)!);
        await libdrm.atomic(p, card, ids!, {
          [ids!.crtc]: { ACTIVE: 1, MODE_ID: blob },
          [ids!.connector]: { CRTC_ID: ids!.crtc },
          [ids!.primary]: libdrm.planeProps(ids!.crtc, fbs[decoded.index]!, W, H),
        }, DRM_MODE_ATOMIC_ALLOW_MODESET);
      } else {
        await libdrm.atomic(p, card, ids!, { [ids!.primary]: { FB_ID: fbs[decoded.index]! } }, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT);
        const [ev] = parseDrmEvents(await p.read(card));
        expect(ev!.type).toBe(DRM_EVENT_FLIP_COMPLETE);
        await qbufDmabuf(p, dec, CAP, shown, decMaps[shown]!.fd, decSize, 0);
      }
      shown = decoded.index;
      // The next scanned-out frame carries this frame's counter.
      const screen = await nextScanout();
      const words = screen.pixels;
      expect(readFrameCounter(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), V4L2_PIX_FMT_XBGR32, screen.width * 4)).toBe(counter);
    }
    stopFrames();
    expect(kernel.trace.events("codec_job_finish").filter((e) => e.args.status === 0)).toHaveLength(2 * FRAMES);
  });
});
