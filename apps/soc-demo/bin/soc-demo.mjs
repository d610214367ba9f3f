#!/usr/bin/env node
// Runs the CLI from TypeScript source (no build step): tsx with the workspace's source export condition.
import { spawn } from "node:child_process";
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
const child = spawn(process.execPath, ["--conditions=@dmabuf/source", "--import", tsx, cli, ...args], { stdio: "inherit", env });
// Ctrl-C or a kill of this wrapper must reach the simulation (a --serve run never ends by itself).
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
