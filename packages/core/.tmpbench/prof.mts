import "reflect-metadata";
import suite from "./suite.mts";
const c = suite.cases["share cycle, 2160p XRGB8888 buffer"];
const st = await c.setup();
const t0 = performance.now();
for (let i = 0; i < 2_000_000; i++) c.fn(st);
console.log(((performance.now() - t0) * 1e6 / 2_000_000).toFixed(0), "ns/cycle");
