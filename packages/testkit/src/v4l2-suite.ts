/**
 * The V4L2 suites, after v4l2-compliance (utils/v4l2-compliance in v4l-utils): the capability,
 * format and buffer-I/O tests, with the DMABUF import and EXPBUF rules of videobuf2
 * (drivers/media/common/videobuf2/videobuf2-core.c, videobuf2-v4l2.c) and the mem2mem poll and
 * job rules (drivers/media/v4l2-core/v4l2-mem2mem.c).
 */
import { MAP_SHARED, O_NONBLOCK, O_RDWR, POLLERR, POLLIN, PROT_READ, PROT_WRITE, type Process } from "@dmabuf/core";
import {
  V4L2_BUF_CAP_SUPPORTS_DMABUF, V4L2_BUF_CAP_SUPPORTS_MMAP, V4L2_BUF_FLAG_QUEUED, V4L2_BUF_FLAG_TIMESTAMP_COPY,
  V4L2_BUF_FLAG_TIMESTAMP_MASK, V4L2_CAP_DEVICE_CAPS, V4L2_CAP_STREAMING, V4L2_CAP_VIDEO_M2M, V4L2_CAP_VIDEO_M2M_MPLANE,
  V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, V4L2_TYPE_IS_MULTIPLANAR, V4L2_TYPE_IS_OUTPUT, VIDIOC_DQBUF, VIDIOC_ENUM_FMT,
  VIDIOC_EXPBUF, VIDIOC_G_FMT, VIDIOC_QBUF, VIDIOC_QUERYBUF, VIDIOC_STREAMOFF, VIDIOC_STREAMON, VIDIOC_S_FMT, VIDIOC_TRY_FMT,
  type v4l2_buffer, type v4l2_exportbuffer, type v4l2_format,
} from "@dmabuf/v4l2-sim";
import {
  NotSupported, expectEqual, expectErrno, expectTrue, type CheckContext, type ConformanceCheck, type ConformanceSuite,
  type ConformanceTarget,
} from "./conformance.js";
import {
  V4L2_FMT_FLAG_COMPRESSED, bufTypes, enumFmts, fmtKey, fmtRequest, gFmt, heapAlloc, planeSizes, querycap, reqbufs, vbuf,
} from "./internal/v4l2-util.js";

/** A V4L2 device under test. */
export interface V4l2Target extends ConformanceTarget {
  /** The heap DMABUF-import buffers come from; default "/dev/dma_heap/system" (a contiguous-only device wants a CMA heap). */
  readonly heap?: string;
  /**
   * mem2mem: the bytes of one OUTPUT buffer for the current OUTPUT format (a compressed stream
   * for a decoder). Default: a mid-grey raw frame; compressed OUTPUT formats without it make the
   * streaming check "Not Supported".
   */
  sampleInput?(format: v4l2_format): Uint8Array;
}

type Kind = "capture" | "m2m";

interface Opened {
  p: Process;
  fd: number;
  types: number[];
}

async function open(ctx: CheckContext, flags = O_RDWR): Promise<Opened> {
  const fd = ctx.proc.open(ctx.device, flags);
  const cap = await querycap(ctx.proc, fd);
  const types = bufTypes(cap.device_caps);
  expectTrue(types.length > 0, `${ctx.device} has neither a capture nor a mem2mem capability (device_caps 0x${cap.device_caps.toString(16)})`);
  return { p: ctx.proc, fd, types };
}

const planesOf = async (p: Process, fd: number, type: number) => planeSizes(await gFmt(p, fd, type)).length;

