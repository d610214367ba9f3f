/**
 * The ISP through @dmabuf/testkit: the v4l2-compliance-style mem2mem checks, the dma-buf exporter
 * checks on its EXPBUF buffers, and the static-importer checks on its DMABUF queue.
 */
import "reflect-metadata";
import mm from "@dmabuf/mm";
import v4l2Sim from "@dmabuf/v4l2-sim";
import { v4l2ExporterTarget, v4l2ImporterTarget } from "@dmabuf/testkit";
import { describeExporterConformance, describeStaticImporterConformance, describeV4l2Conformance } from "@dmabuf/testkit/vitest";
import isp from "../src/index.js";
import board from "../board.json" with { type: "json" };

const target = { plugins: [mm(), v4l2Sim(), isp()], board, device: "/dev/video0" };

describeV4l2Conformance(target, { kind: "m2m" });
describeExporterConformance(v4l2ExporterTarget(target));
describeStaticImporterConformance(v4l2ImporterTarget(target, "isp.0"));
