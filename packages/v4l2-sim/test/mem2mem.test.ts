/**
 * The mem2mem helper (v4l2-mem2mem.c) through a vim2m-like copy device built on the public API, and
 * the OUTPUT-queue checks of v4l2-compliance that a capture-only camera cannot exercise.
 */
import { describe, expect, it } from "vitest";
import { inject, injectable, type DependencyContainer } from "tsyringe";
import {
  Errno, KERNEL, Kernel, MAP_SHARED, O_NONBLOCK, O_RDWR, PLATFORM_DRIVER, POLLIN, POLLPRI, PROT_READ, PROT_WRITE, assertNoLeaks, type Device,
  type DriverPlugin, type PlatformDriver, type Process,
} from "@dmabuf/core";
import mm, { MM } from "@dmabuf/mm";
import {
  DST_QUEUE_OFF_BASE, V4L2_BUF_FLAG_LAST, V4L2_BUF_FLAG_TIMESTAMP_COPY, V4L2_BUF_FLAG_TIMESTAMP_MASK,
  V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, V4L2_CAP_STREAMING, V4L2_CAP_VIDEO_M2M_MPLANE,
  V4L2_EVENT_EOS, V4L2_EVENT_SOURCE_CHANGE, V4L2_FIELD_NONE, V4L2_MEMORY_MMAP, VIDIOC_DQEVENT, VIDIOC_SUBSCRIBE_EVENT, V4l2M2mCtx, V4l2M2mDev, VB2_DMABUF, VB2_MMAP, VIDIOC_PREPARE_BUF, VIDIOC_QBUF,
  VIDIOC_QUERYBUF, VIDIOC_STREAMOFF, VIDIOC_STREAMON, VideoDevice, Vb2Queue, v4l2M2mFileHooks, v4l2M2mIoctlOps, v4l2M2mJobFinish,
  vb2DmaSgMemOps, vb2QueueInit, type Vb2Buffer, type v4l2_buffer, type v4l2_event,
} from "../src/index.js";
import { dqbuf, reqbufs } from "./helpers.js";

const SIZE = 64 * 1024;
const TRANSTIME_NS = 10_000_000;
const OUT = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;

/** vim2m reduced to a copy: one OUTPUT plane in, the same bytes out after TRANSTIME of virtual time. */
@injectable()
class CopyM2m implements PlatformDriver {
  readonly name = "test-m2m";
  readonly compatible = ["test,m2m"];
  /** The capture buffer produced for the n-th job (1-based) is flagged LAST (end of stream). */
  lastAfter = 3;
  private seq = 0;
  private m2m!: V4l2M2mDev;
  private vdev!: VideoDevice;

  constructor(@inject(KERNEL) readonly kernel: Kernel) {}

  probe(dev: Device, kernel: Kernel): void {
    this.m2m = new V4l2M2mDev(kernel, { deviceRun: (priv) => this.run(priv as V4l2M2mCtx) });
    const queue = (type: number, isOutput: boolean, ctx: () => V4l2M2mCtx) =>
      vb2QueueInit(
        new Vb2Queue(kernel, {
          type, isOutput, isMultiplanar: true, dev, memOps: vb2DmaSgMemOps, ioModes: VB2_MMAP | VB2_DMABUF,
          timestampFlags: V4L2_BUF_FLAG_TIMESTAMP_COPY,
          ops: {
            queueSetup: (_q, a) => {
              if (a.numPlanes) return;
              a.numPlanes = 1;
              a.sizes = [SIZE];
            },
            bufQueue: (vb) => ctx().bufQueue(vb),
            stopStreaming: (q) => {
              const c = ctx();
              const list = q.isOutput ? c.rdySrc : c.rdyDst;
              for (const vb of list.splice(0)) q.bufferDone(vb, 6);
            },
          },
        }),
      );
    const vdev = (this.vdev = new VideoDevice(kernel, {
      name: "test-m2m",
      deviceCaps: V4L2_CAP_VIDEO_M2M_MPLANE | V4L2_CAP_STREAMING,
      ioctlOps: {
        vidioc_querycap: (_fh, cap) => Object.assign(cap, { driver: "test-m2m", card: "copy", bus_info: "platform:test-m2m" }),
        // v4l2_event_subscribe for EOS only; anything else is EINVAL as in codec drivers.
        vidioc_subscribe_event: (_fh, sub) => {
          if (sub.type !== V4L2_EVENT_EOS) throw new Errno("EINVAL", "VIDIOC_SUBSCRIBE_EVENT", `event type ${sub.type} not supported`);
        },
        ...v4l2M2mIoctlOps,
      },
      fileHooks: {
        open: (fh) => {
          const c: V4l2M2mCtx = new V4l2M2mCtx(this.m2m, undefined, queue(OUT, true, () => c), queue(CAP, false, () => c));
          (c as { priv: unknown }).priv = c;
          fh.m2mCtx = c;
        },
        release: (fh) => (fh.m2mCtx as V4l2M2mCtx).release(),
        ...v4l2M2mFileHooks,
      },
    }));
    vdev.register();
  }

