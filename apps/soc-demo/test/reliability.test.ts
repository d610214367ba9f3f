/**
 * Reliability of the SoC pipeline as three processes (the structure of src/pipeline.ts, set up step
 * by step so that faults can be injected between the steps): a process killed mid-pipeline
 * (kill(2) with SIGKILL) drops only its own references; the camera's dma-bufs live on while the
 * display still scans them out (dma_buf_put frees a buffer at its last reference, whoever held it),
 * and are freed once the display lets go. Also the pipeline under an allocation failure.
 */
import { O_RDWR, SIGKILL, assertNoLeaks, leakCheck, type Kernel, type Process } from "@dmabuf/core";
import { V4L2_PIX_FMT_JPEG } from "@dmabuf/codec-sim";
import * as D from "@dmabuf/drm-sim";
import { MM } from "@dmabuf/mm";
import { V4L2_MEMORY_DMABUF, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32, readFrameCounter } from "@dmabuf/v4l2-sim";
import { describe, expect, it } from "vitest";
import { boot } from "../src/pipeline.js";
import { libdrm as K } from "@dmabuf/drm-sim";
import { libv4l2 as V } from "@dmabuf/v4l2-sim";

const W = 320, H = 240, N = 4;

/** The frame counter vivid burned into what the display scans out now. */
function onScreenCounter(kernel: Kernel): number | undefined {
  const f = D.drmDeviceOf(kernel, "/dev/dri/card0").kms!.crtcs[0]!.compose();
  const px = f.pixels.subarray(0, f.width * 64);
  return readFrameCounter(new Uint8Array(px.buffer, px.byteOffset, px.byteLength), V4L2_PIX_FMT_XBGR32, f.width * 4);
}

/** The camera's exported buffers (vb2's dma-bufs are named after its allocator module). */
const camBufs = (kernel: Kernel) => kernel.objects.live("dma-buf").filter((r) => r.describe().startsWith("videobuf2_"));

async function bufinfo(kernel: Kernel): Promise<string> {
  const cat = kernel.spawn("cat");
  const text = await cat.readFile("/sys/kernel/debug/dma_buf/bufinfo");
  cat.exit(0);
  return text;
}

/** Camera, encoder and compositor set up as pipeline.ts does, the camera's buffers passed by SCM_RIGHTS. */
async function pipeline() {
  const kernel = await boot({});
  const pagesAtBoot = kernel.resolve(MM).pages.nrFree;
  const camera = kernel.spawn("camera");
  const encoder = kernel.spawn("encoder");
  const compositor = kernel.spawn("compositor");
  const cam = camera.open(await V.findVideoNode(camera, "vivid-vivid.0-vid-cap"), O_RDWR);
  const pix = await V.setFormat(camera, cam, V.CAP, V4L2_PIX_FMT_NV12, W, H);
  await V.requestBuffers(camera, cam, V.CAP, 1, N);
  const camFds = await V.exportBuffers(camera, cam, V.CAP, N);
  const encFds = camera.sendFds(encoder, camFds);
  const dispFds = camera.sendFds(compositor, camFds);

  const enc = encoder.open(await V.findVideoNode(encoder, "sim-jpeg-encoder"), O_RDWR);
  await V.setFormat(encoder, enc, V.OUT, V4L2_PIX_FMT_NV12, W, H);
  await V.setFormat(encoder, enc, V.CAP, V4L2_PIX_FMT_JPEG, 0, 0);
  await V.requestBuffers(encoder, enc, V.OUT, V4L2_MEMORY_DMABUF, N);
  await V.mmapBuffers(encoder, enc, V.CAP, N);
  for (let i = 0; i < N; i++) await V.qbufMmap(encoder, enc, V.CAP, i);
  await V.streamOn(encoder, enc, V.OUT, V.CAP);

  const card = compositor.open("/dev/dri/card0", O_RDWR);
  const pipe = await K.kmsIds(compositor, card);
  const mode = [...pipe.modes].reverse().find((m) => m.hdisplay >= W && m.vdisplay >= H)!;
  const fbs: number[] = [];
  for (let i = 0; i < N; i++) {
    const h = await K.fdToHandle(compositor, card, dispFds[i]!);
    fbs.push(await K.addFb(compositor, card, W, H, D.DRM_FORMAT_NV12, [h, h], [pix.bytesperline, pix.bytesperline], [0, pix.bytesperline * H]));
  }
  for (let i = 0; i < N; i++) await V.qbufMmap(camera, cam, V.CAP, i);
  await V.streamOn(camera, cam, V.CAP);
  const flip = async (index: number) => K.atomic(compositor, card, pipe, { [pipe.primary]: { FB_ID: fbs[index]! } }, 0);
  return { kernel, pagesAtBoot, camera, encoder, compositor, cam, enc, card, pix, encFds, mode, pipe, fbs, flip };
}