const commonChecks = (kind: Kind): ConformanceCheck<V4l2Target>[] => [
  {
    name: "VIDIOC_QUERYCAP",
    cite: "v4l2-compliance testCap(): driver, card, bus_info set; DEVICE_CAPS in capabilities; device_caps a subset; STREAMING; the node's kind",
    async run(ctx) {
      const fd = ctx.proc.open(ctx.device, O_RDWR);
      const cap = await querycap(ctx.proc, fd);
      expectTrue(cap.driver && cap.card && cap.bus_info, `driver, card and bus_info must be set (${JSON.stringify([cap.driver, cap.card, cap.bus_info])})`);
      expectTrue(cap.capabilities & V4L2_CAP_DEVICE_CAPS, "capabilities has V4L2_CAP_DEVICE_CAPS");
      expectEqual(cap.device_caps & ~cap.capabilities, 0, "device_caps bits outside capabilities");
      expectTrue(cap.device_caps & V4L2_CAP_STREAMING, "device_caps has V4L2_CAP_STREAMING");
      const m2m = (cap.device_caps & (V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE)) !== 0;
      expectTrue(kind === "m2m" ? m2m : !m2m && bufTypes(cap.device_caps).length === 1, `device_caps 0x${cap.device_caps.toString(16)} is not a ${kind} device`);
    },
  },
  {
    name: "VIDIOC_ENUM_FMT",
    cite: "v4l2-compliance testEnumFormats(): indices from 0 until EINVAL, type echoed, pixelformats distinct; an invalid type is EINVAL",
    async run(ctx) {
      const { p, fd, types } = await open(ctx);
      for (const type of types) {
        const fmts = await enumFmts(p, fd, type);
        expectTrue(fmts.length > 0, `ENUM_FMT(type ${type}) lists no format`);
        expectTrue(fmts.every((f, i) => f.index === i && f.type === type && f.pixelformat && f.description), `ENUM_FMT(type ${type}) entries keep index and type and name a format`);
        expectEqual(new Set(fmts.map((f) => f.pixelformat)).size, fmts.length, `distinct pixelformats of type ${type}`);
      }
      await expectErrno(p.ioctl(fd, VIDIOC_ENUM_FMT, { index: 0, type: 0x7f }), "EINVAL", "ENUM_FMT with an invalid type");
    },
  },
  {
    name: "VIDIOC_G_FMT",
    cite: "v4l2-compliance testGetFormats(): the current format is one ENUM_FMT lists, with a non-zero size and sizeimage covering bytesperline x height",
    async run(ctx) {
      const { p, fd, types } = await open(ctx);
      for (const type of types) {
        const f = await gFmt(p, fd, type);
        const fmts = await enumFmts(p, fd, type);
        const pf = V4L2_TYPE_IS_MULTIPLANAR(type) ? f.fmt.pix_mp! : f.fmt.pix!;
        const desc = fmts.find((d) => d.pixelformat === pf.pixelformat);
        expectTrue(desc, `G_FMT(type ${type}) pixelformat ${pf.pixelformat} is not enumerated`);
        expectTrue(pf.width > 0 && pf.height > 0, `G_FMT(type ${type}) size ${pf.width}x${pf.height}`);
        expectTrue(planeSizes(f).every((s) => s > 0), `G_FMT(type ${type}) sizeimage is set`);
        if (!V4L2_TYPE_IS_MULTIPLANAR(type) && !((desc.flags ?? 0) & V4L2_FMT_FLAG_COMPRESSED))
          expectTrue(f.fmt.pix!.sizeimage >= f.fmt.pix!.bytesperline * f.fmt.pix!.height, `sizeimage ${f.fmt.pix!.sizeimage} < bytesperline x height`);
      }
      await expectErrno(p.ioctl(fd, VIDIOC_G_FMT, { type: 0x7f, fmt: {} }), "EINVAL", "G_FMT with an invalid type");
    },
  },
  {
    name: "VIDIOC_TRY_FMT",
    cite: "v4l2-compliance testTryFormats(): TRY_FMT of the current format returns it unchanged, an unknown pixelformat is replaced (not EINVAL), and TRY_FMT changes nothing",
    async run(ctx) {
      const { p, fd, types } = await open(ctx);
      for (const type of types) {
        const cur = await gFmt(p, fd, type);
        const same = structuredClone(cur);
        await p.ioctl(fd, VIDIOC_TRY_FMT, same);
        expectEqual(fmtKey(same), fmtKey(cur), `TRY_FMT(type ${type}) of the current format`);
        const bogus = fmtRequest(cur, 0x20202020);
        await p.ioctl(fd, VIDIOC_TRY_FMT, bogus);
        const fmts = await enumFmts(p, fd, type);
        const got = V4L2_TYPE_IS_MULTIPLANAR(type) ? bogus.fmt.pix_mp!.pixelformat : bogus.fmt.pix!.pixelformat;
        expectTrue(fmts.some((d) => d.pixelformat === got), `TRY_FMT(type ${type}) of an unknown pixelformat returned ${got}, not an enumerated one`);
        expectEqual(fmtKey(await gFmt(p, fd, type)), fmtKey(cur), `G_FMT(type ${type}) after TRY_FMT`);
      }
    },
  },
  {
    name: "VIDIOC_S_FMT",
    cite: "v4l2-compliance testSetFormats(): S_FMT of every enumerated format returns what TRY_FMT returns, and G_FMT then reports it",
    async run(ctx) {
      const { p, fd, types } = await open(ctx);
      // mem2mem: CAPTURE formats may depend on OUTPUT's (codecs), so OUTPUT is set first and CAPTURE checked against TRY after.
      for (const type of types) {
        for (const d of await enumFmts(p, fd, type)) {
          const cur = await gFmt(p, fd, type);
          const tried = fmtRequest(cur, d.pixelformat!);
          await p.ioctl(fd, VIDIOC_TRY_FMT, tried);
          const set = fmtRequest(cur, d.pixelformat!);
          await p.ioctl(fd, VIDIOC_S_FMT, set);
          expectEqual(fmtKey(set), fmtKey(tried), `S_FMT(type ${type}, ${d.description}) vs TRY_FMT`);
          expectEqual(fmtKey(await gFmt(p, fd, type)), fmtKey(set), `G_FMT(type ${type}) after S_FMT(${d.description})`);
        }
      }
    },
  },
  {
    name: "VIDIOC_REQBUFS/QUERYBUF",
    cite: "v4l2-compliance testReqBufs(): MMAP is supported with its capability bit; an unknown memory type is EINVAL; QUERYBUF past count is EINVAL; REQBUFS(0) frees",
    async run(ctx) {
      const { p, fd, types } = await open(ctx);
      for (const type of types) {
        await expectErrno(reqbufs(p, fd, type, 0x7f, 1), "EINVAL", `REQBUFS(type ${type}) with memory 0x7f`);
        const rb = await reqbufs(p, fd, type, V4L2_MEMORY_MMAP, 2);
        expectTrue(rb.count >= 1, `REQBUFS(type ${type}, MMAP, 2) allocated ${rb.count}`);
        expectTrue((rb.capabilities ?? 0) & V4L2_BUF_CAP_SUPPORTS_MMAP, "capabilities has V4L2_BUF_CAP_SUPPORTS_MMAP");
        const planes = await planesOf(p, fd, type);
        const sizes = planeSizes(await gFmt(p, fd, type));
        for (let i = 0; i < rb.count; i++) {
          const b = vbuf(type, V4L2_MEMORY_MMAP, i, planes);
          await p.ioctl(fd, VIDIOC_QUERYBUF, b);
          const lengths = V4L2_TYPE_IS_MULTIPLANAR(type) ? b.m!.planes!.map((pl) => pl.length) : [b.length!];
          expectTrue(lengths.every((l, k) => l >= sizes[k]!), `QUERYBUF(${i}) lengths ${lengths} cover sizeimage ${sizes}`);
          expectEqual((b.flags ?? 0) & V4L2_BUF_FLAG_QUEUED, 0, `QUERYBUF(${i}) of a new buffer is not QUEUED`);
        }
        await expectErrno(p.ioctl(fd, VIDIOC_QUERYBUF, vbuf(type, V4L2_MEMORY_MMAP, rb.count, planes)), "EINVAL", `QUERYBUF(type ${type}) index = count`);
        expectEqual((await reqbufs(p, fd, type, V4L2_MEMORY_MMAP, 0)).count, 0, `REQBUFS(type ${type}, 0)`);
      }
    },
  },
  {
    name: "VIDIOC_EXPBUF",
    cite: "videobuf2-core.c vb2_core_expbuf(): each MMAP plane exports as a dma-buf at least sizeimage long; a bad index or plane is EINVAL; non-MMAP queues are EINVAL",
    async run(ctx) {
      const { p, fd, types } = await open(ctx);
      for (const type of types) {
        const rb = await reqbufs(p, fd, type, V4L2_MEMORY_MMAP, 2);
        const sizes = planeSizes(await gFmt(p, fd, type));
        for (let i = 0; i < rb.count; i++)
          for (let plane = 0; plane < sizes.length; plane++) {
            const eb: v4l2_exportbuffer = { type, index: i, plane, flags: O_RDWR };
            await p.ioctl(fd, VIDIOC_EXPBUF, eb);
            expectTrue(p.readlink(`/proc/self/fd/${eb.fd}`).startsWith("/dmabuf:"), "EXPBUF returns a dma-buf fd");
            expectTrue(p.lseek(eb.fd!, 0, 2) >= sizes[plane]!, `exported plane ${plane} holds sizeimage ${sizes[plane]}`);
            p.close(eb.fd!);
          }
        await expectErrno(p.ioctl(fd, VIDIOC_EXPBUF, { type, index: rb.count, plane: 0, flags: O_RDWR }), "EINVAL", "EXPBUF index = count");
        await expectErrno(p.ioctl(fd, VIDIOC_EXPBUF, { type, index: 0, plane: sizes.length, flags: O_RDWR }), "EINVAL", "EXPBUF plane = num_planes");
        await reqbufs(p, fd, type, V4L2_MEMORY_MMAP, 0);
        const dmabuf = await reqbufs(p, fd, type, V4L2_MEMORY_DMABUF, 1).catch(() => undefined);
        if (dmabuf) await expectErrno(p.ioctl(fd, VIDIOC_EXPBUF, { type, index: 0, plane: 0, flags: O_RDWR }), "EINVAL", "EXPBUF on a DMABUF queue");
      }
    },
  },
  {
    name: "DMABUF import",
    cite: "videobuf2-core.c __prepare_dmabuf(): QBUF of a dma-buf attaches and maps it; a bad fd or a buffer smaller than sizeimage is EINVAL and changes nothing",
    async run(ctx, target) {
      const { p, fd, types } = await open(ctx);
      const heap = target.heap ?? "/dev/dma_heap/system";
      for (const type of types) {
        const rb = await reqbufs(p, fd, type, V4L2_MEMORY_DMABUF, 1);
        expectTrue((rb.capabilities ?? 0) & V4L2_BUF_CAP_SUPPORTS_DMABUF, "capabilities has V4L2_BUF_CAP_SUPPORTS_DMABUF");
        const sizes = planeSizes(await gFmt(p, fd, type));
        const fds = await Promise.all(sizes.map((s) => heapAlloc(p, heap, s)));
        const small = await heapAlloc(p, heap, 4096);
        const bytes = V4L2_TYPE_IS_OUTPUT(type) ? sizes : undefined;
        await expectErrno(p.ioctl(fd, VIDIOC_QBUF, vbuf(type, V4L2_MEMORY_DMABUF, 0, sizes.length, sizes.map(() => 999), bytes, sizes)), ["EINVAL", "EBADF"], "QBUF with a closed fd");
        if (sizes.some((s) => s > 4096))
          await expectErrno(p.ioctl(fd, VIDIOC_QBUF, vbuf(type, V4L2_MEMORY_DMABUF, 0, sizes.length, sizes.map(() => small), bytes, sizes.map(() => 4096))), "EINVAL", "QBUF of a dma-buf smaller than sizeimage");
        const q = await querybuf(p, fd, type, V4L2_MEMORY_DMABUF, sizes.length);
        expectEqual((q.flags ?? 0) & V4L2_BUF_FLAG_QUEUED, 0, "a failed QBUF leaves the buffer dequeued");
        await p.ioctl(fd, VIDIOC_QBUF, vbuf(type, V4L2_MEMORY_DMABUF, 0, sizes.length, fds, bytes, sizes));
        const after = await querybuf(p, fd, type, V4L2_MEMORY_DMABUF, sizes.length);
        expectTrue((after.flags ?? 0) & V4L2_BUF_FLAG_QUEUED, "QBUF of a heap dma-buf queues the buffer");
        const info = await p.readFile("/sys/kernel/debug/dma_buf/bufinfo");
        expectTrue(/Total [1-9]\d* devices attached/.test(info), "the imported dma-buf has the device attached (bufinfo)");
        await reqbufs(p, fd, type, V4L2_MEMORY_DMABUF, 0);
        for (const f of [...fds, small]) p.close(f);
      }
    },
  },
  {
    name: "VIDIOC_STREAMON/STREAMOFF",
    cite: "videobuf2-core.c vb2_core_streamon()/__vb2_queue_cancel(): a wrong type is EINVAL; STREAMOFF returns every buffer to userspace and may repeat",
    async run(ctx) {
      const { p, fd, types } = await open(ctx);
      await expectErrno(p.ioctl(fd, VIDIOC_STREAMON, 0x7f), "EINVAL", "STREAMON with an invalid type");
      for (const type of types) {
        const rb = await reqbufs(p, fd, type, V4L2_MEMORY_MMAP, 2);
        const sizes = planeSizes(await gFmt(p, fd, type));
        for (let i = 0; i < rb.count; i++) await p.ioctl(fd, VIDIOC_QBUF, vbuf(type, V4L2_MEMORY_MMAP, i, sizes.length, undefined, V4L2_TYPE_IS_OUTPUT(type) ? sizes : undefined));
        await p.ioctl(fd, VIDIOC_STREAMON, type);
        await p.ioctl(fd, VIDIOC_STREAMOFF, type);
        await p.ioctl(fd, VIDIOC_STREAMOFF, type);
        for (let i = 0; i < rb.count; i++)
          expectEqual(((await querybuf(p, fd, type, V4L2_MEMORY_MMAP, sizes.length, i)).flags ?? 0) & V4L2_BUF_FLAG_QUEUED, 0, `buffer ${i} QUEUED after STREAMOFF`);
      }
    },
  },
  {
    name: "VIDIOC_DQBUF",
    cite: "videobuf2-core.c vb2_core_dqbuf(): EINVAL when not streaming; EAGAIN when non-blocking and nothing is done",
    async run(ctx) {
      const { p, fd, types } = await open(ctx, O_RDWR | O_NONBLOCK);
      const type = types[types.length - 1]!;
      const planes = await planesOf(p, fd, type);
      await reqbufs(p, fd, type, V4L2_MEMORY_MMAP, 2);
      await expectErrno(p.ioctl(fd, VIDIOC_DQBUF, vbuf(type, V4L2_MEMORY_MMAP, 0, planes)), "EINVAL", "DQBUF before STREAMON");
      await p.ioctl(fd, VIDIOC_STREAMON, type);
      await expectErrno(p.ioctl(fd, VIDIOC_DQBUF, vbuf(type, V4L2_MEMORY_MMAP, 0, planes)), "EAGAIN", "non-blocking DQBUF with nothing queued");
      await p.ioctl(fd, VIDIOC_STREAMOFF, type);
    },
  },
  {
    name: "poll",
    cite: "videobuf2-core.c vb2_core_poll() / v4l2-mem2mem.c v4l2_m2m_poll(): POLLERR while nothing streams",
    async run(ctx) {
      const { p, fd } = await open(ctx);
      const pfd = [{ fd, events: POLLIN, revents: 0 }];
      await p.poll(pfd, 0);
      expectTrue(pfd[0]!.revents & POLLERR, `poll before STREAMON: revents 0x${pfd[0]!.revents.toString(16)} lacks POLLERR`);
    },
  },
];

