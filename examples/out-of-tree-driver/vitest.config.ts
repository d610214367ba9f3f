import { defineConfig } from "vitest/config";

// Used when the package stands alone (out of the monorepo); inside it the root config's project runs these tests.
export default defineConfig({ test: { include: ["test/**/*.test.ts"], testTimeout: 30_000 } });
