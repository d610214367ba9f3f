#!/usr/bin/env node
// Runs the CLI from TypeScript source (no build step): tsx with the workspace's source export condition.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const tsx = require.resolve("tsx");
// The root tsconfig covers every workspace package, so tsx compiles their decorators too.
const tsconfig = fileURLToPath(new URL("../../../tsconfig.json", import.meta.url));
const env = { ...process.env, TSX_TSCONFIG_PATH: tsconfig };
// `pnpm demo -- --png` forwards the "--" separator too: drop it.
const args = process.argv.slice(2);
if (args[0] === "--") args.shift();
const r = spawnSync(process.execPath, ["--conditions=@dmabuf/source", "--import", tsx, cli, ...args], { stdio: "inherit", env });
process.exit(r.status ?? 1);
