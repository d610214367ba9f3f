import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, SgTable } from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import { DMA_MAPPING_ERROR, sgAllocTableFromPages, type MemoryManager } from "../src/index.js";
import { HIGHMEM_BOARD, SMALL_BOARD, bootMm, pattern, sameBytes } from "./support/boot.js";

/** `n` single pages that are not physically adjacent (every other page of a block). */
function scattered(m: MemoryManager, n: number): number[] {
  const base = m.pages.allocPages(Math.ceil(Math.log2(2 * n)));
  return Array.from({ length: n }, (_, i) => base + 2 * i);
}

const inOneWindow = (addr: number, len: number, window: number) => Math.floor(addr / window) === Math.floor((addr + len - 1) / window);

describe("DMA mapping: dma-iommu (drivers/iommu/dma-iommu.c)", () => {
  it("M8/M12: scattered pages map into one IOVA range and one DMA segment when max_segment_size allows", async () => {
    const { m } = await bootMm();
    const sgt = sgAllocTableFromPages(scattered(m, 32), 0, 32 * 4096);
    expect(sgt.origNents).toBe(32);
    m.dmaMapSgtable(m.device("cam0"), sgt, DMA_BIDIRECTIONAL);
    expect(sgt.nents).toBe(1);
    expect(sgt.dmaSegments()).toEqual([{ dmaAddress: 2 ** 32 - 32 * 4096, dmaLength: 32 * 4096 }]);
  });

  it("M8: with the default 64 KiB max_segment_size the same IOVA range is split into ceil(total/64K) segments", async () => {
    const { m } = await bootMm();
    const sgt = sgAllocTableFromPages(scattered(m, 40), 0, 40 * 4096);
    m.dmaMapSgtable(m.device("enc0"), sgt, DMA_BIDIRECTIONAL);
    expect(sgt.nents).toBe(3);
    expect(sgt.dmaSegments().map((s) => s.dmaLength)).toEqual([65536, 65536, 8 * 4096]);
    const segs = sgt.dmaSegments();
    expect(segs[1]!.dmaAddress).toBe(segs[0]!.dmaAddress + 65536); // still one contiguous IOVA range
  });

  it("M8: DMA segments never cross segment_boundary_mask (padding inserted)", async () => {
    const { m } = await bootMm({ ...SMALL_BOARD, devices: [{ name: "b64k", compatible: "x", iommu: "iommu0", segmentBoundaryMask: "0xffff", maxSegmentSize: "4G" }] });
    const base = m.pages.allocPages(6);
    // five 24 KiB runs, not adjacent to each other
    const sgt = SgTable.fromRuns(Array.from({ length: 5 }, (_, i) => ({ phys: (base + i * 8) * 4096, length: 6 * 4096 })));
    m.dmaMapSgtable(m.device("b64k"), sgt, DMA_BIDIRECTIONAL);
    expect(sgt.nents).toBeLessThanOrEqual(sgt.origNents);
    for (const s of sgt.dmaSegments()) expect(inOneWindow(s.dmaAddress, s.dmaLength, 0x10000)).toBe(true);
    expect(sgt.dmaSegments().reduce((n, s) => n + s.dmaLength, 0)).toBe(5 * 6 * 4096);
  });

  it("M6: IOVAs are handed out top-down below the device's mask, size-aligned", async () => {
    const { m } = await bootMm();
    const dev = m.device("cam0");
    const a = sgAllocTableFromPages(scattered(m, 760), 0, 760 * 4096); // a 1080p NV12 frame
    m.dmaMapSgtable(dev, a, DMA_BIDIRECTIONAL);
    expect(a.sgl[0]!.dmaAddress).toBe(0xffc00000); // 760 granules, aligned to 1024
    const b = sgAllocTableFromPages(scattered(m, 3), 0, 3 * 4096);
    m.dmaMapSgtable(dev, b, DMA_BIDIRECTIONAL);
    expect(b.sgl[0]!.dmaAddress).toBe(0xffc00000 - 4 * 4096); // 3 rounded to 4
    m.dmaUnmapSgtable(dev, b, DMA_BIDIRECTIONAL);
    m.dmaMapSgtable(dev, b, DMA_BIDIRECTIONAL);
    expect(b.sgl[0]!.dmaAddress).toBe(0xffc00000 - 4 * 4096); // back from the range cache
  });

  it("maps a table once; the mapping must be undone before it is mapped again (EINVAL)", async () => {
    const { m } = await bootMm();
    const sgt = sgAllocTableFromPages([m.pages.allocPages(0)], 0, 4096);
    m.dmaMapSgtable(m.device("cam0"), sgt, DMA_BIDIRECTIONAL);
    expect(() => m.dmaMapSgtable(m.device("cam0"), sgt, DMA_BIDIRECTIONAL)).toThrow(/EINVAL/);
    expect(() => m.dmaUnmapSgtable(m.device("enc0"), sgt, DMA_BIDIRECTIONAL)).toThrow(/mapped for cam0/);
    m.dmaUnmapSgtable(m.device("cam0"), sgt, DMA_BIDIRECTIONAL);
    expect(sgt.nents).toBe(0);
    expect(m.dma.domainOf(m.device("cam0"))!.entries()).toEqual([]);
  });
});

