import { describe, expect, it } from "vitest";
import {
  DMA_BIDIRECTIONAL, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, DMA_BUF_IOCTL_SYNC, DMA_BUF_SET_NAME,
  DMA_BUF_SET_NAME_A, DMA_BUF_SET_NAME_B, DMA_FROM_DEVICE, DMA_NONE, DMA_TO_DEVICE, F_GETFD, MAP_SHARED, O_CLOEXEC,
  O_RDONLY, O_RDWR, PAGE_SIZE, PROT_READ, PROT_WRITE, RLIMIT_NOFILE, SEEK_CUR, SEEK_END, SEEK_SET, dmaBufAttach,
  dmaBufBeginCpuAccess, dmaBufDetach, dmaBufDynamicAttach, dmaBufEndCpuAccess, dmaBufExport, dmaBufFd, dmaBufGet,
  dmaBufMapAttachment, dmaBufMmap, dmaBufMoveNotify, dmaBufPin, dmaBufPut, dmaBufUnmapAttachment, dmaBufUnpin,
  dmaBufVmap, dmaBufVunmap, getDmaBuf, ioctlHex, type DmaBufOps, type SgTable,
} from "../src/index.js";
import { PageExporter } from "./support/page-exporter.js";

const rw = PROT_READ | PROT_WRITE;
const fill = (n: number, byte: number) => new Uint8Array(n).fill(byte);

