import {
  DEFAULT_BOARD, DMA_BIDIRECTIONAL, DMA_TO_DEVICE, O_RDWR, PROT_READ, PROT_WRITE, MAP_SHARED, assertNoLeaks, dmaBufAttach, dmaBufDetach,
  dmaBufDynamicAttach, dmaBufMapAttachment, dmaBufPin, dmaBufPut, dmaBufUnmapAttachment, dmaBufUnpin, dmaBufVmap, dmaBufVunmap, isErrno,
  type BoardInput, type DmaBuf, type DmaBufAttachment,
} from "@dmabuf/core";
import { describe, expect, test } from "vitest";
import {
  DMA_HEAP_IOCTL_ALLOC, MIGRATION_COPY, PLACEMENT_DEBUGFS, PlacementError, deferredBufferExport, deferredBufferOf, layoutFor, deviceConstraints,
  type DeferredBuffer, type MemoryManager,
} from "../src/index.js";
import { HIGHMEM_BOARD, SMALL_BOARD, bootMm, freeState, pattern, readAll, sameBytes } from "./support/boot.js";

const NV12_1080P = (1920 * 1080 * 3) / 2;
const FOUR_GIB = 2 ** 32;

/** The deferred buffer behind `buf`. */
const d = (buf: DmaBuf): DeferredBuffer => deferredBufferOf(buf)!;

/** Maps and unmaps once through `a`: the first map places the buffer. */
function touch(a: DmaBufAttachment): void {
  dmaBufUnmapAttachment(a, dmaBufMapAttachment(a, DMA_BIDIRECTIONAL), DMA_BIDIRECTIONAL);
}

/** Writes `bytes` into the buffer through a kernel mapping (vmap), then drops the mapping. */
function fill(buf: DmaBuf, bytes: Uint8Array): void {
  const map = dmaBufVmap(buf);
  let off = 0;
  for (const s of map.segments) {
    s.set(bytes.subarray(off, off + s.length));
    off += s.length;
  }
  dmaBufVunmap(buf, map);
}

/**
 * Leaves a lone free order-0 page on top of the buddy free list, so that the next system-pages
 * backing with an order-0 chunk is physically scattered (on a fresh board the buddy allocator would
 * otherwise hand out adjacent chunks, which a contiguous importer can use as they are). Returns the
 * undo.
 */
function scatterPages(m: MemoryManager): () => void {
  const first = m.pages.allocPages(0);
  const held = m.pages.allocPages(0);
  m.pages.freePages(first, 0);
  return () => m.pages.freePages(held, 0);
}

/** A size whose system-pages backing ends with an order-0 chunk. */
const SCATTERED = (1 << 20) + 4096;

async function placementLog(m: MemoryManager): Promise<string> {
  const p = m.kernel.spawn("cat");
  try {
    return await p.readFile(PLACEMENT_DEBUGFS);
  } finally {
    p.exit(0);
  }
}

function expectErrno(f: () => unknown, code: string): PlacementError {
  try {
    f();
  } catch (e) {
    expect(isErrno(e, code as never), String(e)).toBe(true);
    expect(e).toBeInstanceOf(PlacementError);
    return e as PlacementError;
  }
  throw new Error(`expected ${code}`);
}

