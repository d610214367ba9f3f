#!/usr/bin/env node
// pnpm bench [--quick] [--runs N] [filter]
// Finds packages/*/bench/*.bench.ts and apps/*/bench/*.bench.ts, runs each suite in fresh processes
// (3 by default, 1 with --quick) on TypeScript source through tsx, and writes
// bench/results/<suite>.json and bench/results/latest.md. Timings never fail the run: the exit code
// is non-zero only when a suite crashes.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const resultsDir = path.join(root, "bench/results");
const worker = path.join(root, "tooling/bench/worker.ts");

const args = process.argv.slice(2).filter((a) => a !== "--");
const quick = args.includes("--quick");
const runsAt = args.indexOf("--runs");
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : quick ? 1 : 3;
const filters = args.filter((a, i) => !a.startsWith("--") && (runsAt < 0 || i !== runsAt + 1));

function suiteFiles() {
  const out = [];
  for (const top of ["packages", "apps"]) {
    const dir = path.join(root, top);
    if (!existsSync(dir)) continue;
    for (const pkg of readdirSync(dir).sort()) {
      const bench = path.join(dir, pkg, "bench");
      if (!existsSync(bench)) continue;
      for (const f of readdirSync(bench).sort()) if (f.endsWith(".bench.ts")) out.push(path.join(bench, f));
    }
  }
  return out.filter((f) => filters.length === 0 || filters.some((flt) => path.relative(root, f).includes(flt)));
}

/** Runs worker.ts in a fresh node process; returns an error message or undefined. */
function runWorker(workerArgs) {
  const r = spawnSync(process.execPath, ["--conditions=@dmabuf/source", "--expose-gc", "--import", "tsx", worker, ...workerArgs], {
    cwd: root,
    stdio: ["ignore", "inherit", "pipe"],
    encoding: "utf8",
  });
  if (r.status === 0) return undefined;
  return (r.stderr || `exit status ${r.status} (signal ${r.signal})`).trim();
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function machine() {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model.trim() ?? "unknown", cores: cpus.length, memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`, node: process.version, platform: `${os.platform()} ${os.release()}` };
}

const fmtNs = (ns) => (ns >= 1e9 ? `${(ns / 1e9).toFixed(2)} s` : ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(1)} ns`);
// a goal without a figure (NaN, stored in the JSON as null) prints as such
const fmtNum = (n) => (n === null || !Number.isFinite(n) ? "no figure" : n >= 100 ? Math.round(n).toLocaleString("en-US") : n >= 1 ? n.toFixed(2) : n.toPrecision(3));
const fmtGoal = (g) => `${g.met ? "met" : "NOT met"}: ${g.name}: ${fmtNum(g.value)} ${g.unit} (target ${g.target} ${g.unit})${g.note ? ` (${g.note})` : ""}`;

function runSuite(file) {
  const rel = path.relative(root, file);
  const perRun = [];
  for (let i = 0; i < runs; i++) {
    const out = path.join(resultsDir, `${path.basename(file, ".ts")}.${i}.tmp.json`);
    const err = runWorker(["measure", file, out, ...(quick ? ["--quick"] : [])]);
    if (err) return { rel, error: err };
    perRun.push(JSON.parse(readFileSync(out, "utf8")));
    rmSync(out);
  }
  const name = perRun[0].suite;
  const cases = {};
  const suiteCases = Object.keys(perRun[0].cases);
  for (const c of suiteCases) {
    const stats = perRun.map((r) => r.cases[c]);
    const medians = stats.map((s) => s.median);
    // min/max: spread of the processes' medians; with one process, of its samples.
    cases[c] = { median: median(medians), min: runs > 1 ? Math.min(...medians) : stats[0].min, max: runs > 1 ? Math.max(...medians) : stats[0].max, bytes: perRun[0].bytes[c], perProcess: stats };
  }
  const figures = {};
  for (const [f, unit] of Object.entries(perRun[0].figureUnits)) {
    const values = perRun.map((r) => r.figures[f]);
    figures[f] = { unit, median: median(values), min: Math.min(...values), max: Math.max(...values), perProcess: values };
  }
  const medianFile = path.join(resultsDir, `${path.basename(file, ".ts")}.medians.tmp.json`);
  const goalsFile = path.join(resultsDir, `${path.basename(file, ".ts")}.goals.tmp.json`);
  const figureMedians = Object.fromEntries(Object.entries(figures).map(([f, v]) => [f, v.median]));
  writeFileSync(medianFile, JSON.stringify({ medians: Object.fromEntries(suiteCases.map((c) => [c, cases[c].median])), figures: figureMedians }));
  const err = runWorker(["goals", file, medianFile, goalsFile]);
  rmSync(medianFile);
  if (err) return { rel, error: err };
  const goals = JSON.parse(readFileSync(goalsFile, "utf8"));
  rmSync(goalsFile);
  return { rel, name, cases, figures, goals, baseline: perRun[0].baseline };
}

/** Adds ops/s, GB/s (cases with `bytes`) and the ratio to the baseline case. */
function enrich(result) {
  const base = result.baseline ? result.cases[result.baseline].median : undefined;
  for (const s of Object.values(result.cases)) {
    s.opsPerSec = 1e9 / s.median;
    if (s.bytes) s.gbPerSec = s.bytes / s.median;
    if (base) s.ratioToBaseline = s.median / base;
  }
}

function suiteTable(r) {
  const figures = Object.entries(r.figures ?? {});
  const figureLines = figures.length
    ? ["", "| figure | median | min | max |", "|---|---:|---:|---:|", ...figures.map(([f, v]) => `| ${f} | ${fmtNum(v.median)} ${v.unit} | ${fmtNum(v.min)} ${v.unit} | ${fmtNum(v.max)} ${v.unit} |`)]
    : [];
  return caseTable(r) + (figureLines.length ? "\n" + figureLines.join("\n") : "");
}

function caseTable(r) {
  const lines = [`| case | median | min | max | ops/s | GB/s | × ${r.baseline ?? "baseline"} |`, "|---|---:|---:|---:|---:|---:|---:|"];
  for (const [c, s] of Object.entries(r.cases))
    lines.push(`| ${c}${c === r.baseline ? " (baseline)" : ""} | ${fmtNs(s.median)} | ${fmtNs(s.min)} | ${fmtNs(s.max)} | ${fmtNum(s.opsPerSec)} | ${s.gbPerSec ? s.gbPerSec.toFixed(2) : ""} | ${s.ratioToBaseline !== undefined ? s.ratioToBaseline.toPrecision(3) : ""} |`);
  return lines.join("\n");
}

function latestMarkdown(m) {
  const files = readdirSync(resultsDir).filter((f) => f.endsWith(".json") && !f.endsWith(".tmp.json")).sort();
  const parts = [
    "# Benchmark results",
    "",
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory} RAM, Node ${m.node}, ${m.platform}. Written ${new Date().toISOString()}.`,
    "",
    "Times are per call: the median of the processes' medians; min and max are the spread of those medians (with one process, of its samples). Regenerate with `pnpm bench`.",
  ];
  for (const f of files) {
    const r = JSON.parse(readFileSync(path.join(resultsDir, f), "utf8"));
    parts.push("", `## ${r.name}`, "", `\`${r.file}\`, ${r.runs} process(es)${r.quick ? ", --quick" : ""}, ${r.date}${r.machine.cpu !== m.cpu ? ` on ${r.machine.cpu}` : ""}.`, "", suiteTable(r));
    if (r.goals.length) parts.push("", ...r.goals.map((g) => `- **${g.met ? "met" : "NOT met"}** ${g.name}: ${fmtNum(g.value)} ${g.unit} (target ${g.target} ${g.unit})${g.note ? `. ${g.note}` : ""}`));
  }
  return parts.join("\n") + "\n";
}

