import { leaksExpected } from "@dmabuf/core";
/**
 * The kit judged on a driver whose bugs are known: the good fixture passes every check, the broken
 * one fails exactly the checks aimed at its bugs (v4l2-compliance's own self-test idea: a test
 * that cannot fail proves nothing).
 */
import { describe, expect, it } from "vitest";
import { dynamicImporterSuite, exporterSuite, formatResult, runSuite, v4l2M2mSuite, type ConformanceSuite, type ConformanceTarget } from "../src/index.js";
import { describeDynamicImporterConformance, describeExporterConformance, describeV4l2Conformance } from "../src/vitest.js";
import { fixtureTargets } from "./support.js";

const good = fixtureTargets(false);
const bad = fixtureTargets(true);

// The good fixture through the vitest API a plugin author uses: one `it` per check.
describeV4l2Conformance(good.v4l2, { kind: "m2m" });
describeExporterConformance(good.exporter);
describeDynamicImporterConformance(good.importer);

const failing = async <T extends ConformanceTarget>(suite: ConformanceSuite<T>, target: T) =>
  (await runSuite(suite, target)).filter((r) => r.status === "FAIL").map((r) => r.name);

describe("the broken fixture fails exactly the checks aimed at its bugs", () => {
  it("V4L2 mem2mem: QUERYCAP (empty bus_info), TRY_FMT (EINVAL for an unknown pixelformat), streaming (timestamp not copied)", async () => {
    expect(await failing(v4l2M2mSuite, bad.v4l2)).toEqual(["VIDIOC_QUERYCAP", "VIDIOC_TRY_FMT", "Streaming (MMAP, mem2mem)"]);
  });

  it("exporter: mmap (only the first page is mapped)", async () => {
    const results = await runSuite(exporterSuite, bad.exporter);
    expect(results.filter((r) => r.status === "FAIL").map((r) => r.name)).toEqual(["DMA-BUF mmap"]);
    expect(formatResult(results.find((r) => r.status === "FAIL")!)).toMatch(/^test DMA-BUF mmap: FAIL\n\t/);
  });

  it("dynamic importer: move_notify (the stale mapping is kept)", async () => {
    leaksExpected(); // the broken importer keeps its stale mapping: its check's kernel leaks on purpose
    expect(await failing(dynamicImporterSuite, bad.importer)).toEqual(["move_notify drops mappings"]);
  });
});
