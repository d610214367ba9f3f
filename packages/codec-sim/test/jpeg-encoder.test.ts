import { afterEach, describe, expect, it } from "vitest";
import sharp from "sharp";
import { POLLERR, POLLIN, POLLOUT, POLLPRI, assertNoLeaks, type Errno, type Kernel, type Process } from "@dmabuf/core";
import {
  V4L2_BUF_FLAG_ERROR, V4L2_BUF_FLAG_KEYFRAME, V4L2_BUF_FLAG_LAST, V4L2_BUF_FLAG_TIMESTAMP_COPY, V4L2_BUF_FLAG_TIMESTAMP_MASK,
  V4L2_CAP_STREAMING, V4L2_CAP_VIDEO_M2M, V4L2_EVENT_EOS, V4L2_EVENT_SOURCE_CHANGE, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_YUYV, VIDIOC_DQEVENT, VIDIOC_ENUM_FMT, VIDIOC_ENUM_FRAMESIZES, VIDIOC_EXPBUF, VIDIOC_G_PARM, VIDIOC_QUERYCAP, VIDIOC_REQBUFS, VIDIOC_S_PARM,
  VIDIOC_STREAMOFF, VIDIOC_SUBSCRIBE_EVENT, VIDIOC_TRY_FMT, type v4l2_event, type v4l2_frmsizeenum, type v4l2_streamparm, libv4l2 } from "@dmabuf/v4l2-sim";
import {
  ENCODER_COST, V4L2_DEC_CMD_STOP, V4L2_ENC_CMD_PAUSE, V4L2_ENC_CMD_RESUME, V4L2_ENC_CMD_START, V4L2_ENC_CMD_STOP,
  V4L2_ENC_CMD_STOP_AT_GOP_END, V4L2_FMT_FLAG_COMPRESSED, V4L2_PIX_FMT_JPEG, V4L2_SEL_TGT_CROP, V4L2_SEL_TGT_CROP_BOUNDS, VIDIOC_DECODER_CMD,
  VIDIOC_ENCODER_CMD, VIDIOC_G_SELECTION, VIDIOC_S_SELECTION, VIDIOC_TRY_ENCODER_CMD, jobTimeNs, probeJpeg,
  type CodecConstraints, type JpegM2mDevice, type v4l2_encoder_cmd, type v4l2_selection,
} from "../src/index.js";
import { CAP, OUT, bootSoc, dqbuf, gFmt, qbuf, sFmt } from "./codec-helpers.js";
import { nv12Pattern } from "./heap-access.js";

const W = 320, H = 240;
let kernel: Kernel | undefined;
// Every test ends with the kernel shut down and nothing left alive (no fd, dma-buf, attachment or mapping).
afterEach(() => {
  const k = kernel;
  kernel = undefined;
  if (k) assertNoLeaks(k);
});

/** An encoder opened, set to W x H NV12, with MMAP buffers on both queues and OUTPUT filled. */
async function encoder(outCount = 4, capCount = 4) {
  kernel = await bootSoc();
  const p = kernel.spawn("enc-test");
  const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
  await sFmt(p, fd, CAP, V4L2_PIX_FMT_JPEG, 0, 0);
  await sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, W, H);
  const outMaps = await libv4l2.mmapBuffers(p, fd, OUT, outCount);
  const frame = nv12Pattern(W, H, W, H);
  for (const m of outMaps) m.write(0, frame);
  const capMaps = await libv4l2.mmapBuffers(p, fd, CAP, capCount);
  return { p, fd, outMaps, capMaps, frame };
}

const encCmd = (p: Process, fd: number, cmd: number, flags = 0) => p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd, flags } satisfies v4l2_encoder_cmd);
const errnoOf = async (pr: Promise<unknown>) => (await pr.then(() => undefined, (e: Errno) => e.code)) as string | undefined;

