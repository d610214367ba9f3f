/**
 * @dmabuf/testkit: conformance suites for dma-buf exporters and importers, V4L2 and DRM/KMS driver
 * plugins, in the spirit of v4l2-compliance and IGT. Run them from vitest (`@dmabuf/testkit/vitest`)
 * or with the `dmabuf-compliance` CLI.
 */
export {
  CheckFailure, NotSupported, expectEqual, expectErrno, expectTrue, formatResult, formatSummary, runCheck, runSuite,
  type CheckContext, type CheckResult, type CheckStatus, type ConformanceCheck, type ConformanceSuite, type ConformanceTarget,
} from "./conformance.js";
export { exporterSuite, type ExporterTarget } from "./exporter-suite.js";
export { v4l2CaptureSuite, v4l2M2mSuite, type V4l2Target } from "./v4l2-suite.js";
export { drmSuite, type DrmTarget } from "./drm-suite.js";
export { dynamicImporterSuite, staticImporterSuite, type ImporterTarget } from "./importer-suite.js";
export { drmExporterTarget, drmImporterTarget, v4l2ExporterTarget, v4l2ImporterTarget } from "./targets.js";
