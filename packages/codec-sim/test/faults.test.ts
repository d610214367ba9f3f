/**
 * Injected faults in the mem2mem encoder: a hung codec (fail_device_stall: device_run() starts the
 * job but the completion interrupt never comes; userspace sees poll() time out, and STREAMOFF
 * aborts the job as v4l2_m2m_cancel_job + job_abort do, giving every buffer back), and a job
 * finished with an error (fail_vb2_buffer_done on the encoder: both buffers come back with
 * V4L2_BUF_FLAG_ERROR). Nothing leaks afterwards.
 */
import { POLLIN, assertNoLeaks } from "@dmabuf/core";
import { V4L2_BUF_FLAG_ERROR, V4L2_PIX_FMT_NV12, VIDIOC_STREAMOFF, libv4l2 } from "@dmabuf/v4l2-sim";
import { describe, expect, it } from "vitest";
import { V4L2_PIX_FMT_JPEG } from "../src/index.js";
import { CAP, OUT, bootSoc, dqbuf, qbuf, sFmt } from "./codec-helpers.js";
import { nv12Pattern } from "./heap-access.js";

const W = 320, H = 240;

async function encoder() {
  const k = await bootSoc();
  const p = k.spawn("enc");
  const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
  await sFmt(p, fd, CAP, V4L2_PIX_FMT_JPEG, 0, 0);
  await sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, W, H);
  const outMaps = await libv4l2.mmapBuffers(p, fd, OUT, 2);
  for (const m of outMaps) m.write(0, nv12Pattern(W, H, W, H));
  await libv4l2.mmapBuffers(p, fd, CAP, 2);
  return { k, p, fd, size: (W * H * 3) / 2 };
}

describe("fault injection in the JPEG encoder (v4l2-mem2mem.c)", () => {
  it("fail_device_stall: the 2nd job never completes; poll times out; STREAMOFF aborts it and gives the buffers back; no leak", async () => {
    const { k, p, fd, size } = await encoder();
    k.faults.configure("fail_device_stall", { probability: 100, interval: 2, times: 1, match: ["jpeg-enc.0"] });
    await libv4l2.streamOn(p, fd, OUT, CAP);
    for (let i = 0; i < 2; i++) {
      await qbuf(p, fd, CAP, i);
      await qbuf(p, fd, OUT, i, size, i);
    }
    const first = await dqbuf(p, fd, CAP);
    expect(first.flags! & V4L2_BUF_FLAG_ERROR).toBe(0);
    expect(first.bytesused).toBeGreaterThan(0);
    await dqbuf(p, fd, OUT);
    const t0 = k.clock.now();
    expect(await p.poll([{ fd, events: POLLIN, revents: 0 }], 2000)).toBe(0);
    expect(k.clock.now() - t0).toBe(2000e6);
    await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
    const aborted = await dqbuf(p, fd, CAP).catch((e: { code: string }) => e.code);
    // STREAMOFF returns queued buffers to userspace ownership; a DQBUF after it is EINVAL (not streaming).
    expect(aborted).toBe("EINVAL");
    expect(k.trace.events("codec_job_finish")).toHaveLength(1);
    expect(k.dmesg()).toContain("subject jpeg-enc.0");
    assertNoLeaks(k);
  });

  it("fail_vb2_buffer_done: an encode job finished in error hands back its buffers with V4L2_BUF_FLAG_ERROR; the next job is fine", async () => {
    const { k, p, fd, size } = await encoder();
    k.faults.configure("fail_vb2_buffer_done", { probability: 100, times: 2, match: ["jpeg-enc.0"] });
    await libv4l2.streamOn(p, fd, OUT, CAP);
    for (let i = 0; i < 2; i++) {
      await qbuf(p, fd, CAP, i);
      await qbuf(p, fd, OUT, i, size, i);
    }
    const a = await dqbuf(p, fd, OUT);
    const b = await dqbuf(p, fd, CAP);
    const c = await dqbuf(p, fd, CAP);
    expect([a.flags! & V4L2_BUF_FLAG_ERROR, b.flags! & V4L2_BUF_FLAG_ERROR, c.flags! & V4L2_BUF_FLAG_ERROR]).toEqual([V4L2_BUF_FLAG_ERROR, V4L2_BUF_FLAG_ERROR, 0]);
    expect(c.bytesused).toBeGreaterThan(0);
    assertNoLeaks(k);
  });
});