function main() {
  const files = suiteFiles();
  if (files.length === 0) {
    console.log(`no bench files match ${filters.join(" ") || "(any)"}`);
    return 0;
  }
  mkdirSync(resultsDir, { recursive: true });
  const m = machine();
  console.log(`bench: ${files.length} suite(s), ${runs} process(es) each${quick ? ", quick" : ""}; ${m.cpu}, ${m.cores} cores, node ${m.node}`);
  let crashed = 0;
  for (const file of files) {
    const t0 = performance.now();
    const r = runSuite(file);
    if (r.error) {
      crashed++;
      console.log(`\n${r.rel}: CRASHED\n${r.error}`);
      continue;
    }
    enrich(r);
    const record = { name: r.name, file: r.rel, date: new Date().toISOString(), machine: m, runs, quick, baseline: r.baseline, cases: r.cases, figures: r.figures, goals: r.goals };
    writeFileSync(path.join(resultsDir, `${r.name.replace(/[^\w.-]+/g, "-")}.json`), JSON.stringify(record, null, 2) + "\n");
    console.log(`\n## ${r.name} (${r.rel}, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n\n${suiteTable(r)}`);
    for (const g of r.goals) console.log(`  ${fmtGoal(g)}`);
  }
  writeFileSync(path.join(resultsDir, "latest.md"), latestMarkdown(m));
  console.log(`\nwrote ${path.relative(root, resultsDir)}/latest.md${crashed ? `; ${crashed} suite(s) crashed` : ""}`);
  return crashed ? 1 : 0;
}

process.exitCode = main();