  /** device_run: take one buffer from each side, copy as the device after TRANSTIME, finish the job. */
  private run(ctx: V4l2M2mCtx): void {
    const src = ctx.srcBufRemove()!;
    const dst = ctx.dstBufRemove()!;
    this.kernel.clock.addTimer(TRANSTIME_NS, () => {
      const engine = this.kernel.resolve(MM).engine;
      const s = src.planeCookie(0);
      const d = dst.planeCookie(0);
      const len = src.planes[0]!.bytesused;
      engine.write(d.dev, d.sgt, 0, engine.read(s.dev, s.sgt, 0, len));
      copyMetadata(src, dst);
      dst.setPlanePayload(0, len);
      src.sequence = dst.sequence = this.seq++;
      if (this.seq === this.lastAfter) {
        dst.flags |= V4L2_BUF_FLAG_LAST;
        this.vdev.queueEvent(V4L2_EVENT_EOS, 0, {});
      }
      ctx.bufDone(src);
      ctx.bufDone(dst);
      v4l2M2mJobFinish(this.m2m, ctx);
    }, "test-m2m transfer");
  }
}

/** v4l2_m2m_buf_copy_metadata(): timestamp, field, timecode and flags follow the frame. */
function copyMetadata(src: Vb2Buffer, dst: Vb2Buffer): void {
  dst.timestamp = src.timestamp;
  dst.field = src.field;
  dst.timecode = src.timecode;
}

const plugin = (): DriverPlugin => ({
  name: "test-m2m",
  register(c: DependencyContainer) {
    c.registerSingleton(CopyM2m);
    c.register(PLATFORM_DRIVER, { useToken: CopyM2m });
  },
});

const BOARD = { memory: [{ base: "0x40000000", size: "64M" }], devices: [{ name: "m2m.0", compatible: ["test,m2m"], dmaMask: 32 }] };

const outBuf = (index: number, bytesused: number, data_offset = 0, length = 1): v4l2_buffer => ({
  index, type: OUT, memory: V4L2_MEMORY_MMAP, length, field: V4L2_FIELD_NONE, timestamp: { tv_sec: 100 + index, tv_usec: 7 },
  m: { planes: [{ bytesused, length: 0, m: {}, data_offset }] },
});
const capBuf = (index: number): v4l2_buffer => ({ index, type: CAP, memory: V4L2_MEMORY_MMAP, length: 1, m: { planes: [{ bytesused: 0, length: 0, m: {}, data_offset: 0 }] } });

async function setup(flags = O_RDWR): Promise<{ k: Kernel; p: Process; fd: number }> {
  const k = await Kernel.boot({ board: BOARD, plugins: [mm(), plugin()] });
  const p = k.spawn("m2m-test");
  const fd = p.open("/dev/video0", flags);
  await reqbufs(p, fd, 3, V4L2_MEMORY_MMAP, OUT);
  await reqbufs(p, fd, 3, V4L2_MEMORY_MMAP, CAP);
  return { k, p, fd };
}

