import { DMA_TO_DEVICE } from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import { IOMMU_READ, IOMMU_WRITE, iommuMap, iommuUnmap, sgAllocTableFromPages } from "../src/index.js";
import { bootMm } from "./support/boot.js";

const RW = IOMMU_READ | IOMMU_WRITE;
const M2 = 2 << 20;

describe("IOMMU page tables (drivers/iommu/iommu.c)", () => {
  it("M7: iommu_map rejects an unaligned iova, paddr or size with EINVAL and maps nothing", async () => {
    const { m } = await bootMm();
    const d = m.dma.domainOf(m.device("cam0"))!;
    expect(() => iommuMap(d, 0x1000, 0x40000800, 0x1000, RW)).toThrow("iommu_map: EINVAL (unaligned: iova 0x1000 pa 0x0000000040000800 size 0x1000 min_pagesz 0x1000)");
    expect(() => d.map(0x1800, 0x40000000, 0x1000, RW)).toThrow(/EINVAL/);
    expect(() => d.map(0x1000, 0x40000000, 0x1800, RW)).toThrow(/EINVAL/);
    expect(d.entries()).toEqual([]);
  });

  it("M7: picks the largest page size both addresses are aligned to (iommu_pgsize)", async () => {
    const { m } = await bootMm();
    const d = m.dma.domainOf(m.device("cam0"))!;
    d.map(0x400000, 0x40400000, 2 * M2 + 0x1000, RW);
    expect(d.entries().map((e) => e.size)).toEqual([M2, M2, 0x1000]);
    d.map(0x1000000, 0x40401000, M2, RW); // paddr only 4 KiB aligned: 512 small pages
    expect(d.entries().filter((e) => e.iova >= 0x1000000).length).toBe(512);
    expect(d.iovaToPhys(0x400000 + M2 + 0x123)).toBe(0x40400000 + M2 + 0x123);
  });

  it("mapping over a live entry is EEXIST (io-pgtable-arm) and changes nothing", async () => {
    const { m } = await bootMm();
    const d = m.dma.domainOf(m.device("cam0"))!;
    d.map(0x200000, 0x40200000, M2, RW);
    expect(() => d.map(0x3ff000, 0x40000000, 0x2000, RW)).toThrow(/EEXIST/);
    expect(() => d.map(0, 0x40000000, 2 * M2, RW)).toThrow(/EEXIST/);
    expect(d.entries().length).toBe(1);
    expect(d.iovaToPhys(0x3ff000)).toBe(0x403ff000);
  });

  it("iommu_unmap returns the bytes unmapped; unmapping part of a block splits it; unaligned unmaps nothing", async () => {
    const { k, m } = await bootMm();
    const d = m.dma.domainOf(m.device("cam0"))!;
    d.map(0x200000, 0x40200000, M2, RW);
    expect(iommuUnmap(d, 0x201000, 0x800)).toBe(0);
    expect(d.unmap(0x201000, 0x1000)).toBe(0x1000);
    expect(d.iovaToPhys(0x201000)).toBeUndefined();
    expect(d.iovaToPhys(0x200000)).toBe(0x40200000);
    expect(d.iovaToPhys(0x3ff000)).toBe(0x403ff000);
    expect(d.unmap(0x200000, M2)).toBe(M2);
    expect(d.entries()).toEqual([]);
    expect(d.unmap(0x200000, 0x1000)).toBe(0);
    expect(k.trace.ftrace()).toMatch(/unmap: iova=0x0000000000201000 iova_end=0x0000000000202000 size=4096 unmapped_size=4096/);
  });

  it("a device DMA through an unmapped IOVA raises io_page_fault and writes nothing", async () => {
    const { k, m } = await bootMm();
    const dev = m.device("cam0");
    const pfn = m.pages.allocPages(2);
    const sgt = sgAllocTableFromPages([pfn, pfn + 1, pfn + 2, pfn + 3], 0, 4 * 4096);
    m.dmaMapSgtable(dev, sgt, 0);
    const d = m.dma.domainOf(dev)!;
    d.unmap(sgt.sgl[0]!.dmaAddress + 3 * 4096, 4096); // the last page disappears behind the device's back
    expect(() => m.engine.write(dev, sgt, 0, new Uint8Array(4 * 4096).fill(0xaa))).toThrow(/EIO.*unhandled write fault from cam0/);
    expect(m.view(pfn * 4096, 4 * 4096).every((b) => b === 0)).toBe(true);
    expect(d.faults).toBe(1);
    const ev = k.trace.events("io_page_fault")[0]!;
    expect(ev.args).toMatchObject({ device: "cam0", flags: "0x0001" });
  });

  it("a device write through a DMA_TO_DEVICE (read-only) mapping faults", async () => {
    const { m } = await bootMm();
    const dev = m.device("cam0");
    const pfn = m.pages.allocPages(0);
    const sgt = sgAllocTableFromPages([pfn], 0, 4096);
    m.dmaMapSgtable(dev, sgt, DMA_TO_DEVICE);
    expect(m.engine.read(dev, sgt, 0, 4).length).toBe(4);
    expect(() => m.engine.write(dev, sgt, 0, new Uint8Array([1]))).toThrow(/read-only mapping/);
  });

  it("gives devices in one iommu-group one domain, the others their own", async () => {
    const { m } = await bootMm({
      memory: [{ base: "0x40000000", size: "16M" }],
      iommus: [{ name: "smmu" }],
      devices: [
        { name: "a", compatible: "x", iommu: "smmu", properties: { "iommu-group": "g" } },
        { name: "b", compatible: "x", iommu: "smmu", properties: { "iommu-group": "g" } },
        { name: "c", compatible: "x", iommu: "smmu" },
      ],
    });
    const dom = (n: string) => m.dma.domainOf(m.device(n));
    expect(dom("a")).toBe(dom("b"));
    expect(dom("c")).not.toBe(dom("a"));
  });
});
