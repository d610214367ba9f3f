/**
 * The problem dma-buf solves for V4L2 (Documentation/userspace-api/media/v4l/dmabuf.rst): with
 * USERPTR the frame has to reach user memory the device cannot write (here: counted copies), with
 * DMABUF the camera writes straight into the shared buffer and nothing is copied.
 */
import { describe, expect, it } from "vitest";
import { MM } from "@dmabuf/mm";
import { V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_DMABUF, V4L2_MEMORY_USERPTR, V4L2_PIX_FMT_NV12, readFrameCounter } from "../src/index.js";
import { TWO_CAMERAS, boot, buf, dqbuf, exportBuffers, mapFd, qbuf, reqbufs, setFormat, streamon } from "./helpers.js";

const W = 1280;
const H = 720;
const SIZE = (W * H * 3) / 2;
const FRAMES = 8;

describe("copy accounting: USERPTR copies a frame per buffer, DMABUF copies nothing", () => {
  it("USERPTR: every dequeued frame costs one sizeimage copy (vb2 finish -> user memory), and the user sees the frame", async () => {
    const k = await boot();
    const p = k.spawn("app");
    const fd = p.open("/dev/video0");
    await setFormat(p, fd, V4L2_PIX_FMT_NV12, W, H);
    await reqbufs(p, fd, 2, V4L2_MEMORY_USERPTR);
    const user = [new Uint8Array(SIZE), new Uint8Array(SIZE)];
    // A too-short user buffer is EINVAL (__prepare_userptr: "provided buffer size ... is less than setup size").
    await expect(qbuf(p, fd, buf(0, V4L2_MEMORY_USERPTR, V4L2_BUF_TYPE_VIDEO_CAPTURE, { userptr: new Uint8Array(SIZE - 1) }, SIZE - 1))).rejects.toMatchObject({ code: "EINVAL" });
    for (let i = 0; i < 2; i++) await qbuf(p, fd, buf(i, V4L2_MEMORY_USERPTR, V4L2_BUF_TYPE_VIDEO_CAPTURE, { userptr: user[i]! }, SIZE));
    await streamon(p, fd);
    const copies = k.resolve(MM).copies;
    for (let n = 0; n < FRAMES; n++) {
      const b = await dqbuf(p, fd, V4L2_MEMORY_USERPTR);
      expect(readFrameCounter(user[b.index]!, V4L2_PIX_FMT_NV12, W)).toBe(n);
      await qbuf(p, fd, buf(b.index, V4L2_MEMORY_USERPTR, V4L2_BUF_TYPE_VIDEO_CAPTURE, { userptr: user[b.index]! }, SIZE));
    }
    expect(copies.of("vb2-userptr-from-device")).toEqual({ count: FRAMES, bytes: FRAMES * SIZE });
    k.shutdown();
  });

  it("DMABUF: streaming into buffers exported by another device copies 0 bytes", async () => {
    const k = await boot({}, TWO_CAMERAS);
    const p = k.spawn("app");
    const exporter = p.open("/dev/video1");
    await setFormat(p, exporter, V4L2_PIX_FMT_NV12, W, H);
    const fds = await exportBuffers(p, exporter, 2);
    const maps = fds.map((f) => mapFd(p, f, SIZE));
    const fd = p.open("/dev/video0");
    await setFormat(p, fd, V4L2_PIX_FMT_NV12, W, H);
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    for (let i = 0; i < 2; i++) await qbuf(p, fd, buf(i, V4L2_MEMORY_DMABUF, V4L2_BUF_TYPE_VIDEO_CAPTURE, { fd: fds[i]! }, SIZE));
    await streamon(p, fd);
    for (let n = 0; n < FRAMES; n++) {
      const b = await dqbuf(p, fd, V4L2_MEMORY_DMABUF);
      expect(readFrameCounter(maps[b.index]!, V4L2_PIX_FMT_NV12, W)).toBe(n);
      await qbuf(p, fd, buf(b.index, V4L2_MEMORY_DMABUF, V4L2_BUF_TYPE_VIDEO_CAPTURE, { fd: fds[b.index]! }, SIZE));
    }
    expect(k.resolve(MM).copies.bytes).toBe(0);
    expect(k.resolve(MM).copies.count).toBe(0);
    k.shutdown();
  });
});
