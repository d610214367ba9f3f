/**
 * Port of tools/testing/selftests/dmabuf-heaps/dmabuf-heap.c, run for every heap in /dev/dma_heap,
 * plus the argument checks of drivers/dma-buf/dma-heap.c and the system/CMA heap behaviour
 * (drivers/dma-buf/heaps/system_heap.c, cma_heap.c).
 */
import {
  DMA_BUF_IOCTL_SYNC, DMA_BUF_SYNC_END, DMA_BUF_SYNC_RW, DMA_BUF_SYNC_START, DMA_TO_DEVICE, F_GETFD, MAP_SHARED, O_CLOEXEC,
  DEFAULT_BOARD, O_RDONLY, O_RDWR, PROT_READ, PROT_WRITE, _IOWR, assertNoLeaks, leakCheck, sendSignal, type Process,
} from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import { DMA_HEAP_IOCTL_ALLOC, type DmaHeapAllocationData } from "../src/index.js";
import { SMALL_BOARD, bootMm, freeState } from "./support/boot.js";
import { installImporter } from "./support/importer.js";

const ONE_MEG = 1 << 20;

async function dmabufHeapAlloc(p: Process, heapFd: number, len: number, heapFlags = 0): Promise<number> {
  const data: DmaHeapAllocationData = { len, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: heapFlags };
  await p.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, data);
  return data.fd;
}

/** dmabuf_sync(): always ORs in DMA_BUF_SYNC_RW, as the self-test does. */
const dmabufSync = (p: Process, fd: number, flags: number) => p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: flags | DMA_BUF_SYNC_RW });

/** Fills a mapping with `v` through its views (memset). */
function memset(vma: { segments: Uint8Array[] }, v: number): void {
  for (const s of vma.segments) Buffer.from(s.buffer, s.byteOffset, s.length).fill(v);
}
const allEqual = (vma: { segments: Uint8Array[] }, v: number) => vma.segments.every((s) => Buffer.from(s.buffer, s.byteOffset, s.length).equals(Buffer.alloc(s.length, v)));

async function heaps() {
  const { k, m } = await bootMm(DEFAULT_BOARD);
  const p = k.spawn("dmabuf-heap");
  return { k, m, p, names: p.readdir("/dev/dma_heap") };
}

