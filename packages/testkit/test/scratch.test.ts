import { it, expect } from "vitest";
import mm from "@dmabuf/mm";
import drm from "@dmabuf/drm-sim";
import { runSuite, formatResult, drmSuite } from "../src/index.js";
it("scratch", async () => {
  const t0 = Date.now();
  for (const device of ["/dev/dri/card0", "/dev/dri/card1"]) {
    const r = await runSuite(drmSuite, { plugins: [mm(), drm()], device });
    for (const x of r) console.log(formatResult(x));
  }
  console.log(Date.now() - t0, "ms");
  expect(1).toBe(1);
});
