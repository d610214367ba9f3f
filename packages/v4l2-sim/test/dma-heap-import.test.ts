/**
 * libcamera/GStreamer "dmabuf-import": buffers come from a DMA heap (drivers/dma-buf/heaps/) and are
 * queued to the camera by fd (REQBUFS(V4L2_MEMORY_DMABUF) + QBUF m.fd).
 */
import { describe, expect, it } from "vitest";
import { O_CLOEXEC, O_RDWR, assertNoLeaks, type Process } from "@dmabuf/core";
import { DMA_HEAP_IOCTL_ALLOC, MM, type DmaHeapAllocationData } from "@dmabuf/mm";
import { V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_DMABUF, V4L2_PIX_FMT_NV12, readFrameCounter } from "../src/index.js";
import { TWO_CAMERAS, boot, buf, dqbuf, mapFd, qbuf, reqbufs, setFormat, streamon } from "./helpers.js";

const W = 1920;
const H = 1080;
const SIZE = 3110400;
const LEN = Math.ceil(SIZE / 4096) * 4096;

async function heapAlloc(p: Process, heap: string, len: number): Promise<number> {
  const hfd = p.open(`/dev/dma_heap/${heap}`, O_RDWR);
  const data: DmaHeapAllocationData = { len, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
  await p.ioctl(hfd, DMA_HEAP_IOCTL_ALLOC, data);
  p.close(hfd);
  return data.fd;
}

async function stream(p: Process, node: string, fds: number[], frames: number): Promise<void> {
  const fd = p.open(node);
  await setFormat(p, fd, V4L2_PIX_FMT_NV12, W, H);
  await reqbufs(p, fd, fds.length, V4L2_MEMORY_DMABUF);
  for (const [i, f] of fds.entries()) await qbuf(p, fd, buf(i, V4L2_MEMORY_DMABUF, V4L2_BUF_TYPE_VIDEO_CAPTURE, { fd: f }, 0));
  await streamon(p, fd);
  const maps = fds.map((f) => mapFd(p, f, LEN));
  for (let n = 0; n < frames; n++) {
    const b = await dqbuf(p, fd, V4L2_MEMORY_DMABUF);
    expect(b.length).toBe(LEN); // length 0 at QBUF means the whole dma-buf
    expect(readFrameCounter(maps[b.index]!, V4L2_PIX_FMT_NV12, W)).toBe(n);
    await qbuf(p, fd, buf(b.index, V4L2_MEMORY_DMABUF, V4L2_BUF_TYPE_VIDEO_CAPTURE, { fd: fds[b.index]! }, 0));
  }
  for (const m of maps) p.munmap(m);
  p.close(fd);
}

describe("DMABUF import of dma-heap buffers", () => {
  it("system heap (scattered pages) into the camera behind an IOMMU: frames arrive, zero copies, nothing leaks", async () => {
    const k = await boot({}, TWO_CAMERAS);
    const p = k.spawn("libcamera");
    const fds = [await heapAlloc(p, "system", LEN), await heapAlloc(p, "system", LEN), await heapAlloc(p, "system", LEN)];
    await stream(p, "/dev/video0", fds, 12);
    expect(k.resolve(MM).copies.bytes).toBe(0);
    for (const f of fds) p.close(f);
    assertNoLeaks(k);
  });

  it("CMA heap (contiguous) into a camera without IOMMU (vb2-dma-contig accepts one DMA range)", async () => {
    const k = await boot({}, TWO_CAMERAS);
    const p = k.spawn("libcamera");
    const fds = [await heapAlloc(p, "linux,cma", LEN), await heapAlloc(p, "linux,cma", LEN)];
    await stream(p, "/dev/video1", fds, 4);
    assertNoLeaks(k);
  });

  it("a heap buffer one page short of sizeimage is EINVAL at QBUF; an fd that is not open is EINVAL", async () => {
    const k = await boot({}, TWO_CAMERAS);
    const p = k.spawn("app");
    const short = await heapAlloc(p, "system", LEN - 4096 * 2);
    const fd = p.open("/dev/video0");
    await setFormat(p, fd, V4L2_PIX_FMT_NV12, W, H);
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    await expect(qbuf(p, fd, buf(0, V4L2_MEMORY_DMABUF, V4L2_BUF_TYPE_VIDEO_CAPTURE, { fd: short }, 0))).rejects.toMatchObject({ code: "EINVAL" });
    await expect(qbuf(p, fd, buf(0, V4L2_MEMORY_DMABUF, V4L2_BUF_TYPE_VIDEO_CAPTURE, { fd: 99 }, 0))).rejects.toMatchObject({ code: "EINVAL" });
    assertNoLeaks(k);
  });
});
