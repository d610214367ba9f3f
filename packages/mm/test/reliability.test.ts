/**
 * Faults and isolation in mm: allocation failure injected into the page allocator
 * (fail_page_alloc, mm/fail_page_alloc.c) and CMA (fail_cma_alloc), seen by userspace as the
 * dma-heap's ENOMEM with nothing allocated; and the DMA boundaries: a device reaches only what is
 * mapped for it (io_page_fault, nothing written), a 32-bit device never reaches memory above
 * 4 GiB, and an mmap of a buffer exposes only the buffer's bytes.
 *
 * Already covered elsewhere and not repeated here: an unmapped IOVA and a write through a
 * read-only IOMMU mapping fault with nothing written (iommu.test.ts); swiotlb bounce, "swiotlb
 * buffer is full" and the "DMA addr overflow" mapping error for raw pages (dma-mapping.test.ts M10);
 * mmap past a dma-buf's end is EINVAL (core dma-buf.test.ts "rejects mappings past the end").
 */
import {
  DMA_BIDIRECTIONAL, MAP_SHARED, O_CLOEXEC, O_RDWR, PAGE_SIZE, PROT_READ, PROT_WRITE, assertNoLeaks, type Kernel, type Process,
} from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import { DMA_HEAP_IOCTL_ALLOC } from "../src/index.js";
import { HIGHMEM_BOARD, bootMm, freeState, pattern, sameBytes } from "./support/boot.js";
import { installImporter } from "./support/importer.js";

