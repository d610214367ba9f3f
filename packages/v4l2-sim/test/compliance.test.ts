/**
 * The buffer-I/O and DMABUF checks of v4l2-compliance (utils/v4l2-compliance/v4l2-test-buffers.cpp:
 * testReqBufs, testCreateBufsMax, testExpBuf, setupDmaBuf/testDmaBuf, captureBufs, testBlockingWait),
 * ported against the vivid camera. Each test names the check (V1..V22 of the reference catalogue,
 * kernel-subsystems.md section 5) and the videobuf2 code that produces the behaviour.
 */
import { describe, expect, it } from "vitest";
import { MM } from "@dmabuf/mm";
import { MAP_SHARED, O_CLOEXEC, POLLIN, PROT_READ, PROT_WRITE, type Kernel, type Process } from "@dmabuf/core";
import {
  V4L2_BUF_CAP_SUPPORTS_DMABUF, V4L2_BUF_CAP_SUPPORTS_MMAP, V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS,
  V4L2_BUF_CAP_SUPPORTS_USERPTR, V4L2_BUF_FLAG_DONE, V4L2_BUF_FLAG_MAPPED, V4L2_BUF_FLAG_NO_CACHE_CLEAN,
  V4L2_BUF_FLAG_NO_CACHE_INVALIDATE, V4L2_BUF_FLAG_QUEUED, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP, V4L2_MEMORY_USERPTR, V4L2_PIX_FMT_YUYV, VIDEO_MAX_FRAME, VIDIOC_CREATE_BUFS, VIDIOC_EXPBUF,
  VIDIOC_PREPARE_BUF, VIDIOC_QUERYBUF, VIDIOC_REQBUFS, VIDIOC_S_FMT, VIDIOC_STREAMOFF, VividDriver, readFrameCounter,
  type VividDevice, type v4l2_buffer, type v4l2_create_buffers, type v4l2_exportbuffer,
} from "../src/index.js";
import { O_NONBLOCK, TWO_CAMERAS, boot, buf, dqbuf, exportBuffers, getFormat, mapFd, qbuf, reqbufs, setFormat, streamon } from "./helpers.js";

const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;
const SIZE = 640 * 480 * 2; // default format: 640x480 YUYV

const fails = (p: Promise<unknown>, code: string) => expect(p).rejects.toMatchObject({ code });

async function camera(board = TWO_CAMERAS, opts = {}) {
  const k = await boot(opts, board);
  const p = k.spawn("v4l2-compliance");
  return { k, p, fd: p.open("/dev/video0") };
}

const vivid = (k: Kernel, name: string): VividDevice => k.resolve(VividDriver).device(k.devices.find((d) => d.name === name)!)!;

const querybuf = async (p: Process, fd: number, index: number, memory: number): Promise<v4l2_buffer> => {
  const b = buf(index, memory);
  await p.ioctl(fd, VIDIOC_QUERYBUF, b);
  return b;
};

/** The exporter node of `v4l2-compliance -e`: /dev/video1 exports `count` MMAP buffers. */
async function exporter(p: Process, count: number, format = V4L2_PIX_FMT_YUYV, w = 640, h = 480): Promise<number[]> {
  const efd = p.open("/dev/video1");
  await setFormat(p, efd, format, w, h);
  return exportBuffers(p, efd, count);
}

