/**
 * soc-demo: boots the default SoC and runs the camera -> encoder -> display pipeline as userspace
 * processes would, in virtual time; prints a summary and writes traces, pictures and the MJPEG stream.
 */
import "reflect-metadata";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { BoardError, PluginError } from "@dmabuf/core";
import { FORMATS, PipelineError, VARIANTS, runPipeline, type FormatName, type PipelineOptions, type RunSummary, type Variant } from "./pipeline.js";
import { formatSummary, progressReporter } from "./report.js";
import { serveLiveView } from "./serve.js";

const int = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
  return n;
};
const size = (v: string) => {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('use WIDTHxHEIGHT, e.g. "1280x720"');
  return [Number(m[1]), Number(m[2])] as const;
};

const program = new Command("soc-demo")
  .description("camera -> encoder -> display on a simulated SoC, zero copy, in virtual time")
  .option("-n, --frames <n>", "frames to capture", int("--frames", 1, 100_000), 90)
  .option("-s, --size <WxH>", "capture size", size, [1280, 720] as const)
  .addOption(new Option("-f, --format <fourcc>", "pixel format").choices(Object.keys(FORMATS)).default("NV12"))
  .option("--fps <n>", "camera frame rate", int("--fps", 1, 240), 30)
  .addOption(new Option("-p, --pipeline <variant>", Object.entries(VARIANTS).map(([k, v]) => `${k}: ${v}`).join("; ")).choices(Object.keys(VARIANTS)).default("full"))
  .option("--board <file>", "board description (JSON); default: the built-in SoC")
  .option("--heap <name>", "capture into dma-heap buffers (system, linux,cma, deferred) instead of the camera's own")
  .option("--plugin <package>", "the ISP driver plugin of --pipeline isp (a package name or path); default @example/out-of-tree-isp")
  .option("--compare", "run the copy baseline and the zero-copy pipeline side by side")
  .option("--out <dir>", "where files go", "out")
  .option("--trace <file>", "write a Perfetto/Chrome trace (JSON) of the run")
  .option("--png [dir]", "save every displayed frame as PNG")
  .option("--no-mjpeg", "do not write the encoder's Motion-JPEG stream")
  .option("--bufinfo", "print /sys/kernel/debug/dma_buf/bufinfo from the middle of the run")
  .option("--explain", "print the placement decisions (why each buffer lives where it does)")
  .option("--realtime", "pace virtual time to the wall clock")
  .option("--serve [port]", "serve a live web view on 127.0.0.1 (default port 8080; 0 picks one); runs in real time until Ctrl-C");

interface Cli {
  frames: number; size: readonly [number, number]; format: FormatName; fps: number; pipeline: Variant; board?: string; heap?: string; plugin?: string;
  compare?: boolean; out: string; trace?: string; png?: string | boolean; mjpeg: boolean; bufinfo?: boolean; explain?: boolean; realtime?: boolean;
  serve?: string | boolean;
}

/** --serve: the pipeline runs again and again in real time while the page shows it. */
async function serve(o: Cli, board: string | undefined): Promise<never> {
  const port = o.serve === true ? 8080 : Number(o.serve);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new PipelineError(`--serve: "${o.serve}" is not a TCP port`);
  const view = await serveLiveView(port);
  process.stdout.write(`soc-demo: live view at ${view.url} (Ctrl-C to stop)\n`);
  for (;;)
    await runPipeline({
      variant: o.pipeline.startsWith("copy") ? "full" : o.pipeline, frames: o.frames, width: o.size[0], height: o.size[1], format: o.format, fps: o.fps,
      realtime: true, onDisplay: view.update, ...(board !== undefined && { board }),
    });
}

async function main(): Promise<void> {
  program.parse();
  const o = program.opts<Cli>();
  const board = o.board === undefined ? undefined : readBoard(o.board);
  if (o.serve !== undefined && o.serve !== false) await serve(o, board);
  // --compare: the copy baseline with the same consumers, then the zero-copy pipeline
  const zeroCopy: Variant = o.pipeline === "copy" ? "full" : o.pipeline === "copy-display" ? "display" : o.pipeline;
  const variants: Variant[] = o.compare ? [zeroCopy === "display" ? "copy-display" : "copy", zeroCopy] : [o.pipeline];
  const pngDir = o.png === undefined || o.png === false ? undefined : typeof o.png === "string" ? o.png : join(o.out, "frames");
  const results: RunSummary[] = [];
  for (const variant of variants) {
    const opts: PipelineOptions = {
      variant, frames: o.frames, width: o.size[0], height: o.size[1], format: o.format, fps: o.fps,
      ...(board !== undefined && { board }), ...(o.realtime && { realtime: true }), ...(o.plugin !== undefined && { plugin: o.plugin }),
      ...(o.heap !== undefined && { heap: o.heap }),
      ...(pngDir && !variant.startsWith("copy") && { pngDir }),
      ...(o.mjpeg && (variant === "full" || variant === "encode") && { mjpegFile: join(o.out, "capture.mjpeg") }),
    };
    if (opts.mjpegFile) mkdirSync(o.out, { recursive: true });
    const progress = progressReporter(`${variant}`, o.frames);
    const r = await runPipeline({ ...opts, onProgress: progress.update });
    progress.done();
    if (o.trace) {
      const file = variants.length > 1 ? o.trace.replace(/(\.json)?$/, `-${variant}.json`) : o.trace;
      mkdirSync(dirname(resolve(file)), { recursive: true });
      writeFileSync(file, JSON.stringify(r.trace()));
      r.files.push(file);
    }
    results.push(r);
  }
  process.stdout.write(formatSummary(results, { bufinfo: !!o.bufinfo, explain: !!o.explain }));
}

function readBoard(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new PipelineError(`cannot read board file ${file}: ${(e as Error).message}`);
  }
}

main().catch((e: unknown) => {
  const known = e instanceof PipelineError || e instanceof BoardError || e instanceof PluginError || (e instanceof Error && e.name === "Errno");
  process.stderr.write(`soc-demo: ${known ? (e as Error).message : (e as Error).stack ?? String(e)}\n`);
  if (known) process.stderr.write("soc-demo: nothing was left running; fix the option above and try again (soc-demo --help lists them)\n");
  process.exit(known ? 2 : 1);
});
