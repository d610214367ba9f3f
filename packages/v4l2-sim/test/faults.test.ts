/**
 * Injected faults in a capture device: a camera that stops completing frames (fail_device_stall:
 * userspace sees poll() time out and DQBUF with O_NONBLOCK give EAGAIN, as with a hung sensor;
 * STREAMOFF returns every buffer, vivid_stop_generating_vid_cap) and a frame completed with an
 * error (fail_vb2_buffer_done: vb2_buffer_done(VB2_BUF_STATE_ERROR), DQBUF reports
 * V4L2_BUF_FLAG_ERROR, videobuf2-v4l2.c __fill_v4l2_buffer). Nothing leaks afterwards.
 */
import { POLLIN, assertNoLeaks } from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import {
  V4L2_BUF_FLAG_ERROR, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12, VIDIOC_STREAMOFF,
} from "../src/index.js";
import { O_NONBLOCK, O_RDWR, boot, buf, dqbuf, exportBuffers, qbuf, reqbufs, setFormat, streamon } from "./helpers.js";

describe("fault injection in vivid", () => {
  it("fail_device_stall: after 3 frames the camera hangs; poll times out, DQBUF is EAGAIN; STREAMOFF returns the buffers; no leak", async () => {
    const k = await boot();
    const p = k.spawn("v4l2src");
    const fd = p.open("/dev/video0", O_RDWR | O_NONBLOCK);
    await setFormat(p, fd, V4L2_PIX_FMT_NV12, 320, 240);
    const fds = await exportBuffers(p, fd, 4);
    for (let i = 0; i < 4; i++) await qbuf(p, fd, buf(i, V4L2_MEMORY_MMAP));
    k.faults.configure("fail_device_stall", { probability: 100, interval: 4, times: 1, match: ["vivid.0"] });
    await streamon(p, fd);
    for (let n = 0; n < 3; n++) {
      expect(await p.poll([{ fd, events: POLLIN, revents: 0 }], 1000)).toBe(1);
      const b = await dqbuf(p, fd, V4L2_MEMORY_MMAP);
      expect(b.sequence).toBe(n);
      await qbuf(p, fd, buf(b.index, V4L2_MEMORY_MMAP));
    }
    const t0 = k.clock.now();
    const pfd = [{ fd, events: POLLIN, revents: 0 }];
    expect(await p.poll(pfd, 500)).toBe(0); // the 4th frame never comes
    expect(k.clock.now() - t0).toBe(500e6);
    await expect(dqbuf(p, fd, V4L2_MEMORY_MMAP)).rejects.toMatchObject({ code: "EAGAIN" });
    expect(k.dmesg()).toContain("name fail_device_stall, interval 4, probability 100, space 0, times 0, subject vivid.0");
    await p.ioctl(fd, VIDIOC_STREAMOFF, V4L2_BUF_TYPE_VIDEO_CAPTURE);
    for (const d of fds) p.close(d);
    assertNoLeaks(k);
  });

  it("fail_vb2_buffer_done: the 2nd frame is returned with V4L2_BUF_FLAG_ERROR; streaming goes on", async () => {
    const k = await boot();
    const p = k.spawn("v4l2src");
    const fd = p.open("/dev/video0");
    await setFormat(p, fd, V4L2_PIX_FMT_NV12, 320, 240);
    await reqbufs(p, fd, 3, V4L2_MEMORY_MMAP);
    for (let i = 0; i < 3; i++) await qbuf(p, fd, buf(i, V4L2_MEMORY_MMAP));
    k.faults.configure("fail_vb2_buffer_done", { probability: 100, interval: 2, times: 1, match: ["vivid.0"] });
    await streamon(p, fd);
    const flags: number[] = [];
    for (let n = 0; n < 4; n++) {
      const b = await dqbuf(p, fd, V4L2_MEMORY_MMAP);
      flags.push(b.flags! & V4L2_BUF_FLAG_ERROR);
      await qbuf(p, fd, buf(b.index, V4L2_MEMORY_MMAP));
    }
    expect(flags).toEqual([0, V4L2_BUF_FLAG_ERROR, 0, 0]);
    assertNoLeaks(k);
  });
});
