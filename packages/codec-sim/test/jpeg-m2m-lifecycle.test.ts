import { describe, expect, it } from "vitest";
import { assertNoLeaks, type Kernel } from "@dmabuf/core";
import { V4L2_BUF_FLAG_ERROR, V4L2_MEMORY_DMABUF, V4L2_PIX_FMT_NV12, VIDIOC_EXPBUF, VIDIOC_QBUF, VIDIOC_REQBUFS, VIDIOC_STREAMOFF, libv4l2 } from "@dmabuf/v4l2-sim";
import { V4L2_PIX_FMT_JPEG, probeJpeg } from "../src/index.js";
import { CAP, OUT, bootSoc, dqbuf, qbuf, sFmt, streamingEncoder } from "./codec-helpers.js";
import { nv12Pattern } from "./heap-access.js";

const W = 320, H = 240;

/** Encodes `frames` frames and returns the trace text and the bitstreams. */
async function encodeRun(frames: number): Promise<{ kernel: Kernel; trace: string; jpegs: Uint8Array[] }> {
  const kernel = await bootSoc();
  const p = kernel.spawn("det");
  const { fd, outs, caps } = await streamingEncoder(p, W, H, 2);
  const jpegs: Uint8Array[] = [];
  for (let n = 0; n < frames; n++) {
    outs[n % 2]!.write(0, nv12Pattern(W, H, W, H, n));
    await qbuf(p, fd, CAP, n % 2);
    await qbuf(p, fd, OUT, n % 2, 0, n * 33_333);
    const cap = await dqbuf(p, fd, CAP);
    await dqbuf(p, fd, OUT);
    jpegs.push(caps[cap.index]!.read(0, cap.bytesused!));
  }
  p.close(fd);
  return { kernel, trace: kernel.trace.ftrace(), jpegs };
}

describe("codec device lifecycle", () => {
  it("is deterministic: the same frames give the same bitstreams and the same trace, timestamps included (virtual time held at the earliest completion until the library is done)", async () => {
    const a = await encodeRun(5);
    const b = await encodeRun(5);
    expect(b.jpegs).toEqual(a.jpegs);
    expect(b.trace).toBe(a.trace);
    expect(a.trace).toContain("codec_job_finish");
    assertNoLeaks(a.kernel);
    assertNoLeaks(b.kernel);
  });

  it("STREAMOFF(CAPTURE) while a job runs aborts it: no completion, the late library result is dropped, the OUTPUT frame is encoded after the restart (v4l2_m2m_cancel_job -> job_abort)", async () => {
    const kernel = await bootSoc();
    const p = kernel.spawn("abort");
    const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
    await sFmt(p, fd, CAP, V4L2_PIX_FMT_JPEG, 0, 0);
    await sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, W, H);
    await libv4l2.mmapBuffers(p, fd, OUT, 1);
    await libv4l2.mmapBuffers(p, fd, CAP, 2);
    await qbuf(p, fd, CAP, 0);
    await qbuf(p, fd, CAP, 1);
    await libv4l2.streamOn(p, fd, OUT, CAP);
    await qbuf(p, fd, OUT, 0);
    // The m2m scheduler starts the job on a zero-delay timer: let it run, then stop CAPTURE mid-job.
    await kernel.clock.sleep(1000);
    expect(kernel.trace.events("codec_job_start")).toHaveLength(1);
    await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
    await kernel.clock.sleep(100_000_000);
    expect(kernel.trace.events("codec_job_finish")).toHaveLength(0);
    // The OUTPUT frame is still queued; CAPTURE restarted, it is encoded into a new buffer.
    await libv4l2.streamOn(p, fd, CAP);
    await qbuf(p, fd, CAP, 1);
    const cap = await dqbuf(p, fd, CAP);
    expect(cap.flags! & V4L2_BUF_FLAG_ERROR).toBe(0);
    expect(cap.index).toBe(1);
    assertNoLeaks(kernel);
  });

  it("closing the file while a job runs releases everything (v4l2_m2m_ctx_release)", async () => {
    const kernel = await bootSoc();
    const p = kernel.spawn("close");
    const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
    await sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, W, H);
    await libv4l2.mmapBuffers(p, fd, OUT, 1);
    await libv4l2.mmapBuffers(p, fd, CAP, 1);
    await qbuf(p, fd, CAP, 0);
    await libv4l2.streamOn(p, fd, OUT, CAP);
    await qbuf(p, fd, OUT, 0);
    await kernel.clock.sleep(1000);
    p.exit(0);
    await kernel.clock.sleep(100_000_000);
    assertNoLeaks(kernel);
  });

  it("imports dma-bufs on the CAPTURE queue too: the encoder writes the JPEG into a buffer another device exported (V4L2_MEMORY_DMABUF on CAPTURE)", async () => {
    const kernel = await bootSoc();
    const p = kernel.spawn("capimport");
    // vivid as an allocator (libcamera's FrameBufferAllocator): MMAP buffers exported with EXPBUF.
    const cam = p.open(await libv4l2.findVideoNode(p, "vivid-vivid.0-vid-cap"));
    const camFmt = (await sFmt(p, cam, CAP, V4L2_PIX_FMT_NV12, W, H)).fmt.pix!;
    const camMaps = await libv4l2.mmapBuffers(p, cam, CAP, 2);
    const e = { type: CAP, index: 0, plane: 0, flags: 0, fd: -1 };
    await p.ioctl(cam, VIDIOC_EXPBUF, e);
    const enc = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
    await sFmt(p, enc, OUT, V4L2_PIX_FMT_NV12, W, H);
    await sFmt(p, enc, CAP, V4L2_PIX_FMT_JPEG, 0, 0, camFmt.sizeimage);
    const [out] = await libv4l2.mmapBuffers(p, enc, OUT, 1);
    out!.write(0, nv12Pattern(W, H, W, H));
    await p.ioctl(enc, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_DMABUF });
    await p.ioctl(enc, VIDIOC_QBUF, { index: 0, type: CAP, memory: V4L2_MEMORY_DMABUF, m: { fd: e.fd }, length: camFmt.sizeimage, bytesused: 0, flags: 0 });
    await libv4l2.streamOn(p, enc, OUT, CAP);
    await qbuf(p, enc, OUT, 0);
    const cap = await dqbuf(p, enc, CAP, V4L2_MEMORY_DMABUF);
    expect(cap.m!.fd).toBe(e.fd);
    // The JPEG is in the camera's buffer memory.
    expect(probeJpeg(camMaps[0]!.read(0, cap.bytesused!))).toMatchObject({ width: W, height: H });
    assertNoLeaks(kernel);
  });
});