describe("deferred allocation (seed flow: allocate at first map, knowing every importer)", () => {
  // kernel-subsystems.md 4.2 #1: a display without IOMMU needs one DMA address per plane
  // (drm_gem_dma_prime_import_sg_table gives EINVAL otherwise), so the buffer must come from CMA.
  test("a non-IOMMU importer (vkms.0) attached before the first map makes it pick CMA", async () => {
    const { k, m } = await bootMm(DEFAULT_BOARD);
    const before = freeState(m);
    const buf = deferredBufferExport(m, { size: NV12_1080P });
    expect(d(buf).backing).toBeUndefined();
    const cam = dmaBufAttach(buf, m.device("vivid.0"));
    const disp = dmaBufAttach(buf, m.device("vkms.0"));
    expect(m.defaultCma!.used).toBe(0); // attach alone allocates nothing
    const sgt = dmaBufMapAttachment(cam, DMA_TO_DEVICE);
    const b = d(buf).backing!;
    expect(b.label).toMatch(/^cma:linux,cma /);
    expect(b.runs()).toHaveLength(1);
    expect(m.defaultCma!.used).toBe(buf.size / 4096);
    // The display gets one DMA segment at the physical address (dma-direct).
    const dsgt = dmaBufMapAttachment(disp, DMA_TO_DEVICE);
    expect(dsgt.nents).toBe(1);
    expect(dsgt.sgl[0]!.dmaAddress).toBe(b.runs()[0]!.phys);
    const rec = d(buf).decisions[0]!;
    expect(rec).toMatchObject({ trigger: "map", outcome: "placed", backing: b.label });
    expect(rec.devices.map((c) => c.device).sort()).toEqual(["vivid.0", "vkms.0"]);
    expect(rec.rejected).toEqual([{ backing: "system pages", reason: "vkms.0 needs physically contiguous memory (no IOMMU)" }]);
    expect(await placementLog(m)).toContain(`map placed ${b.label} | `);
    expect(k.trace.events("dma_buf_placement").at(-1)!.args).toMatchObject({ outcome: "placed", ino: buf.ino, trigger: "map" });
    dmaBufUnmapAttachment(cam, sgt, DMA_TO_DEVICE);
    dmaBufUnmapAttachment(disp, dsgt, DMA_TO_DEVICE);
    dmaBufDetach(buf, cam);
    dmaBufDetach(buf, disp);
    dmaBufPut(buf);
    expect(freeState(m)).toBe(before);
    assertNoLeaks(k);
  });

  // system_heap.c: scattered pages in orders 8/4/0 serve devices that reach memory through an IOMMU.
  test("importers all behind IOMMUs get system pages; CMA stays untouched", async () => {
    const { k, m } = await bootMm(DEFAULT_BOARD);
    const buf = deferredBufferExport(m, { size: NV12_1080P });
    const cam = dmaBufAttach(buf, m.device("vivid.0"));
    dmaBufAttach(buf, m.device("jpeg-enc.0"));
    touch(cam);
    const b = d(buf).backing!;
    expect(b.label).toMatch(/^pages, \d+ chunks/);
    expect(b.cma).toBeUndefined();
    expect(b.table.sgl.length).toBeGreaterThan(1);
    expect(m.defaultCma!.used).toBe(0);
    expect(d(buf).decisions[0]!.rejected).toEqual([]);
    dmaBufPut(buf);
    assertNoLeaks(k);
  });

  test("a CPU mapping before any attach places the buffer too (trigger mmap), in system pages", async () => {
    const { k, m } = await bootMm(DEFAULT_BOARD);
    const p = k.spawn("app");
    k.current = p;
    const heap = p.open("/dev/dma_heap/deferred", O_RDWR);
    const data = { len: 65536, fd: 0, fd_flags: O_RDWR, heap_flags: 0 };
    await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, data);
    const vma = p.mmap(null, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, data.fd, 0);
    vma.write(0, pattern(65536, 3));
    expect(m.placement.records.at(-1)).toMatchObject({ trigger: "mmap", outcome: "placed", expName: "deferred" });
    expect(m.placement.records.at(-1)!.backing).toMatch(/^pages/);
    p.munmap(vma);
    p.close(data.fd);
    p.close(heap);
    k.current = undefined;
    assertNoLeaks(k);
  });
});

