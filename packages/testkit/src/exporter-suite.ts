/**
 * The dma-buf exporter suite: what every exporter must do for its importers and for userspace,
 * whatever the device (drivers/dma-buf/dma-buf.c, tools/testing/selftests/dmabuf-heaps,
 * Documentation/driver-api/dma-buf.rst).
 */
import {
  DMA_BIDIRECTIONAL, DMA_BUF_IOCTL_SYNC, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_RW, DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE, MAP_SHARED, PAGE_SIZE, PROT_READ, PROT_WRITE, SEEK_END, dmaBufAttach, dmaBufDetach, dmaBufGet,
  callAs, dmaBufMapAttachment, dmaBufPut, dmaBufUnmapAttachment, leakCheck, type Device, type Kernel,
} from "@dmabuf/core";
import { expectEqual, expectErrno, expectTrue, type CheckContext, type ConformanceCheck, type ConformanceSuite, type ConformanceTarget } from "./conformance.js";

/** An exporter under test: how to get a dma-buf fd (opened O_RDWR) from it in a process. */
export interface ExporterTarget extends ConformanceTarget {
  /**
   * Makes one buffer and returns its dma-buf fd in `ctx.proc` (e.g. REQBUFS + EXPBUF, or
   * CREATE_DUMB + PRIME_HANDLE_TO_FD). Other fds it opens stay open until the check ends.
   */
  exportBuffer(ctx: CheckContext): Promise<number>;
  /** The board device the kit attaches as an importer; default: the first board device. */
  readonly attachDevice?: string;
}

function importerDevice(kernel: Kernel, target: ExporterTarget): Device {
  const dev = target.attachDevice ? kernel.devices.find((d) => d.name === target.attachDevice) : kernel.devices[0];
  expectTrue(dev, `no board device ${target.attachDevice ?? "(board has none)"} to attach as an importer`);
  return dev;
}

/** Bufinfo's row for inode `ino`, if the buffer is alive. */
async function bufinfoRow(ctx: CheckContext, ino: number): Promise<string | undefined> {
  const text = await ctx.proc.readFile("/sys/kernel/debug/dma_buf/bufinfo");
  return text.split("\n").find((l) => l.split("\t")[5] === String(ino).padStart(8, "0"));
}

