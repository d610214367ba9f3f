/**
 * Observability: the tracepoints of include/trace/events/v4l2.h (v4l2_qbuf, v4l2_dqbuf) and
 * include/trace/events/vb2.h (vb2_buf_queue, vb2_buf_done) with Linux's fields, and the camera's
 * per-frame slices on its hardware track of the Perfetto (Chrome JSON) trace.
 */
import { describe, expect, it } from "vitest";
import type { Tracer } from "@dmabuf/core";
import { V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12 } from "../src/index.js";
import { boot, buf, dqbuf, qbuf, reqbufs, setFormat, streamon } from "./helpers.js";

async function run(): Promise<{ ftrace: string; chrome: ReturnType<Tracer["chromeTrace"]> }> {
  const k = await boot();
  const p = k.spawn("cam");
  const fd = p.open("/dev/video0");
  await setFormat(p, fd, V4L2_PIX_FMT_NV12, 640, 480);
  await reqbufs(p, fd, 2, V4L2_MEMORY_MMAP);
  await qbuf(p, fd, buf(0, V4L2_MEMORY_MMAP));
  await qbuf(p, fd, buf(1, V4L2_MEMORY_MMAP));
  await streamon(p, fd);
  for (let n = 0; n < 3; n++) await qbuf(p, fd, await dqbuf(p, fd, V4L2_MEMORY_MMAP));
  const out = { ftrace: k.trace.ftrace(), chrome: k.trace.chromeTrace() };
  k.shutdown();
  return out;
}

describe("tracepoints and the camera timeline", () => {
  it("emits v4l2_qbuf/v4l2_dqbuf and vb2_buf_queue/vb2_buf_done with the kernel's field names", async () => {
    const { ftrace } = await run();
    expect(ftrace).toMatch(/cam-\d+ +\[000\] \.+ +0\.000000: v4l2_qbuf: minor=0 index=0 type=1 bytesused=460800 flags=8194 field=1 timestamp=0 timecode_type=0 .* sequence=0/);
    expect(ftrace).toMatch(/vb2_buf_queue: owner=1 queued_count=2 owned_by_drv_count=1 index=0 type=1 bytesused=460800 timestamp=0/);
    expect(ftrace).toMatch(/<idle>-0 +\[000\] \.+ +0\.033333: vb2_buf_done: owner=1 queued_count=2 owned_by_drv_count=2 index=0 type=1 bytesused=460800 timestamp=33333333/);
    // The buffer is dequeued by the task that slept in DQBUF, not by the interrupt that completed it.
    expect(ftrace).toMatch(/cam-\d+ +\[000\] \.+ +0\.033333: v4l2_dqbuf: minor=0 index=0 type=1 bytesused=460800 flags=8192 field=1 timestamp=33333000 .* sequence=0/);
    expect(ftrace.match(/v4l2_dqbuf:/g)).toHaveLength(3);
  });

  it("draws one slice per frame on the camera's hardware track, and the same run gives the same trace", async () => {
    const a = await run();
    const slices = (a.chrome.traceEvents as { ph: string; name: string; dur?: number; args?: { sequence?: number; name?: string } }[]).filter((e) => e.ph === "X" && e.name === "frame");
    expect(slices.map((s) => s.args!.sequence)).toEqual([0, 1, 2]);
    expect(slices.every((s) => s.dur === 33333.333)).toBe(true);
    expect(a.chrome.traceEvents).toContainEqual(expect.objectContaining({ ph: "M", name: "thread_name", args: { name: "vivid.0 camera" } }));
    const b = await run();
    expect(b.ftrace).toBe(a.ftrace);
    expect(JSON.stringify(b.chrome)).toBe(JSON.stringify(a.chrome));
  });
});