async function querybuf(p: Process, fd: number, type: number, memory: number, planes: number, index = 0): Promise<v4l2_buffer> {
  const b = vbuf(type, memory, index, planes);
  await p.ioctl(fd, VIDIOC_QUERYBUF, b);
  return b;
}

async function dqbuf(p: Process, fd: number, type: number, planes: number): Promise<v4l2_buffer> {
  const b = vbuf(type, V4L2_MEMORY_MMAP, 0, planes);
  await p.ioctl(fd, VIDIOC_DQBUF, b);
  return b;
}

const bytesusedOf = (b: v4l2_buffer) => (V4L2_TYPE_IS_MULTIPLANAR(b.type) ? b.m!.planes!.reduce((n, pl) => n + pl.bytesused, 0) : b.bytesused!);

const captureStreaming: ConformanceCheck<V4l2Target> = {
  name: "Streaming (MMAP)",
  cite: "v4l2-compliance testMmap(): poll reports POLLIN, DQBUF returns filled buffers with increasing sequence numbers and monotonic timestamps",
  async run(ctx) {
    const { p, fd, types } = await open(ctx);
    const type = types[0]!;
    const planes = await planesOf(p, fd, type);
    const rb = await reqbufs(p, fd, type, V4L2_MEMORY_MMAP, 3);
    for (let i = 0; i < rb.count; i++) await p.ioctl(fd, VIDIOC_QBUF, vbuf(type, V4L2_MEMORY_MMAP, i, planes));
    await p.ioctl(fd, VIDIOC_STREAMON, type);
    let lastSeq = -1;
    let lastTs = -1;
    for (let n = 0; n < 4; n++) {
      const pfd = [{ fd, events: POLLIN, revents: 0 }];
      expectEqual(await p.poll(pfd, 5000), 1, "poll for a filled buffer");
      const b = await dqbuf(p, fd, type, planes);
      const ts = b.timestamp!.tv_sec * 1e6 + b.timestamp!.tv_usec;
      expectTrue(b.sequence! > lastSeq && ts >= lastTs, `sequence ${b.sequence} / timestamp ${ts} after ${lastSeq} / ${lastTs}`);
      expectTrue(bytesusedOf(b) > 0, "a filled buffer has bytesused");
      lastSeq = b.sequence!;
      lastTs = ts;
      await p.ioctl(fd, VIDIOC_QBUF, vbuf(type, V4L2_MEMORY_MMAP, b.index, planes));
    }
    await p.ioctl(fd, VIDIOC_STREAMOFF, type);
  },
};

