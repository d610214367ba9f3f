/* What the CLI prints: a progress line while running, a summary table at the end. */
import type { RunSummary } from "./pipeline.js";

const MiB = 1024 * 1024;
const fmtBytes = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

/** A progress bar on a terminal; a few plain lines otherwise (CI logs). */
export function progressReporter(label: string, total: number) {
  const tty = process.stderr.isTTY === true;
  const t0 = performance.now();
  let lastLine = 0;
  let lastPct = -1;
  return {
    update: ({ frame, virtualNs }: { frame: number; virtualNs: number }) => {
      const pct = Math.floor((frame / total) * 100);
      const wall = (performance.now() - t0) / 1000;
      const text = `${label} ${String(frame).padStart(String(total).length)}/${total} frames, ${(frame / Math.max(wall, 1e-3)).toFixed(0)} fps, virtual ${(virtualNs / 1e9).toFixed(2)} s`;
      if (tty) {
        if (performance.now() - lastLine < 50 && frame < total) return;
        lastLine = performance.now();
        const bar = "#".repeat(Math.round(pct / 4)).padEnd(25, ".");
        process.stderr.write(`\r[${bar}] ${text}`);
      } else if (pct >= lastPct + 25 || frame === total) {
        lastPct = pct;
        process.stderr.write(`${text}\n`);
      }
    },
    done: () => {
      if (tty) process.stderr.write("\n");
    },
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n") + "\n";
}

export function formatSummary(results: RunSummary[], show: { bufinfo: boolean; explain: boolean }): string {
  const col = (f: (r: RunSummary) => string) => results.map(f);
  const rows: string[][] = [
    ["", ...col((r) => r.variant)],
    ["frames captured", ...col((r) => String(r.captured))],
    ["frames encoded", ...col((r) => String(r.encoded))],
    ["frames displayed", ...col((r) => String(r.displayed))],
    ["frames dropped", ...col((r) => String(r.dropped))],
    ["frame counters verified", ...col((r) => String(r.framesChecked))],
    ["virtual time", ...col((r) => `${(r.virtualNs / 1e9).toFixed(3)} s`)],
    ["wall time", ...col((r) => `${(r.wallMs / 1000).toFixed(2)} s`)],
    ["simulated fps (frames / wall s)", ...col((r) => (r.captured / (r.wallMs / 1000)).toFixed(1))],
    ["speed vs real time", ...col((r) => `${(r.virtualNs / 1e6 / r.wallMs).toFixed(1)}x`)],
    ...[...new Set(results.flatMap((r) => r.latency.map((l) => l.stage)))].map((stage) => [
      `latency ${stage} (mean / max)`,
      ...col((r) => {
        const l = r.latency.find((x) => x.stage === stage);
        return l ? `${l.meanMs.toFixed(1)} / ${l.maxMs.toFixed(1)} ms` : "-";
      }),
    ]),
    ["bytes copied by the framework", ...col((r) => fmtBytes(r.frameworkCopiedBytes))],
    ["bytes copied by the application", ...col((r) => fmtBytes(r.appCopiedBytes))],
    ["CMA used / largest free chunk", ...col((r) => `${fmtBytes(r.cmaUsedBytes)} / ${fmtBytes(r.cmaLargestFreeBytes)}`)],
    ["camera buffers in flight (peak)", ...col((r) => String(r.buffersAliveAtPeak))],
    ["Motion-JPEG bytes", ...col((r) => fmtBytes(r.mjpegBytes))],
  ];
  let out = "\nsummary\n" + table(rows);
  const files = results.flatMap((r) => r.files);
  if (files.length) {
    out += "\nfiles written\n";
    const pngs = files.filter((f) => f.endsWith(".png"));
    for (const f of files.filter((f) => !f.endsWith(".png"))) out += `  ${f}${f.endsWith(".json") ? "  (open in https://ui.perfetto.dev or chrome://tracing)" : f.endsWith(".mjpeg") ? "  (play with: ffplay -f mjpeg FILE, or open in VLC)" : ""}\n`;
    if (pngs.length) out += `  ${pngs.length} PNG frames in ${pngs[0]!.replace(/\/[^/]*$/, "/")}  (what the display scanned out)\n`;
  }
  for (const r of results) {
    if (show.bufinfo) out += `\n/sys/kernel/debug/dma_buf/bufinfo (${r.variant}, mid-run)\n${r.bufinfo}`;
    if (show.explain) out += `\nplacement decisions (${r.variant})\n${r.placement || "  (no placement decisions were recorded: the buffers came from fixed-placement exporters)\n"}`;
  }
  return out;
}