const checks: ConformanceCheck<ExporterTarget>[] = [
  {
    name: "DMA-BUF export",
    cite: "dma-buf.c dma_buf_export(): ops must have map_dma_buf, unmap_dma_buf and release; the fd is a dma-buf file whose size lseek(SEEK_END) reports (dmabuf-heaps selftest)",
    async run(ctx, target) {
      const fd = await target.exportBuffer(ctx);
      expectTrue(ctx.proc.readlink(`/proc/self/fd/${fd}`).startsWith("/dmabuf:"), `fd ${fd} is not a dma-buf (readlink gives ${ctx.proc.readlink(`/proc/self/fd/${fd}`)})`);
      const buf = callAs(ctx.kernel, ctx.proc, () => dmaBufGet(ctx.kernel, fd));
      try {
        expectTrue(buf.size > 0, "a dma-buf has a non-zero size");
        expectEqual(buf.size % PAGE_SIZE, 0, "size is whole pages (exporters back dma-bufs with pages)");
        expectEqual(ctx.proc.lseek(fd, 0, SEEK_END), buf.size, "lseek(fd, 0, SEEK_END)");
        expectTrue(buf.expName.length > 0, "exp_name is set");
        expectTrue(typeof buf.ops.mapDmaBuf === "function" && typeof buf.ops.unmapDmaBuf === "function" && typeof buf.ops.release === "function", "map_dma_buf, unmap_dma_buf and release are required ops");
      } finally {
        dmaBufPut(buf);
      }
    },
  },
  {
    name: "DMA-BUF fd and reference lifetime",
    cite: "dma-buf.c dma_buf_get()/dma_buf_put(): every fd, dup and dma_buf_get holds the file; the buffer is released (dma_buf_release) with the last reference",
    async run(ctx, target) {
      const fd = await target.exportBuffer(ctx);
      const dup = ctx.proc.dup(fd);
      ctx.proc.close(fd);
      const buf = callAs(ctx.kernel, ctx.proc, () => dmaBufGet(ctx.kernel, dup));
      const refs = buf.refcount;
      const ino = buf.ino;
      ctx.proc.close(dup);
      expectEqual(buf.refcount, refs - 1, "closing the last fd drops one reference");
      expectTrue(!buf.released && (await bufinfoRow(ctx, ino)) !== undefined, "the buffer lives while a dma_buf_get() reference remains");
      dmaBufPut(buf);
      if (buf.refcount === 0) expectTrue(buf.released, "the last reference releases the buffer");
      // The driver may keep its own reference (a V4L2 MMAP buffer, a GEM object): it must go when the device fd closes.
      ctx.proc.exit(0);
      expectTrue(buf.released, "the buffer is released once the process holding the device and the fds exits");
    },
  },
  {
    name: "DMA-BUF attach/map/unmap/detach",
    cite: "dma-buf.c dma_buf_attach(), dma_buf_map_attachment(), dma_buf_unmap_attachment(), dma_buf_detach(); bufinfo lists attached devices",
    async run(ctx, target) {
      const fd = await target.exportBuffer(ctx);
      const dev = importerDevice(ctx.kernel, target);
      const buf = callAs(ctx.kernel, ctx.proc, () => dmaBufGet(ctx.kernel, fd));
      try {
        const before = buf.attachments.length;
        const attach = dmaBufAttach(buf, dev);
        expectTrue(buf.attachments.includes(attach), "the attachment is on the buffer's list");
        const row = await ctx.proc.readFile("/sys/kernel/debug/dma_buf/bufinfo");
        expectTrue(row.includes(`\t${dev.name}\n`), `bufinfo lists ${dev.name} under Attached Devices`);
        const sgt = dmaBufMapAttachment(attach, DMA_BIDIRECTIONAL);
        const mapped = sgt.sgl.reduce((n, sg) => n + sg.dmaLength, 0);
        expectTrue(mapped >= buf.size, `the mapped scatterlist covers the buffer (${mapped} of ${buf.size} bytes)`);
        dmaBufUnmapAttachment(attach, sgt, DMA_BIDIRECTIONAL);
        dmaBufDetach(buf, attach);
        expectEqual(buf.attachments.length, before, "attachments after detach");
      } finally {
        dmaBufPut(buf);
      }
    },
  },
  {
    name: "DMA-BUF mmap",
    cite: "dma-buf.c dma_buf_mmap_internal(): a mapping past the end of the buffer is EINVAL; two mappings share the pages (zero copy)",
    async run(ctx, target) {
      const fd = await target.exportBuffer(ctx);
      const size = ctx.proc.lseek(fd, 0, SEEK_END);
      const p = ctx.proc;
      await expectErrno(() => p.mmap(null, size + PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0), "EINVAL", "mmap of size + 1 page");
      await expectErrno(() => p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, size), "EINVAL", "mmap at offset = size");
      const a = p.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      const b = p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, size - PAGE_SIZE);
      const pattern = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
      a.write(size - PAGE_SIZE, pattern);
      expectEqual(Array.from(b.read(0, 4)).join(","), Array.from(pattern).join(","), "a store through one mapping is seen through the other");
      p.munmap(a);
      p.munmap(b);
    },
  },
  {
    name: "DMA_BUF_IOCTL_SYNC",
    cite: "dma-buf.c dma_buf_ioctl(): flags outside DMA_BUF_SYNC_VALID_FLAGS_MASK or without READ/WRITE are EINVAL; START then END brackets CPU access",
    async run(ctx, target) {
      const fd = await target.exportBuffer(ctx);
      const p = ctx.proc;
      await expectErrno(p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: 0x8 }), "EINVAL", "SYNC with an unknown flag");
      await expectErrno(p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START }), "EINVAL", "SYNC without READ or WRITE");
      for (const rw of [DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_RW]) {
        await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | rw });
        await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | rw });
      }
    },
  },
  {
    name: "DMA-BUF fdinfo and bufinfo",
    cite: "dma-buf.c dma_buf_show_fdinfo() (size, count, exp_name in /proc/<pid>/fdinfo) and dma_buf_debug_show() (/sys/kernel/debug/dma_buf/bufinfo)",
    async run(ctx, target) {
      const fd = await target.exportBuffer(ctx);
      const buf = callAs(ctx.kernel, ctx.proc, () => dmaBufGet(ctx.kernel, fd));
      const { size, expName, ino } = buf;
      dmaBufPut(buf);
      const info = await ctx.proc.readFile(`/proc/self/fdinfo/${fd}`);
      expectTrue(info.includes(`size:\t${size}\n`) && info.includes(`exp_name:\t${expName}\n`), `fdinfo shows size and exp_name:\n${info}`);
      const row = await bufinfoRow(ctx, ino);
      expectTrue(row?.startsWith(String(size).padStart(8, "0")) && row.includes(`\t${expName}\t`), `bufinfo has the buffer (ino ${ino}, ${expName}, ${size} bytes)`);
    },
  },
  {
    name: "DMA-BUF nothing leaked",
    cite: "dma-buf.c dma_buf_release(): closing every fd and the device frees the buffer, its attachments and its pages (kmemleak-clean)",
    async run(ctx, target) {
      const fd = await target.exportBuffer(ctx);
      const dev = importerDevice(ctx.kernel, target);
      const buf = callAs(ctx.kernel, ctx.proc, () => dmaBufGet(ctx.kernel, fd));
      const attach = dmaBufAttach(buf, dev);
      dmaBufUnmapAttachment(attach, dmaBufMapAttachment(attach, DMA_BIDIRECTIONAL), DMA_BIDIRECTIONAL);
      dmaBufDetach(buf, attach);
      dmaBufPut(buf);
      ctx.proc.exit(0);
      const left = leakCheck(ctx.kernel).leaks.filter((r) => r.kind !== "process");
      expectEqual(left.map((r) => `${r.kind}: ${r.describe()}`).join("; "), "", "objects left after the process exits");
    },
  },
];

export const exporterSuite: ConformanceSuite<ExporterTarget> = { name: "dma-buf exporter", checks };
