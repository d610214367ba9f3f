/**
 * What `dmabuf-compliance --all` runs: every device of the default board with the in-tree plugins,
 * each through the suites that apply to it (a camera: V4L2 capture, exporter, static importer; a
 * codec: V4L2 mem2mem, exporter, static importer; a display or GEM device: DRM/KMS, exporter, static importer).
 */
import type { PluginSpec } from "@dmabuf/core";
import type { ConformanceSuite, ConformanceTarget } from "./conformance.js";
import { drmSuite } from "./drm-suite.js";
import { exporterSuite } from "./exporter-suite.js";
import { staticImporterSuite } from "./importer-suite.js";
import { drmExporterTarget, drmImporterTarget, v4l2ExporterTarget, v4l2ImporterTarget } from "./targets.js";
import { v4l2CaptureSuite, v4l2M2mSuite } from "./v4l2-suite.js";

/** One suite run against one target, with the heading the CLI prints. */
export interface SuiteRun {
  readonly title: string;
  readonly suite: ConformanceSuite<never>;
  readonly target: ConformanceTarget;
}

const run = <T extends ConformanceTarget>(title: string, suite: ConformanceSuite<T>, target: T): SuiteRun => ({ title, suite: suite as unknown as ConformanceSuite<never>, target });

/** The in-tree plugins by package name, loaded as a board config would load them. */
export const IN_TREE_PLUGINS: readonly PluginSpec[] = ["@dmabuf/mm", "@dmabuf/v4l2-sim", "@dmabuf/codec-sim", "@dmabuf/drm-sim"];

/** The runs for a V4L2 node (`kind` from its QUERYCAP) or a DRM node; `device` names the board device if known. */
export function runsFor(base: ConformanceTarget & { heap?: string }, device: string | undefined, kind: "capture" | "m2m" | "drm"): SuiteRun[] {
  const at = device ? `${device} (${base.device})` : base.device;
  if (kind === "drm")
    return [run(`DRM/KMS: ${at}`, drmSuite, base), run(`dma-buf exporter: ${at}`, exporterSuite, drmExporterTarget(base)), run(`dma-buf static importer: ${at}`, staticImporterSuite, drmImporterTarget(base, device))];
  return [
    run(`V4L2 ${kind === "m2m" ? "mem2mem" : "capture"}: ${at}`, kind === "m2m" ? v4l2M2mSuite : v4l2CaptureSuite, base),
    run(`dma-buf exporter: ${at}`, exporterSuite, v4l2ExporterTarget(base)),
    run(`dma-buf static importer: ${at}`, staticImporterSuite, v4l2ImporterTarget(base, device)),
  ];
}

/** Every device of the default board. vkms has no IOMMU, so its imports come from the CMA heap. */
export function inTreeRuns(plugins: readonly PluginSpec[] = IN_TREE_PLUGINS): SuiteRun[] {
  return [
    ...runsFor({ plugins, device: "/dev/video0" }, "vivid.0", "capture"),
    ...runsFor({ plugins, device: "/dev/video1" }, "jpeg-enc.0", "m2m"),
    ...runsFor({ plugins, device: "/dev/video2" }, "jpeg-dec.0", "m2m"),
    ...runsFor({ plugins, device: "/dev/dri/card0", heap: "/dev/dma_heap/linux,cma" }, "vkms.0", "drm"),
    ...runsFor({ plugins, device: "/dev/dri/card1" }, "vgem.0", "drm"),
  ];
}
