import {
  DEFAULT_BOARD, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, SgTable, dmaBufAttach, dmaBufDetach, dmaBufGet, dmaBufPut, dmaBufUnmapAttachment,
  dmaBufMapAttachment,
} from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import { DMA_HEAP_IOCTL_ALLOC, sgAllocTableFromPages } from "../src/index.js";
import { bootMm, pattern, sameBytes } from "./support/boot.js";

describe("DmaEngine: device-side access through the mapping", () => {
  it("writes rows straight into physical memory (zero copy) when each row lies in one piece", async () => {
    const { m } = await bootMm();
    const dev = m.device("disp0");
    const pfn = m.pages.allocPages(4);
    const sgt = sgAllocTableFromPages(Array.from({ length: 16 }, (_, i) => pfn + i), 0, 16 * 4096);
    m.dmaMapSgtable(dev, sgt, DMA_FROM_DEVICE);
    const rows: Uint8Array[] = [];
    m.engine.writeRows(dev, sgt, { offset: 64, stride: 2048, rowBytes: 1920, rows: 30 }, (row, y) => {
      rows.push(row);
      row.fill(y + 1); // a plain ArrayBuffer? no: a view of the SharedArrayBuffer itself
    });
    expect(rows.every((r) => r.buffer === m.mem.banks[0]!.sab)).toBe(true);
    const cpu = m.view(pfn * 4096, 16 * 4096);
    expect(cpu[64]).toBe(1);
    expect(cpu[64 + 2048 * 29 + 1919]).toBe(30);
    expect(cpu[64 + 1920]).toBe(0); // the stride padding is untouched
    expect(m.copies.count).toBe(0);
  });

  it("a row straddling two discontiguous pieces is filled in a scratch row and copied (counted split-row)", async () => {
    const { m } = await bootMm();
    const dev = m.device("disp0");
    const a = m.pages.allocPages(0);
    const b = m.pages.allocPages(1) + 1; // not adjacent to a
    const sgt = SgTable.fromRuns([{ phys: a * 4096, length: 4096 }, { phys: b * 4096, length: 4096 }]);
    m.dmaMapSgtable(dev, sgt, DMA_BIDIRECTIONAL);
    m.engine.writeRows(dev, sgt, { offset: 0, stride: 3000, rowBytes: 3000, rows: 2 }, (row, y) => row.set(pattern(3000, y)));
    expect(m.copies.of("split-row")).toEqual({ count: 1, bytes: 3000 });
    const back = m.engine.read(dev, sgt, 3000, 3000);
    expect(sameBytes(back, pattern(3000, 1))).toBe(true);
    expect(sameBytes(m.view(b * 4096, 3000 + 3000 - 4096), pattern(3000, 1).subarray(4096 - 3000))).toBe(true);
  });

  it("refuses a table not mapped for the device (EINVAL) and an access past the mapping (EFAULT)", async () => {
    const { m } = await bootMm();
    const pfn = m.pages.allocPages(0);
    const sgt = sgAllocTableFromPages([pfn], 0, 4096);
    expect(() => m.engine.read(m.device("disp0"), sgt, 0, 1)).toThrow(/EINVAL/);
    m.dmaMapSgtable(m.device("cam0"), sgt, DMA_BIDIRECTIONAL);
    expect(() => m.engine.read(m.device("disp0"), sgt, 0, 1)).toThrow(/EINVAL/);
    expect(() => m.engine.read(m.device("cam0"), sgt, 4000, 200)).toThrow(/EFAULT/);
  });

  it("reaches a dma_alloc_attrs buffer through its bus address (busViews); beyond a direct device's mask is EIO", async () => {
    const { m } = await bootMm();
    const dev = m.device("cam0");
    const buf = m.dmaAllocAttrs(dev, 8192);
    const [v] = m.engine.busViews(dev, buf.dmaAddress + 100, 4, true);
    v!.set([1, 2, 3, 4]);
    expect(m.dma.coherentView(buf).subarray(100, 104)).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(() => m.engine.busViews(m.device("disp0"), 2 ** 32, 4, false)).toThrow(/EIO/);
  });
});

describe("PhysicalMemory", () => {
  it("every view of a physical address shares the same bytes (no copy to share)", async () => {
    const { m } = await bootMm();
    const a = m.view(0x40001000, 16);
    const b = m.view(0x40001008, 8);
    a[8] = 42;
    expect(b[0]).toBe(42);
    expect(a.buffer).toBe(b.buffer);
  });

  it("zeroes only pages that were handed out (clean pages stay untouched and uncommitted)", async () => {
    const { m } = await bootMm();
    const bank = m.mem.banks[0]!;
    m.view(0x40002000, 4096).fill(7);
    expect(bank.dirty[2]).toBe(1);
    expect(bank.dirty[3]).toBe(0);
    m.mem.zero(0x40000000, 8 * 4096);
    expect(m.view(0x40002000, 4096).every((x) => x === 0)).toBe(true);
    expect(bank.dirty[2]).toBe(1); // the view above marked it again
  });

  it("a range outside RAM or across banks is EFAULT; views() splits a run at bank ends", async () => {
    const { m } = await bootMm({ memory: [{ base: "0x40000000", size: "4M" }, { base: "0x40400000", size: "4M" }] });
    expect(() => m.view(0x3ffff000, 4096)).toThrow(/EFAULT/);
    expect(() => m.view(0x403ff000, 8192)).toThrow(/EFAULT/);
    const out: Uint8Array[] = [];
    m.mem.views(0x403ff000, 8192, out);
    expect(out.map((v) => v.length)).toEqual([4096, 4096]);
    expect(out[0]!.buffer).not.toBe(out[1]!.buffer);
  });
});

