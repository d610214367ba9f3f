/**
 * dmabuf-compliance: runs the conformance suites against a driver plugin, as v4l2-compliance and
 * IGT do against a kernel driver. One line per check ("test VIDIOC_QUERYCAP: OK"), a closing
 * "N passed, N failed" line, exit status 1 on any failure.
 *
 *     dmabuf-compliance --plugin <package> --device /dev/video0 [--board board.json] [--options '{...}']
 *     dmabuf-compliance --all
 */
import "reflect-metadata";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Kernel, O_RDWR, loadPlugin, type BoardInput, type DriverPlugin, type PluginSpec } from "@dmabuf/core";
import { formatResult, formatSummary, runSuite, type CheckResult } from "./conformance.js";
import { IN_TREE_PLUGINS, inTreeRuns, runsFor, type SuiteRun } from "./in-tree.js";
import { bufTypes, querycap } from "./internal/v4l2-util.js";

const USAGE = "usage: dmabuf-compliance --plugin <package> --device <path> [--board <board.json>] [--options <json>] | --all";

/**
 * A plugin by package name (or path), resolved from the current directory as `node` would for a
 * project that depends on it; core's loadPlugin gives the errors (not found, not a plugin).
 */
export async function loadPluginFrom(spec: string, options?: unknown, fromDir = process.cwd()): Promise<DriverPlugin> {
  const req = createRequire(path.join(fromDir, "noop.js"));
  let url = spec;
  try {
    url = pathToFileURL(req.resolve(spec.startsWith(".") ? path.resolve(fromDir, spec) : spec)).href;
  } catch {
    // Unresolvable here: let loadPlugin report it with its usual message.
  }
  return loadPlugin(url === spec ? spec : url, options).catch((e: Error) => Promise.reject(new Error(e.message.replace(url, spec))));
}

/** The suites for one device node, chosen by what it is (QUERYCAP for V4L2, a DRM node otherwise). */
async function runsForDevice(plugins: readonly PluginSpec[], board: BoardInput | undefined, device: string): Promise<SuiteRun[]> {
  const kernel = await Kernel.boot({ plugins, ...(board !== undefined && { board }) });
  try {
    const p = kernel.spawn("probe");
    const fd = p.open(device, O_RDWR);
    const base = { plugins, device, ...(board !== undefined && { board }) };
    if (device.startsWith("/dev/dri/")) return runsFor(base, undefined, "drm");
    const types = bufTypes((await querycap(p, fd)).device_caps);
    return runsFor(base, undefined, types.length === 2 ? "m2m" : "capture");
  } finally {
    kernel.shutdown();
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { plugin: { type: "string", multiple: true }, device: { type: "string" }, board: { type: "string" }, options: { type: "string" }, all: { type: "boolean" }, help: { type: "boolean" } } });
  if (values.help || (!values.all && !(values.plugin && values.device))) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  let runs: SuiteRun[];
  if (values.all) {
    runs = inTreeRuns(await Promise.all(IN_TREE_PLUGINS.map((s) => loadPluginFrom(s as string, undefined, path.dirname(new URL(import.meta.url).pathname)))));
  } else {
    const opts: unknown = values.options ? JSON.parse(values.options) : undefined;
    const mm = await loadPluginFrom("@dmabuf/mm");
    const own = await Promise.all(values.plugin!.map((s) => loadPluginFrom(s, opts)));
    const board = values.board ? (JSON.parse(readFileSync(values.board, "utf8")) as BoardInput) : undefined;
    runs = await runsForDevice([mm, ...own.filter((p) => p.name !== mm.name)], board, values.device!);
  }
  const results: CheckResult[] = [];
  for (const r of runs) {
    console.log(`\n${r.title}`);
    results.push(...(await runSuite(r.suite, r.target as never, (res) => console.log(`\t${formatResult(res).replaceAll("\n", "\n\t")}`))));
  }
  console.log(`\n${formatSummary(results)}`);
  return results.some((r) => r.status === "FAIL") ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  main(process.argv.slice(2)).then((code) => process.exit(code), (e: Error) => {
    console.error(`dmabuf-compliance: ${e.message}`);
    process.exit(2);
  });
