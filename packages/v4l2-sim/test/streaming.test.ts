import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { MM } from "@dmabuf/mm";
import {
  V4L2_BUF_FLAG_DONE, V4L2_BUF_FLAG_QUEUED, V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_YUYV, VIDIOC_QUERYBUF, VIDIOC_S_CTRL, VIDIOC_S_FMT, VIDIOC_S_PARM, VIVID_CID_HOR_MOVEMENT, Tpg,
  fourccToString, readFrameCounter, v4l2FormatInfo,
} from "../src/index.js";
import { boot, buf, dqbuf, exportBuffers, mapFd, qbuf, setFormat, streamon } from "./helpers.js";

describe("vivid streaming in MMAP mode with EXPBUF (gst v4l2src io-mode=dmabuf)", () => {
  it("streams 60 frames; each exported dma-buf, mmapped by its fd, carries the burned-in sequence number", async () => {
    const k = await boot();
    const p = k.spawn("v4l2src");
    const fd = p.open("/dev/video0");
    const f = await setFormat(p, fd, V4L2_PIX_FMT_NV12, 640, 480);
    expect(f.fmt.pix).toMatchObject({ width: 640, height: 480, bytesperline: 640, sizeimage: 460800 });
    await p.ioctl(fd, VIDIOC_S_PARM, { type: 1, parm: { capture: { timeperframe: { numerator: 1, denominator: 60 } } } });
    const fds = await exportBuffers(p, fd, 4);
    expect(fds).toHaveLength(4);
    const maps = fds.map((dfd) => mapFd(p, dfd, 460800));
    for (let i = 0; i < 4; i++) await qbuf(p, fd, buf(i, V4L2_MEMORY_MMAP));
    await streamon(p, fd);
    let lastTs = -1;
    for (let n = 0; n < 60; n++) {
      const b = await dqbuf(p, fd, V4L2_MEMORY_MMAP);
      expect(b.sequence).toBe(n);
      expect(b.flags! & (V4L2_BUF_FLAG_DONE | V4L2_BUF_FLAG_QUEUED)).toBe(0);
      expect(b.flags! & V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC).toBeTruthy();
      expect(b.bytesused).toBe(460800);
      const ts = b.timestamp!.tv_sec * 1e6 + b.timestamp!.tv_usec;
      expect(ts).toBeGreaterThan(lastTs);
      lastTs = ts;
      // The frame as the importer (here the CPU through the dma-buf fd) sees it.
      expect(readFrameCounter(maps[b.index]!, V4L2_PIX_FMT_NV12, 640)).toBe(n);
      await qbuf(p, fd, buf(b.index, V4L2_MEMORY_MMAP));
    }
    // 60 frames at 1/60 s: one second of virtual time.
    expect(k.clock.now()).toBe(Math.round(1e9 / 60) * 60);
    // Zero copy: the camera wrote into the very pages the fd maps.
    expect(k.resolve(MM).copies.bytes).toBe(0);
    const q = { index: 0, type: 1, memory: V4L2_MEMORY_MMAP, m: {} };
    await p.ioctl(fd, VIDIOC_QUERYBUF, q);
    k.shutdown();
  });

  it("draw: false completes frames (sequence, bytesused, timestamps as vivid_thread_vid_cap gives them) without writing their pixels", async () => {
    const k = await boot({ draw: false });
    const p = k.spawn("bench");
    const fd = p.open("/dev/video0");
    await setFormat(p, fd, V4L2_PIX_FMT_NV12, 640, 480);
    const fds = await exportBuffers(p, fd, 2);
    const maps = fds.map((dfd) => mapFd(p, dfd, 460800));
    for (let i = 0; i < 2; i++) await qbuf(p, fd, buf(i, V4L2_MEMORY_MMAP));
    await streamon(p, fd);
    for (let n = 0; n < 4; n++) {
      const b = await dqbuf(p, fd, V4L2_MEMORY_MMAP);
      expect([b.sequence, b.bytesused]).toEqual([n, 460800]);
      expect(maps[b.index]!.read(0, 460800).every((x) => x === 0)).toBe(true);
      expect(readFrameCounter(maps[b.index]!, V4L2_PIX_FMT_NV12, 640)).toBeUndefined();
      await qbuf(p, fd, buf(b.index, V4L2_MEMORY_MMAP));
    }
    k.shutdown();
  });

  it("YUYV 640x480 via plain mmap() of the video node", async () => {
    const k = await boot({ allocator: "dma-sg" });
    const p = k.spawn("cam");
    const fd = p.open("/dev/video0");
    await setFormat(p, fd, V4L2_PIX_FMT_YUYV, 640, 480);
    await exportBuffers(p, fd, 2);
    const q0 = { index: 0, type: 1, memory: V4L2_MEMORY_MMAP, m: {} as { offset?: number }, length: 0 };
    await p.ioctl(fd, VIDIOC_QUERYBUF, q0);
    const vma = mapFd(p, fd, q0.length);
    await qbuf(p, fd, buf(0, V4L2_MEMORY_MMAP));
    await qbuf(p, fd, buf(1, V4L2_MEMORY_MMAP));
    await streamon(p, fd);
    const b = await dqbuf(p, fd, V4L2_MEMORY_MMAP);
    expect(b.index).toBe(0);
    expect(readFrameCounter(vma, V4L2_PIX_FMT_YUYV, 1280)).toBe(0);
    k.shutdown();
  });
});

