/**
 * Random ioctl sequences against the camera (fast-check): whatever userspace does, every failure is
 * a Linux errno, vb2's bookkeeping stays consistent (videobuf2-core.c invariants: queued_count,
 * owned_by_drv_count, done list within the queued list, nothing ACTIVE while not streaming), and
 * closing everything leaks no buffer, fd, attachment or mapping.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { assertNoLeaks, isErrno, type VmArea } from "@dmabuf/core";
import {
  VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR, VB2_BUF_STATE_QUEUED, V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_YUYV, VIDIOC_EXPBUF, VIDIOC_STREAMOFF, VividDriver, type Vb2Queue,
  type v4l2_exportbuffer,
} from "../src/index.js";
import { O_NONBLOCK, O_RDWR, boot, buf, dqbuf, exportBuffers, mapFd, qbuf, reqbufs, setFormat, streamon } from "./helpers.js";

const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;
const SIZE = 320 * 240 * 2;
const BOARD = {
  memory: [{ base: "0x40000000", size: "64M" }],
  reservedMemory: [{ name: "linux,cma", size: "16M", reusable: true, default: true }],
  iommus: [{ name: "iommu0", pageSizes: ["4K"], iovaBits: 32 }],
  devices: [
    { name: "vivid.0", compatible: ["sim,vivid"], dmaMask: 32, iommu: "iommu0" },
    { name: "vivid.1", compatible: ["sim,vivid"], dmaMask: 32, iommu: "iommu0", properties: { allocator: "dma-sg" } },
  ],
};

type Cmd =
  | { op: "reqbufs"; count: number; dmabuf: boolean }
  | { op: "qbuf"; index: number; fd: number }
  | { op: "dqbuf" }
  | { op: "streamon" }
  | { op: "streamoff" }
  | { op: "expbuf"; index: number }
  | { op: "close"; which: number }
  | { op: "mmap"; which: number }
  | { op: "tick"; frames: number };

// Weighted towards the streaming cycle so that sequences get deep into it.
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ op: fc.constant("reqbufs" as const), count: fc.integer({ min: 0, max: 4 }), dmabuf: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant("qbuf" as const), index: fc.integer({ min: 0, max: 4 }), fd: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 4, arbitrary: fc.constant({ op: "dqbuf" as const }) },
  { weight: 2, arbitrary: fc.constant({ op: "streamon" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "streamoff" as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("expbuf" as const), index: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("close" as const), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("mmap" as const), which: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("tick" as const), frames: fc.integer({ min: 1, max: 3 }) }) },
);

function checkInvariants(q: Vb2Queue): void {
  const bufs = q.bufs.filter((b) => b !== undefined);
  const inQueue = bufs.filter((b) => [VB2_BUF_STATE_QUEUED, VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR].includes(b.state));
  expect(q.queuedCount).toBe(inQueue.length);
  expect(q.ownedByDrvCount).toBe(bufs.filter((b) => b.state === VB2_BUF_STATE_ACTIVE).length);
  for (const d of q.doneList) expect(q.queuedList).toContain(d);
  if (!q.isStreaming) expect(q.ownedByDrvCount).toBe(0);
}

describe("vb2 queue under random ioctl sequences (property)", () => {
  it("keeps vb2's invariants, fails only with errnos, and leaks nothing", async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(cmd, { minLength: 15, maxLength: 40 }), async (dmabuf, cmds) => {
        const k = await boot({}, BOARD);
        const p = k.spawn("fuzz");
        // Buffers to import come from the second camera (v4l2-compliance -e).
        const exp = p.open("/dev/video1");
        await setFormat(p, exp, V4L2_PIX_FMT_YUYV, 320, 240);
        const imports = await exportBuffers(p, exp, 4);
        const fd = p.open("/dev/video0", O_RDWR | O_NONBLOCK);
        await setFormat(p, fd, V4L2_PIX_FMT_YUYV, 320, 240);
        const q = k.resolve(VividDriver).device(k.devices[0]!)!.queue;
        const fds: number[] = [];
        const maps: VmArea[] = [];
        let memory = dmabuf ? V4L2_MEMORY_DMABUF : V4L2_MEMORY_MMAP;
        await reqbufs(p, fd, 4, memory);
        for (const c of cmds) {
          try {
            switch (c.op) {
              case "reqbufs":
                memory = c.dmabuf ? V4L2_MEMORY_DMABUF : V4L2_MEMORY_MMAP;
                await reqbufs(p, fd, c.count, memory);
                break;
              case "qbuf":
                await qbuf(p, fd, memory === V4L2_MEMORY_DMABUF ? buf(c.index, memory, CAP, { fd: imports[c.fd]! }, SIZE) : buf(c.index, memory));
                break;
              case "dqbuf":
                await dqbuf(p, fd, memory);
                break;
              case "streamon":
                await streamon(p, fd);
                break;
              case "streamoff":
                await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
                break;
              case "expbuf": {
                const eb: v4l2_exportbuffer = { type: CAP, index: c.index, plane: 0, flags: O_RDWR };
                await p.ioctl(fd, VIDIOC_EXPBUF, eb);
                fds.push(eb.fd!);
                break;
              }
              case "close":
                if (fds.length) p.close(fds.splice(c.which % fds.length, 1)[0]!);
                break;
              case "mmap":
                if (fds.length) maps.push(mapFd(p, fds[c.which % fds.length]!, SIZE));
                break;
              case "tick":
                k.clock.advance(c.frames * 33_333_334);
                break;
            }
          } catch (e) {
            if (!isErrno(e)) throw e;
          }
          checkInvariants(q);
        }
        for (const m of maps) p.munmap(m);
        p.exit(0);
        assertNoLeaks(k);
      }),
      { numRuns: 60 },
    );
  });
});
