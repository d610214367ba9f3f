#!/usr/bin/env bash
# Proves the example is a real out-of-tree package: copies it out of the repository into an empty
# temp folder, packs the @dmabuf packages it needs (built with tsup first), installs it against the
# tarballs with npm (the npm registry is the only network use: tsyringe, vitest, tsup, ...),
# type-checks and builds it, runs its own tests, and runs the compliance CLI against it.
# Usage: examples/out-of-tree-driver/scripts/check-standalone.sh [workdir]   (Node 20, pnpm via npx)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-$(mktemp -d -t isp-standalone-XXXXXX)}"
pnpm="npx --yes pnpm@10.34.9"
start=$(date +%s)
mkdir -p "$work/tarballs" "$work/isp"
echo "== building and packing the @dmabuf packages into $work/tarballs"
# testkit's suites import drm-sim's UAPI, so it is packed too.
for pkg in core mm v4l2-sim drm-sim testkit; do
  (cd "$root" && $pnpm --filter "@dmabuf/$pkg" build >/dev/null)
  (cd "$root/packages/$pkg" && $pnpm pack --pack-destination "$work/tarballs" >/dev/null)
done
ls "$work/tarballs"

echo "== copying the example to $work/isp (no repository files besides its own)"
cp -r "$here/src" "$here/test" "$here/board.json" "$here/package.json" "$here/tsconfig.json" "$here/vitest.config.ts" "$work/isp/"
node - "$work" <<'JS'
const fs = require("node:fs");
const path = require("node:path");
const work = process.argv[2];
const file = path.join(work, "isp/package.json");
const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
const tarballs = fs.readdirSync(path.join(work, "tarballs"));
const tarball = (name) => "file:../tarballs/" + tarballs.find((t) => t.startsWith(name.replace("@", "").replace("/", "-") + "-"));
// workspace:* ranges become the packed tarballs; drm-sim is the kit's peer.
for (const name of Object.keys(pkg.devDependencies)) if (pkg.devDependencies[name].startsWith("workspace:")) pkg.devDependencies[name] = tarball(name);
pkg.devDependencies["@dmabuf/drm-sim"] = tarball("@dmabuf/drm-sim");
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
JS

cd "$work/isp"
echo "== npm install"
npm install --no-audit --no-fund --loglevel=error
echo "== typecheck, build"
npx tsc -p tsconfig.json
npm run build --silent
echo "== the example's tests (vitest, with @dmabuf/testkit)"
npx vitest run
echo "== dmabuf-compliance against the built plugin"
npx dmabuf-compliance --plugin @example/out-of-tree-isp --board board.json --device /dev/video0
echo "== standalone check passed in $(( $(date +%s) - start )) s ($work)"
