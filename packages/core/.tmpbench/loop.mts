import "reflect-metadata";
import suite from "./suite.mts";
for (const name of ["share cycle, 4 KiB buffer", "share cycle, 2160p XRGB8888 buffer"]) {
  const c = suite.cases[name];
  const st = await c.setup();
  let best = Infinity;
  for (let r = 0; r < 20; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < 100_000; i++) c.fn(st);
    { const u = process.cpuUsage(t0); best = Math.min(best, ((u.user + u.system) * 1e3) / 100_000); }
  }
  console.log(name, best.toFixed(0), "ns (best of 20)");
}