describe("dma_buf_export validation (drivers/dma-buf/dma-buf.c dma_buf_export)", () => {
  it("rejects missing priv/ops/map/unmap/release, unpaired pin/unpin and cacheSgtMapping with pin, with EINVAL and a WARNING", async () => {
    const { k, exp } = await PageExporter.boot();
    const ops = exp.ops;
    const base = { expName: "x", size: PAGE_SIZE, flags: O_RDWR, priv: {} };
    const { mapDmaBuf: _m, ...noMap } = ops;
    const { unmapDmaBuf: _u, ...noUnmap } = ops;
    const { release: _r, ...noRelease } = ops;
    const bad: [object, RegExp][] = [
      [{ ...base, priv: undefined, ops }, /missing priv/],
      [{ ...base, ops: undefined }, /missing ops/],
      [{ ...base, ops: noMap }, /missing ops.mapDmaBuf/],
      [{ ...base, ops: noUnmap }, /missing ops.unmapDmaBuf/],
      [{ ...base, ops: noRelease }, /missing ops.release/],
      [{ ...base, ops: { ...ops, pin: () => {} } }, /pin and unpin must be given together/],
      [{ ...base, ops: { ...ops, unpin: () => {} } }, /pin and unpin must be given together/],
      [{ ...base, ops: { ...ops, cacheSgtMapping: true, pin: () => {}, unpin: () => {} } }, /cacheSgtMapping cannot be combined/],
      [{ ...base, ops, expName: "" }, /expName is required/],
      [{ ...base, ops, size: -1 }, /not a byte count/],
    ];
    for (const [info, msg] of bad) {
      const err = (() => {
        try {
          dmaBufExport(k, info as never);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toMatchObject({ code: "EINVAL", errno: 22 });
      expect((err as Error).message).toMatch(msg);
    }
    expect(k.dmesg()).toMatch(/WARNING: .* dma_buf_export: missing priv/);
    // nothing left behind: no buffer listed, and the inode counter did not move
    const p = k.spawn("t");
    expect(await p.readFile("/sys/kernel/debug/dma_buf/bufinfo")).toContain("Total 0 objects, 0 bytes");
    const first = exp.export(PAGE_SIZE);
    expect(first.ino).toBe(1);
    dmaBufPut(first);
  });
});

describe("fd and refcount (prime_self_import, dma_buf_fd/dma_buf_get/dma_buf_put)", () => {
  it("moves the export reference into the fd: one fd, refcount 1; close releases exactly once", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("app");
    const fd = await exp.alloc(p, 2 * PAGE_SIZE);
    const buf = p.fds.get(fd, "t").privateData as ReturnType<typeof exp.export>;
    expect(buf.refcount).toBe(1);
    expect(p.fcntl(fd, F_GETFD)).toBe(1); // O_CLOEXEC passed to dma_buf_fd
    p.close(fd);
    expect(buf.released).toBe(true);
    expect(exp.released.get(buf.ino)).toBe(1);
    expect(exp.freePages).toBe(1024);
  });

  it("basic-with_one_bo: fds passed to another process name the same buffer; closing the exporter's side loses nothing", async () => {
    const { k, exp } = await PageExporter.boot();
    const a = k.spawn("a");
    const b = k.spawn("b");
    const fd = await exp.alloc(a, PAGE_SIZE);
    const [bfd] = a.sendFds(b, [fd]);
    const ia = await exp.import(a, fd);
    const ib = await exp.import(b, bfd!);
    expect(ib).toBe(ia); // one struct dma_buf, whatever the fd or process
    expect(ia.refcount).toBe(4); // two fds + two driver references
    const va = a.mmap(null, PAGE_SIZE, rw, MAP_SHARED, fd);
    va.write(0, fill(16, 0x5a));
    a.exit(0);
    expect(ia.released).toBe(false);
    const vb = b.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, bfd!);
    expect(vb.read(0, 16)).toEqual(fill(16, 0x5a));
    b.munmap(vb);
    b.close(bfd!);
    dmaBufPut(ia);
    expect(ia.released).toBe(false);
    dmaBufPut(ib);
    expect(exp.released.get(ia.ino)).toBe(1);
  });

  it("basic-with_two_bos: a second buffer exported after the first is closed is a new object with its own contents", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    const fd1 = await exp.alloc(p, PAGE_SIZE);
    const m1 = p.mmap(null, PAGE_SIZE, rw, MAP_SHARED, fd1);
    m1.write(0, fill(8, 1));
    const ino1 = p.fds.get(fd1, "t").inode.ino;
    p.munmap(m1);
    p.close(fd1);
    const fd2 = await exp.alloc(p, PAGE_SIZE);
    const buf2 = await exp.import(p, fd2);
    expect(buf2.ino).not.toBe(ino1);
    const m2 = p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd2);
    expect(m2.read(0, 8)).toEqual(fill(8, 0)); // no stale reuse of the first buffer's data
    p.munmap(m2);
    dmaBufPut(buf2);
  });

  it("basic-with_fd_dup: a dup'd fd keeps the buffer after the original is closed, and the import outlives both", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    const fd = await exp.alloc(p, PAGE_SIZE);
    const dupfd = p.dup(fd);
    p.close(fd);
    const buf = await exp.import(p, dupfd);
    const m = p.mmap(null, PAGE_SIZE, rw, MAP_SHARED, dupfd);
    m.write(0, fill(4, 9));
    p.close(dupfd);
    p.munmap(m);
    expect(buf.refcount).toBe(1);
    expect(exp.pageView(buf, 0).subarray(0, 4)).toEqual(fill(4, 9));
    dmaBufPut(buf);
    expect(exp.released.get(buf.ino)).toBe(1);
  });

  it("dma_buf_get: EBADF for a closed fd, EINVAL for a file that is not a dma-buf (both take no reference)", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    await expect(exp.import(p, 42)).rejects.toMatchObject({ code: "EBADF" });
    const other = p.open("/sys/kernel/debug/dma_buf/bufinfo", O_RDONLY);
    await expect(exp.import(p, other)).rejects.toMatchObject({ code: "EINVAL" });
    expect(p.fds.get(other, "t").count).toBe(1);
    expect(() => dmaBufGet(k, 0)).toThrow(expect.objectContaining({ code: "EBADF" })); // no current process
  });

  it("dma_buf_fd: EMFILE leaves the export reference with the caller; no fd is installed", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    const heap = p.open("/dev/test_heap");
    p.setrlimit(RLIMIT_NOFILE, 1);
    await expect(p.ioctl(heap, 0xc0184800, { len: PAGE_SIZE, fd: 0, fd_flags: O_RDWR })).rejects.toMatchObject({ code: "EMFILE" });
    expect(p.fds.count).toBe(1);
    expect(exp.released.size).toBe(1); // the test heap dropped its reference: released, nothing leaked
    expect(exp.freePages).toBe(1024);
  });

  it("dma_buf_put and get_dma_buf on a released buffer fail with EINVAL and leave the release count at one", async () => {
    const { exp } = await PageExporter.boot();
    const buf = exp.export(PAGE_SIZE);
    getDmaBuf(buf);
    dmaBufPut(buf);
    dmaBufPut(buf);
    expect(() => dmaBufPut(buf)).toThrow(expect.objectContaining({ code: "EINVAL", message: expect.stringMatching(/already released/) }));
    expect(() => getDmaBuf(buf)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => dmaBufFd(buf, 0)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(exp.released.get(buf.ino)).toBe(1);
  });

  it("basic-llseek-size: lseek(fd, 0, SEEK_END) is the size for 4096<<i, i = 0..9", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    for (let i = 0; i < 10; i++) {
      const size = 4096 << i;
      const fd = await exp.alloc(p, size);
      expect(p.lseek(fd, 0, SEEK_END)).toBe(size);
      expect(p.lseek(fd, 0, SEEK_SET)).toBe(0);
      p.close(fd);
    }
  });

  it("basic-llseek-bad: any offset other than 0, and SEEK_CUR, give EINVAL", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    const size = 4 * PAGE_SIZE;
    const fd = await exp.alloc(p, size);
    for (const [off, whence] of [[-1, SEEK_END], [1, SEEK_SET], [size, SEEK_SET], [size + 1, SEEK_SET], [size - 1, SEEK_SET], [0, SEEK_CUR]] as const)
      expect(() => p.lseek(fd, off, whence)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  it("process exit drops every fd and mapping: the buffer is released once", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    const fd = await exp.alloc(p, PAGE_SIZE);
    p.dup(fd);
    p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd);
    p.exit(0);
    expect([...exp.released.values()]).toEqual([1]);
  });
});

