import { DEFAULT_BOARD, DMA_TO_DEVICE, O_RDWR } from "@dmabuf/core";
import { describe, expect, test } from "vitest";
import { DMA_HEAP_IOCTL_ALLOC, PLACEMENT_DEBUGFS, whatIf } from "../src/index.js";
import { installImporter } from "./support/importer.js";
import { bootMm } from "./support/boot.js";

const PAGE = 4096;
/** XRGB8888 1920x1080: 8,294,400 bytes = 2025 pages; CMA aligns each to 2^8 pages (CONFIG_CMA_ALIGNMENT). */
const FB_PAGES = 2025;

describe("what-if: will this pipeline's buffers fit on this board? (peers-and-pain-points.md P1, P2)", () => {
  test("default board: camera buffers padded for the encoder go to system pages, display buffers to CMA", async () => {
    const r = await whatIf(DEFAULT_BOARD, {
      buffers: [
        { name: "camera", picture: { format: "NV12", width: 1920, height: 1080 }, count: 4, devices: ["vivid.0", "jpeg-enc.0"] },
        { name: "scanout", picture: { format: "XRGB8888", width: 1920, height: 1080 }, count: 3, devices: ["vgem.0", "vkms.0"] },
      ],
    });
    expect(r.ok, r.text).toBe(true);
    // jpeg-enc.0's heightAlign 16 pads 1080 to 1088 lines: 3,133,440 bytes (kernel-subsystems.md 4.2 #4).
    expect(r.buffers.filter((b) => b.name === "camera").map((b) => b.size)).toEqual([3133440, 3133440, 3133440, 3133440]);
    expect(r.buffers[0]!.layout).toMatchObject({ stride: 1920, paddedHeight: 1088 });
    expect(r.buffers.filter((b) => b.name === "camera").every((b) => b.backing!.startsWith("pages"))).toBe(true);
    expect(r.buffers.filter((b) => b.name === "scanout").every((b) => b.backing!.startsWith("cma:linux,cma"))).toBe(true);
    expect(r.buffers[4]!.why).toContain("system pages: vgem.0, vkms.0 need physically contiguous memory (no IOMMU)");
    // Three framebuffers at 256-page-aligned offsets 0, 2048, 4096: the rest of the area is one free run.
    expect(r.cma).toEqual([{ area: "linux,cma", size: 256 << 20, used: 3 * FB_PAGES * PAGE, largestFree: (65536 - 4096 - FB_PAGES) * PAGE }]);
    expect(r.text).toContain("cma linux,cma: 23.7 MiB of 256.0 MiB used, largest free chunk 232.1 MiB");
  });

  test("too many framebuffers: the 33rd and later fail with ENOMEM, and the report says why", async () => {
    const r = await whatIf(DEFAULT_BOARD, { buffers: [{ name: "fb", picture: { format: "XRGB8888", width: 1920, height: 1080 }, count: 40, devices: ["vkms.0"] }] });
    expect(r.ok).toBe(false);
    expect(r.buffers.filter((b) => b.ok)).toHaveLength(32);
    const failed = r.buffers.filter((b) => !b.ok);
    expect(failed.map((b) => b.index)).toEqual([32, 33, 34, 35, 36, 37, 38, 39]);
    expect(failed[0]).toMatchObject({ errno: "ENOMEM" });
    expect(failed[0]!.why).toContain("cma:linux,cma: no free range of 2025 pages aligned to 2^8 pages (largest free chunk 23 pages = 0.09 MiB, 736 of 65536 pages free)");
    // 32 buffers of 2025 pages fill the area but for 23-page gaps.
    expect(r.cma[0]).toMatchObject({ used: 32 * FB_PAGES * PAGE, largestFree: 23 * PAGE });
    expect(r.text).toContain("fb[32] 8294400 bytes: FAILS ENOMEM: no backing of 8294400 bytes satisfies vkms.0");
  });

  test("an unknown device is reported as ENODEV before anything runs", async () => {
    await expect(whatIf(DEFAULT_BOARD, { buffers: [{ name: "x", size: 4096, devices: ["nope.0"] }] })).rejects.toMatchObject({ code: "ENODEV" });
  });
});

describe("/dev/dma_heap/deferred (a model extension) from userspace", () => {
  test("DMA_HEAP_IOCTL_ALLOC returns an unplaced dma-buf; a display's import places it in CMA; the log says why", async () => {
    const { k, m } = await bootMm(DEFAULT_BOARD);
    const p = k.spawn("app");
    k.current = p;
    const importer = installImporter(k);
    const heap = p.open("/dev/dma_heap/deferred", O_RDWR);
    const data = { len: 1 << 20, fd: 0, fd_flags: O_RDWR, heap_flags: 0 };
    await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, data);
    expect(m.defaultCma!.used).toBe(0);
    const imp = await importer.import(p, data.fd, "vkms.0", DMA_TO_DEVICE);
    expect(imp.sgt.nents).toBe(1);
    expect(m.defaultCma!.used).toBe(256);
    const log = await p.readFile(PLACEMENT_DEBUGFS);
    expect(log).toMatch(/^1 0 \d+ deferred 1048576 map placed cma:linux,cma pfn 0x[0-9a-f]+\+256 \| vkms\.0 \[contiguous \(no IOMMU\)/m);
    importer.release(imp);
    p.close(data.fd);
    p.close(heap);
    k.current = undefined;
    expect(m.defaultCma!.used).toBe(0);
  });
});