describe("dmabuf-heaps kselftest (dmabuf-heap.c)", () => {
  it("lists /dev/dma_heap/system and one CMA heap named after the CMA area", async () => {
    const { names } = await heaps();
    expect(names).toEqual(["deferred", "linux,cma", "system"]);
  });

  for (const heap of ["system", "linux,cma", "deferred"]) {
    describe(`heap ${heap}`, () => {
      it("test_alloc_and_import: 1 MiB alloc, mmap, write under SYNC_START/END, import by a device, write again", async () => {
        const { k, m, p } = await heaps();
        const importer = installImporter(k);
        const heapFd = p.open(`/dev/dma_heap/${heap}`, O_RDWR);
        const fd = await dmabufHeapAlloc(p, heapFd, ONE_MEG);
        expect(fd).toBeGreaterThanOrEqual(0);
        const vma = p.mmap(null, ONE_MEG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        await dmabufSync(p, fd, DMA_BUF_SYNC_START);
        memset({ segments: [vma.view(0, ONE_MEG / 2)] }, 1); // views of one segment: both heaps map 1 MiB in one chunk
        memset({ segments: [vma.view(ONE_MEG / 2, ONE_MEG / 2)] }, 0);
        await dmabufSync(p, fd, DMA_BUF_SYNC_END);
        // the kselftest imports into vgem; here a device imports it the same way (dma_buf_get + attach + map)
        const imp = await importer.import(p, fd, "vivid.0", DMA_TO_DEVICE);
        expect(m.engine.read(imp.attach.dev, imp.sgt, 0, 4)).toEqual(new Uint8Array([1, 1, 1, 1]));
        expect(m.engine.read(imp.attach.dev, imp.sgt, ONE_MEG - 4, 4)).toEqual(new Uint8Array(4));
        expect(await dmabufSync(p, fd, DMA_BUF_SYNC_START)).toBe(0);
        memset(vma, 0xff);
        expect(await dmabufSync(p, fd, DMA_BUF_SYNC_END)).toBe(0);
        importer.release(imp);
        p.munmap(vma);
        p.close(fd);
        p.close(heapFd);
        assertNoLeaks(k);
      });

      for (const size of [4096, ONE_MEG]) {
        it(`test_alloc_zeroed(${size}): 32 buffers filled with 0xff and freed, then 32 new ones read all zero`, async () => {
          const { p } = await heaps();
          const heapFd = p.open(`/dev/dma_heap/${heap}`, O_RDWR);
          for (const expectZero of [false, true]) {
            const fds: number[] = [];
            for (let i = 0; i < 32; i++) {
              const fd = await dmabufHeapAlloc(p, heapFd, size);
              fds.push(fd);
              const vma = p.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
              await dmabufSync(p, fd, DMA_BUF_SYNC_START);
              if (expectZero) expect(allEqual(vma, 0)).toBe(true);
              else memset(vma, 0xff);
              await dmabufSync(p, fd, DMA_BUF_SYNC_END);
              p.munmap(vma);
            }
            fds.forEach((fd) => p.close(fd));
          }
        });
      }

      it("test_alloc_compat: the older 16-byte and the newer 40-byte struct both work", async () => {
        const { p } = await heaps();
        const heapFd = p.open(`/dev/dma_heap/${heap}`, O_RDWR);
        const older = { len: ONE_MEG, fd: 0, fd_flags: O_RDWR | O_CLOEXEC };
        expect(await p.ioctl(heapFd, _IOWR("H", 0, 16), older)).toBe(0);
        expect((older as { fd: number }).fd).toBeGreaterThan(0);
        const newer = { len: ONE_MEG, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0, garbage1: 0xffffffff, garbage2: 0x88888888, garbage3: 0x11111111 };
        expect(await p.ioctl(heapFd, _IOWR("H", 0, 40), newer)).toBe(0);
        expect(newer.fd).toBeGreaterThan(0);
      });

      it("test_alloc_errors: a non-heap fd, heap_flags 0x111111 and bad fd_flags all fail", async () => {
        const { p } = await heaps();
        expect(p.open("/proc/meminfo", O_RDONLY)).toBe(0); // fd 0 is not a heap (stdin in the kselftest)
        const data = { len: ONE_MEG, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0x111111 };
        await expect(p.ioctl(0, DMA_HEAP_IOCTL_ALLOC, data)).rejects.toMatchObject({ code: "ENOTTY" });
        const heapFd = p.open(`/dev/dma_heap/${heap}`, O_RDWR);
        await expect(p.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, data)).rejects.toMatchObject({ code: "EINVAL" });
        await expect(p.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, { len: ONE_MEG, fd: 0, fd_flags: ~(O_RDWR | O_CLOEXEC) >>> 0, heap_flags: 0 })).rejects.toMatchObject({ code: "EINVAL" });
      });
    });
  }
});