const m2mStreaming: ConformanceCheck<V4l2Target> = {
  name: "Streaming (MMAP, mem2mem)",
  cite: "v4l2-compliance testMmap() for M2M: an OUTPUT buffer in gives a CAPTURE buffer out with the OUTPUT timestamp (V4L2_BUF_FLAG_TIMESTAMP_COPY); both come back through DQBUF",
  async run(ctx, target) {
    const { p, fd, types } = await open(ctx);
    const [outType, capType] = types as [number, number];
    const outFmt = await gFmt(p, fd, outType);
    const outPf = V4L2_TYPE_IS_MULTIPLANAR(outType) ? outFmt.fmt.pix_mp!.pixelformat : outFmt.fmt.pix!.pixelformat;
    const compressed = (await enumFmts(p, fd, outType)).find((d) => d.pixelformat === outPf)!.flags! & V4L2_FMT_FLAG_COMPRESSED;
    const sample = target.sampleInput?.(outFmt);
    if (compressed && !sample) throw new NotSupported("the OUTPUT format is compressed and the target gives no sampleInput");
    const outSizes = planeSizes(outFmt);
    const capPlanes = await planesOf(p, fd, capType);
    await reqbufs(p, fd, outType, V4L2_MEMORY_MMAP, 1);
    await reqbufs(p, fd, capType, V4L2_MEMORY_MMAP, 1);
    const qb = await querybuf(p, fd, outType, V4L2_MEMORY_MMAP, outSizes.length);
    const used: number[] = [];
    for (let i = 0; i < outSizes.length; i++) {
      const off = V4L2_TYPE_IS_MULTIPLANAR(outType) ? qb.m!.planes![i]!.m.mem_offset! : qb.m!.offset!;
      const len = V4L2_TYPE_IS_MULTIPLANAR(outType) ? qb.m!.planes![i]!.length : qb.length!;
      const vma = p.mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
      const bytes = i === 0 && sample ? sample : new Uint8Array(outSizes[i]!).fill(0x80);
      vma.write(0, bytes.subarray(0, len));
      used.push(Math.min(bytes.length, len));
      p.munmap(vma);
    }
    const out = vbuf(outType, V4L2_MEMORY_MMAP, 0, outSizes.length, undefined, used);
    out.timestamp = { tv_sec: 42, tv_usec: 4242 };
    out.field = 1;
    await p.ioctl(fd, VIDIOC_QBUF, out);
    await p.ioctl(fd, VIDIOC_QBUF, vbuf(capType, V4L2_MEMORY_MMAP, 0, capPlanes));
    await p.ioctl(fd, VIDIOC_STREAMON, outType);
    await p.ioctl(fd, VIDIOC_STREAMON, capType);
    const pfd = [{ fd, events: POLLIN, revents: 0 }];
    expectEqual(await p.poll(pfd, 5000), 1, "poll for the CAPTURE buffer");
    const cap = await dqbuf(p, fd, capType, capPlanes);
    expectTrue(bytesusedOf(cap) > 0, "the CAPTURE buffer has bytesused");
    expectEqual((cap.flags ?? 0) & V4L2_BUF_FLAG_TIMESTAMP_MASK, V4L2_BUF_FLAG_TIMESTAMP_COPY, "CAPTURE timestamp flags");
    expectEqual(JSON.stringify(cap.timestamp), JSON.stringify(out.timestamp), "CAPTURE timestamp copied from OUTPUT");
    const done = await dqbuf(p, fd, outType, outSizes.length);
    expectEqual(done.index, 0, "the OUTPUT buffer comes back");
    await p.ioctl(fd, VIDIOC_STREAMOFF, capType);
    await p.ioctl(fd, VIDIOC_STREAMOFF, outType);
  },
};

export const v4l2CaptureSuite: ConformanceSuite<V4l2Target> = { name: "V4L2 capture", checks: [...commonChecks("capture"), captureStreaming] };
export const v4l2M2mSuite: ConformanceSuite<V4l2Target> = { name: "V4L2 mem2mem", checks: [...commonChecks("m2m"), m2mStreaming] };
