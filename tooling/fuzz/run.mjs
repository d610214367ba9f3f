#!/usr/bin/env node
// pnpm fuzz [--minutes N] [--seed S] [--steps M]: runs tooling/fuzz/cli.ts on TypeScript source (tsx).
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const args = process.argv.slice(2).filter((a) => a !== "--");
const r = spawnSync(process.execPath, ["--conditions=@dmabuf/source", "--import", "tsx", path.join(root, "tooling/fuzz/cli.ts"), ...args], { cwd: root, stdio: "inherit" });
process.exitCode = r.status ?? 1;