describe("DMA_HEAP_IOCTL_ALLOC argument checks (drivers/dma-buf/dma-heap.c)", () => {
  it("EINVAL for fd != 0, len 0, a len that page-aligns to 0 and an ioctl nr >= 1; no fd is left behind", async () => {
    const { k, p } = await heaps();
    const heapFd = p.open("/dev/dma_heap/system", O_RDWR);
    const fds = p.fds.count;
    const bad: [number, object][] = [
      [DMA_HEAP_IOCTL_ALLOC, { len: 4096, fd: 3, fd_flags: O_RDWR, heap_flags: 0 }],
      [DMA_HEAP_IOCTL_ALLOC, { len: 0, fd: 0, fd_flags: O_RDWR, heap_flags: 0 }],
      [DMA_HEAP_IOCTL_ALLOC, { len: 2n ** 64n - 1n, fd: 0, fd_flags: O_RDWR, heap_flags: 0 }],
      [_IOWR("H", 1, 24), { len: 4096, fd: 0, fd_flags: O_RDWR, heap_flags: 0 }],
    ];
    for (const [req, arg] of bad) await expect(p.ioctl(heapFd, req, arg)).rejects.toMatchObject({ code: "EINVAL" });
    expect(p.fds.count).toBe(fds);
    expect(leakCheck(k).counts["dma-heap buffer"]).toBeUndefined();
  });

  it("ENOMEM when the heap cannot supply the length, with the allocators exactly as before", async () => {
    const { m, p } = await heaps();
    const before = freeState(m);
    for (const heap of ["system", "linux,cma"]) {
      const heapFd = p.open(`/dev/dma_heap/${heap}`, O_RDWR);
      await expect(p.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, { len: 2 ** 31, fd: 0, fd_flags: O_RDWR, heap_flags: 0 })).rejects.toMatchObject({ code: "ENOMEM" });
      p.close(heapFd);
    }
    expect(freeState(m)).toBe(before);
  });

  it("a pending fatal signal interrupts a system-heap allocation with EINTR", async () => {
    const { p } = await heaps();
    const heapFd = p.open("/dev/dma_heap/system", O_RDWR);
    sendSignal(p);
    await expect(p.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, { len: ONE_MEG, fd: 0, fd_flags: O_RDWR, heap_flags: 0 })).rejects.toMatchObject({ code: "EINTR" });
  });

  it("honours O_CLOEXEC in fd_flags and the access mode for the dma-buf file", async () => {
    const { p } = await heaps();
    const heapFd = p.open("/dev/dma_heap/system", O_RDWR);
    const d = { len: 4096, fd: 0, fd_flags: O_RDONLY, heap_flags: 0 };
    await p.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, d);
    expect(p.fcntl(d.fd, F_GETFD)).toBe(0);
    expect(() => p.mmap(null, 4096, PROT_WRITE, MAP_SHARED, d.fd, 0)).toThrow(/EACCES/);
    const e = { len: 4096, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
    await p.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, e);
    expect(p.fcntl(e.fd, F_GETFD)).toBe(1);
  });
});