// A non-coherent camera: vb2 syncs MMAP buffers for the CPU when the driver completes them
// (__vb2_buf_mem_finish -> vb2_dma_sg_finish / dma_sync_sgtable_for_cpu), so readers see the frame.
describe("non-coherent camera (cache maintenance by vb2 for MMAP buffers)", () => {
  for (const allocator of ["dma-contig", "dma-sg"] as const)
    for (const iommu of [true, false])
      it(`${allocator}, ${iommu ? "behind an IOMMU" : "no IOMMU"}: frames are visible through the exported fd without DMA_BUF_IOCTL_SYNC`, async () => {
        const k = await boot({ allocator }, { memory: [{ base: "0x40000000", size: "128M" }], reservedMemory: [{ name: "linux,cma", size: "32M", reusable: true, default: true }], iommus: [{ name: "iommu0", pageSizes: ["4K"], iovaBits: 32 }], devices: [{ name: "vivid.0", compatible: ["sim,vivid"], dmaMask: 32, coherent: false, ...(iommu && { iommu: "iommu0" }) }] });
        const p = k.spawn("x");
        const fd = p.open("/dev/video0");
        await setFormat(p, fd, V4L2_PIX_FMT_YUYV, 640, 480);
        const fds = await exportBuffers(p, fd, 2);
        const maps = fds.map((f) => mapFd(p, f, 614400));
        await qbuf(p, fd, buf(0, V4L2_MEMORY_MMAP));
        await qbuf(p, fd, buf(1, V4L2_MEMORY_MMAP));
        await streamon(p, fd);
        for (let n = 0; n < 4; n++) {
          const b = await dqbuf(p, fd, V4L2_MEMORY_MMAP);
          expect(readFrameCounter(maps[b.index]!, V4L2_PIX_FMT_YUYV, 1280)).toBe(n);
          await qbuf(p, fd, buf(b.index, V4L2_MEMORY_MMAP));
        }
        k.shutdown();
      });
});

// The frame in memory, byte for byte, is what the pattern generator renders: the DMA path (whole-plane
// translation, rows split across discontiguous pages, runs of identical rows filled at once) loses nothing.
describe("captured frames equal the TPG's rendering", () => {
  const cases = [
    ["dma-sg", V4L2_PIX_FMT_YUYV, 0, 0],
    ["dma-contig", V4L2_PIX_FMT_NV12, 0, 1],
    ["dma-sg", V4L2_PIX_FMT_NV12, 704, 5],
    ["dma-sg", V4L2_PIX_FMT_XBGR32, 0, 3],
  ] as const;
  for (const [allocator, fourcc, bpl, move] of cases)
    it(`${allocator} ${fourccToString(fourcc)}${bpl ? ` stride ${bpl}` : ""} with movement ${move}`, async () => {
      const k = await boot({ allocator });
      const p = k.spawn("cam");
      const fd = p.open("/dev/video0");
      const f = { type: 1, fmt: { pix: { width: 640, height: 480, pixelformat: fourcc, field: 0, bytesperline: bpl, sizeimage: 0, colorspace: 0 } } };
      await p.ioctl(fd, VIDIOC_S_FMT, f);
      await p.ioctl(fd, VIDIOC_S_CTRL, { id: VIVID_CID_HOR_MOVEMENT, value: move });
      const fds = await exportBuffers(p, fd, 2);
      await qbuf(p, fd, buf(0, V4L2_MEMORY_MMAP));
      await qbuf(p, fd, buf(1, V4L2_MEMORY_MMAP));
      await streamon(p, fd);
      await qbuf(p, fd, await dqbuf(p, fd, V4L2_MEMORY_MMAP));
      const b = await dqbuf(p, fd, V4L2_MEMORY_MMAP);
      const size = f.fmt.pix.sizeimage;
      const got = mapFd(p, fds[b.index]!, size).read(0, size);
      const want = new Uint8Array(size);
      const tpg = new Tpg();
      tpg.hmove = move;
      tpg.setFormat(v4l2FormatInfo(fourcc)!, 640, 480, [f.fmt.pix.bytesperline]);
      tpg.fillFrame({ writeRows: (_p, l, row) => { for (let y = 0; y < l.rows; y++) want.set(row(y), l.offset + y * l.stride); } }, b.sequence!);
      expect(Buffer.compare(got, want)).toBe(0);
      k.shutdown();
    });
});
