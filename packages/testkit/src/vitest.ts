/**
 * The suites as vitest `describe` blocks, one `it` per check, for a plugin author's own tests:
 *
 *     import { describeV4l2Conformance } from "@dmabuf/testkit/vitest";
 *     describeV4l2Conformance({ plugins: [mm(), myPlugin()], board, device: "/dev/video0" }, { kind: "m2m" });
 *
 * A failing check fails its `it` with the check's message; "Not Supported" passes, as in v4l2-compliance.
 */
import { describe, expect, it } from "vitest";
import { runCheck, type ConformanceSuite, type ConformanceTarget } from "./conformance.js";
import { drmSuite, type DrmTarget } from "./drm-suite.js";
import { exporterSuite, type ExporterTarget } from "./exporter-suite.js";
import { dynamicImporterSuite, staticImporterSuite, type ImporterTarget } from "./importer-suite.js";
import { v4l2CaptureSuite, v4l2M2mSuite, type V4l2Target } from "./v4l2-suite.js";

/** Any suite as a `describe` with one `it` per check (named after the check and its citation). */
export function describeConformance<T extends ConformanceTarget>(suite: ConformanceSuite<T>, target: T, title = `${suite.name} conformance (${target.device})`): void {
  describe(title, () => {
    for (const check of suite.checks)
      it(`${check.name} (${check.cite})`, async () => {
        const r = await runCheck(suite.name, check, target);
        expect(r.status === "FAIL" ? `FAIL: ${r.message}` : r.status).toMatch(/^OK/);
      });
  });
}

export const describeExporterConformance = (target: ExporterTarget) => describeConformance(exporterSuite, target);
export const describeStaticImporterConformance = (target: ImporterTarget) => describeConformance(staticImporterSuite, target);
export const describeDynamicImporterConformance = (target: ImporterTarget) => describeConformance(dynamicImporterSuite, target);
export const describeV4l2Conformance = (target: V4l2Target, opts: { kind: "capture" | "m2m" }) =>
  describeConformance(opts.kind === "m2m" ? v4l2M2mSuite : v4l2CaptureSuite, target);
export const describeDrmConformance = (target: DrmTarget) => describeConformance(drmSuite, target);
