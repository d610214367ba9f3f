/**
 * The ISP from userspace, as a vim2m-style client drives it (VIDIOC_S_FMT on both queues, MMAP or
 * DMABUF buffers, QBUF/DQBUF): the NV12 it returns is the conversion of the YUYV it was given.
 */
import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { Kernel, MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, assertNoLeaks, type Process } from "@dmabuf/core";
import mm, { DMA_HEAP_IOCTL_ALLOC, type DmaHeapAllocationData } from "@dmabuf/mm";
import v4l2Sim, {
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP, V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_YUYV, VIDIOC_DQBUF, VIDIOC_QBUF, VIDIOC_QUERYBUF, VIDIOC_REQBUFS, VIDIOC_STREAMON, VIDIOC_S_FMT, VIDIOC_TRY_FMT, type v4l2_buffer, type v4l2_format,
} from "@dmabuf/v4l2-sim";
import isp, { nv12Size, yuyvToNv12 } from "../src/index.js";
import board from "../board.json" with { type: "json" };

const W = 64;
const H = 32;

/** A YUYV frame whose luma is x + y and whose chroma varies per column pair. */
function yuyvFrame(w: number, h: number): Uint8Array {
  const f = new Uint8Array(w * h * 2);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x += 2) {
      const o = (y * w + x) * 2;
      f.set([(x + y) & 0xff, (16 + x) & 0xff, (x + 1 + y) & 0xff, (240 - x - y) & 0xff], o);
    }
  return f;
}

async function setup(capW = W, capH = H): Promise<{ k: Kernel; p: Process; fd: number; capFmt: v4l2_format }> {
  const k = await Kernel.boot({ board, plugins: [mm(), v4l2Sim(), isp()] });
  const p = k.spawn("isp-client");
  const fd = p.open("/dev/video0", O_RDWR);
  await p.ioctl(fd, VIDIOC_S_FMT, { type: OUT, fmt: { pix: { width: W, height: H, pixelformat: V4L2_PIX_FMT_YUYV, field: 1, bytesperline: 0, sizeimage: 0, colorspace: 0 } } });
  const capFmt: v4l2_format = { type: CAP, fmt: { pix: { width: capW, height: capH, pixelformat: V4L2_PIX_FMT_NV12, field: 1, bytesperline: 0, sizeimage: 0, colorspace: 0 } } };
  await p.ioctl(fd, VIDIOC_S_FMT, capFmt);
  return { k, p, fd, capFmt };
}

async function mmapBuf(p: Process, fd: number, type: number, length: number) {
  const b: v4l2_buffer = { index: 0, type, memory: V4L2_MEMORY_MMAP, m: {} };
  await p.ioctl(fd, VIDIOC_QUERYBUF, b);
  return p.mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m!.offset!);
}

/** One job: the source bytes in (OUTPUT, MMAP or a dma-buf), the NV12 bytes out. */
async function convertOnce(p: Process, fd: number, src: Uint8Array, dstSize: number, dmabufFd?: number): Promise<Uint8Array> {
  await p.ioctl(fd, VIDIOC_REQBUFS, { count: 1, type: OUT, memory: dmabufFd === undefined ? V4L2_MEMORY_MMAP : V4L2_MEMORY_DMABUF });
  await p.ioctl(fd, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_MMAP });
  if (dmabufFd === undefined) (await mmapBuf(p, fd, OUT, src.length)).write(0, src);
  const dst = await mmapBuf(p, fd, CAP, dstSize);
  const memory = dmabufFd === undefined ? V4L2_MEMORY_MMAP : V4L2_MEMORY_DMABUF;
  await p.ioctl(fd, VIDIOC_QBUF, { index: 0, type: OUT, memory, bytesused: src.length, length: src.length, m: dmabufFd === undefined ? {} : { fd: dmabufFd }, timestamp: { tv_sec: 1, tv_usec: 5 } });
  await p.ioctl(fd, VIDIOC_QBUF, { index: 0, type: CAP, memory: V4L2_MEMORY_MMAP, m: {} });
  await p.ioctl(fd, VIDIOC_STREAMON, OUT);
  await p.ioctl(fd, VIDIOC_STREAMON, CAP);
  const done: v4l2_buffer = { index: 0, type: CAP, memory: V4L2_MEMORY_MMAP, m: {} };
  await p.ioctl(fd, VIDIOC_DQBUF, done);
  expect(done).toMatchObject({ bytesused: dstSize, sequence: 0, timestamp: { tv_sec: 1, tv_usec: 5 } });
  return dst.read(0, dstSize);
}

describe("example ISP: YUYV -> NV12 through the V4L2 mem2mem UAPI", () => {
  it("converts an MMAP frame: luma copied exactly, chroma averaged over row pairs (NV12 4:2:0 siting)", async () => {
    const { k, p, fd, capFmt } = await setup();
    expect(capFmt.fmt.pix).toMatchObject({ width: W, height: H, bytesperline: W, sizeimage: nv12Size(W, H) });
    const src = yuyvFrame(W, H);
    const out = await convertOnce(p, fd, src, nv12Size(W, H));
    const want = new Uint8Array(nv12Size(W, H));
    yuyvToNv12(src, want, { width: W, height: H, srcStride: W * 2, scale: 1, dstStride: W });
    expect(out).toEqual(want);
    expect(out[3 * W + 5]).toBe(8); // luma of (5, 3) = x + y
    p.exit();
    assertNoLeaks(k);
  });

  it("downscales 2:1 when CAPTURE asks for half the OUTPUT size, and rounds other sizes to the full size (TRY_FMT adjusts, never EINVAL)", async () => {
    const { k, p, fd, capFmt } = await setup(W / 2, H / 2);
    expect(capFmt.fmt.pix).toMatchObject({ width: W / 2, height: H / 2, sizeimage: nv12Size(W / 2, H / 2) });
    const out = await convertOnce(p, fd, yuyvFrame(W, H), nv12Size(W / 2, H / 2));
    // Box filter over (0,0),(1,0),(0,1),(1,1): luma 0,1,1,2 -> 1
    expect(out[0]).toBe(1);
    const odd: v4l2_format = { type: CAP, fmt: { pix: { width: 50, height: 30, pixelformat: V4L2_PIX_FMT_NV12, field: 1, bytesperline: 0, sizeimage: 0, colorspace: 0 } } };
    await p.ioctl(fd, VIDIOC_TRY_FMT, odd);
    expect(odd.fmt.pix).toMatchObject({ width: W, height: H });
    p.exit();
    assertNoLeaks(k);
  });

  it("imports a dma-heap buffer on OUTPUT (V4L2_MEMORY_DMABUF, zero copy from the producer)", async () => {
    const { k, p, fd } = await setup();
    const heap = p.open("/dev/dma_heap/system", O_RDWR);
    const a: DmaHeapAllocationData = { len: W * H * 2, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
    await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, a);
    const src = yuyvFrame(W, H);
    p.mmap(null, 4096 * Math.ceil(src.length / 4096), PROT_READ | PROT_WRITE, MAP_SHARED, a.fd, 0).write(0, src);
    const out = await convertOnce(p, fd, src, nv12Size(W, H), a.fd);
    expect(out.subarray(0, 4)).toEqual(new Uint8Array([0, 1, 2, 3]));
    p.exit();
    assertNoLeaks(k);
  });
});