describe("migration on a late attach (seed flow: migration mid-way through a use-case)", () => {
  test("a late contiguous importer moves an unmapped buffer into CMA: one counted, traced copy; bytes preserved", async () => {
    const { k, m } = await bootMm(DEFAULT_BOARD);
    const before = freeState(m);
    const unscatter = scatterPages(m);
    const buf = deferredBufferExport(m, { size: NV12_1080P });
    const cam = dmaBufAttach(buf, m.device("vivid.0"));
    touch(cam);
    expect(d(buf).backing!.label).toMatch(/^pages/);
    expect(d(buf).backing!.runs().length).toBeGreaterThan(1);
    const frame = pattern(buf.size, 7);
    fill(buf, frame);
    const copies = m.copies.of(MIGRATION_COPY).bytes;
    const disp = dmaBufAttach(buf, m.device("vkms.0"));
    expect(d(buf).backing!.label).toMatch(/^cma:linux,cma/);
    expect(m.copies.of(MIGRATION_COPY).bytes - copies).toBe(buf.size);
    expect(sameBytes(readAll(buf), frame)).toBe(true);
    const rec = d(buf).decisions.at(-1)!;
    expect(rec).toMatchObject({ trigger: "attach", outcome: "migrated", newcomer: "vkms.0", copied: buf.size });
    expect(rec.from).toMatch(/^pages/);
    expect(rec.rejected[0]!.reason).toMatch(/^vkms.0 needs physically contiguous memory \(no IOMMU\) but the buffer is in \d+ pieces$/);
    expect(k.trace.events("mm_model_copy").at(-1)!.args).toEqual({ kind: MIGRATION_COPY, bytes: buf.size });
    // Both devices now map it; the display as one segment.
    expect(dmaBufMapAttachment(disp, DMA_TO_DEVICE).nents).toBe(1);
    expect(await placementLog(m)).toMatch(/attach migrated cma:linux,cma pfn 0x[0-9a-f]+\+760 from pages, .* copied 3112960 \| .*vkms\.0\* \[contiguous/);
    dmaBufPut(buf); // the framework would WARN on live mappings; release frees everything regardless
    unscatter();
    expect(freeState(m)).toBe(before);
  });

  test("a late attach the current backing satisfies keeps it (decision 'kept', no copy)", async () => {
    const { m } = await bootMm(DEFAULT_BOARD);
    const buf = deferredBufferExport(m, { size: 1 << 20 });
    touch(dmaBufAttach(buf, m.device("vkms.0")));
    const label = d(buf).backing!.label;
    dmaBufAttach(buf, m.device("vivid.0"));
    expect(d(buf).backing!.label).toBe(label);
    expect(d(buf).decisions.at(-1)).toMatchObject({ outcome: "kept", newcomer: "vivid.0" });
    expect(m.copies.of(MIGRATION_COPY).count).toBe(0);
    dmaBufPut(buf);
  });

  // dma-buf-ops attach kernel-doc: "EBUSY when the storage sits where the device cannot reach it and cannot move".
  test("a late contiguous importer while the buffer is mapped: EBUSY, nothing changes, the explanation names both devices", async () => {
    const { m } = await bootMm(DEFAULT_BOARD);
    scatterPages(m);
    const buf = deferredBufferExport(m, { size: SCATTERED });
    const cam = dmaBufAttach(buf, m.device("vivid.0"));
    const sgt = dmaBufMapAttachment(cam, DMA_TO_DEVICE);
    const label = d(buf).backing!.label;
    const e = expectErrno(() => dmaBufAttach(buf, m.device("vkms.0")), "EBUSY");
    expect(e.errno).toBe(16);
    expect(e.message).toContain("vkms.0 needs physically contiguous memory");
    expect(e.message).toContain("cannot move: it is mapped by vivid.0");
    expect(e.record).toMatchObject({ outcome: "failed", errno: "EBUSY", newcomer: "vkms.0", backing: label });
    expect(buf.attachments).toEqual([cam]);
    expect(d(buf).backing!.label).toBe(label);
    // Once vivid.0 unmaps, the same attach migrates.
    dmaBufUnmapAttachment(cam, sgt, DMA_TO_DEVICE);
    dmaBufAttach(buf, m.device("vkms.0"));
    expect(d(buf).decisions.at(-1)!.outcome).toBe("migrated");
    dmaBufPut(buf);
  });

  test("a CPU mapping (mmap/vmap) also holds the pages: EBUSY until it is dropped", async () => {
    const { m } = await bootMm(DEFAULT_BOARD);
    scatterPages(m);
    const buf = deferredBufferExport(m, { size: SCATTERED });
    touch(dmaBufAttach(buf, m.device("vivid.0")));
    const map = dmaBufVmap(buf);
    expect(expectErrno(() => dmaBufAttach(buf, m.device("vkms.0")), "EBUSY").message).toContain("the CPU has it mapped");
    dmaBufVunmap(buf, map);
    dmaBufAttach(buf, m.device("vkms.0"));
    expect(d(buf).backing!.cma).toBe(m.defaultCma);
    dmaBufPut(buf);
  });

  // dma_buf_move_notify(): a dynamic exporter tells dynamic importers it moved the buffer; they remap.
  test("a dynamic importer gets move_notify when the buffer moves, and remaps onto the new pages", async () => {
    const { m } = await bootMm(DEFAULT_BOARD);
    scatterPages(m);
    const buf = deferredBufferExport(m, { size: SCATTERED, dynamic: true });
    const notified: DmaBufAttachment[] = [];
    const cam = dmaBufDynamicAttach(buf, m.device("vivid.0"), { moveNotify: (a) => void notified.push(a) });
    touch(cam);
    const old = d(buf).backing!.label;
    expect(old).toMatch(/^pages/);
    fill(buf, pattern(buf.size, 1));
    expect(d(buf).backing!.runs().length).toBeGreaterThan(1);
    // A static importer of a dynamic exporter: attach moves the buffer, then the framework maps and pins it.
    const disp = dmaBufAttach(buf, m.device("vkms.0"));
    expect(notified).toEqual([cam]);
    expect(d(buf).backing!.label).toMatch(/^cma:/);
    expect(d(buf).pins).toBe(1);
    expect(disp.sgt!.sgl[0]!.phys).toBe(d(buf).backing!.runs()[0]!.phys);
    const sgt = dmaBufMapAttachment(cam, DMA_TO_DEVICE);
    expect(sgt.sgl[0]!.phys).toBe(d(buf).backing!.runs()[0]!.phys);
    expect(sameBytes(readAll(buf), pattern(buf.size, 1))).toBe(true);
    dmaBufUnmapAttachment(cam, sgt, DMA_TO_DEVICE);
    dmaBufDetach(buf, disp);
    dmaBufDetach(buf, cam);
    dmaBufPut(buf);
  });

  // dma_buf_pin(): "after it the buffer must not move".
  test("a pinned buffer never moves: EBUSY for a contiguous newcomer until unpinned", async () => {
    const { m } = await bootMm(DEFAULT_BOARD);
    scatterPages(m);
    const buf = deferredBufferExport(m, { size: SCATTERED, dynamic: true });
    const notified: DmaBufAttachment[] = [];
    const ops = { moveNotify: (a: DmaBufAttachment) => void notified.push(a) };
    const cam = dmaBufDynamicAttach(buf, m.device("vivid.0"), ops);
    dmaBufPin(cam);
    touch(cam);
    const label = d(buf).backing!.label;
    const e = expectErrno(() => dmaBufDynamicAttach(buf, m.device("vkms.0"), ops), "EBUSY");
    expect(e.message).toContain("cannot move: it is pinned (1 pin)");
    expect(d(buf).backing!.label).toBe(label);
    expect(notified).toEqual([]);
    expect(m.copies.of(MIGRATION_COPY).count).toBe(0);
    dmaBufUnpin(cam);
    const disp = dmaBufDynamicAttach(buf, m.device("vkms.0"), ops);
    expect(d(buf).backing!.label).toMatch(/^cma:/);
    expect(notified).toEqual([cam]);
    dmaBufDetach(buf, disp);
    dmaBufDetach(buf, cam);
    dmaBufPut(buf);
  });
});

describe("DMA masks (kernel-subsystems.md 3.7, 4.2 #2)", () => {
  /** HIGHMEM_BOARD plus scatter-gather drivers without an IOMMU and a contiguous 32-bit one. */
  const BOARD: BoardInput = {
    ...HIGHMEM_BOARD,
    devices: [
      { name: "sg32", compatible: "test,dev", dmaMask: 32, maxSegmentSize: "4G", properties: { scatterGather: true } },
      { name: "sg64", compatible: "test,dev", dmaMask: 64, maxSegmentSize: "4G", properties: { scatterGather: true } },
      { name: "dev32", compatible: "test,dev", dmaMask: 32, maxSegmentSize: "4G" },
    ],
  };

  test("a 32-bit scatter-gather importer gets pages below 4 GiB (GFP_DMA32); a 64-bit one alone gets high pages", async () => {
    const { m } = await bootMm(BOARD, { swiotlbSize: 4 << 20 });
    const hi = deferredBufferExport(m, { size: 4 << 20 });
    touch(dmaBufAttach(hi, m.device("sg64")));
    expect(d(hi).backing!.label).toMatch(/^pages, /);
    expect(d(hi).backing!.table.sgl.every((s) => s.phys >= FOUR_GIB)).toBe(true);

    const lo = deferredBufferExport(m, { size: 4 << 20 });
    dmaBufAttach(lo, m.device("sg64"));
    touch(dmaBufAttach(lo, m.device("sg32")));
    expect(d(lo).backing!.label).toMatch(/^pages below 0x100000000, /);
    expect(d(lo).backing!.table.sgl.every((s) => s.phys + s.length <= FOUR_GIB)).toBe(true);
    expect(d(lo).decisions[0]!.rejected).toEqual([]);
    dmaBufPut(hi);
    dmaBufPut(lo);
  });

  test("a late 32-bit importer moves a high buffer below 4 GiB (no swiotlb bouncing later)", async () => {
    const { m } = await bootMm(BOARD, { swiotlbSize: 4 << 20 });
    const buf = deferredBufferExport(m, { size: 1 << 20 });
    touch(dmaBufAttach(buf, m.device("sg64")));
    const a = dmaBufAttach(buf, m.device("sg32"));
    expect(d(buf).decisions.at(-1)!.rejected[0]!.reason).toMatch(/^sg32 reaches only below 0x100000000 \(32-bit DMA mask, no IOMMU\) but the buffer ends at 0x1/);
    expect(d(buf).backing!.table.sgl.every((s) => s.phys + s.length <= FOUR_GIB)).toBe(true);
    const bounces = m.copies.of("swiotlb").count;
    touch(a);
    expect(m.copies.of("swiotlb").count).toBe(bounces);
    dmaBufPut(buf);
  });

  test("a contiguous 32-bit importer gets CMA, which memblock placed below 4 GiB", async () => {
    const { m } = await bootMm(BOARD);
    const buf = deferredBufferExport(m, { size: 1 << 20 });
    dmaBufAttach(buf, m.device("sg64"));
    touch(dmaBufAttach(buf, m.device("dev32")));
    const run = d(buf).backing!.runs();
    expect(run).toHaveLength(1);
    expect(run[0]!.phys + run[0]!.length).toBeLessThanOrEqual(FOUR_GIB);
    dmaBufPut(buf);
  });
});

describe("impossible combinations: the map fails with an explanation naming the devices", () => {
  const BOARD: BoardInput = {
    memory: [{ base: "0x40000000", size: "64M" }, { base: "0x100000000", size: "64M" }],
    reservedMemory: [
      { name: "linux,cma", size: "8M", default: true },
      { name: "disp-a-pool", size: "8M" },
      { name: "high-pool", size: "8M", base: "0x100000000" },
    ],
    devices: [
      { name: "disp-a", compatible: "test,disp", maxSegmentSize: "4G", memoryRegion: "disp-a-pool" },
      { name: "disp-b", compatible: "test,disp", maxSegmentSize: "4G", dmaMask: 64, memoryRegion: "high-pool" },
      { name: "isp32", compatible: "test,isp", maxSegmentSize: "4G", dmaMask: 32 },
      { name: "mb-bound", compatible: "test,dsp", segmentBoundaryMask: "0xfffff" },
    ],
  };

  test("two contiguous devices with different memory-regions: EINVAL, nothing allocated", async () => {
    const { k, m } = await bootMm(BOARD, { swiotlb: false });
    const before = freeState(m);
    const buf = deferredBufferExport(m, { size: 1 << 20 });
    const a = dmaBufAttach(buf, m.device("disp-a"));
    dmaBufAttach(buf, m.device("disp-b"));
    const e = expectErrno(() => dmaBufMapAttachment(a, DMA_TO_DEVICE), "EINVAL");
    expect(e.errno).toBe(22);
    expect(e.message).toContain("disp-a need memory-region disp-a-pool, disp-b need memory-region high-pool");
    expect(e.record).toMatchObject({ outcome: "failed", errno: "EINVAL", trigger: "map" });
    expect(e.record.rejected.map((r) => r.backing)).toEqual(["pages below 0x100000000", "cma"]);
    expect(d(buf).backing).toBeUndefined();
    expect(freeState(m)).toBe(before);
    expect(await placementLog(m)).toContain("map failed(EINVAL) none | disp-a [contiguous (no IOMMU)");
    dmaBufPut(buf);
    assertNoLeaks(k);
  });

  test("a 32-bit contiguous device and a device whose memory-region lies above 4 GiB: EINVAL naming both", async () => {
    const { m } = await bootMm(BOARD, { swiotlb: false });
    const buf = deferredBufferExport(m, { size: 1 << 20 });
    const a = dmaBufAttach(buf, m.device("isp32"));
    dmaBufAttach(buf, m.device("disp-b"));
    const e = expectErrno(() => dmaBufMapAttachment(a, DMA_TO_DEVICE), "EINVAL");
    expect(e.message).toContain("cma:high-pool: the area at 0x100000000 lies above 0x100000000, which isp32 reaches (32-bit DMA mask, no IOMMU)");
    expect(e.message).toContain("isp32, disp-b need physically contiguous memory");
    dmaBufPut(buf);
  });

  test("a contiguous device whose segments may not cross 1 MiB cannot take a 2 MiB buffer: EINVAL", async () => {
    const { m } = await bootMm(BOARD, { swiotlb: false });
    const buf = deferredBufferExport(m, { size: 2 << 20 });
    const a = dmaBufAttach(buf, m.device("mb-bound"));
    expect(expectErrno(() => dmaBufMapAttachment(a, DMA_TO_DEVICE), "EINVAL").message).toContain("mb-bound cannot cross a 0x100000 boundary and the buffer (0x200000) is larger");
    // 1 MiB fits: CMA aligns it to 2^8 pages, so it never straddles a 1 MiB line.
    const ok = deferredBufferExport(m, { size: 1 << 20 });
    touch(dmaBufAttach(ok, m.device("mb-bound")));
    expect(d(ok).backing!.cma!.name).toBe("linux,cma");
    dmaBufPut(buf);
    dmaBufPut(ok);
  });

  // Linux queues have no way to say "pad the height" (anholt/linux#12); here the layout is checked at attach.
  test("a layout that misses a codec's height alignment is refused at attach with EINVAL", async () => {
    const { m } = await bootMm(DEFAULT_BOARD);
    const cam = deviceConstraints(m.device("vivid.0"));
    const layout = layoutFor("NV12", 1920, 1080, [cam]);
    expect(layout).toMatchObject({ stride: 1920, paddedHeight: 1080, size: NV12_1080P });
    const buf = deferredBufferExport(m, { size: layout.size, layout });
    dmaBufAttach(buf, m.device("vivid.0"));
    const e = expectErrno(() => dmaBufAttach(buf, m.device("jpeg-enc.0")), "EINVAL");
    expect(e.message).toContain("jpeg-enc.0 needs the height padded to a multiple of 16 lines, the buffer has 1080");
    expect(buf.attachments).toHaveLength(1);
    // Solved for both devices: 1088 lines, 3,133,440 bytes (kernel-subsystems.md 4.2 #4).
    const both = layoutFor("NV12", 1920, 1080, [cam, deviceConstraints(m.device("jpeg-enc.0"))]);
    expect(both).toMatchObject({ stride: 1920, paddedHeight: 1088, size: 3133440 });
    dmaBufPut(buf);
  });
});

describe("fragmented CMA (peers-and-pain-points.md P1: cma_alloc failed, req-size ...)", () => {
  test("a request larger than the largest free chunk fails with ENOMEM, the explanation gives the chunk; a smaller one fits", async () => {
    const { k, m } = await bootMm(SMALL_BOARD);
    const cma = m.defaultCma!;
    // Fill the 16 MiB area with 2 MiB blocks, then free every other one: 8 MiB free, 2 MiB largest.
    const blocks = Array.from({ length: 8 }, () => m.cmaAlloc(cma, 512, 9));
    blocks.filter((_, i) => i % 2 === 0).forEach((pfn) => m.cmaRelease(cma, pfn, 512));
    expect(cma.available).toBe(2048);
    expect(cma.maxchunk).toBe(512);
    const buf = deferredBufferExport(m, { size: 4 << 20 });
    const a = dmaBufAttach(buf, m.device("disp0"));
    dmaBufAttach(buf, m.device("cam0"));
    const e = expectErrno(() => dmaBufMapAttachment(a, DMA_TO_DEVICE), "ENOMEM");
    expect(e.message).toContain("cma:linux,cma: no free range of 1024 pages aligned to 2^8 pages (largest free chunk 512 pages = 2 MiB, 2048 of 4096 pages free)");
    expect(e.message).toContain("system pages: disp0 needs physically contiguous memory (no IOMMU)");
    expect(e.record.cma).toEqual([{ area: "linux,cma", count: 4096, used: 2048, maxchunk: 512 }]);
    expect(await placementLog(m)).toContain("map failed(ENOMEM) none | disp0 [contiguous (no IOMMU), below 0x100000000 (32-bit mask)]; cam0 [any pages (behind iommu0)] | system pages: disp0 needs physically contiguous memory (no IOMMU); cma:linux,cma: no free range of 1024 pages");
    expect(await placementLog(m)).toMatch(/\| linux,cma used 2048\/4096 maxchunk 512$/m);
    expect(k.dmesg()).toContain("cma_alloc: linux,cma: alloc failed, req-size: 1024 pages, ret: -12");
    // Half the size fits into one hole.
    const small = deferredBufferExport(m, { size: 2 << 20 });
    touch(dmaBufAttach(small, m.device("disp0")));
    expect(d(small).backing!.cma).toBe(cma);
    expect(d(small).decisions[0]!.cma).toEqual([]); // figures are kept for failures only
    expect([cma.available, cma.maxchunk]).toEqual([1536, 512]); // it filled one of the four holes
    dmaBufPut(buf);
    dmaBufPut(small);
  });
});

describe("the placement log", () => {
  test("keeps the newest PLACEMENT_LOG_SIZE decisions, one debugfs line each", async () => {
    const { m } = await bootMm(SMALL_BOARD);
    for (let i = 0; i < 300; i++) {
      const buf = deferredBufferExport(m, { size: 4096 });
      touch(dmaBufAttach(buf, m.device("cam0")));
      dmaBufPut(buf);
    }
    expect(m.placement.records).toHaveLength(256);
    expect(m.placement.records[0]!.seq).toBe(45);
    const lines = (await placementLog(m)).trimEnd().split("\n");
    expect(lines).toHaveLength(257);
    expect(lines[0]).toBe("# seq time_ns ino exp_name size trigger outcome backing | devices | rejected | cma");
    expect(lines[256]).toMatch(/^300 0 300 deferred 4096 map placed pages, 1 chunk from pfn 0x[0-9a-f]+ \| cam0 \[any pages \(behind iommu0\)\] \| - \| -$/); // no CMA involved: no bitmap scan
  });

  test("bufinfo lists deferred buffers like any other exporter's; size must be positive (EINVAL)", async () => {
    const { m } = await bootMm(SMALL_BOARD);
    const buf = deferredBufferExport(m, { size: 5000, expName: "vb2-deferred" });
    expect(buf.size).toBe(8192);
    const p = m.kernel.spawn("cat");
    expect(await p.readFile("/sys/kernel/debug/dma_buf/bufinfo")).toContain("\tvb2-deferred\t");
    expect(() => deferredBufferExport(m, { size: 0 })).toThrow(/EINVAL/);
    dmaBufPut(buf);
  });
});

