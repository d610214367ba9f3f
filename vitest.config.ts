import { defineConfig } from "vitest/config";

// One root config; each workspace is a project. Tests run against TypeScript source through the
// "@dmabuf/source" export condition, so nothing has to be built first.
const project = (name: string, dir: string) => ({
  extends: true as const,
  test: { name, root: dir, include: ["test/**/*.test.ts", "src/**/*.test.ts"] },
});

export default defineConfig({
  ssr: { resolve: { conditions: ["@dmabuf/source"] } },
  resolve: { conditions: ["@dmabuf/source"] },
  test: {
    // Property and pipeline tests are CPU-bound; a 2-core CI machine needs more than the 5 s default.
    testTimeout: 30_000,
    setupFiles: [new URL("./vitest.setup.ts", import.meta.url).pathname],
    projects: [
      project("@dmabuf/core", "packages/core"),
      project("@dmabuf/mm", "packages/mm"),
      project("@dmabuf/v4l2-sim", "packages/v4l2-sim"),
      project("@dmabuf/drm-sim", "packages/drm-sim"),
      project("@dmabuf/codec-sim", "packages/codec-sim"),
      project("@dmabuf/testkit", "packages/testkit"),
      project("soc-demo", "apps/soc-demo"),
      project("@example/out-of-tree-isp", "examples/out-of-tree-driver"),
      project("@dmabuf/tooling", "tooling"),
    ],
  },
});