describe("mem2mem helper and OUTPUT-queue checks", () => {
  it("V13: OUTPUT bytesused > length and data_offset >= bytesused are EINVAL at PREPARE_BUF and QBUF; bytesused 0 means the whole plane", async () => {
    const { k, p, fd } = await setup();
    for (const b of [outBuf(0, SIZE + 1), outBuf(0, 100, 100), outBuf(0, 0, SIZE)]) {
      await expect(p.ioctl(fd, VIDIOC_PREPARE_BUF, b)).rejects.toMatchObject({ code: "EINVAL" });
      await expect(p.ioctl(fd, VIDIOC_QBUF, b)).rejects.toMatchObject({ code: "EINVAL" });
    }
    // A too-short planes array is EINVAL too (__verify_planes_array).
    await expect(p.ioctl(fd, VIDIOC_QBUF, { ...outBuf(0, 10), length: 0 })).rejects.toMatchObject({ code: "EINVAL" });
    const ok = outBuf(0, 0, 16);
    await p.ioctl(fd, VIDIOC_QBUF, ok);
    expect(ok.m!.planes![0]).toMatchObject({ bytesused: SIZE, length: SIZE, data_offset: 16 });
    assertNoLeaks(k);
  });

  it("runs one job per OUTPUT/CAPTURE pair in virtual time, copies the bytes and the metadata (V17: CAPTURE timestamp = OUTPUT timestamp)", async () => {
    const { k, p, fd } = await setup();
    const q: v4l2_buffer = capBuf(0);
    await p.ioctl(fd, VIDIOC_QUERYBUF, q);
    expect(q.m!.planes![0]!.m.mem_offset! >= DST_QUEUE_OFF_BASE).toBe(true);
    const outQ = outBuf(0, 0);
    await p.ioctl(fd, VIDIOC_QUERYBUF, outQ);
    const src = p.mmap(null, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, outQ.m!.planes![0]!.m.mem_offset!);
    const dst = p.mmap(null, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, q.m!.planes![0]!.m.mem_offset!);
    src.write(0, new Uint8Array([1, 2, 3, 4]));
    for (let i = 0; i < 2; i++) {
      await p.ioctl(fd, VIDIOC_QBUF, outBuf(i, 4));
      await p.ioctl(fd, VIDIOC_QBUF, capBuf(i));
    }
    await p.ioctl(fd, VIDIOC_STREAMON, OUT);
    await p.ioctl(fd, VIDIOC_STREAMON, CAP);
    const c0 = await dqbuf(p, fd, V4L2_MEMORY_MMAP, CAP);
    const c1 = await dqbuf(p, fd, V4L2_MEMORY_MMAP, CAP);
    expect(k.clock.now()).toBe(2 * TRANSTIME_NS); // jobs ran one after the other
    expect([c0.index, c0.sequence, c0.timestamp, c0.field]).toEqual([0, 0, { tv_sec: 100, tv_usec: 7 }, V4L2_FIELD_NONE]);
    expect([c1.sequence, c1.timestamp]).toEqual([1, { tv_sec: 101, tv_usec: 7 }]);
    expect(c0.flags! & V4L2_BUF_FLAG_TIMESTAMP_MASK).toBe(V4L2_BUF_FLAG_TIMESTAMP_COPY);
    expect(c0.m!.planes![0]!.bytesused).toBe(4);
    expect(Array.from(dst.read(0, 4))).toEqual([1, 2, 3, 4]);
    const o0 = await dqbuf(p, fd, V4L2_MEMORY_MMAP, OUT);
    expect(o0.index).toBe(0);
    p.munmap(src);
    p.munmap(dst);
    assertNoLeaks(k);
  });

  it("V16/V20: after a CAPTURE buffer flagged LAST, poll reports POLLIN and DQBUF is EPIPE until STREAMOFF; the EOS event arrives (POLLPRI, DQEVENT)", async () => {
    const { k, p, fd } = await setup(O_RDWR | O_NONBLOCK);
    await expect(p.ioctl(fd, VIDIOC_SUBSCRIBE_EVENT, { type: V4L2_EVENT_SOURCE_CHANGE, id: 0, flags: 0 })).rejects.toMatchObject({ code: "EINVAL" });
    await p.ioctl(fd, VIDIOC_SUBSCRIBE_EVENT, { type: V4L2_EVENT_EOS, id: 0, flags: 0 });
    await expect(p.ioctl(fd, VIDIOC_DQEVENT, {})).rejects.toMatchObject({ code: "ENOENT" });
    for (let i = 0; i < 3; i++) {
      await p.ioctl(fd, VIDIOC_QBUF, outBuf(i, 8));
      await p.ioctl(fd, VIDIOC_QBUF, capBuf(i));
    }
    await p.ioctl(fd, VIDIOC_STREAMON, OUT);
    await p.ioctl(fd, VIDIOC_STREAMON, CAP);
    const got: v4l2_buffer[] = [];
    while (got.length < 3) {
      const pfd = [{ fd, events: POLLIN, revents: 0 }];
      await p.poll(pfd, -1);
      got.push(await dqbuf(p, fd, V4L2_MEMORY_MMAP, CAP));
    }
    expect(got.map((b) => (b.flags! & V4L2_BUF_FLAG_LAST) !== 0)).toEqual([false, false, true]);
    await expect(dqbuf(p, fd, V4L2_MEMORY_MMAP, CAP)).rejects.toMatchObject({ code: "EPIPE" });
    const pfd = [{ fd, events: POLLIN, revents: 0 }];
    expect(await p.poll(pfd, 0)).toBe(1);
    expect(pfd[0]!.revents & POLLIN).toBe(POLLIN);
    const ev = {} as v4l2_event;
    pfd[0]!.events = POLLPRI;
    expect(await p.poll(pfd, 0)).toBe(1);
    await p.ioctl(fd, VIDIOC_DQEVENT, ev);
    expect(ev).toMatchObject({ type: V4L2_EVENT_EOS, pending: 0, sequence: 0, timestamp: { tv_sec: 0, tv_nsec: 3 * TRANSTIME_NS } });
    // STREAMOFF clears last_buffer_dequeued: DQBUF is now EINVAL (not streaming), no longer EPIPE.
    await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
    await expect(dqbuf(p, fd, V4L2_MEMORY_MMAP, CAP)).rejects.toMatchObject({ code: "EINVAL" });
    assertNoLeaks(k);
  });
});
