import { describe, expect, it } from "vitest";
import { Kernel } from "../src/index.js";

describe("tracing (kernel/trace)", () => {
  it("renders /sys/kernel/tracing/trace in ftrace's text format with virtual timestamps and the running task", async () => {
    const k = await Kernel.boot({ board: { memory: { size: "16M" } } });
    const p = k.spawn("camera");
    k.clock.advance(1_500_000_000);
    p.exit();
    const text = await k.spawn("cat").readFile("/sys/kernel/tracing/trace");
    expect(text.startsWith("# tracer: nop\n#\n# entries-in-buffer/entries-written: 3/3   #P:1\n")).toBe(true);
    expect(text).toContain("          camera-100     [000] .....     1.500000: sched_process_exit: comm=camera pid=100 prio=120\n");
    expect(text).toContain("          <idle>-0       [000] .....     0.000000: sched_process_fork: comm=camera pid=100\n");
  });

  it("tracing_on=0 stops recording; writing the trace file clears it", async () => {
    const k = await Kernel.boot({ board: { memory: { size: "16M" } } });
    const p = k.spawn("sh");
    await p.writeFile("/sys/kernel/tracing/tracing_on", "0\n");
    k.spawn("quiet");
    expect(k.trace.events("sched_process_fork").map((e) => e.args.comm)).toEqual(["sh"]);
    expect(await p.readFile("/sys/kernel/tracing/tracing_on")).toBe("0\n");
    await p.writeFile("/sys/kernel/tracing/trace", "");
    expect(k.trace.events()).toEqual([]);
  });

  it("exports Chrome trace-event JSON that Perfetto loads: metadata, instants per task, slices per hardware track", async () => {
    const k = await Kernel.boot({ board: { memory: { size: "16M" } } });
    k.spawn("app");
    k.trace.slice("vivid.0", "frame", 1000, 33_000_000, { sequence: 0 });
    const json = JSON.parse(JSON.stringify(k.trace.chromeTrace())) as { traceEvents: { ph: string; name: string; ts: number; dur?: number; args: Record<string, unknown> }[] };
    const phases = json.traceEvents.map((e) => e.ph);
    expect(phases).toEqual(["M", "i", "M", "X", "M"]);
    const slice = json.traceEvents.find((e) => e.ph === "X")!;
    expect(slice).toMatchObject({ name: "frame", ts: 1, dur: 33000, args: { sequence: 0 } });
    expect(json.traceEvents.find((e) => e.ph === "M" && e.args.name === "vivid.0")).toBeDefined();
  });
});
