/**
 * Whole-pipeline figures: how much faster than real time the SoC simulates, zero copy against the
 * copy baseline, and the framework's per-frame overhead. Each run boots a kernel and sets the
 * pipeline up; per-frame figures come from the difference between a long and a short run.
 *
 * The framework-overhead figure runs the 160x120 pipeline with `pixels: false`: the camera completes
 * frames without drawing its test pattern and the compositor does not read the frame counter back,
 * and nothing composes (no frame listener), so what remains per frame is the framework alone; with
 * tracing off (`trace: false`), as on a production kernel and as the core and v4l2 suites measure
 * (recording the ~18 events of a frame adds ~4 us). Its
 * long run has 630 frames, so that the difference (~15 ms) stands above a loaded machine's noise.
 * A long run no slower than its short one gives no per-frame figure (NaN: not met), never a negative.
 */
import "reflect-metadata";
import { atLeast, below, copyBaseline, defineSuite } from "@dmabuf/tooling/bench";
import { runPipeline, type PipelineOptions } from "../src/pipeline.js";

const run = (frames: number, o: Partial<PipelineOptions>) => () =>
  runPipeline({ variant: "display", frames, width: 1920, height: 1080, format: "NV12", fps: 30, ...o });
const SHORT = 30;
const LONG = 150;
const LONG_SMALL = 630;
/** ns of virtual time per frame at 30 fps */
const FRAME_NS = 1e9 / 30;
const perFrame = (long: number, short: number, frames = LONG - SHORT) => (long > short ? (long - short) / frames : NaN);

export default defineSuite({
  name: "soc-demo-pipeline",
  cases: {
    "memcpy 1080p NV12": copyBaseline(1920 * 1080 * 1.5),
    "camera -> display 1080p30, 30 frames": { fn: run(SHORT, {}) },
    "camera -> display 1080p30, 150 frames": { fn: run(LONG, {}) },
    "copy baseline -> display 1080p30, 30 frames": { fn: run(SHORT, { variant: "copy-display" }) },
    "copy baseline -> display 1080p30, 150 frames": { fn: run(LONG, { variant: "copy-display" }) },
    "camera -> encoder -> display 1080p30, 30 frames": { fn: run(SHORT, { variant: "full" }) },
    "camera -> display 160x120 no pixels or tracing, 30 frames": { fn: run(SHORT, { width: 160, height: 120, pixels: false, trace: false }) },
    "camera -> display 160x120 no pixels or tracing, 630 frames": { fn: run(LONG_SMALL, { width: 160, height: 120, pixels: false, trace: false }) },
  },
  goals: [
    atLeast("camera -> display at 1080p30 simulates faster than real time (steady state)",
      (m) => FRAME_NS / perFrame(m["camera -> display 1080p30, 150 frames"], m["camera -> display 1080p30, 30 frames"]), 20, "x real time"),
    atLeast("camera -> encoder -> display at 1080p30 simulates faster than real time (30 frames, setup included)",
      (m) => (SHORT * FRAME_NS) / m["camera -> encoder -> display 1080p30, 30 frames"], 2, "x real time",
      "per frame, the encoder's NV12 -> RGB conversion (WebAssembly, ~4 ms) and sharp's JPEG encode (~5 ms on libuv's thread pool, beside the simulation up to the job's earliest completion) dominate; see codec-sim's bench"),
    atLeast("zero-copy camera -> display fps vs the USERPTR + memcpy baseline (steady state)",
      (m) => perFrame(m["copy baseline -> display 1080p30, 150 frames"], m["copy baseline -> display 1080p30, 30 frames"]) /
        perFrame(m["camera -> display 1080p30, 150 frames"], m["camera -> display 1080p30, 30 frames"]), 3, "x",
      "both per-frame costs are long-minus-short differences of whole runs (noisy on a loaded machine); the zero-copy side pays the camera drawing its test pattern plus the framework, the baseline a USERPTR capture and the application's memcpy into a dumb buffer on top; the copies are shown as bytes copied in the soc-demo summary"),
    below("per-frame framework overhead (160x120 pipeline without pixel work or tracing, steady state) vs a 1080p copy",
      (m) => (perFrame(m["camera -> display 160x120 no pixels or tracing, 630 frames"], m["camera -> display 160x120 no pixels or tracing, 30 frames"], LONG_SMALL - SHORT) / m["memcpy 1080p NV12"]) * 100, 1, "%",
      "everything but pixels: QBUF/DQBUF, sync_file export, atomic commit and its commit worker, vblank and flip event, and the virtual-clock hand-offs between three processes: ~18-22 us per frame in this suite (3 processes, shared machine; ~200 us with pixel work and tracing before the issue-12 work), about six syscalls and their promise hand-offs. 1 % of a copy (~650 ns) is about one syscall's worth (QBUF+DQBUF alone is ~0.5-0.7 us), so this goal needs the per-frame path redesigned, not trimmed"),
  ],
});