describe("v4l2-compliance: testReqBufs / testCreateBufsMax / testExpBuf", () => {
  it("V1: REQBUFS(0) on type 0 is EINVAL; for each memory type success matches V4L2_BUF_CAP_SUPPORTS_*", async () => {
    const { p, fd } = await camera();
    await fails(reqbufs(p, fd, 0, V4L2_MEMORY_MMAP, 0), "EINVAL");
    const caps = { [V4L2_MEMORY_MMAP]: V4L2_BUF_CAP_SUPPORTS_MMAP, [V4L2_MEMORY_USERPTR]: V4L2_BUF_CAP_SUPPORTS_USERPTR, [V4L2_MEMORY_DMABUF]: V4L2_BUF_CAP_SUPPORTS_DMABUF };
    for (const [memory, cap] of Object.entries(caps)) {
      const rb = await reqbufs(p, fd, 0, Number(memory));
      expect(rb.capabilities! & cap).toBe(cap);
    }
    // An unknown memory type is refused, and capabilities are still reported.
    const bad = { count: 0, type: CAP, memory: 3 as number, capabilities: 0 };
    await fails(p.ioctl(fd, VIDIOC_REQBUFS, bad), "EINVAL");
    expect(bad.capabilities & V4L2_BUF_CAP_SUPPORTS_MMAP).toBeTruthy();
  });

  it("V2: DMABUF support implies MMAP support, and DMABUF REQBUFS reports the same capabilities as MMAP", async () => {
    const { p, fd } = await camera();
    const mmap = await reqbufs(p, fd, 0, V4L2_MEMORY_MMAP);
    const dmabuf = await reqbufs(p, fd, 0, V4L2_MEMORY_DMABUF);
    expect(dmabuf.capabilities).toBe(mmap.capabilities);
    expect(mmap.capabilities! & V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS).toBeTruthy();
  });

  it("V3: REQBUFS(1, DMABUF) returns count > 0 (raised to min_queued_buffers) and QUERYBUF passes buffer::check", async () => {
    const { p, fd } = await camera();
    const rb = await reqbufs(p, fd, 1, V4L2_MEMORY_DMABUF);
    expect(rb).toMatchObject({ count: 2, memory: V4L2_MEMORY_DMABUF, type: CAP });
    for (let i = 0; i < rb.count; i++) {
      const b = await querybuf(p, fd, i, V4L2_MEMORY_DMABUF);
      expect(b).toMatchObject({ index: i, type: CAP, memory: V4L2_MEMORY_DMABUF, length: SIZE, bytesused: 0, reserved2: 0, request_fd: 0 });
      expect(b.flags! & (V4L2_BUF_FLAG_QUEUED | V4L2_BUF_FLAG_DONE | V4L2_BUF_FLAG_MAPPED)).toBe(0);
    }
    await fails(querybuf(p, fd, 2, V4L2_MEMORY_DMABUF), "EINVAL");
  });

  it("V4: a second file handle gets EBUSY on REQBUFS/CREATE_BUFS while the first owns buffers", async () => {
    const { p, fd } = await camera();
    const fd2 = p.open("/dev/video0");
    await reqbufs(p, fd, 2, V4L2_MEMORY_MMAP);
    const busy = { count: 2, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0 };
    await fails(p.ioctl(fd2, VIDIOC_REQBUFS, busy), "EBUSY");
    expect(busy.capabilities & V4L2_BUF_CAP_SUPPORTS_MMAP).toBeTruthy(); // reported before the busy check
    const f = await getFormat(p, fd);
    await fails(p.ioctl(fd2, VIDIOC_CREATE_BUFS, { count: 1, memory: V4L2_MEMORY_MMAP, format: f }), "EBUSY");
    await reqbufs(p, fd, 0, V4L2_MEMORY_MMAP);
    expect((await reqbufs(p, fd2, 2, V4L2_MEMORY_MMAP)).count).toBe(2);
  });

  it("V5: CREATE_BUFS appends at index == previous count, refuses a too-small sizeimage (EINVAL) and stops at VIDEO_MAX_FRAME (ENOBUFS)", async () => {
    const { p, fd } = await camera();
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    const f = await getFormat(p, fd);
    const cb: v4l2_create_buffers = { count: 3, memory: V4L2_MEMORY_DMABUF, format: f };
    await p.ioctl(fd, VIDIOC_CREATE_BUFS, cb);
    expect([cb.index, cb.count]).toEqual([2, 3]);
    const small = { count: 1, memory: V4L2_MEMORY_DMABUF, format: { type: CAP, fmt: { pix: { ...f.fmt.pix!, sizeimage: SIZE - 1 } } } };
    await fails(p.ioctl(fd, VIDIOC_CREATE_BUFS, small), "EINVAL");
    await fails(p.ioctl(fd, VIDIOC_CREATE_BUFS, { count: 1, memory: V4L2_MEMORY_MMAP, format: f }), "EINVAL"); // memory model mismatch
    const rest: v4l2_create_buffers = { count: 100, memory: V4L2_MEMORY_DMABUF, format: f };
    await p.ioctl(fd, VIDIOC_CREATE_BUFS, rest);
    expect(rest.index! + rest.count).toBe(VIDEO_MAX_FRAME);
    expect(rest.max_num_buffers).toBe(VIDEO_MAX_FRAME);
    await fails(p.ioctl(fd, VIDIOC_CREATE_BUFS, { count: 1, memory: V4L2_MEMORY_DMABUF, format: f }), "ENOBUFS");
  });

  it("V6: EXPBUF works for every MMAP buffer; EINVAL on a non-MMAP queue and for bad flags, index or plane", async () => {
    const { p, fd } = await camera();
    const fds = await exportBuffers(p, fd, 2);
    expect(new Set(fds).size).toBe(2);
    for (const bad of [{ index: 0, plane: 0, flags: 0x40 }, { index: 2, plane: 0, flags: 0 }, { index: 0, plane: 1, flags: 0 }, { index: 0, plane: 0, flags: 0, type: 2 }])
      await fails(p.ioctl(fd, VIDIOC_EXPBUF, { type: CAP, ...bad }), "EINVAL");
    // EXPBUF with O_CLOEXEC sets FD_CLOEXEC on the new fd; each call makes a new dma-buf.
    const eb: v4l2_exportbuffer = { type: CAP, index: 0, plane: 0, flags: O_CLOEXEC };
    await p.ioctl(fd, VIDIOC_EXPBUF, eb);
    expect(p.fcntl(eb.fd!, 1)).toBe(1);
    expect(fds).not.toContain(eb.fd);
    // The access mode is the dma-buf file's: O_RDONLY (0) cannot be mapped writable (EACCES).
    expect(() => p.mmap(null, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, eb.fd!, 0)).toThrow(expect.objectContaining({ code: "EACCES" }));
    expect(p.mmap(null, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0]!, 0).length).toBe(SIZE);
    // debugfs bufinfo names the exporter after the module, as DEFINE_DMA_BUF_EXPORT_INFO does.
    expect(await p.readFile("/sys/kernel/debug/dma_buf/bufinfo")).toContain("videobuf2_dma_contig");
    await reqbufs(p, fd, 0, V4L2_MEMORY_MMAP);
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    await fails(p.ioctl(fd, VIDIOC_EXPBUF, { type: CAP, index: 0, plane: 0, flags: 0 }), "EINVAL");
  });
});

