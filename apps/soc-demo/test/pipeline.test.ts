import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { ScanoutFrame } from "@dmabuf/drm-sim";
import { readFrameCounter, V4L2_PIX_FMT_XBGR32 } from "@dmabuf/v4l2-sim";
import { sharpJpegBackend } from "@dmabuf/codec-sim";
import { runPipeline } from "../src/pipeline.js";

const small = { frames: 8, width: 320, height: 240, format: "NV12" as const, fps: 30 };

describe("soc-demo pipeline (camera -> encoder -> display as three processes sharing dma-bufs)", () => {
  it("pixels: false, trace: false (the benchmark's framework-only run) still captures, shares and flips every frame, checks no pixels and records no events", async () => {
    const r = await runPipeline({ ...small, variant: "display", pixels: false, trace: false });
    expect(r).toMatchObject({ captured: 8, displayed: 8, dropped: 0, framesChecked: 0, frameworkCopiedBytes: 0, appCopiedBytes: 0 });
    // trace: false is tracing_on = 0 for the run: nothing recorded
    expect((r.trace() as { traceEvents: unknown[] }).traceEvents).toEqual([]);
  });

  it("runs the full pipeline with zero framework copies; the PNGs show the camera's frames in order and the MJPEG is a JPEG stream", async () => {
    const dir = mkdtempSync(join(tmpdir(), "soc-demo-"));
    const r = await runPipeline({ ...small, variant: "full", pngDir: join(dir, "png"), mjpegFile: join(dir, "out.mjpeg") });
    expect(r).toMatchObject({ captured: 8, encoded: 8, displayed: 8, dropped: 0, framesChecked: 8, frameworkCopiedBytes: 0, appCopiedBytes: 0 });
    // What vkms scanned out (XRGB8888 words) carries the burned-in counter of the frame that was flipped.
    const pngs = readdirSync(join(dir, "png")).sort();
    expect(pngs).toEqual(Array.from({ length: 8 }, (_, i) => `frame-000${i}.png`));
    for (const [i, f] of pngs.entries()) {
      const img = ScanoutFrame.pixelsFromPng(readFileSync(join(dir, "png", f)));
      const bytes = new Uint8Array(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength);
      expect(readFrameCounter(bytes, V4L2_PIX_FMT_XBGR32, img.width * 4)).toBe(i);
    }
    // Motion-JPEG: 8 concatenated JPEGs (SOI ... EOI), each of which decodes to the captured size.
    const mjpeg = readFileSync(join(dir, "out.mjpeg"));
    const soi = [...mjpeg.keys()].filter((i) => mjpeg[i] === 0xff && mjpeg[i + 1] === 0xd8 && mjpeg[i + 2] === 0xff);
    expect(soi.length).toBe(8);
    const first = await sharpJpegBackend.decode(mjpeg.subarray(soi[0], soi[1]));
    expect([first.width, first.height]).toEqual([320, 240]);
    expect(r.latency.map((l) => l.stage).sort()).toEqual(["capture -> encoded", "capture -> on screen"]);
  });

  it("the copy baseline copies every frame (USERPTR in the framework, memcpy in the application)", async () => {
    const r = await runPipeline({ ...small, variant: "copy" });
    const frame = 320 * 240 * 3 / 2;
    expect(r.frameworkCopiedBytes).toBeGreaterThanOrEqual(8 * frame);
    expect(r.appCopiedBytes).toBe(2 * 8 * frame);
    expect(r.displayed).toBe(8);
  });

  it("produces the same trace twice (deterministic virtual time)", async () => {
    const a = await runPipeline({ ...small, variant: "display", frames: 4 });
    const b = await runPipeline({ ...small, variant: "display", frames: 4 });
    expect(JSON.stringify(a.trace())).toBe(JSON.stringify(b.trace()));
    expect(a.virtualNs).toBe(b.virtualNs);
  });

  it("with the deferred heap, buffers are placed once the display has attached: contiguous CMA, explained (placement)", async () => {
    const r = await runPipeline({ ...small, variant: "full", heap: "deferred" });
    expect(r).toMatchObject({ displayed: 8, encoded: 8, frameworkCopiedBytes: 0, framesChecked: 8 });
    expect(r.placement).toMatch(/deferred .* cma:linux,cma .*vkms\.0 \[contiguous \(no IOMMU\)/);
  });

  it("a scattered system-heap buffer cannot be scanned out by a display without an IOMMU: EINVAL, explained", async () => {
    await expect(runPipeline({ ...small, variant: "display", heap: "system" })).rejects.toThrow(/cannot scan out a buffer from the "system" heap: it is not physically contiguous .*EINVAL/);
  });

  it("rejects an impossible size with a clear message", async () => {
    await expect(runPipeline({ ...small, variant: "display", width: 8000, height: 6000 })).rejects.toThrow(/cannot capture 8000x6000/);
  });
});

describe("soc-demo isp variant (camera -> out-of-tree ISP plugin -> display)", () => {
  it("loads the ISP plugin by package name, converts YUYV to NV12 with zero copies, and the display shows the camera's frames in order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "soc-demo-isp-"));
    const r = await runPipeline({ ...small, format: "YUYV", frames: 6, variant: "isp", plugin: "@example/out-of-tree-isp", pngDir: join(dir, "png") });
    expect(r).toMatchObject({ variant: "isp", captured: 6, displayed: 6, dropped: 0, framesChecked: 6, frameworkCopiedBytes: 0, appCopiedBytes: 0 });
    const pngs = readdirSync(join(dir, "png")).sort();
    expect(pngs).toHaveLength(6);
    for (const [i, f] of pngs.entries()) {
      const img = ScanoutFrame.pixelsFromPng(readFileSync(join(dir, "png", f)));
      const bytes = new Uint8Array(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength);
      expect(readFrameCounter(bytes, V4L2_PIX_FMT_XBGR32, img.width * 4)).toBe(i);
    }
    expect(r.bufinfo).toMatch(/example-isp|isp\.0/);
  });

  it("--plugin <folder> (e.g. `.` in the plugin's own folder) resolves the package through its exports map, which require.resolve of a folder ignores", async () => {
    // An ESM package with only "exports" (no "main", no index.js), as the example is. Its plugin
    // binds no driver, so reaching that error proves the folder resolved to the plugin and loaded.
    const dir = mkdtempSync(join(tmpdir(), "soc-demo-plugin-"));
    mkdirSync(join(dir, "lib"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "driverless-plugin", type: "module", exports: { ".": "./lib/plugin.js" } }));
    writeFileSync(join(dir, "lib/plugin.js"), 'export default () => ({ name: "driverless", register() {} });\n');
    for (const plugin of [dir, relative(process.cwd(), dir)])
      await expect(runPipeline({ ...small, variant: "isp", plugin })).rejects.toThrow(/registers no platform driver/);
  });

  it("a plugin package that is not installed is core's PluginError, before anything boots", async () => {
    await expect(runPipeline({ ...small, variant: "isp", plugin: "@example/no-such-isp" })).rejects.toThrow(/plugin "@example\/no-such-isp": package not found/);
  });
});
