import "reflect-metadata";
import { runPipeline } from "./src/pipeline.ts";
const w = Number(process.env.W ?? 160), h = Number(process.env.H ?? 120);
const N = Number(process.env.N ?? 1030);
const pixels = process.env.PIX !== "0";
const run = (frames: number) => runPipeline({ variant: (process.env.V ?? "display") as any, frames, width: w, height: h, format: "NV12", fps: 30, pixels });
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
for (let i = 0; i < 3; i++) await run(200);
let a = Infinity, b = Infinity, wa = Infinity, wb = Infinity;
for (let k = 0; k < Number(process.env.K ?? 8); k++) {
  let t0 = cpu(), w0 = performance.now(); await run(30); a = Math.min(a, cpu() - t0); wa = Math.min(wa, performance.now() - w0);
  t0 = cpu(); w0 = performance.now(); await run(N); b = Math.min(b, cpu() - t0); wb = Math.min(wb, performance.now() - w0);
}
console.log(`perFrame: cpu ${((b - a) / (N - 30) * 1000).toFixed(1)} us, wall ${((wb - wa) / (N - 30) * 1000).toFixed(1)} us`);