describe("v4l2-compliance: setupDmaBuf / testDmaBuf (vivid.0 imports, /dev/video1 exports)", () => {
  it("V7: mmap() of a DMABUF queue fails", async () => {
    const { p, fd } = await camera();
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    expect(() => mapFd(p, fd, SIZE)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  it("V8: QBUF and PREPARE_BUF with a garbage fd (0xdeadbeef + fd) or a non-dma-buf fd are EINVAL", async () => {
    const { p, fd } = await camera();
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    await fails(qbuf(p, fd, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: 0xdeadbeef + fd }, SIZE)), "EINVAL");
    await fails(p.ioctl(fd, VIDIOC_PREPARE_BUF, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: 0xdeadbeef + fd }, SIZE)), "EINVAL");
    await fails(qbuf(p, fd, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd }, SIZE)), "EINVAL");
    expect((await querybuf(p, fd, 0, V4L2_MEMORY_DMABUF)).flags! & V4L2_BUF_FLAG_QUEUED).toBe(0);
  });

  it("V9: a dma-buf smaller than sizeimage is EINVAL; a user length beyond the dma-buf's size is EFAULT", async () => {
    const { p, fd } = await camera();
    const efd = p.open("/dev/video1");
    await setFormat(p, efd, V4L2_PIX_FMT_YUYV, 320, 240);
    const small = await exportBuffers(p, efd, 2);
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    await fails(qbuf(p, fd, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: small[0]! }, 0)), "EINVAL");
    await reqbufs(p, efd, 0, V4L2_MEMORY_MMAP);
    await setFormat(p, efd, V4L2_PIX_FMT_YUYV, 640, 480);
    const big = await exportBuffers(p, efd, 2);
    await fails(qbuf(p, fd, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: big[0]! }, SIZE + 4096)), "EFAULT");
    await qbuf(p, fd, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: big[0]! }, SIZE));
  });

  it("V10: a contiguous-only importer (vb2-dma-contig, no IOMMU) refuses a scattered dma-buf with EFAULT at QBUF; behind an IOMMU it is accepted", async () => {
    // video0: dma-sg exporter; video1: dma-contig without IOMMU; video2: dma-contig behind iommu0.
    const k = await boot({}, {
      ...TWO_CAMERAS,
      memory: [{ base: "0x40000000", size: "64M" }],
      reservedMemory: [{ name: "linux,cma", size: "16M", reusable: true, default: true }],
      devices: [
        { name: "vivid.0", compatible: ["sim,vivid"], dmaMask: 32, iommu: "iommu0", properties: { allocator: "dma-sg" } },
        { name: "vivid.1", compatible: ["sim,vivid"], dmaMask: 32 },
        { name: "vivid.2", compatible: ["sim,vivid"], dmaMask: 32, iommu: "iommu0" },
      ],
    });
    const p = k.spawn("v4l2-compliance");
    // Fragment the normal zone: take every free page, give back every other one (CMA stays free).
    const mm = k.resolve(MM);
    const held: number[] = [];
    for (let pfn = mm.pages.allocPages(0); pfn >= 0; pfn = mm.pages.allocPages(0)) held.push(pfn);
    held.sort((a, b) => a - b).forEach((pfn, i) => i % 2 && mm.pages.freePages(pfn, 0));
    const fds = await exportBuffers(p, p.open("/dev/video0"), 2);
    const noIommu = p.open("/dev/video1");
    await reqbufs(p, noIommu, 2, V4L2_MEMORY_DMABUF);
    await fails(qbuf(p, noIommu, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: fds[0]! }, SIZE)), "EFAULT");
    // The failed QBUF released its attachment: nothing is left attached to the dma-buf.
    expect(vivid(k, "vivid.1").queue.stats).toMatchObject({ attach: 1, detach: 1, map: 0 });
    const withIommu = p.open("/dev/video2");
    await reqbufs(p, withIommu, 2, V4L2_MEMORY_DMABUF);
    await qbuf(p, withIommu, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: fds[0]! }, SIZE));
    await qbuf(p, withIommu, buf(1, V4L2_MEMORY_DMABUF, CAP, { fd: fds[1]! }, SIZE));
    await streamon(p, withIommu);
    const b = await dqbuf(p, withIommu, V4L2_MEMORY_DMABUF);
    expect(readFrameCounter(mapFd(p, fds[b.index]!, SIZE), V4L2_PIX_FMT_YUYV, 1280)).toBe(0);
    k.shutdown();
  });

  it("V11: QBUF returns the queued m.fd and length, clears NO_CACHE_* for DMABUF, never sets DONE; QUERYBUF shows Queued", async () => {
    const { p, fd } = await camera();
    const fds = await exporter(p, 2);
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    const b = buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: fds[0]! }, SIZE);
    b.flags = V4L2_BUF_FLAG_NO_CACHE_INVALIDATE | V4L2_BUF_FLAG_NO_CACHE_CLEAN;
    await qbuf(p, fd, b);
    expect(b.m!.fd).toBe(fds[0]);
    expect(b.length).toBe(SIZE);
    expect(b.flags! & (V4L2_BUF_FLAG_NO_CACHE_INVALIDATE | V4L2_BUF_FLAG_NO_CACHE_CLEAN | V4L2_BUF_FLAG_DONE)).toBe(0);
    expect(b.flags! & V4L2_BUF_FLAG_QUEUED).toBeTruthy();
    expect((await querybuf(p, fd, 0, V4L2_MEMORY_DMABUF)).flags! & V4L2_BUF_FLAG_QUEUED).toBeTruthy();
    // testDmaBuf step 8: after PREPARE_BUF, QBUF with fd -1 and length 0 still uses the prepared planes.
    await p.ioctl(fd, VIDIOC_PREPARE_BUF, buf(1, V4L2_MEMORY_DMABUF, CAP, { fd: fds[1]! }, SIZE));
    const q1 = await qbuf(p, fd, buf(1, V4L2_MEMORY_DMABUF, CAP, { fd: -1 }, 0));
    expect([q1.m!.fd, q1.length]).toEqual([fds[1], SIZE]);
  });

  it("V12: QBUF of a buffer that is already queued is EINVAL", async () => {
    const { p, fd } = await camera();
    const fds = await exporter(p, 2);
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    await qbuf(p, fd, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: fds[0]! }, SIZE));
    await fails(qbuf(p, fd, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: fds[0]! }, SIZE)), "EINVAL");
  });

  it("V14: the same dma-buf back on the same index keeps its attachment and mapping (also through a dup'd fd); another dma-buf re-attaches", async () => {
    const { k, p, fd } = await camera();
    const fds = await exporter(p, 3);
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    const q = vivid(k, "vivid.0").queue;
    await qbuf(p, fd, buf(0, V4L2_MEMORY_DMABUF, CAP, { fd: fds[0]! }, SIZE));
    await qbuf(p, fd, buf(1, V4L2_MEMORY_DMABUF, CAP, { fd: fds[1]! }, SIZE));
    await streamon(p, fd);
    const dupFd = p.dup(fds[0]!);
    for (let n = 0; n < 6; n++) {
      const b = await dqbuf(p, fd, V4L2_MEMORY_DMABUF);
      await qbuf(p, fd, buf(b.index, V4L2_MEMORY_DMABUF, CAP, { fd: b.index === 0 ? dupFd : fds[1]! }, SIZE));
    }
    expect(q.stats).toEqual({ attach: 2, detach: 0, map: 2, unmap: 0 });
    const b = await dqbuf(p, fd, V4L2_MEMORY_DMABUF);
    await qbuf(p, fd, buf(b.index, V4L2_MEMORY_DMABUF, CAP, { fd: fds[2]! }, SIZE));
    expect(q.stats).toEqual({ attach: 3, detach: 1, map: 3, unmap: 1 });
  });

  it("V15: STREAMON twice and STREAMOFF twice succeed; STREAMOFF returns every buffer to DEQUEUED and discards undequeued done buffers", async () => {
    const k = await boot({}, TWO_CAMERAS);
    const p = k.spawn("v4l2-compliance");
    const fd = p.open("/dev/video0", 2 | O_NONBLOCK);
    await reqbufs(p, fd, 3, V4L2_MEMORY_MMAP);
    for (let i = 0; i < 3; i++) await qbuf(p, fd, buf(i, V4L2_MEMORY_MMAP));
    await streamon(p, fd);
    await streamon(p, fd);
    k.clock.advance(vivid(k, "vivid.0").intervalNs * 2); // two frames done, not dequeued
    expect((await querybuf(p, fd, 0, V4L2_MEMORY_MMAP)).flags! & V4L2_BUF_FLAG_DONE).toBeTruthy();
    await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
    await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
    for (let i = 0; i < 3; i++) expect((await querybuf(p, fd, i, V4L2_MEMORY_MMAP)).flags! & (V4L2_BUF_FLAG_QUEUED | V4L2_BUF_FLAG_DONE)).toBe(0);
    await streamon(p, fd);
    await fails(dqbuf(p, fd, V4L2_MEMORY_MMAP), "EAGAIN");
  });

  it("V16: DQBUF when not streaming is EINVAL; nonblocking with nothing done is EAGAIN", async () => {
    const k = await boot({}, TWO_CAMERAS);
    const p = k.spawn("v4l2-compliance");
    const fd = p.open("/dev/video0", 2 | O_NONBLOCK);
    await reqbufs(p, fd, 2, V4L2_MEMORY_MMAP);
    await fails(dqbuf(p, fd, V4L2_MEMORY_MMAP), "EINVAL");
    await qbuf(p, fd, buf(0, V4L2_MEMORY_MMAP));
    await qbuf(p, fd, buf(1, V4L2_MEMORY_MMAP));
    await streamon(p, fd);
    await fails(dqbuf(p, fd, V4L2_MEMORY_MMAP), "EAGAIN");
    k.clock.advance(vivid(k, "vivid.0").intervalNs);
    expect((await dqbuf(p, fd, V4L2_MEMORY_MMAP)).sequence).toBe(0);
  });

  it("V17: sequence numbers count frame periods (a frame with no buffer is dropped but counted) and timestamps are monotonic", async () => {
    const { k, p, fd } = await camera();
    const fds = await exporter(p, 2);
    await reqbufs(p, fd, 2, V4L2_MEMORY_DMABUF);
    for (let i = 0; i < 2; i++) await qbuf(p, fd, buf(i, V4L2_MEMORY_DMABUF, CAP, { fd: fds[i]! }, SIZE));
    await streamon(p, fd);
    const a = await dqbuf(p, fd, V4L2_MEMORY_DMABUF);
    const b = await dqbuf(p, fd, V4L2_MEMORY_DMABUF);
    // Nothing queued for a while: vivid drops frames and keeps counting.
    k.clock.advance(vivid(k, "vivid.0").intervalNs * 3);
    await qbuf(p, fd, buf(a.index, V4L2_MEMORY_DMABUF, CAP, { fd: fds[a.index]! }, SIZE));
    const c = await dqbuf(p, fd, V4L2_MEMORY_DMABUF);
    expect([a.sequence, b.sequence, c.sequence]).toEqual([0, 1, 5]);
    const us = (x: v4l2_buffer) => x.timestamp!.tv_sec * 1e6 + x.timestamp!.tv_usec;
    expect(us(b)).toBeGreaterThan(us(a));
    expect(us(c)).toBeGreaterThan(us(b));
    expect(vivid(k, "vivid.0").stats.dropped).toBe(3);
    expect(readFrameCounter(mapFd(p, fds[c.index]!, SIZE), V4L2_PIX_FMT_YUYV, 1280)).toBe(5);
  });

  it("V18: REQBUFS while streaming is EBUSY; REQBUFS(0) with exported fds open orphans the buffers, which stay valid until the last fd closes", async () => {
    const { k, p, fd } = await camera();
    const mm = k.resolve(MM);
    const before = mm.meminfo();
    const fds = await exportBuffers(p, fd, 2);
    const map = mapFd(p, fds[0]!, SIZE);
    expect((await querybuf(p, fd, 0, V4L2_MEMORY_MMAP)).flags! & V4L2_BUF_FLAG_MAPPED).toBeTruthy();
    await qbuf(p, fd, buf(0, V4L2_MEMORY_MMAP));
    await qbuf(p, fd, buf(1, V4L2_MEMORY_MMAP));
    await streamon(p, fd);
    await fails(reqbufs(p, fd, 4, V4L2_MEMORY_MMAP), "EBUSY");
    await dqbuf(p, fd, V4L2_MEMORY_MMAP);
    await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
    await reqbufs(p, fd, 0, V4L2_MEMORY_MMAP);
    // Orphaned, still mapped, still the frame the camera wrote.
    expect(readFrameCounter(map, V4L2_PIX_FMT_YUYV, 1280)).toBe(0);
    expect(mm.meminfo()).not.toBe(before);
    p.munmap(map);
    for (const f of fds) p.close(f);
    expect(mm.meminfo()).toBe(before);
  });

  it("S_FMT while buffers are allocated is EBUSY and changes nothing (vb2_is_busy)", async () => {
    const { p, fd } = await camera();
    await reqbufs(p, fd, 2, V4L2_MEMORY_MMAP);
    const f = { type: CAP, fmt: { pix: { width: 320, height: 240, pixelformat: V4L2_PIX_FMT_YUYV, field: 0, bytesperline: 0, sizeimage: 0, colorspace: 0 } } };
    await fails(p.ioctl(fd, VIDIOC_S_FMT, f), "EBUSY");
    expect((await getFormat(p, fd)).fmt.pix!.width).toBe(640);
  });
});