describe("zero copy end to end", () => {
  it("a camera behind the IOMMU fills a system-heap 1080p buffer that the CPU reads through mmap, with no copy made", async () => {
    const { k, m } = await bootMm(DEFAULT_BOARD);
    const p = k.spawn("app");
    const heap = p.open("/dev/dma_heap/system", O_RDWR);
    const len = (1920 * 1080 * 3) / 2;
    const data = { len, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
    await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, data);
    const cam = m.device("vivid.0");
    k.current = p; // the camera driver imports the fd in the process's context (VIDIOC_QBUF)
    const buf = dmaBufGet(k, data.fd);
    k.current = undefined;
    const attach = dmaBufAttach(buf, cam);
    const sgt = dmaBufMapAttachment(attach, DMA_FROM_DEVICE);
    m.engine.writeRows(cam, sgt, { offset: 0, stride: 1920, rowBytes: 1920, rows: 1080 }, (row, y) => row.fill(y & 0xff));
    const vma = p.mmap(null, len, PROT_READ, MAP_SHARED, data.fd, 0);
    expect(vma.read(1920 * 700 + 5, 1)[0]).toBe(700 & 0xff);
    expect(m.copies.bytes).toBe(0);
    // the driver's side of DQBUF/REQBUFS(0): unmap, detach, and drop its dma_buf_get reference
    dmaBufUnmapAttachment(attach, sgt, DMA_FROM_DEVICE);
    dmaBufDetach(buf, attach);
    dmaBufPut(buf);
  });
});

describe("single mappings (dma_map_page)", () => {
  it("behind an IOMMU: IOVA with the page offset kept, sync for cpu/device on a non-coherent device, unmap frees the IOVA", async () => {
    const { m } = await bootMm();
    const dev = m.device("ncmmu0");
    const pfn = m.pages.allocPages(0);
    const addr = m.dma.dmaMapPage(dev, pfn * 4096 + 0x100, 64, DMA_BIDIRECTIONAL);
    expect(addr % 4096).toBe(0x100);
    const [v] = m.engine.busViews(dev, addr, 4, true);
    v!.set([5, 6, 7, 8]);
    expect(m.view(pfn * 4096 + 0x100, 4)).toEqual(new Uint8Array(4)); // still only in DRAM behind the cache
    m.dma.dmaSyncSingleForCpu(dev, addr, 64, DMA_BIDIRECTIONAL);
    expect(m.view(pfn * 4096 + 0x100, 4)).toEqual(new Uint8Array([5, 6, 7, 8]));
    m.dma.dmaUnmapPage(dev, addr, 64, DMA_BIDIRECTIONAL);
    expect(m.dma.domainOf(dev)!.entries()).toEqual([]);
    expect(() => m.dma.dmaUnmapPage(dev, addr, 64, DMA_BIDIRECTIONAL)).toThrow(/not allocated/);
  });
});

describe("DmaEngine.writeRowsFrom", () => {
  it("stores rows from a line buffer, splitting straddling rows across pieces with no copy counted", async () => {
    const { m } = await bootMm();
    const dev = m.device("disp0");
    const a = m.pages.allocPages(0);
    const b = m.pages.allocPages(1) + 1;
    const sgt = SgTable.fromRuns([{ phys: a * 4096, length: 4096 }, { phys: b * 4096, length: 4096 }]);
    m.dmaMapSgtable(dev, sgt, DMA_BIDIRECTIONAL);
    m.engine.writeRowsFrom(dev, sgt, { offset: 0, stride: 3000, rowBytes: 3000, rows: 2 }, (y) => pattern(3000, y));
    expect(sameBytes(m.engine.read(dev, sgt, 0, 3000), pattern(3000, 0))).toBe(true);
    expect(sameBytes(m.engine.read(dev, sgt, 3000, 3000), pattern(3000, 1))).toBe(true);
    expect(m.copies.count).toBe(0);
    expect(() => m.engine.writeRowsFrom(dev, sgt, { offset: 0, stride: 100, rowBytes: 100, rows: 1 }, () => new Uint8Array(10))).toThrow(/EINVAL/);
  });
});
