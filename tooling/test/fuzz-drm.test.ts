import { describe, expect, it } from "vitest";
import * as fc from "fast-check";
import { dmaBufPlugin, drmPlugin, fuzzProperty, newStats, syncPlugin, v4l2Plugin } from "../fuzz/index.js";

describe("fuzzer: DRM (vkms card0, vgem card1)", () => {
  it("runs a seeded batch of dumb buffers, MAP_DUMB+mmap, GEM_CLOSE, PRIME export/import (drm_prime.c's per-file cache), ADDFB2/RMFB against the model's handle tables", async () => {
    const stats = newStats();
    await fc.assert(fuzzProperty({ plugins: [dmaBufPlugin, drmPlugin] }, stats), { seed: 0xd12, numRuns: 80 });
    expect(stats.programs).toBe(80);
    expect(stats.steps).toBeGreaterThan(80 * 10);
  });
});

describe("fuzzer: every subsystem together (the CLI's plugin list)", () => {
  it("runs a seeded batch of programs over dma-buf, sync_file, V4L2 (vivid, codecs) and DRM together", async () => {
    const stats = newStats();
    await fc.assert(fuzzProperty({ plugins: [dmaBufPlugin, syncPlugin, v4l2Plugin, drmPlugin] }, stats), { seed: 0x13, numRuns: 120 });
    expect(stats.programs).toBe(120);
    expect(stats.steps).toBeGreaterThan(120 * 10);
  });
});
