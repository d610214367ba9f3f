import { describe, expect, it } from "vitest";
import * as fc from "fast-check";
import { dmaBufPlugin, drmPlugin, fuzzProperty, newStats } from "../fuzz/index.js";

describe("fuzzer: DRM (vkms card0, vgem card1)", () => {
  it("runs a seeded batch of dumb buffers, MAP_DUMB+mmap, GEM_CLOSE, PRIME export/import (drm_prime.c's per-file cache), ADDFB2/RMFB against the model's handle tables", async () => {
    const stats = newStats();
    await fc.assert(fuzzProperty({ plugins: [dmaBufPlugin, drmPlugin] }, stats), { seed: 0xd12, numRuns: 80 });
    expect(stats.programs).toBe(80);
    expect(stats.steps).toBeGreaterThan(80 * 10);
  });
});
