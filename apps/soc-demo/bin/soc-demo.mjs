#!/usr/bin/env node
// In the repository the CLI runs from TypeScript source, no build step: tsx with the workspace's
// source export condition. An installed package (src is not packed) runs its built dist/cli.js
// against the installed packages' dist, so it shares one @dmabuf/core with a plugin installed next to it.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// `pnpm demo -- --png` forwards the "--" separator too: drop it.
const args = process.argv.slice(2);
if (args[0] === "--") args.shift();
const src = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
if (existsSync(src)) {
  const require = createRequire(import.meta.url);
  // The root tsconfig covers every workspace package, so tsx compiles their decorators too.
  const tsconfig = fileURLToPath(new URL("../../../tsconfig.json", import.meta.url));
  const env = { ...process.env, TSX_TSCONFIG_PATH: tsconfig };
  const child = spawn(process.execPath, ["--conditions=@dmabuf/source", "--import", require.resolve("tsx"), src, ...args], { stdio: "inherit", env });
  // Ctrl-C or a kill of this wrapper must reach the simulation (a --serve run never ends by itself).
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
} else {
  process.argv.splice(2, Infinity, ...args);
  await import("../dist/cli.js");
}
