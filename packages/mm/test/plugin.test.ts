import { DEFAULT_BOARD, Kernel } from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import mm, { MM } from "../src/index.js";
import { HIGHMEM_BOARD, bootMm } from "./support/boot.js";

describe("the mm plugin", () => {
  it("builds the memory manager from the default board at boot, before any driver probes", async () => {
    const k = await Kernel.boot({ board: DEFAULT_BOARD, plugins: [mm()] });
    const m = k.resolve(MM);
    expect(m.mem.totalPages).toBe(262144);
    expect(m.defaultCma!.base).toBe(0x70000000); // top-down below 4 GiB, as memblock places it
    expect(m.swiotlb).toBeUndefined(); // all RAM below 4 GiB
    expect(k.dmesg()).toContain("Reserved memory: created CMA memory pool at 0x0000000070000000, size 256 MiB");
    expect(k.vfs.readdir("/dev/dma_heap")).toEqual(["deferred", "linux,cma", "system"]);
    expect(k.vfs.readdir("/sys/kernel/debug/cma/linux,cma")).toEqual(["alloc", "base_pfn", "bitmap", "count", "free", "maxchunk", "order_per_bit", "used"]);
  });

  it("gives every kernel its own memory manager", async () => {
    const a = await bootMm();
    const b = await bootMm();
    expect(a.m).not.toBe(b.m);
    a.m.pages.allocPages(0);
    expect(a.m.pages.nrFree).toBe(b.m.pages.nrFree - 1);
  });

  it("places the swiotlb pool in low memory when RAM reaches beyond 4 GiB", async () => {
    const { k, m } = await bootMm(HIGHMEM_BOARD, { swiotlbSize: 4 << 20 });
    expect(m.swiotlb!.end).toBeLessThanOrEqual(m.defaultCma!.base);
    expect(k.dmesg()).toMatch(/software IO TLB: mapped \[mem 0x[0-9a-f]+-0x[0-9a-f]+\] \(4MB\)/);
    expect(m.pages.managedPages).toBe(m.mem.totalPages - 1024); // the pool is not the buddy allocator's
  });

  it("removes its files at shutdown", async () => {
    const { k } = await bootMm();
    k.shutdown();
    expect(k.vfs.exists("/dev/dma_heap/system")).toBe(false);
    expect(k.vfs.exists("/proc/meminfo")).toBe(false);
    expect(k.vfs.exists("/sys/kernel/mm/cma/linux,cma/alloc_pages_success")).toBe(false);
  });

  it("fails boot when the CMA areas, rounded up to 4 MiB, do not fit in RAM", async () => {
    await expect(bootMm({ memory: [{ base: "0x40000000", size: "10M" }], reservedMemory: [{ name: "a", size: "3M" }, { name: "b", size: "3M" }, { name: "c", size: "3M" }] })).rejects.toThrow(/memblock_alloc: ENOMEM/);
  });
});