describe("DMA mapping: dma-direct and swiotlb (kernel/dma/direct.c, kernel/dma/swiotlb.c)", () => {
  it("M12: dma-direct maps each entry 1:1 and never merges (nents == orig_nents)", async () => {
    const { m } = await bootMm();
    const p = m.pages.allocPages(1);
    const sgt = SgTable.fromRuns([{ phys: p * 4096, length: 4096 }, { phys: (p + 1) * 4096, length: 4096 }]);
    m.dmaMapSgtable(m.device("disp0"), sgt, DMA_TO_DEVICE);
    expect(sgt.nents).toBe(2);
    expect(sgt.dmaSegments()).toEqual([{ dmaAddress: p * 4096, dmaLength: 4096 }, { dmaAddress: (p + 1) * 4096, dmaLength: 4096 }]);
  });

  it("M10: a page above a 32-bit device's mask bounces through swiotlb: counted copies, traced, data round-trips", async () => {
    const { k, m } = await bootMm(HIGHMEM_BOARD, { swiotlbSize: 1 << 20 });
    const dev = m.device("dev32");
    const pfn = m.pages.allocPages(0);
    expect(pfn * 4096).toBeGreaterThanOrEqual(2 ** 32); // the highest zone is used first
    m.view(pfn * 4096, 4096).set(pattern(4096, 1));
    const sgt = sgAllocTableFromPages([pfn], 0, 4096);
    m.dmaMapSgtable(dev, sgt, DMA_BIDIRECTIONAL);
    const tlb = m.swiotlb!;
    expect(tlb.owns(sgt.sgl[0]!.dmaAddress)).toBe(true);
    expect(sgt.sgl[0]!.dmaAddress + 4096).toBeLessThanOrEqual(2 ** 32);
    expect(m.copies.of("swiotlb")).toEqual({ count: 1, bytes: 4096 });
    expect(sameBytes(m.engine.read(dev, sgt, 0, 4096), pattern(4096, 1))).toBe(true);
    m.engine.write(dev, sgt, 0, pattern(4096, 2));
    expect(sameBytes(m.view(pfn * 4096, 4096), pattern(4096, 1))).toBe(true); // still in the bounce slot
    m.dmaSyncSgtableForCpu(dev, sgt, DMA_BIDIRECTIONAL);
    expect(sameBytes(m.view(pfn * 4096, 4096), pattern(4096, 2))).toBe(true);
    m.dmaUnmapSgtable(dev, sgt, DMA_BIDIRECTIONAL);
    expect(tlb.used).toBe(0);
    expect(m.copies.of("swiotlb").count).toBe(3);
    expect(k.trace.events("swiotlb_bounced")[0]!.args).toMatchObject({ dev_name: "dev32", dma_mask: "ffffffff", dev_addr: (pfn * 4096).toString(16), size: 4096 });
  });

  it("M10: no bounce for a 64-bit device or one behind an IOMMU (IOVA below the mask)", async () => {
    const { m } = await bootMm(HIGHMEM_BOARD, { swiotlbSize: 1 << 20 });
    const pfn = m.pages.allocPages(0);
    const a = sgAllocTableFromPages([pfn], 0, 4096);
    m.dmaMapSgtable(m.device("dev64"), a, DMA_BIDIRECTIONAL);
    expect(a.sgl[0]!.dmaAddress).toBe(pfn * 4096);
    const b = sgAllocTableFromPages([pfn], 0, 4096);
    m.dmaMapSgtable(m.device("mmu32"), b, DMA_BIDIRECTIONAL);
    expect(b.sgl[0]!.dmaAddress).toBeLessThan(2 ** 32);
    expect(m.copies.bytes).toBe(0);
  });

  it("M10: an entry larger than 256 KiB cannot bounce: dma_map_sgtable EIO, dma_map_sg returns 0, nothing stays mapped", async () => {
    const { k, m } = await bootMm(HIGHMEM_BOARD, { swiotlbSize: 1 << 20 });
    const dev = m.device("dev32");
    const pfn = m.pages.allocPages(7); // 512 KiB contiguous, above 4 GiB
    const small = m.pages.allocPages(0);
    const sgt = SgTable.fromRuns([{ phys: small * 4096, length: 4096 }, { phys: pfn * 4096, length: 128 * 4096 }]);
    expect(() => m.dmaMapSgtable(dev, sgt, DMA_TO_DEVICE)).toThrow(/EIO.*exceeds swiotlb's 262144-byte maximum/);
    expect(m.dma.dmaMapSg(dev, sgt, DMA_TO_DEVICE)).toBe(0);
    expect(m.swiotlb!.used).toBe(0);
    expect(sgt.sgl.every((s) => s.dmaAddress === 0 && s.dmaLength === 0)).toBe(true);
    expect(k.dmesg()).toContain("swiotlb buffer is full (sz: 524288 bytes)");
  });

  it("M10: without swiotlb a page beyond the mask is a mapping error (DMA addr ... overflow)", async () => {
    const { k, m } = await bootMm(HIGHMEM_BOARD, { swiotlb: false });
    const dev = m.device("dev32");
    const pfn = m.pages.allocPages(0);
    expect(m.dma.dmaMapPage(dev, pfn * 4096, 4096, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(m.dma.dmaMappingError(dev, DMA_MAPPING_ERROR)).toBe(true);
    expect(() => m.dmaMapSgtable(dev, sgAllocTableFromPages([pfn], 0, 4096), DMA_TO_DEVICE)).toThrow(/EIO.*no swiotlb/);
    expect(k.dmesg()).toMatch(/dev32: DMA addr 0x[0-9a-f]+\+4096 overflow \(mask ffffffff, bus limit 0\)/);
  });

  it("M10: a full bounce pool fails the mapping (swiotlb buffer is full) until slots are freed", async () => {
    const { m } = await bootMm(HIGHMEM_BOARD, { swiotlbSize: 1 << 20 });
    const dev = m.device("dev32");
    const pfn = m.pages.allocPages(8);
    const maps: number[] = [];
    for (let i = 0; i < 4; i++) maps.push(m.dma.dmaMapPage(dev, (pfn + 64 * i) * 4096, 256 << 10, DMA_TO_DEVICE));
    expect(maps.every((a) => a !== DMA_MAPPING_ERROR)).toBe(true);
    expect(m.dma.dmaMapPage(dev, (pfn + 255) * 4096, 4096, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    m.dma.dmaUnmapPage(dev, maps[0]!, 256 << 10, DMA_TO_DEVICE);
    expect(m.dma.dmaMapPage(dev, (pfn + 255) * 4096, 4096, DMA_TO_DEVICE)).not.toBe(DMA_MAPPING_ERROR);
  });
});

describe("DMA mapping: cache maintenance for non-coherent devices (arch/arm64/mm/dma-mapping.c)", () => {
  for (const name of ["nc0", "ncmmu0"]) {
    it(`M11 (${name}): device writes stay invisible to the CPU until dma_sync_sgtable_for_cpu`, async () => {
      const { m } = await bootMm();
      const dev = m.device(name);
      const pfn = m.pages.allocPages(0);
      const cpu = m.view(pfn * 4096, 4096);
      cpu.set(pattern(4096, 1));
      const sgt = sgAllocTableFromPages([pfn], 0, 4096);
      m.dmaMapSgtable(dev, sgt, DMA_FROM_DEVICE);
      m.engine.write(dev, sgt, 0, pattern(4096, 2));
      expect(sameBytes(cpu, pattern(4096, 1))).toBe(true); // stale: the CPU reads its cache
      m.dmaSyncSgtableForCpu(dev, sgt, DMA_FROM_DEVICE);
      expect(sameBytes(cpu, pattern(4096, 2))).toBe(true);
      expect(m.copies.of("cache").bytes).toBeGreaterThan(0);
      m.dmaUnmapSgtable(dev, sgt, DMA_FROM_DEVICE);
      expect(m.cache.pages).toBe(0);
    });

    it(`M11 (${name}): CPU writes after mapping stay invisible to the device until dma_sync_sgtable_for_device`, async () => {
      const { m } = await bootMm();
      const dev = m.device(name);
      const pfn = m.pages.allocPages(0);
      const cpu = m.view(pfn * 4096, 4096);
      const sgt = sgAllocTableFromPages([pfn], 0, 4096);
      m.dmaMapSgtable(dev, sgt, DMA_TO_DEVICE);
      cpu.set(pattern(4096, 3));
      expect(m.engine.read(dev, sgt, 0, 4096).every((b) => b === 0)).toBe(true); // stale: DRAM was not written back
      m.dmaSyncSgtableForDevice(dev, sgt, DMA_TO_DEVICE);
      expect(sameBytes(m.engine.read(dev, sgt, 0, 4096), pattern(4096, 3))).toBe(true);
    });
  }

  it("M11: a coherent device sees CPU writes at once, with no copies", async () => {
    const { m } = await bootMm();
    const dev = m.device("disp0");
    const pfn = m.pages.allocPages(0);
    const sgt = sgAllocTableFromPages([pfn], 0, 4096);
    m.dmaMapSgtable(dev, sgt, DMA_BIDIRECTIONAL);
    m.view(pfn * 4096, 4096).set(pattern(4096, 4));
    expect(sameBytes(m.engine.read(dev, sgt, 0, 4096), pattern(4096, 4))).toBe(true);
    expect(m.copies.count).toBe(0);
  });
});

describe("dma_alloc_attrs (kernel/dma/direct.c, kernel/dma/contiguous.c)", () => {
  it("takes contiguous zeroed memory from the default CMA area for a device without an IOMMU", async () => {
    const { m } = await bootMm();
    const dev = m.device("disp0");
    const cma = m.defaultCma!;
    const buf = m.dmaAllocAttrs(dev, 3 << 20);
    expect(buf.cma).toBe(cma);
    expect(buf.dmaAddress).toBe(buf.phys);
    expect((buf.phys / 4096) % 256).toBe(0); // align = min(get_order(size), CONFIG_CMA_ALIGNMENT)
    expect(m.dma.coherentView(buf).every((b) => b === 0)).toBe(true);
    m.dmaFreeAttrs(buf);
    expect(cma.used).toBe(0);
  });

  it("maps the buffer at an IOVA for a device behind an IOMMU, and uses the buddy allocator for one page", async () => {
    const { m } = await bootMm();
    const buf = m.dmaAllocAttrs(m.device("cam0"), 4096);
    expect(buf.cma).toBeUndefined();
    expect(buf.order).toBe(0);
    expect(buf.dmaAddress).toBe(2 ** 32 - 4096);
    m.dmaFreeAttrs(buf);
    expect(m.dma.domainOf(m.device("cam0"))!.entries()).toEqual([]);
  });

  it("fails with ENOMEM when neither CMA nor one buddy block can hold it", async () => {
    const { m } = await bootMm();
    expect(() => m.dmaAllocAttrs(m.device("disp0"), 17 << 20)).toThrow(/ENOMEM/);
    expect(m.defaultCma!.used).toBe(0);
  });
});

describe("DMA mapping failures change nothing", () => {
  it("out of IOVA space below a 24-bit mask: dma_map_sgtable ENOMEM, nothing mapped", async () => {
    const { m } = await bootMm({ ...SMALL_BOARD, devices: [{ name: "small", compatible: "x", iommu: "iommu0", dmaMask: 24, maxSegmentSize: "4G" }] });
    const dev = m.device("small");
    const runs = Array.from({ length: 5 }, () => ({ phys: m.pages.allocPages(10) * 4096, length: 4 << 20 }));
    const sgt = SgTable.fromRuns(runs); // 20 MiB: more than the 16 MiB the mask allows
    expect(() => m.dmaMapSgtable(dev, sgt, DMA_BIDIRECTIONAL)).toThrow(/ENOMEM/);
    expect(m.dma.domainOf(dev)!.entries()).toEqual([]);
    expect(m.dma.domainOf(dev)!.iovad.ranges).toEqual([]);
    expect(m.dma.mappingOf(sgt)).toBeUndefined();
  });
});
