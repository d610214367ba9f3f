import "reflect-metadata";
import suite from "/work/wt-v4l2/packages/v4l2-sim/bench/camera.bench.ts";
const c = suite.cases["camera 640x480 YUYV frame"]!;
const s = await c.setup!();
for (let i = 0; i < 3000; i++) await c.fn(s);
const t0 = performance.now();
const N = 20000;
for (let i = 0; i < N; i++) await c.fn(s);
console.log("per iter us", ((performance.now() - t0) * 1000) / N);