async function heapAlloc(p: Process, heap: string, len: number): Promise<number> {
  const data = { len, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
  const h = p.open(`/dev/dma_heap/${heap}`, O_RDWR);
  try {
    await p.ioctl(h, DMA_HEAP_IOCTL_ALLOC, data);
  } finally {
    p.close(h);
  }
  return data.fd;
}

const openFds = (p: Process) => [...p.fds.entries()].map(([fd]) => fd);
const bufinfoLines = async (k: Kernel) => (await k.spawn("cat").readFile("/sys/kernel/debug/dma_buf/bufinfo")).split("\n").length;

describe("fail_page_alloc: alloc_pages() fails (the system heap sees ENOMEM)", () => {
  it("the 3rd page allocation fails: DMA_HEAP_IOCTL_ALLOC is ENOMEM, every chunk taken is freed, no fd, no dma-buf", async () => {
    const { k, m } = await bootMm();
    const p = k.spawn("app");
    const before = freeState(m);
    const lines = await bufinfoLines(k);
    k.faults.configure("fail_page_alloc", { probability: 100, interval: 3, times: 1 });
    // 2 MiB + 3 pages: chunks of order 8, 8, 0, 0, 0; the third is an order-0 page, which has no smaller fallback.
    await expect(heapAlloc(p, "system", (2 << 20) + 3 * PAGE_SIZE)).rejects.toMatchObject({ code: "ENOMEM", message: expect.stringMatching(/system heap: no free page/) });
    expect(freeState(m)).toBe(before);
    expect(openFds(p)).toEqual([]);
    expect(await bufinfoLines(k)).toBe(lines);
    expect(k.dmesg()).toContain("name fail_page_alloc, interval 3");
    // times ran out: the same call now succeeds
    const fd = await heapAlloc(p, "system", (2 << 20) + 3 * PAGE_SIZE);
    p.close(fd);
    expect(freeState(m)).toBe(before);
    assertNoLeaks(k);
  });

  it("random failures (probability 20, seeded): each allocation succeeds whole or fails with nothing taken; all memory comes back", async () => {
    const { k, m } = await bootMm();
    const p = k.spawn("app");
    const before = freeState(m);
    k.faults.configure("fail_page_alloc", { probability: 20, times: -1, seed: 42, verbose: 0 });
    const held: number[] = [];
    let failed = 0;
    for (let i = 0; i < 40; i++) {
      const len = ((i * 37) % 9 + 1) * 64 * 1024;
      const fds = openFds(p).length;
      const state = freeState(m);
      try {
        held.push(await heapAlloc(p, "system", len));
      } catch (e) {
        expect(e).toMatchObject({ code: "ENOMEM" });
        expect(freeState(m)).toBe(state);
        expect(openFds(p).length).toBe(fds);
        failed++;
      }
    }
    expect(failed).toBeGreaterThan(0);
    expect(held.length).toBeGreaterThan(0);
    // a failed order-8 or order-4 chunk falls back to smaller orders, so not every forced failure fails the call
    expect(k.faults.failures("fail_page_alloc")).toBeGreaterThanOrEqual(failed);
    p.exit(0);
    expect(freeState(m)).toBe(before);
    assertNoLeaks(k);
  });
});

describe("fail_cma_alloc: cma_alloc() fails (the CMA heap sees ENOMEM)", () => {
  it("ENOMEM with the kernel's cma_alloc message, alloc_pages_fail counted, the area unchanged", async () => {
    const { k, m } = await bootMm();
    const p = k.spawn("app");
    const before = freeState(m);
    k.faults.configure("fail_cma_alloc", { probability: 100, times: 1, match: ["linux,cma"] });
    await expect(heapAlloc(p, "linux,cma", 16 * PAGE_SIZE)).rejects.toMatchObject({ code: "ENOMEM", message: expect.stringMatching(/fault injected \(fail_cma_alloc\)/) });
    expect(k.dmesg()).toContain("cma_alloc: linux,cma: alloc failed, req-size: 16 pages, ret: -12");
    expect(await p.readFile("/sys/kernel/mm/cma/linux,cma/alloc_pages_fail")).toBe("16\n");
    expect(freeState(m)).toBe(before);
    expect(openFds(p)).toEqual([]);
    const fd = await heapAlloc(p, "linux,cma", 16 * PAGE_SIZE);
    p.close(fd);
    assertNoLeaks(k);
  });
});

describe("isolation: device DMA stays inside what is mapped for it", () => {
  it("a camera DMA one byte past its imported buffer faults (io_page_fault) and the neighbouring buffer of another process is untouched", async () => {
    const { k, m } = await bootMm();
    const imp = installImporter(k);
    const cam = k.spawn("camera");
    const other = k.spawn("other");
    const a = await heapAlloc(cam, "linux,cma", 4 * PAGE_SIZE);
    const b = await heapAlloc(other, "linux,cma", 4 * PAGE_SIZE);
    const bMap = other.mmap(null, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b);
    bMap.write(0, pattern(4 * PAGE_SIZE, 3));
    const dev = m.device("cam0");
    const ia = await imp.import(cam, a, "cam0", DMA_BIDIRECTIONAL);
    // inside: fine; past the table: EFAULT before any byte moves
    m.engine.write(dev, ia.sgt, 0, new Uint8Array(4 * PAGE_SIZE).fill(0x11));
    expect(() => m.engine.write(dev, ia.sgt, 4 * PAGE_SIZE - 1, new Uint8Array(2))).toThrow(expect.objectContaining({ code: "EFAULT" }));
    // the device programs a raw bus address just past its mapping: the IOMMU faults
    const end = ia.sgt.sgl[0]!.dmaAddress + 4 * PAGE_SIZE;
    expect(() => m.engine.busViews(dev, end, PAGE_SIZE, true)).toThrow(/EIO.*unhandled write fault from cam0/);
    expect(k.trace.events("io_page_fault").at(-1)!.args).toMatchObject({ device: "cam0" });
    expect(sameBytes(bMap.read(0, 4 * PAGE_SIZE), pattern(4 * PAGE_SIZE, 3))).toBe(true);
    imp.release(ia);
    assertNoLeaks(k);
  });

  it("a 32-bit device importing a buffer that lives above 4 GiB only ever sees bus addresses below 4 GiB (swiotlb or IOMMU)", async () => {
    const { k, m } = await bootMm(HIGHMEM_BOARD, { swiotlbSize: 1 << 20 });
    const imp = installImporter(k);
    const p = k.spawn("app");
    const fd = await heapAlloc(p, "system", 64 * 1024);
    const map = p.mmap(null, 64 * 1024, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    map.write(0, pattern(64 * 1024, 5));
    for (const dev of ["dev32", "mmu32"]) {
      const i = await imp.import(p, fd, dev, DMA_BIDIRECTIONAL);
      const phys = i.buf.priv as { table: { sgl: { phys: number }[] } };
      expect(phys.table.sgl.every((s) => s.phys >= 2 ** 32)).toBe(true); // the pages are high
      expect(i.sgt.sgl.slice(0, i.sgt.nents).every((s) => s.dmaAddress + s.dmaLength <= 2 ** 32)).toBe(true);
      expect(sameBytes(m.engine.read(m.device(dev), i.sgt, 0, 64 * 1024), pattern(64 * 1024, 5))).toBe(true);
      imp.release(i);
    }
    expect(m.copies.of("swiotlb").count).toBeGreaterThan(0); // dev32 bounced; mmu32 was remapped
    expect(k.trace.events("swiotlb_bounced").every((e) => e.args["dev_name"] === "dev32")).toBe(true);
    assertNoLeaks(k);
  });
});

describe("isolation: an mmap of a buffer exposes only the buffer's bytes (dma_buf_mmap_internal bounds)", () => {
  it("a mapping at an offset covers exactly its pages; CPU access beyond it is EFAULT; a mapping past the end is EINVAL", async () => {
    const { k } = await bootMm();
    const p = k.spawn("app");
    const fd = await heapAlloc(p, "system", 2 * PAGE_SIZE);
    const whole = p.mmap(null, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    whole.write(0, pattern(2 * PAGE_SIZE, 9));
    const tail = p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, PAGE_SIZE);
    expect(tail.segments.reduce((n, s) => n + s.length, 0)).toBe(PAGE_SIZE);
    expect(sameBytes(tail.read(0, PAGE_SIZE), pattern(2 * PAGE_SIZE, 9).subarray(PAGE_SIZE))).toBe(true);
    expect(() => tail.read(PAGE_SIZE - 1, 2)).toThrow(expect.objectContaining({ code: "EFAULT" }));
    expect(() => tail.view(PAGE_SIZE, 1)).toThrow(expect.objectContaining({ code: "EFAULT" }));
    expect(() => p.mmap(null, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd, PAGE_SIZE)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 2 * PAGE_SIZE)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    // segments are views bounded to the buffer's pages, not the whole of RAM
    for (const s of tail.segments) expect(s.byteLength).toBeLessThanOrEqual(PAGE_SIZE);
    assertNoLeaks(k);
  });
});