describe("userspace mmap (dma_buf_mmap_internal; udmabuf.c and prime_mmap bounds)", () => {
  it("udmabuf test-5 style: mappings alias the exporter's pages (writes through either are seen by the other, no copy)", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    const fd = await exp.alloc(p, 4 * PAGE_SIZE);
    const buf = await exp.import(p, fd);
    const m = p.mmap(null, 4 * PAGE_SIZE, rw, MAP_SHARED, fd);
    for (let j = 0; j < 4; j++) exp.pageView(buf, j).fill(0x61 + j);
    for (let j = 0; j < 4; j++) expect(m.read(j * PAGE_SIZE, 1)[0]).toBe(0x61 + j);
    m.write(PAGE_SIZE + 10, fill(1, 0x62 + 10));
    expect(exp.pageView(buf, 1)[10]).toBe(0x62 + 10);
    // an mmap at a page offset starts at that page
    const tail = p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 3 * PAGE_SIZE);
    expect(tail.segments[0]!.buffer).toBe(exp.memory);
    expect(tail.read(0, 1)[0]).toBe(0x64);
    p.exit(0);
    dmaBufPut(buf);
  });

  it("rejects mappings past the end with EINVAL and changes nothing (vm_pgoff + pages > size >> PAGE_SHIFT)", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    const fd = await exp.alloc(p, 2 * PAGE_SIZE);
    const file = p.fds.get(fd, "t");
    for (const [len, off] of [[3 * PAGE_SIZE, 0], [PAGE_SIZE, 2 * PAGE_SIZE], [2 * PAGE_SIZE, PAGE_SIZE], [2 * PAGE_SIZE + 1, 0]])
      expect(() => p.mmap(null, len, PROT_READ, MAP_SHARED, fd, off)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(file.count).toBe(1);
    expect(p.mappings()).toEqual([]);
    expect(k.trace.events("dma_buf_mmap_internal")).toEqual([]);
    // the last page alone is fine
    expect(p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, PAGE_SIZE).length).toBe(PAGE_SIZE);
  });

  it("prime_mmap test_refcounting: a mapping holds a reference, so closing the fd first keeps the memory", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    const fd = await exp.alloc(p, PAGE_SIZE);
    const m = p.mmap(null, PAGE_SIZE, rw, MAP_SHARED, fd);
    p.close(fd);
    m.write(0, fill(4, 7));
    expect(m.read(0, 4)).toEqual(fill(4, 7));
    expect(exp.released.size).toBe(0);
    p.munmap(m);
    expect(exp.released.size).toBe(1);
  });

  it("gives EINVAL when the exporter has no mmap, and EACCES for a shared writable map of a read-only export", async () => {
    const { k, exp } = await PageExporter.boot({ mmap: false });
    const p = k.spawn("t");
    const fd = await exp.alloc(p, PAGE_SIZE);
    expect(() => p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd)).toThrow(expect.objectContaining({ code: "EINVAL", message: expect.stringMatching(/does not support mmap/) }));
    const ro = await exp.alloc(p, PAGE_SIZE, O_RDONLY);
    expect(() => p.mmap(null, PAGE_SIZE, rw, MAP_SHARED, ro)).toThrow(expect.objectContaining({ code: "EACCES" }));
  });

  it("dma_buf_mmap: an importer's mmap forwards to the exporter; the vma then holds the dma-buf file (vma_set_file)", async () => {
    const { k, exp } = await PageExporter.boot();
    const buf = exp.export(2 * PAGE_SIZE);
    let pgoff = 1;
    k.vfs.create("/dev/importer", { name: "importer", mmap: (_f, vma) => dmaBufMmap(buf, vma, pgoff) });
    const p = k.spawn("t");
    const dev = p.open("/dev/importer");
    exp.pageView(buf, 1).fill(3);
    const m = p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, dev);
    expect(m.file).toBe(buf.file);
    expect(m.pgoff).toBe(1);
    expect(m.read(0, 2)).toEqual(fill(2, 3));
    expect(buf.refcount).toBe(2);
    expect(p.fds.get(dev, "t").count).toBe(1); // the importer's file reference moved to the dma-buf
    pgoff = 2;
    expect(() => p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, dev)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    pgoff = Number.MAX_SAFE_INTEGER;
    expect(() => p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, dev)).toThrow(expect.objectContaining({ code: "EOVERFLOW" }));
    expect(buf.refcount).toBe(2);
    p.munmap(m);
    dmaBufPut(buf);
    expect(buf.released).toBe(true);
    expect(k.trace.events("dma_buf_mmap")).toHaveLength(1);
  });
});