describe("a process killed mid-pipeline (kill(2) SIGKILL, do_exit: its references go, the buffers stay while others hold them)", () => {
  it("the encoder killed while encoding a camera buffer: the display keeps showing it, the camera keeps capturing; nothing leaks", async () => {
    const s = await pipeline();
    const { kernel, camera, encoder, compositor } = s;
    const b = await V.dqbuf(camera, s.cam, V.CAP);
    await K.modeset(compositor, s.card, s.pipe, s.mode, s.fbs[b.index]!, W, H);
    // the encoder takes the frame; its job is running on jpeg-enc.0 when the kill comes
    await V.qbufDmabuf(encoder, s.enc, V.OUT, b.index, s.encFds[b.index]!, s.pix.sizeimage, s.pix.sizeimage);
    expect(await bufinfo(kernel)).toContain("jpeg-enc.0");
    compositor.kill(encoder.pid, SIGKILL);
    expect(encoder.exited).toBe(true);
    expect(kernel.trace.events("codec_job_finish")).toHaveLength(0); // the job was aborted, not finished
    const info = await bufinfo(kernel);
    expect(info).not.toContain("jpeg-enc.0"); // the encoder's attachments are gone...
    expect(info).toContain("vkms.0"); // ...the display's are not
    expect(camBufs(kernel)).toHaveLength(N);
    expect(onScreenCounter(kernel)).toBe(b.sequence);
    // The rest of the pipeline goes on: the camera captures into the buffers, the display flips.
    for (let n = 0; n < 3; n++) {
      const next = await V.dqbuf(camera, s.cam, V.CAP);
      await s.flip(next.index);
      expect(onScreenCounter(kernel)).toBe(next.sequence);
      await V.qbufMmap(camera, s.cam, V.CAP, next.index);
    }
    assertNoLeaks(kernel);
    expect(kernel.resolve(MM).pages.nrFree).toBe(s.pagesAtBoot);
  });

  it("the camera killed too: its buffers survive while the display scans them out, and are freed when the display lets go", async () => {
    const s = await pipeline();
    const { kernel, camera, encoder, compositor } = s;
    const b = await V.dqbuf(camera, s.cam, V.CAP);
    await K.modeset(compositor, s.card, s.pipe, s.mode, s.fbs[b.index]!, W, H);
    compositor.kill(encoder.pid, SIGKILL);
    compositor.kill(camera.pid, SIGKILL);
    expect(camera.termSignal).toBe(SIGKILL);
    // Only the compositor holds the camera's buffers now (its GEM handles and framebuffers).
    expect(camBufs(kernel)).toHaveLength(N);
    expect(await bufinfo(kernel)).toMatch(new RegExp(`\nTotal ${N} objects, \\d+ bytes\n`));
    expect(onScreenCounter(kernel)).toBe(b.sequence); // the pages are still the camera's frame
    const live = leakCheck(kernel).counts["process"];
    expect(live).toBe(1);
    compositor.exit(0);
    expect(camBufs(kernel)).toHaveLength(0);
    expect(await bufinfo(kernel)).toContain("\nTotal 0 objects, 0 bytes\n");
    expect(kernel.resolve(MM).pages.nrFree).toBe(s.pagesAtBoot);
    assertNoLeaks(kernel);
  });
});

describe("the pipeline under allocation failure (fail_cma_alloc + fail_page_alloc)", () => {
  it("the camera's REQBUFS fails with ENOMEM while CMA and the buddy fallback of dma_alloc_attrs fail; nothing is left allocated; it works once they stop", async () => {
    const kernel = await boot({});
    const m = kernel.resolve(MM);
    const camera: Process = kernel.spawn("camera");
    const cam = camera.open(await V.findVideoNode(camera, "vivid-vivid.0-vid-cap"), O_RDWR);
    await V.setFormat(camera, cam, V.CAP, V4L2_PIX_FMT_NV12, W, H);
    const free = m.pages.nrFree;
    const used = m.cmaAreas[0]!.used;
    kernel.faults.configure("fail_cma_alloc", { probability: 100, times: -1, verbose: 0 });
    kernel.faults.configure("fail_page_alloc", { probability: 100, times: -1, verbose: 0 });
    await expect(V.requestBuffers(camera, cam, V.CAP, 1, N)).rejects.toMatchObject({ code: "ENOMEM" });
    expect(m.pages.nrFree).toBe(free);
    expect(m.cmaAreas[0]!.used).toBe(used);
    expect(kernel.faults.failures("fail_cma_alloc")).toBe(1);
    expect(kernel.dmesg()).toContain("cma_alloc: linux,cma: alloc failed");
    kernel.faults.configure("fail_cma_alloc", { times: 0 });
    kernel.faults.configure("fail_page_alloc", { times: 0 });
    expect(await V.requestBuffers(camera, cam, V.CAP, 1, N)).toBe(N);
    assertNoLeaks(kernel);
    expect(m.pages.nrFree).toBeGreaterThanOrEqual(free);
  });
});