describe("system heap (system_heap.c) and CMA heap (cma_heap.c)", () => {
  it("M5: the system heap allocates chunks of orders 8, 4, 0, one sg entry each, never merged", async () => {
    const { k, p } = await heaps();
    const importer = installImporter(k);
    const heapFd = p.open("/dev/dma_heap/system", O_RDWR);
    const fd = await dmabufHeapAlloc(p, heapFd, 2 * ONE_MEG + 3 * 65536 + 2 * 4096);
    const imp = await importer.import(p, fd, "vkms.0"); // no IOMMU: DMA view == CPU view
    expect(imp.sgt.sgl.map((s) => s.length)).toEqual([ONE_MEG, ONE_MEG, 65536, 65536, 65536, 4096, 4096]);
    expect(imp.sgt.nents).toBe(7);
    importer.release(imp);
    // Behind the IOMMU it is one IOVA range. vivid.0 keeps the default 64 KiB max_segment_size, but
    // the first 1 MiB entry alone exceeds it, so __finalise_sg's unsigned length check wraps and
    // every later entry is concatenated: one DMA segment, as Linux produces.
    const cam = await importer.import(p, fd, "vivid.0");
    expect(cam.sgt.origNents).toBe(7);
    expect(cam.sgt.dmaSegments()).toEqual([{ dmaAddress: cam.sgt.sgl[0]!.dmaAddress, dmaLength: cam.sgt.size }]);
    importer.release(cam);
  });

  it("M5: under fragmentation high orders fail fast and the chunk order never goes back up", async () => {
    const { k, m } = await bootMm(SMALL_BOARD);
    const p = k.spawn("app");
    const importer = installImporter(k);
    // fragment normal memory: take every page, give back every other one
    const taken: number[] = [];
    for (let pfn = m.pages.allocPages(0); pfn >= 0; pfn = m.pages.allocPages(0)) taken.push(pfn);
    taken.filter((pfn) => pfn % 2 === 0).forEach((pfn) => m.pages.freePages(pfn, 0));
    const heapFd = p.open("/dev/dma_heap/system", O_RDWR);
    const fd = await dmabufHeapAlloc(p, heapFd, ONE_MEG);
    const imp = await importer.import(p, fd, "disp0");
    expect(imp.sgt.origNents).toBe(256);
    expect(imp.sgt.sgl.every((s) => s.length === 4096)).toBe(true);
    importer.release(imp);
  });

  it("the CMA heap gives one physically contiguous entry from its area; closing returns the pages", async () => {
    const { k, m, p } = await heaps();
    const importer = installImporter(k);
    const cma = m.defaultCma!;
    const heapFd = p.open("/dev/dma_heap/linux,cma", O_RDWR);
    const fd = await dmabufHeapAlloc(p, heapFd, 3110400); // 1080p NV12
    expect(cma.used).toBe(760);
    const imp = await importer.import(p, fd, "vkms.0"); // a display without an IOMMU: needs contiguity
    expect(imp.sgt.nents).toBe(1);
    expect(imp.sgt.sgl[0]!.dmaAddress).toBe(cma.base);
    importer.release(imp);
    p.close(fd);
    expect(cma.used).toBe(0);
    expect(await p.readFile("/sys/kernel/mm/cma/linux,cma/alloc_pages_success")).toBe("760\n");
  });

  it("begin/end_cpu_access sync every mapped attachment: a non-coherent importer sees CPU writes only after SYNC_END", async () => {
    const { k, m, p } = await bootMm({
      memory: [{ base: "0x40000000", size: "64M" }],
      reservedMemory: [{ name: "linux,cma", size: "16M", default: true }],
      devices: [{ name: "nc", compatible: "x", coherent: false, maxSegmentSize: "4G" }],
    }).then((r) => ({ ...r, p: r.k.spawn("app") }));
    const importer = installImporter(k);
    const heapFd = p.open("/dev/dma_heap/system", O_RDWR);
    const fd = await dmabufHeapAlloc(p, heapFd, 4096);
    const imp = await importer.import(p, fd, "nc", DMA_TO_DEVICE);
    const vma = p.mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    await dmabufSync(p, fd, DMA_BUF_SYNC_START);
    vma.write(0, new Uint8Array([9, 9, 9, 9]));
    expect(m.engine.read(imp.attach.dev, imp.sgt, 0, 4)).toEqual(new Uint8Array(4)); // not yet written back
    await dmabufSync(p, fd, DMA_BUF_SYNC_END);
    expect(m.engine.read(imp.attach.dev, imp.sgt, 0, 4)).toEqual(new Uint8Array([9, 9, 9, 9]));
    importer.release(imp);
  });
});

describe("nothing leaked", () => {
  it("a process that exits holding heap buffers, mmaps and a device import gives every page back", async () => {
    const { k, m, p } = await heaps();
    const importer = installImporter(k);
    const before = freeState(m);
    const fds: number[] = [];
    for (const heap of ["system", "linux,cma"]) {
      const heapFd = p.open(`/dev/dma_heap/${heap}`, O_RDWR);
      for (const len of [4096, 3110400, 5 * ONE_MEG]) fds.push(await dmabufHeapAlloc(p, heapFd, len));
    }
    p.mmap(null, 3110400, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1]!, 0);
    const imp = await importer.import(p, fds[4]!, "vivid.0");
    const q = k.spawn("peer");
    p.sendFds(q, [fds[2]!]);
    p.exit(0);
    expect(freeState(m)).not.toBe(before); // the import and the peer still hold buffers
    importer.release(imp);
    q.exit(0);
    expect(freeState(m)).toBe(before);
    expect(m.dma.domainOf(m.device("vivid.0"))!.entries()).toEqual([]);
    assertNoLeaks(k);
  });
});
