#!/usr/bin/env node
// In the repository the CLI runs from TypeScript source (tsx with the workspace's source export
// condition); an installed package runs its built dist/cli.js.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const src = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
if (existsSync(src)) {
  const require = createRequire(import.meta.url);
  const tsconfig = fileURLToPath(new URL("../../../tsconfig.json", import.meta.url));
  const env = { ...process.env, TSX_TSCONFIG_PATH: tsconfig };
  const r = spawnSync(process.execPath, ["--conditions=@dmabuf/source", "--import", require.resolve("tsx"), src, ...process.argv.slice(2)], { stdio: "inherit", env });
  process.exit(r.status ?? 1);
} else {
  // tsyringe (loaded by the bundled kernel) needs the Reflect polyfill before anything else.
  await import("reflect-metadata");
  const { main } = await import("../dist/cli.js");
  process.exit(await main(process.argv.slice(2)));
}
