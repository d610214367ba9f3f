#!/usr/bin/env bash
# Proves the example is a real out-of-tree package: copies it out of the repository into an empty
# temp folder, packs the @dmabuf packages it needs and soc-demo (built with tsup first), installs it
# against the tarballs with npm (the npm registry is the only network use: tsyringe, vitest, tsup, ...),
# type-checks and builds it, runs its own tests, runs the compliance CLI against it, and runs it in
# soc-demo's pipeline (camera -> this ISP -> display) from its own folder.
# Usage: examples/out-of-tree-driver/scripts/check-standalone.sh [workdir]   (Node 20, pnpm via npx)
# Without a workdir it uses a new temp folder and removes it after a pass (kept on failure).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-}"
if [ -z "$work" ]; then work="$(mktemp -d -t isp-standalone-XXXXXX)"; own_work=1; else own_work=0; fi
pnpm="npx --yes pnpm@10.34.9"
start=$(date +%s)
fail() { echo "standalone check FAILED: $*" >&2; exit 1; }
mkdir -p "$work/tarballs" "$work/isp"
echo "== building and packing the @dmabuf packages and soc-demo into $work/tarballs"
# testkit's suites import drm-sim's UAPI, so it is packed too; soc-demo also needs codec-sim.
for dir in packages/core packages/mm packages/v4l2-sim packages/drm-sim packages/codec-sim packages/testkit apps/soc-demo; do
  (cd "$root/$dir" && $pnpm run build >/dev/null && $pnpm pack --pack-destination "$work/tarballs" >/dev/null)
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
// soc-demo runs the plugin in its pipeline; it brings codec-sim, which is not on the registry either.
for (const name of ["@dmabuf/drm-sim", "@dmabuf/codec-sim", "soc-demo"]) pkg.devDependencies[name] = tarball(name);
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
# The summary must show every frame displayed through the ISP, its counter read back from the ISP's
# NV12 output, and nothing copied: one @dmabuf/core shared by soc-demo and the plugin makes it so.
check_run() { # <summary file> <frames>
  grep -Eq "^frames displayed +$2\$" "$1" || fail "soc-demo did not display $2 frames (see $1)"
  grep -Eq "^frame counters verified +$2\$" "$1" || fail "the ISP's output did not carry the camera's $2 frame counters (see $1)"
  grep -Eq "^bytes copied by the framework +0 B\$" "$1" || fail "the framework copied bytes (see $1)"
  grep -Eq "^bytes copied by the application +0 B\$" "$1" || fail "the application copied bytes (see $1)"
}
mkdir -p out
echo "== soc-demo from this folder: camera -> @example/out-of-tree-isp (installed) -> display"
npx soc-demo --pipeline isp --plugin @example/out-of-tree-isp --frames 30 --png out/frames | tee out/summary.txt
check_run out/summary.txt 30
[ "$(ls out/frames | grep -c '\.png$')" = 30 ] || fail "expected 30 PNGs of the displayed frames in $work/isp/out/frames"
echo "== soc-demo with the plugin given as a folder (--plugin .)"
npx soc-demo --pipeline isp --plugin . --frames 5 | tee out/summary-path.txt
check_run out/summary-path.txt 5

cd "$root"
if [ "$own_work" = 1 ]; then rm -rf "$work"; kept="removed $work"; else kept="results in $work"; fi
echo "== standalone check PASSED in $(( $(date +%s) - start )) s: built, tested, compliant, and displayed 30 frames through the ISP with 0 bytes copied ($kept)"
