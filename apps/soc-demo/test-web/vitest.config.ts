import { defineConfig } from "vitest/config";

// The web view test needs Chromium (Debian's `chromium` package); .ci/run installs it and runs this
// config on its own, so the main suite stays runnable on a machine without a browser.
export default defineConfig({
  test: { include: ["test-web/**/*.test.ts"], testTimeout: 60_000, root: new URL("..", import.meta.url).pathname },
});
