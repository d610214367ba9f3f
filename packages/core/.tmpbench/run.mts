import "reflect-metadata";
import suite from "./suite.mts";
const med: Record<string, number> = {};
for (const [name, c] of Object.entries<any>(suite.cases)) {
  if (process.argv[2] && !name.includes(process.argv[2])) continue;
  const st = c.setup ? await c.setup() : undefined;
  for (let i = 0; i < 2000; i++) c.fn(st);
  const samples: number[] = [];
  for (let r = 0; r < 15; r++) {
    const n = name.startsWith("memcpy") ? 50 : 20000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) c.fn(st);
    samples.push(Number(process.hrtime.bigint() - t0) / n);
  }
  samples.sort((a, b) => a - b);
  med[name] = samples[7]!;
  c.teardown?.(st);
  console.log(name, med[name]!.toFixed(0), "ns");
}
for (const g of suite.goals) console.log(g.name, JSON.stringify(g.evaluate(med)));
