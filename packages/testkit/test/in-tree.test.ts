/** Every device of the default board through the suites `dmabuf-compliance --all` runs: all must pass. */
import codecSim from "@dmabuf/codec-sim";
import drmSim from "@dmabuf/drm-sim";
import mm from "@dmabuf/mm";
import v4l2Sim from "@dmabuf/v4l2-sim";
import { inTreeRuns } from "../src/in-tree.js";
import { describeConformance } from "../src/vitest.js";

for (const run of inTreeRuns([mm(), v4l2Sim(), codecSim(), drmSim()])) describeConformance(run.suite, run.target as never, run.title);