describe("v4l2-compliance: captureBufs poll modes and testBlockingWait", () => {
  it("V22: streaming works with poll() (POLLIN when a buffer is done) and a blocking DQBUF wakes with EINVAL on STREAMOFF", async () => {
    const { p, fd } = await camera();
    await reqbufs(p, fd, 2, V4L2_MEMORY_MMAP);
    for (let i = 0; i < 2; i++) await qbuf(p, fd, buf(i, V4L2_MEMORY_MMAP));
    const pfd = [{ fd, events: POLLIN, revents: 0 }];
    // Not streaming: POLLERR at once, no POLLIN.
    expect(await p.poll(pfd, 0)).toBe(1);
    expect(pfd[0]!.revents & POLLIN).toBe(0);
    await streamon(p, fd);
    // Sleeps in virtual time until the first frame is done.
    expect(await p.poll(pfd, -1)).toBe(1);
    expect(pfd[0]!.revents).toBe(POLLIN);
    await dqbuf(p, fd, V4L2_MEMORY_MMAP);
    await dqbuf(p, fd, V4L2_MEMORY_MMAP);
    // Nothing queued: a blocking DQBUF sleeps; a second waiter on the queue is EBUSY;
    // STREAMOFF from another thread wakes the first with EINVAL.
    const blocked = dqbuf(p, fd, V4L2_MEMORY_MMAP);
    await fails(dqbuf(p, fd, V4L2_MEMORY_MMAP), "EBUSY");
    await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
    await fails(blocked, "EINVAL");
  });
});
