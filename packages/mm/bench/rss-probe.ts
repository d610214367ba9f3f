/**
 * Boots a kernel with the mm plugin on the default 1 GiB board in this (fresh) process and prints,
 * as JSON, the resident set size before and after boot and the boot time. Used by boot.bench.ts's
 * goals and runnable alone:
 *   node --conditions=@dmabuf/source --import tsx packages/mm/bench/rss-probe.ts
 */
import "reflect-metadata";
import { DEFAULT_BOARD, Kernel } from "@dmabuf/core";
import mm, { MM } from "../src/index.js";

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
gc();
const before = process.memoryUsage().rss;
const t0 = performance.now();
const kernel = await Kernel.boot({ board: DEFAULT_BOARD, plugins: [mm()] });
const bootMs = performance.now() - t0;
kernel.resolve(MM);
gc();
const after = process.memoryUsage().rss;
process.stdout.write(JSON.stringify({ rssBeforeMiB: before / 2 ** 20, rssAfterMiB: after / 2 ** 20, bootMs }) + "\n");
kernel.shutdown();