describe("stateful JPEG encoder (dev-encoder.rst)", () => {
  it("reports an M2M streaming device, its raw OUTPUT formats, the compressed CAPTURE format and stepwise sizes (v4l2-compliance testCap, testEnumFormats)", async () => {
    kernel = await bootSoc();
    const p = kernel.spawn("caps");
    const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
    const cap = { driver: "", card: "", bus_info: "", version: 0, capabilities: 0, device_caps: 0 };
    await p.ioctl(fd, VIDIOC_QUERYCAP, cap);
    expect(cap).toMatchObject({ driver: "sim-jpeg", card: "sim-jpeg-encoder", bus_info: "platform:jpeg-enc.0", device_caps: V4L2_CAP_VIDEO_M2M | V4L2_CAP_STREAMING });
    const formats = async (type: number) => {
      const out: [number, number][] = [];
      for (let index = 0; ; index++) {
        const f = { index, type, flags: 0, pixelformat: 0 };
        if (await errnoOf(p.ioctl(fd, VIDIOC_ENUM_FMT, f))) return out;
        out.push([f.pixelformat, f.flags]);
      }
    };
    expect(await formats(OUT)).toEqual([[V4L2_PIX_FMT_NV12, 0], [V4L2_PIX_FMT_YUYV, 0], [V4L2_PIX_FMT_XBGR32, 0]]);
    expect(await formats(CAP)).toEqual([[V4L2_PIX_FMT_JPEG, V4L2_FMT_FLAG_COMPRESSED]]);
    const fs = { index: 0, pixel_format: V4L2_PIX_FMT_NV12 } as v4l2_frmsizeenum;
    await p.ioctl(fd, VIDIOC_ENUM_FRAMESIZES, fs);
    expect(fs.stepwise).toMatchObject({ step_width: 16, step_height: 16, min_width: 16, max_width: 8192 });
    // TRY_FMT adjusts the request and changes nothing.
    const before = await gFmt(p, fd, OUT);
    const t = { type: OUT, fmt: { pix: { width: 999, height: 333, pixelformat: V4L2_PIX_FMT_NV12, field: 0, bytesperline: 0, sizeimage: 0, colorspace: 0 } } };
    await p.ioctl(fd, VIDIOC_TRY_FMT, t);
    expect(t.fmt.pix).toMatchObject({ width: 1008, height: 336, bytesperline: 1024 });
    expect(await gFmt(p, fd, OUT)).toEqual(before);
  });

  it("negotiates formats with the device's alignment: height to 16 lines, bytesperline to 64 bytes, crop selects the visible 1920x1080", async () => {
    kernel = await bootSoc();
    const p = kernel.spawn("fmt");
    const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
    const f = await sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, 1920, 1080);
    expect(f.fmt.pix).toMatchObject({ width: 1920, height: 1088, bytesperline: 1920, sizeimage: 1920 * 1088 * 1.5 });
    // Setting the OUTPUT format resets the crop to the full frame (dev-encoder.rst Initialization step 3).
    const sel: v4l2_selection = { type: OUT, target: V4L2_SEL_TGT_CROP, flags: 0, r: { left: 0, top: 0, width: 0, height: 0 } };
    await p.ioctl(fd, VIDIOC_G_SELECTION, sel);
    expect(sel.r).toEqual({ left: 0, top: 0, width: 1920, height: 1088 });
    sel.r = { left: 0, top: 0, width: 1920, height: 1080 };
    await p.ioctl(fd, VIDIOC_S_SELECTION, sel);
    expect(sel.r).toEqual({ left: 0, top: 0, width: 1920, height: 1080 });
    const bounds: v4l2_selection = { type: OUT, target: V4L2_SEL_TGT_CROP_BOUNDS, flags: 0, r: { left: 0, top: 0, width: 0, height: 0 } };
    await p.ioctl(fd, VIDIOC_G_SELECTION, bounds);
    expect(bounds.r).toMatchObject({ width: 1920, height: 1088 });
    // CAPTURE width/height are read-only: the coded picture.
    expect((await gFmt(p, fd, CAP)).fmt.pix).toMatchObject({ pixelformat: V4L2_PIX_FMT_JPEG, width: 1920, height: 1080 });
    // YUYV 1000x500: width to the 16-pixel MCU, 2000 bytes per line up to 2048.
    expect((await sFmt(p, fd, OUT, V4L2_PIX_FMT_YUYV, 1000, 500)).fmt.pix).toMatchObject({ width: 1008, height: 512, bytesperline: 2048, sizeimage: 2048 * 512 });
    // The constraints the placement logic reads come from the board (heightAlign 16, strideAlign 64).
    const dev = kernel.devices.find((d) => d.name === "jpeg-enc.0")!;
    expect((dev.driverData as JpegM2mDevice).constraints).toMatchObject({ heightAlign: 16, strideAlign: 64 } satisfies Partial<CodecConstraints>);
  });

  it("keeps the raw and coded frame intervals: S_PARM(OUTPUT) sets both, S_PARM(CAPTURE) only the coded one (dev-encoder.rst Initialization 4-5)", async () => {
    kernel = await bootSoc();
    const p = kernel.spawn("parm");
    const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
    const get = async (type: number) => {
      const sp: v4l2_streamparm = { type, parm: {} };
      await p.ioctl(fd, VIDIOC_G_PARM, sp);
      return (sp.parm.output ?? sp.parm.capture)!.timeperframe;
    };
    expect(await get(OUT)).toEqual({ numerator: 1, denominator: 30 });
    await p.ioctl(fd, VIDIOC_S_PARM, { type: OUT, parm: { output: { timeperframe: { numerator: 1, denominator: 60 } } } });
    expect([await get(OUT), await get(CAP)]).toEqual([{ numerator: 1, denominator: 60 }, { numerator: 1, denominator: 60 }]);
    await p.ioctl(fd, VIDIOC_S_PARM, { type: CAP, parm: { capture: { timeperframe: { numerator: 1, denominator: 24 } } } });
    expect([await get(OUT), await get(CAP)]).toEqual([{ numerator: 1, denominator: 60 }, { numerator: 1, denominator: 24 }]);
    const dec = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-decoder"));
    expect(await errnoOf(p.ioctl(dec, VIDIOC_G_PARM, { type: OUT, parm: {} }))).toBe("ENOTTY");
  });

  it("refuses format changes with EBUSY once buffers are allocated (dev-encoder.rst Commit points)", async () => {
    const { p, fd } = await encoder(1, 1);
    expect(await errnoOf(sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, 640, 480))).toBe("EBUSY");
    expect(await errnoOf(sFmt(p, fd, CAP, V4L2_PIX_FMT_JPEG, 0, 0, 8 << 20))).toBe("EBUSY");
    // The same format again is not a change.
    expect(await errnoOf(sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, W, H))).toBeUndefined();
  });

  it("encodes each OUTPUT frame into a JFIF JPEG on CAPTURE with the OUTPUT timestamp copied (v4l2-compliance captureBufs: M2M timestamp copy)", async () => {
    const { p, fd, capMaps } = await encoder();
    for (let i = 0; i < 4; i++) await qbuf(p, fd, CAP, i);
    await libv4l2.streamOn(p, fd, OUT, CAP);
    for (let i = 0; i < 3; i++) await qbuf(p, fd, OUT, i, 0, 1_000_000 + i * 33_333);
    for (let i = 0; i < 3; i++) {
      const out = await dqbuf(p, fd, OUT);
      const cap = await dqbuf(p, fd, CAP);
      expect(out.sequence).toBe(i);
      expect(cap.sequence).toBe(i);
      expect(cap.flags! & V4L2_BUF_FLAG_TIMESTAMP_MASK).toBe(V4L2_BUF_FLAG_TIMESTAMP_COPY);
      expect(cap.timestamp).toEqual({ tv_sec: 1, tv_usec: i * 33_333 });
      expect(cap.flags! & (V4L2_BUF_FLAG_KEYFRAME | V4L2_BUF_FLAG_ERROR | V4L2_BUF_FLAG_LAST)).toBe(V4L2_BUF_FLAG_KEYFRAME);
      const jpeg = capMaps[cap.index]!.read(0, cap.bytesused!);
      expect(probeJpeg(jpeg)).toMatchObject({ width: W, height: H });
      expect((await sharp(Buffer.from(jpeg)).metadata()).format).toBe("jpeg");
    }
  });

  it("completes a job at its start plus the cost model's time, traced as codec_job_start/finish and a hardware slice", async () => {
    const { p, fd } = await encoder();
    await qbuf(p, fd, CAP, 0);
    await libv4l2.streamOn(p, fd, OUT, CAP);
    await qbuf(p, fd, OUT, 0);
    const cap = await dqbuf(p, fd, CAP);
    const start = kernel!.trace.events("codec_job_start")[0]!;
    const finish = kernel!.trace.events("codec_job_finish")[0]!;
    expect(finish.ts - start.ts).toBe(jobTimeNs(ENCODER_COST, W, H, cap.bytesused!));
    expect(finish.args).toMatchObject({ dev: "jpeg-enc.0", bytes: cap.bytesused, status: 0 });
    const slice = kernel!.trace.events((r) => r.track === "jpeg-enc.0")[0]!;
    expect(slice).toMatchObject({ event: "encode", ts: start.ts, dur: finish.ts - start.ts });
    expect(kernel!.trace.ftrace()).toContain("codec_job_finish: dev=jpeg-enc.0");
    // Perfetto: the job is a slice on a "jpeg-enc.0" thread of the "hardware" process.
    const events = kernel!.trace.chromeTrace().traceEvents as { ph: string; name: string; tid?: number; args?: { name?: string }; dur?: number }[];
    const track = events.find((e) => e.ph === "M" && e.name === "thread_name" && e.args?.name === "jpeg-enc.0")!;
    expect(events.find((e) => e.ph === "X" && e.name === "encode" && e.tid === track.tid)?.dur).toBe((finish.ts - start.ts) / 1000);
  });

  it("drains on V4L2_ENC_CMD_STOP: queued frames are encoded, the last CAPTURE buffer has LAST, then DQBUF gives EPIPE and EOS is raised; START resumes (V20, v4l2-compliance stateful end of stream)", async () => {
    const { p, fd } = await encoder();
    await p.ioctl(fd, VIDIOC_SUBSCRIBE_EVENT, { type: V4L2_EVENT_EOS, id: 0, flags: 0 });
    for (let i = 0; i < 4; i++) await qbuf(p, fd, CAP, i);
    await libv4l2.streamOn(p, fd, OUT, CAP);
    for (let i = 0; i < 2; i++) await qbuf(p, fd, OUT, i);
    await encCmd(p, fd, V4L2_ENC_CMD_STOP);
    const first = await dqbuf(p, fd, CAP);
    const last = await dqbuf(p, fd, CAP);
    expect(first.flags! & V4L2_BUF_FLAG_LAST).toBe(0);
    expect(last.flags! & V4L2_BUF_FLAG_LAST).toBe(V4L2_BUF_FLAG_LAST);
    expect(last.bytesused).toBeGreaterThan(0);
    expect(await errnoOf(dqbuf(p, fd, CAP))).toBe("EPIPE");
    const ev = { type: 0 } as v4l2_event;
    await p.ioctl(fd, VIDIOC_DQEVENT, ev);
    expect(ev.type).toBe(V4L2_EVENT_EOS);
    // Stopped: a new OUTPUT frame waits until START.
    for (let i = 0; i < 2; i++) await dqbuf(p, fd, OUT);
    await qbuf(p, fd, OUT, 0);
    await qbuf(p, fd, CAP, first.index);
    await encCmd(p, fd, V4L2_ENC_CMD_START);
    await qbuf(p, fd, OUT, 1);
    const resumed = await dqbuf(p, fd, CAP);
    expect(resumed.flags! & V4L2_BUF_FLAG_LAST).toBe(0);
    expect(resumed.bytesused).toBeGreaterThan(0);
  });

  it("poll() streams like DQBUF: POLLERR before streaming, POLLIN|POLLOUT when a frame is done, POLLPRI for EOS, POLLIN after the LAST buffer (V22, v4l2_m2m_poll)", async () => {
    const { p, fd } = await encoder();
    await p.ioctl(fd, VIDIOC_SUBSCRIBE_EVENT, { type: V4L2_EVENT_EOS, id: 0, flags: 0 });
    const pfd = { fd, events: POLLIN | POLLOUT | POLLPRI, revents: 0 };
    expect(await p.poll([pfd], 0)).toBe(1);
    expect(pfd.revents & POLLERR).toBe(POLLERR);
    await qbuf(p, fd, CAP, 0);
    await libv4l2.streamOn(p, fd, OUT, CAP);
    await qbuf(p, fd, OUT, 0);
    // Blocks in virtual time until the job completes.
    expect(await p.poll([pfd], -1)).toBe(1);
    expect(pfd.revents & (POLLIN | POLLOUT)).toBe(POLLIN | POLLOUT);
    await dqbuf(p, fd, CAP);
    await dqbuf(p, fd, OUT);
    await encCmd(p, fd, V4L2_ENC_CMD_STOP);
    await qbuf(p, fd, CAP, 1);
    await p.poll([pfd], -1);
    expect(pfd.revents & (POLLIN | POLLPRI)).toBe(POLLIN | POLLPRI);
    expect((await dqbuf(p, fd, CAP)).flags! & V4L2_BUF_FLAG_LAST).toBe(V4L2_BUF_FLAG_LAST);
    // DQBUF would now give EPIPE: poll says readable so that the client finds out.
    pfd.events = POLLIN;
    expect(await p.poll([pfd], 0)).toBe(1);
    expect(pfd.revents & POLLIN).toBe(POLLIN);
  });

  it("STOP with no OUTPUT frame pending returns the next CAPTURE buffer empty with LAST (dev-encoder.rst Drain)", async () => {
    const { p, fd } = await encoder();
    await libv4l2.streamOn(p, fd, OUT, CAP);
    await encCmd(p, fd, V4L2_ENC_CMD_STOP);
    await qbuf(p, fd, CAP, 0);
    const last = await dqbuf(p, fd, CAP);
    expect(last.flags! & V4L2_BUF_FLAG_LAST).toBe(V4L2_BUF_FLAG_LAST);
    expect(last.bytesused).toBe(0);
    expect(await errnoOf(dqbuf(p, fd, CAP))).toBe("EPIPE");
  });

  it("refuses STOP and START while draining with EBUSY, and accepts STOP before streaming as a no-op (v4l2_m2m_encoder_cmd)", async () => {
    const { p, fd } = await encoder();
    expect(await errnoOf(encCmd(p, fd, V4L2_ENC_CMD_STOP))).toBeUndefined();
    await qbuf(p, fd, CAP, 0);
    await libv4l2.streamOn(p, fd, OUT, CAP);
    await qbuf(p, fd, OUT, 0);
    await qbuf(p, fd, OUT, 1);
    await encCmd(p, fd, V4L2_ENC_CMD_STOP);
    expect(await errnoOf(encCmd(p, fd, V4L2_ENC_CMD_STOP))).toBe("EBUSY");
    expect(await errnoOf(encCmd(p, fd, V4L2_ENC_CMD_START))).toBe("EBUSY");
  });

  it("STREAMOFF(OUTPUT) in the middle of a drain completes it: the next CAPTURE buffer is empty with LAST (dev-encoder.rst Drain)", async () => {
    const { p, fd } = await encoder();
    await libv4l2.streamOn(p, fd, OUT, CAP);
    await qbuf(p, fd, OUT, 0);
    await encCmd(p, fd, V4L2_ENC_CMD_STOP);
    await p.ioctl(fd, VIDIOC_STREAMOFF, OUT);
    await qbuf(p, fd, CAP, 0);
    const last = await dqbuf(p, fd, CAP);
    expect([last.flags! & V4L2_BUF_FLAG_LAST, last.bytesused]).toEqual([V4L2_BUF_FLAG_LAST, 0]);
  });

  it("TRY_ENCODER_CMD accepts only START and STOP and clears the flags; PAUSE/RESUME are EINVAL; DECODER_CMD is ENOTTY (V21, v4l2-compliance testEncoder)", async () => {
    kernel = await bootSoc();
    const p = kernel.spawn("cmd");
    const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
    for (const cmd of [V4L2_ENC_CMD_STOP, V4L2_ENC_CMD_START]) {
      const c: v4l2_encoder_cmd = { cmd, flags: V4L2_ENC_CMD_STOP_AT_GOP_END };
      await p.ioctl(fd, VIDIOC_TRY_ENCODER_CMD, c);
      expect(c.flags).toBe(0);
    }
    for (const cmd of [V4L2_ENC_CMD_PAUSE, V4L2_ENC_CMD_RESUME, 99])
      expect(await errnoOf(p.ioctl(fd, VIDIOC_TRY_ENCODER_CMD, { cmd, flags: 0 }))).toBe("EINVAL");
    expect(await errnoOf(p.ioctl(fd, VIDIOC_DECODER_CMD, { cmd: V4L2_DEC_CMD_STOP, flags: 0 }))).toBe("ENOTTY");
    // An encoder has no source change to report (vicodec_subscribe_event).
    expect(await errnoOf(p.ioctl(fd, VIDIOC_SUBSCRIBE_EVENT, { type: V4L2_EVENT_SOURCE_CHANGE, id: 0, flags: 0 }))).toBe("EINVAL");
    // A node that is not a codec has no ENCODER_CMD at all.
    const cam = p.open(await libv4l2.findVideoNode(p, "vivid-vivid.0-vid-cap"));
    expect(await errnoOf(p.ioctl(cam, VIDIOC_TRY_ENCODER_CMD, { cmd: V4L2_ENC_CMD_STOP, flags: 0 }))).toBe("ENOTTY");
  });

  it("returns a CAPTURE buffer too small for the JPEG with V4L2_BUF_FLAG_ERROR (dev-encoder.rst Encoding)", async () => {
    kernel = await bootSoc();
    const p = kernel.spawn("small");
    const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"));
    await sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, W, H);
    expect((await sFmt(p, fd, CAP, V4L2_PIX_FMT_JPEG, 0, 0, 4096)).fmt.pix!.sizeimage).toBe(4096);
    const [out] = await libv4l2.mmapBuffers(p, fd, OUT, 1);
    // Noise does not compress into 4 KiB.
    out!.write(0, Uint8Array.from({ length: W * H * 1.5 }, (_, i) => (i * 2654435761) >>> 24));
    await libv4l2.mmapBuffers(p, fd, CAP, 1);
    await qbuf(p, fd, CAP, 0);
    await libv4l2.streamOn(p, fd, OUT, CAP);
    await qbuf(p, fd, OUT, 0);
    const cap = await dqbuf(p, fd, CAP);
    expect(cap.flags! & V4L2_BUF_FLAG_ERROR).toBe(V4L2_BUF_FLAG_ERROR);
    expect(cap.bytesused).toBe(0);
  });

  it("exports MMAP CAPTURE buffers with EXPBUF (V6, v4l2-compliance testExpBuf)", async () => {
    const { p, fd } = await encoder(1, 2);
    for (const index of [0, 1]) {
      const e = { type: CAP, index, plane: 0, flags: 0, fd: -1 };
      await p.ioctl(fd, VIDIOC_EXPBUF, e);
      expect(e.fd).toBeGreaterThanOrEqual(0);
      p.close(e.fd);
    }
    await p.ioctl(fd, VIDIOC_REQBUFS, { count: 0, type: CAP, memory: V4L2_MEMORY_MMAP });
  });
});