describe("dma-buf fd ioctls (dma_buf_ioctl)", () => {
  it("uses Linux's request numbers", () => {
    expect(ioctlHex(DMA_BUF_IOCTL_SYNC)).toBe("0x40086200");
    expect(ioctlHex(DMA_BUF_SET_NAME_A)).toBe("0x40046201");
    expect(ioctlHex(DMA_BUF_SET_NAME_B)).toBe("0x40086201");
    expect(DMA_BUF_SET_NAME).toBe(DMA_BUF_SET_NAME_B);
    expect(ioctlHex(DMA_BUF_IOCTL_EXPORT_SYNC_FILE)).toBe("0xc0086202");
    expect(ioctlHex(DMA_BUF_IOCTL_IMPORT_SYNC_FILE)).toBe("0x40086203");
  });

  it("DMA_BUF_IOCTL_SYNC accepts only flags 1,2,3,5,6,7 and maps them to begin/end_cpu_access directions", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    const fd = await exp.alloc(p, PAGE_SIZE);
    const ino = p.fds.get(fd, "t").inode.ino;
    for (const flags of [0, 4, 8, 9, 15, 16, -1, 2n ** 64n - 1n, 1n << 63n])
      await expect(p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags })).rejects.toMatchObject({ code: "EINVAL" });
    expect(exp.calls).toEqual([]);
    for (const flags of [1, 2, 3, 5, 6, 7n]) expect(await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags })).toBe(0);
    expect(exp.calls).toEqual([
      `begin_cpu:ino${ino}:${DMA_FROM_DEVICE}`, `begin_cpu:ino${ino}:${DMA_TO_DEVICE}`, `begin_cpu:ino${ino}:${DMA_BIDIRECTIONAL}`,
      `end_cpu:ino${ino}:${DMA_FROM_DEVICE}`, `end_cpu:ino${ino}:${DMA_TO_DEVICE}`, `end_cpu:ino${ino}:${DMA_BIDIRECTIONAL}`,
    ]);
    await expect(p.ioctl(fd, DMA_BUF_IOCTL_SYNC)).rejects.toMatchObject({ code: "EFAULT" });
    await expect(p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: 1.5 })).rejects.toMatchObject({ code: "EFAULT" });
  });

  it("passes an exporter's begin_cpu_access error through DMA_BUF_IOCTL_SYNC", async () => {
    const { k, exp } = await PageExporter.boot();
    const ops: DmaBufOps = { ...exp.ops, beginCpuAccess: () => Promise.reject(Object.assign(new Error("x"), { code: "EINTR" })) };
    const buf = dmaBufExport(k, { expName: "t", ops, size: PAGE_SIZE, flags: O_RDWR, priv: {} });
    await expect(dmaBufBeginCpuAccess(buf, DMA_TO_DEVICE)).rejects.toMatchObject({ code: "EINTR" });
    await dmaBufEndCpuAccess(buf, DMA_TO_DEVICE);
    dmaBufPut(buf);
    await expect(dmaBufBeginCpuAccess(buf, DMA_TO_DEVICE)).rejects.toMatchObject({ code: "EINVAL" });
  });

  it("DMA_BUF_SET_NAME: up to 31 bytes (32 with the NUL), EINVAL beyond and the old name stays; allowed while attached (6.x)", async () => {
    const { k, exp, dev } = await PageExporter.boot();
    const p = k.spawn("t");
    const fd = await exp.alloc(p, PAGE_SIZE);
    const buf = await exp.import(p, fd);
    expect(p.readlink(`/proc/self/fd/${fd}`)).toBe("/dmabuf:");
    const a = dmaBufAttach(buf, dev("cam0"));
    expect(await p.ioctl(fd, DMA_BUF_SET_NAME, "x".repeat(31))).toBe(0);
    expect(buf.name).toBe("x".repeat(31));
    await expect(p.ioctl(fd, DMA_BUF_SET_NAME_B, "y".repeat(32))).rejects.toMatchObject({ code: "EINVAL" });
    expect(buf.name).toBe("x".repeat(31));
    expect(await p.ioctl(fd, DMA_BUF_SET_NAME_A, "cam0-out\0ignored")).toBe(0);
    expect(p.readlink(`/proc/self/fd/${fd}`)).toBe("/dmabuf:cam0-out");
    await expect(p.ioctl(fd, DMA_BUF_SET_NAME, 1234)).rejects.toMatchObject({ code: "EFAULT" });
    dmaBufDetach(buf, a);
    dmaBufPut(buf);
  });

  it("gives ENOTTY for unknown requests (and, until fences land, for the sync_file ioctls)", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("t");
    const fd = await exp.alloc(p, PAGE_SIZE);
    await expect(p.ioctl(fd, 0x40086209, {})).rejects.toMatchObject({ code: "ENOTTY", errno: 25 });
  });
});

describe("attach, map, unmap, detach (dma_buf_dynamic_attach, dma_buf_map_attachment)", () => {
  it("a deferred exporter backs storage at the first map, knowing every attached device; unmap and detach reach it", async () => {
    const { exp, dev } = await PageExporter.boot({ deferred: true });
    const buf = exp.export(4 * PAGE_SIZE);
    const a = dmaBufAttach(buf, dev("cam0"));
    const b = dmaBufAttach(buf, dev("enc0"));
    expect(buf.attachments).toEqual([b, a]); // most recent first, as list_add
    expect(exp.freePages).toBe(1024);
    const sgt = dmaBufMapAttachment(a, DMA_FROM_DEVICE);
    expect(exp.freePages).toBe(1020);
    expect(sgt.size).toBe(4 * PAGE_SIZE);
    expect(sgt.nents).toBeGreaterThan(0);
    dmaBufUnmapAttachment(a, sgt, DMA_FROM_DEVICE);
    dmaBufDetach(buf, a);
    dmaBufDetach(buf, b);
    expect(exp.calls).toEqual(["attach:cam0", "attach:enc0", "map:cam0:2", "unmap:cam0:2", "detach:cam0", "detach:enc0"]);
    dmaBufPut(buf);
    expect(exp.freePages).toBe(1024);
  });

  it("an exporter's refusal (EBUSY) leaves no attachment and no detach call", async () => {
    const { k, exp, dev } = await PageExporter.boot({ refuse: ["disp0"] });
    const buf = exp.export(PAGE_SIZE);
    expect(() => dmaBufAttach(buf, dev("disp0"))).toThrow(expect.objectContaining({ code: "EBUSY" }));
    expect(buf.attachments).toEqual([]);
    expect(exp.calls).toEqual([]);
    expect(k.trace.events("dma_buf_dynamic_attach")).toEqual([]);
    expect(() => dmaBufAttach(buf, undefined as never)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    dmaBufPut(buf);
    expect(() => dmaBufAttach(buf, dev("cam0"))).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  it("map requires a live attachment: mapping, unmapping or pinning a detached one is EINVAL", async () => {
    const { exp, dev } = await PageExporter.boot();
    const buf = exp.export(PAGE_SIZE);
    const a = dmaBufAttach(buf, dev("cam0"));
    const sgt = dmaBufMapAttachment(a, DMA_TO_DEVICE);
    dmaBufUnmapAttachment(a, sgt, DMA_TO_DEVICE);
    dmaBufDetach(buf, a);
    expect(() => dmaBufMapAttachment(a, DMA_TO_DEVICE)).toThrow(expect.objectContaining({ code: "EINVAL", message: expect.stringMatching(/detached/) }));
    expect(() => dmaBufUnmapAttachment(a, sgt, DMA_TO_DEVICE)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => dmaBufDetach(buf, a)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(exp.calls.filter((c) => c.startsWith("map"))).toHaveLength(1);
    dmaBufPut(buf);
  });

  it("double unmap, unmap in another direction and map with DMA_NONE are EINVAL and change nothing", async () => {
    const { exp, dev } = await PageExporter.boot();
    const buf = exp.export(PAGE_SIZE);
    const a = dmaBufAttach(buf, dev("cam0"));
    expect(() => dmaBufMapAttachment(a, DMA_NONE)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    const sgt = dmaBufMapAttachment(a, DMA_TO_DEVICE);
    expect(() => dmaBufUnmapAttachment(a, sgt, DMA_FROM_DEVICE)).toThrow(expect.objectContaining({ code: "EINVAL", message: expect.stringMatching(/mapped DMA_TO_DEVICE/) }));
    dmaBufUnmapAttachment(a, sgt, DMA_TO_DEVICE);
    expect(() => dmaBufUnmapAttachment(a, sgt, DMA_TO_DEVICE)).toThrow(expect.objectContaining({ code: "EINVAL", message: expect.stringMatching(/double unmap/) }));
    expect(exp.calls.filter((c) => c.startsWith("unmap"))).toHaveLength(1);
    dmaBufDetach(buf, a);
    dmaBufPut(buf);
  });

  it("detach of another buffer's attachment is EINVAL with a WARNING; detach with mappings outstanding is EBUSY", async () => {
    const { k, exp, dev } = await PageExporter.boot();
    const b1 = exp.export(PAGE_SIZE);
    const b2 = exp.export(PAGE_SIZE);
    const a1 = dmaBufAttach(b1, dev("cam0"));
    expect(() => dmaBufDetach(b2, a1)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(k.dmesg()).toMatch(/WARNING: .* dma_buf_detach: attachment does not belong to dma-buf ino 2/);
    expect(b1.attachments).toEqual([a1]);
    const sgt = dmaBufMapAttachment(a1, DMA_BIDIRECTIONAL);
    expect(() => dmaBufDetach(b1, a1)).toThrow(expect.objectContaining({ code: "EBUSY" }));
    expect(a1.attached).toBe(true);
    dmaBufUnmapAttachment(a1, sgt, DMA_BIDIRECTIONAL);
    dmaBufDetach(b1, a1);
    dmaBufPut(b1);
    dmaBufPut(b2);
  });

  it("a failing map leaves no mapping; NULL from the exporter becomes ENOMEM", async () => {
    const { exp, dev } = await PageExporter.boot({ dynamic: true });
    const buf = exp.export(PAGE_SIZE);
    const a = dmaBufDynamicAttach(buf, dev("cam0"), { moveNotify: () => {} });
    exp.failNextMap = null;
    expect(() => dmaBufMapAttachment(a, DMA_TO_DEVICE)).toThrow(expect.objectContaining({ code: "ENOMEM" }));
    expect(a.mappings).toEqual([]);
    expect(exp.calls).toEqual(["attach:cam0", "pin:cam0", "map:cam0:1", "unpin:cam0"]);
    dmaBufDetach(buf, a);
    dmaBufPut(buf);
  });

  it("cacheSgtMapping: one exporter map per attachment, EBUSY for another direction, unmapped only at detach (5.3-6.15)", async () => {
    const { exp, dev } = await PageExporter.boot({ cacheSgt: true });
    const buf = exp.export(PAGE_SIZE);
    const a = dmaBufAttach(buf, dev("cam0"));
    const s1 = dmaBufMapAttachment(a, DMA_TO_DEVICE);
    const s2 = dmaBufMapAttachment(a, DMA_TO_DEVICE);
    expect(s2).toBe(s1);
    expect(() => dmaBufMapAttachment(a, DMA_FROM_DEVICE)).toThrow(expect.objectContaining({ code: "EBUSY" }));
    dmaBufUnmapAttachment(a, s1, DMA_TO_DEVICE);
    dmaBufUnmapAttachment(a, s2, DMA_TO_DEVICE);
    expect(exp.calls).toEqual(["attach:cam0", "map:cam0:1"]);
    dmaBufDetach(buf, a);
    expect(exp.calls).toEqual(["attach:cam0", "map:cam0:1", "unmap:cam0:1", "detach:cam0"]);
    dmaBufPut(buf);
  });

  it("a static importer of a dynamic exporter is pinned and mapped DMA_BIDIRECTIONAL at attach; every direction reuses it", async () => {
    const { exp, dev } = await PageExporter.boot({ dynamic: true });
    const buf = exp.export(PAGE_SIZE);
    const a = dmaBufAttach(buf, dev("cam0"));
    expect(exp.calls).toEqual(["attach:cam0", "pin:cam0", "map:cam0:0"]);
    const s1 = dmaBufMapAttachment(a, DMA_TO_DEVICE);
    const s2 = dmaBufMapAttachment(a, DMA_FROM_DEVICE);
    expect(s2).toBe(s1);
    expect(s1).toBe(a.sgt);
    dmaBufUnmapAttachment(a, s1, DMA_TO_DEVICE);
    dmaBufUnmapAttachment(a, s2, DMA_FROM_DEVICE);
    dmaBufDetach(buf, a);
    expect(exp.calls.slice(3)).toEqual(["unmap:cam0:0", "unpin:cam0", "detach:cam0"]);
    dmaBufPut(buf);
  });

  it("a dynamic importer of a static exporter also gets the attach-time mapping; of a dynamic exporter, pin-on-map", async () => {
    const st = await PageExporter.boot();
    const b1 = st.exp.export(PAGE_SIZE);
    const a1 = dmaBufDynamicAttach(b1, st.dev("cam0"), { moveNotify: () => {} });
    expect(a1.sgt).toBeDefined();
    expect(st.exp.calls).toEqual(["attach:cam0", "map:cam0:0"]);
    dmaBufDetach(b1, a1);
    dmaBufPut(b1);

    const dy = await PageExporter.boot({ dynamic: true });
    const b2 = dy.exp.export(PAGE_SIZE);
    const a2 = dmaBufDynamicAttach(b2, dy.dev("cam0"), { moveNotify: () => {}, allowPeer2peer: true });
    expect(a2.sgt).toBeUndefined();
    expect(a2.peer2peer).toBe(true);
    const sgt = dmaBufMapAttachment(a2, DMA_FROM_DEVICE);
    dmaBufUnmapAttachment(a2, sgt, DMA_FROM_DEVICE);
    expect(dy.exp.calls).toEqual(["attach:cam0", "pin:cam0", "map:cam0:2", "unmap:cam0:2", "unpin:cam0"]);
    dmaBufDetach(b2, a2);
    dmaBufPut(b2);
  });

  it("a failed attach-time mapping unpins, runs the exporter's detach and leaves no attachment", async () => {
    const { exp, dev } = await PageExporter.boot({ dynamic: true });
    const buf = exp.export(PAGE_SIZE);
    exp.failNextMap = null;
    expect(() => dmaBufAttach(buf, dev("cam0"))).toThrow(expect.objectContaining({ code: "ENOMEM" }));
    expect(buf.attachments).toEqual([]);
    expect(exp.calls).toEqual(["attach:cam0", "pin:cam0", "map:cam0:0", "unpin:cam0", "detach:cam0"]);
    dmaBufPut(buf);
  });

  it("importer ops need moveNotify; move_notify reaches dynamic importers only; pin/unpin are for dynamic importers", async () => {
    const { k, exp, dev } = await PageExporter.boot({ dynamic: true });
    const buf = exp.export(PAGE_SIZE);
    expect(() => dmaBufDynamicAttach(buf, dev("cam0"), {} as never)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    const moved: string[] = [];
    const d = dmaBufDynamicAttach(buf, dev("enc0"), { moveNotify: (x) => void moved.push(x.dev.name) }, "importer-priv");
    const s = dmaBufAttach(buf, dev("disp0"));
    expect(d.importerPriv).toBe("importer-priv");
    dmaBufMoveNotify(buf);
    expect(moved).toEqual(["enc0"]);
    dmaBufPin(d);
    dmaBufUnpin(d);
    expect(() => dmaBufPin(s)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => dmaBufUnpin(s)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(k.dmesg()).toMatch(/dma_buf_pin: only dynamic importers may pin/);
    expect(exp.calls.filter((c) => c.endsWith("pin:enc0"))).toEqual(["pin:enc0", "unpin:enc0"]);
    dmaBufDetach(buf, d);
    dmaBufDetach(buf, s);
    dmaBufPut(buf);
  });

  it("releasing a buffer still attached or vmapped is reported as the kernel reports it; leftover attachments become invalid", async () => {
    const { k, exp, dev } = await PageExporter.boot();
    const buf = exp.export(PAGE_SIZE);
    const a = dmaBufAttach(buf, dev("cam0"));
    dmaBufVmap(buf);
    dmaBufPut(buf);
    expect(k.dmesg()).toMatch(/kernel BUG at drivers\/dma-buf\/dma-buf.c:dma_buf_release: .*vmapping_counter 1/);
    expect(k.dmesg()).toMatch(/WARNING: .* dma_buf_release: .* released with 1 attachment\(s\) \(cam0\)/);
    expect(exp.released.get(buf.ino)).toBe(1);
    expect(() => dmaBufMapAttachment(a, DMA_TO_DEVICE)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => dmaBufDetach(buf, a)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
});

describe("vmap (dma_buf_vmap / dma_buf_vunmap: vmapping_counter)", () => {
  it("calls the exporter's vmap on the first map and vunmap on the last; unbalanced or foreign vunmap is EINVAL", async () => {
    const { exp } = await PageExporter.boot();
    const buf = exp.export(2 * PAGE_SIZE);
    const m1 = dmaBufVmap(buf);
    const m2 = dmaBufVmap(buf);
    expect(m2).toBe(m1);
    expect(m1.segments.reduce((n, s) => n + s.length, 0)).toBe(2 * PAGE_SIZE);
    expect(() => dmaBufVunmap(buf, { segments: [], isIomem: false })).toThrow(expect.objectContaining({ code: "EINVAL" }));
    dmaBufVunmap(buf, m1);
    expect(exp.calls.filter((c) => c.startsWith("v"))).toEqual([`vmap:ino${buf.ino}`]);
    dmaBufVunmap(buf, m2);
    expect(exp.calls.filter((c) => c.startsWith("v"))).toEqual([`vmap:ino${buf.ino}`, `vunmap:ino${buf.ino}`]);
    expect(() => dmaBufVunmap(buf, m2)).toThrow(expect.objectContaining({ code: "EINVAL", message: expect.stringMatching(/unbalanced/) }));
    dmaBufPut(buf);
  });

  it("gives EINVAL when the exporter has no vmap", async () => {
    const { exp } = await PageExporter.boot({ vmap: false });
    const buf = exp.export(PAGE_SIZE);
    expect(() => dmaBufVmap(buf)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(buf.vmappingCounter).toBe(0);
    dmaBufPut(buf);
  });
});

describe("the exporter/importer contract end to end", () => {
  it("device DMA through the importer's sg_table sees what the CPU wrote through mmap between SYNC_START/END", async () => {
    const { k, exp, dev } = await PageExporter.boot();
    const p = k.spawn("producer");
    const fd = await exp.alloc(p, 2 * PAGE_SIZE, O_RDWR | O_CLOEXEC);
    const m = p.mmap(null, 2 * PAGE_SIZE, rw, MAP_SHARED, fd);
    await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: 2 });
    m.write(PAGE_SIZE - 2, Uint8Array.of(1, 2, 3, 4));
    await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: 6 });
    const buf = await exp.import(p, fd);
    const a = dmaBufAttach(buf, dev("enc0"));
    const sgt: SgTable = dmaBufMapAttachment(a, DMA_TO_DEVICE);
    // the "device" reads by DMA address through the table (identity IOMMU in the test exporter)
    const bytes = [PAGE_SIZE - 2, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1].map((off) => {
      let at = off;
      for (const s of sgt.dmaSegments()) {
        if (at < s.dmaLength) return new Uint8Array(exp.memory)[s.dmaAddress + at];
        at -= s.dmaLength;
      }
      return undefined;
    });
    expect(bytes).toEqual([1, 2, 3, 4]);
    dmaBufUnmapAttachment(a, sgt, DMA_TO_DEVICE);
    dmaBufDetach(buf, a);
    dmaBufPut(buf);
    p.exit(0);
    expect(exp.released.get(buf.ino)).toBe(1);
  });
});
