import { afterEach, describe, expect, it } from "vitest";
import sharp from "sharp";
import { assertNoLeaks, type Errno, type Kernel, type Process, type VmArea } from "@dmabuf/core";
import {
  V4L2_BUF_FLAG_ERROR, V4L2_BUF_FLAG_KEYFRAME, V4L2_BUF_FLAG_LAST, V4L2_BUF_FLAG_TIMESTAMP_COPY, V4L2_BUF_FLAG_TIMESTAMP_MASK,
  V4L2_EVENT_EOS, V4L2_EVENT_SOURCE_CHANGE, V4L2_EVENT_SRC_CH_RESOLUTION, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32,
  VIDIOC_DQEVENT, VIDIOC_REQBUFS, VIDIOC_STREAMOFF, VIDIOC_SUBSCRIBE_EVENT, type v4l2_event, libv4l2 } from "@dmabuf/v4l2-sim";
import {
  DECODER_COST, V4L2_DEC_CMD_FLUSH, V4L2_DEC_CMD_PAUSE, V4L2_DEC_CMD_RESUME, V4L2_DEC_CMD_START, V4L2_DEC_CMD_STOP,
  V4L2_DEC_CMD_STOP_IMMEDIATELY, V4L2_ENC_CMD_STOP, V4L2_PIX_FMT_JPEG, V4L2_SEL_TGT_COMPOSE, V4L2_SEL_TGT_COMPOSE_PADDED, V4L2_SEL_TGT_CROP_BOUNDS,
  VIDIOC_DECODER_CMD, VIDIOC_ENCODER_CMD, VIDIOC_G_SELECTION, VIDIOC_TRY_DECODER_CMD, jobTimeNs, psnr,
  type v4l2_decoder_cmd, type v4l2_selection,
} from "../src/index.js";
import { CAP, OUT, bootSoc, dqbuf, gFmt, qbuf, sFmt } from "./codec-helpers.js";

let kernel: Kernel | undefined;
// Every test ends with the kernel shut down and nothing left alive (no fd, dma-buf, attachment or mapping).
afterEach(() => {
  const k = kernel;
  kernel = undefined;
  if (k) assertNoLeaks(k);
});

/** A grey-ramp RGB picture and its JPEG from an independent encoder (libvips). */
async function picture(width: number, height: number, seed = 0) {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) rgb.fill((x + y + seed) & 255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  const jpeg = new Uint8Array(await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer());
  // The luma a BT.601 limited-range decoder should produce for it.
  const luma = Uint8Array.from({ length: width * height }, (_, i) => Math.round(16 + (219 * rgb[i * 3]!) / 255));
  return { jpeg, luma };
}

/** Decoder with MMAP OUTPUT buffers, subscribed to SOURCE_CHANGE and EOS. */
async function decoder(outCount = 4) {
  kernel = await bootSoc();
  const p = kernel.spawn("dec-test");
  const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-decoder"));
  await p.ioctl(fd, VIDIOC_SUBSCRIBE_EVENT, { type: V4L2_EVENT_SOURCE_CHANGE, id: 0, flags: 0 });
  await p.ioctl(fd, VIDIOC_SUBSCRIBE_EVENT, { type: V4L2_EVENT_EOS, id: 0, flags: 0 });
  await sFmt(p, fd, OUT, V4L2_PIX_FMT_JPEG, 0, 0, 1 << 20);
  const outMaps = await libv4l2.mmapBuffers(p, fd, OUT, outCount);
  return { p, fd, outMaps };
}

async function queueJpeg(p: Process, fd: number, maps: VmArea[], index: number, jpeg: Uint8Array, timestampUs = 0) {
  maps[index]!.write(0, jpeg);
  await qbuf(p, fd, OUT, index, jpeg.length, timestampUs);
}

async function dqevent(p: Process, fd: number): Promise<v4l2_event> {
  const ev = { type: 0 } as v4l2_event;
  await p.ioctl(fd, VIDIOC_DQEVENT, ev);
  return ev;
}

/** CAPTURE set up after the SOURCE_CHANGE event: G_FMT, MMAP buffers, all queued, STREAMON. */
async function setupCapture(p: Process, fd: number, count: number) {
  const fmt = (await gFmt(p, fd, CAP)).fmt.pix!;
  const maps = await libv4l2.mmapBuffers(p, fd, CAP, count);
  for (let i = 0; i < count; i++) await qbuf(p, fd, CAP, i);
  await libv4l2.streamOn(p, fd, CAP);
  return { fmt, maps };
}

const errnoOf = async (pr: Promise<unknown>) => (await pr.then(() => undefined, (e: Errno) => e.code)) as string | undefined;

describe("stateful JPEG decoder (dev-decoder.rst)", () => {
  it("raises V4L2_EVENT_SOURCE_CHANGE (RESOLUTION) from the stream's headers before CAPTURE is set up, then decodes into the announced format (V19, v4l2-compliance testDmaBuf stateful decoder)", async () => {
    const { p, fd, outMaps } = await decoder();
    const { jpeg, luma } = await picture(330, 250);
    await queueJpeg(p, fd, outMaps, 0, jpeg, 5_000_000);
    await libv4l2.streamOn(p, fd, OUT);
    const ev = await dqevent(p, fd);
    expect(ev.type).toBe(V4L2_EVENT_SOURCE_CHANGE);
    expect(ev.u.src_change!.changes).toBe(V4L2_EVENT_SRC_CH_RESOLUTION);
    // Coded size: width to the 16-pixel MCU, height to 16 lines, bytesperline to 64 bytes.
    const { fmt, maps } = await setupCapture(p, fd, 2);
    expect(fmt).toMatchObject({ pixelformat: V4L2_PIX_FMT_NV12, width: 336, height: 256, bytesperline: 384, sizeimage: 384 * 256 * 1.5 });
    const compose: v4l2_selection = { type: CAP, target: V4L2_SEL_TGT_COMPOSE, flags: 0, r: { left: 0, top: 0, width: 0, height: 0 } };
    await p.ioctl(fd, VIDIOC_G_SELECTION, compose);
    expect(compose.r).toEqual({ left: 0, top: 0, width: 330, height: 250 });
    // The hardware writes no padding (COMPOSE_PADDED = COMPOSE); CROP_BOUNDS is the coded size.
    const padded = { ...compose, target: V4L2_SEL_TGT_COMPOSE_PADDED };
    await p.ioctl(fd, VIDIOC_G_SELECTION, padded);
    expect(padded.r).toMatchObject({ width: 330, height: 250 });
    const bounds = { ...compose, target: V4L2_SEL_TGT_CROP_BOUNDS };
    await p.ioctl(fd, VIDIOC_G_SELECTION, bounds);
    expect(bounds.r).toMatchObject({ width: 336, height: 256 });
    const cap = await dqbuf(p, fd, CAP);
    expect(cap.bytesused).toBe(fmt.sizeimage);
    expect(cap.flags! & (V4L2_BUF_FLAG_TIMESTAMP_MASK | V4L2_BUF_FLAG_KEYFRAME | V4L2_BUF_FLAG_ERROR)).toBe(V4L2_BUF_FLAG_TIMESTAMP_COPY | V4L2_BUF_FLAG_KEYFRAME);
    expect(cap.timestamp).toEqual({ tv_sec: 5, tv_usec: 0 });
    const y = maps[cap.index]!.read(0, fmt.bytesperline * 250);
    expect(psnr(luma, 330, y, fmt.bytesperline, 330, 250)).toBeGreaterThan(40);
    // The job took the decoder's cost model time for this bitstream.
    const [start, finish] = [kernel!.trace.events("codec_job_start")[0]!, kernel!.trace.events("codec_job_finish")[0]!];
    expect(finish.ts - start.ts).toBe(jobTimeNs(DECODER_COST, 330, 250, jpeg.length));
  });

  it("on a resolution change mid-stream returns an empty LAST buffer and SOURCE_CHANGE; DQBUF then gives EPIPE until CAPTURE is set up again (dev-decoder.rst Dynamic resolution change)", async () => {
    const { p, fd, outMaps } = await decoder();
    const small = await picture(320, 240), big = await picture(640, 480, 7);
    await queueJpeg(p, fd, outMaps, 0, small.jpeg, 1);
    await libv4l2.streamOn(p, fd, OUT);
    expect((await dqevent(p, fd)).type).toBe(V4L2_EVENT_SOURCE_CHANGE);
    await setupCapture(p, fd, 2);
    expect((await dqbuf(p, fd, CAP)).bytesused).toBe(320 * 240 * 1.5);
    await queueJpeg(p, fd, outMaps, 1, big.jpeg, 2);
    const last = await dqbuf(p, fd, CAP);
    expect([last.flags! & V4L2_BUF_FLAG_LAST, last.bytesused]).toEqual([V4L2_BUF_FLAG_LAST, 0]);
    const ev = await dqevent(p, fd);
    expect([ev.type, ev.u.src_change!.changes]).toEqual([V4L2_EVENT_SOURCE_CHANGE, V4L2_EVENT_SRC_CH_RESOLUTION]);
    expect(await errnoOf(dqbuf(p, fd, CAP))).toBe("EPIPE");
    // Capture setup again, OUTPUT keeps streaming: the 640x480 frame is decoded.
    await p.ioctl(fd, VIDIOC_STREAMOFF, CAP);
    await p.ioctl(fd, VIDIOC_REQBUFS, { count: 0, type: CAP, memory: V4L2_MEMORY_MMAP });
    const { fmt, maps } = await setupCapture(p, fd, 2);
    expect(fmt).toMatchObject({ width: 640, height: 480, bytesperline: 640 });
    const cap = await dqbuf(p, fd, CAP);
    expect(cap.timestamp).toEqual({ tv_sec: 0, tv_usec: 2 });
    expect(psnr(big.luma, 640, maps[cap.index]!.read(0, 640 * 480), 640, 640, 480)).toBeGreaterThan(40);
  });

  it("drains on V4L2_DEC_CMD_STOP (LAST, EPIPE, EOS) and resumes on V4L2_DEC_CMD_START (V20)", async () => {
    const { p, fd, outMaps } = await decoder();
    const { jpeg } = await picture(320, 240);
    await queueJpeg(p, fd, outMaps, 0, jpeg);
    await libv4l2.streamOn(p, fd, OUT);
    await dqevent(p, fd);
    await setupCapture(p, fd, 3);
    await queueJpeg(p, fd, outMaps, 1, jpeg);
    await p.ioctl(fd, VIDIOC_DECODER_CMD, { cmd: V4L2_DEC_CMD_STOP, flags: 0 } satisfies v4l2_decoder_cmd);
    expect((await dqbuf(p, fd, CAP)).flags! & V4L2_BUF_FLAG_LAST).toBe(0);
    const last = await dqbuf(p, fd, CAP);
    expect(last.flags! & V4L2_BUF_FLAG_LAST).toBe(V4L2_BUF_FLAG_LAST);
    expect(last.bytesused).toBe(320 * 240 * 1.5);
    expect(await errnoOf(dqbuf(p, fd, CAP))).toBe("EPIPE");
    expect((await dqevent(p, fd)).type).toBe(V4L2_EVENT_EOS);
    await p.ioctl(fd, VIDIOC_DECODER_CMD, { cmd: V4L2_DEC_CMD_START, flags: 0 });
    await dqbuf(p, fd, OUT);
    await queueJpeg(p, fd, outMaps, 0, jpeg);
    await qbuf(p, fd, CAP, 0);
    const resumed = await dqbuf(p, fd, CAP);
    expect([resumed.flags! & V4L2_BUF_FLAG_LAST, resumed.bytesused]).toEqual([0, 320 * 240 * 1.5]);
  });

  it("TRY_DECODER_CMD accepts only START and STOP, clearing flags and stop.pts; PAUSE/RESUME/FLUSH are EINVAL; ENCODER_CMD is ENOTTY (V21, v4l2-compliance testDecoder)", async () => {
    const { p, fd } = await decoder(1);
    const stop: v4l2_decoder_cmd = { cmd: V4L2_DEC_CMD_STOP, flags: V4L2_DEC_CMD_STOP_IMMEDIATELY, stop: { pts: 1234n } };
    await p.ioctl(fd, VIDIOC_TRY_DECODER_CMD, stop);
    expect(stop).toMatchObject({ flags: 0, stop: { pts: 0n } });
    const start: v4l2_decoder_cmd = { cmd: V4L2_DEC_CMD_START, flags: 1, start: { speed: 2000, format: 1 } };
    await p.ioctl(fd, VIDIOC_TRY_DECODER_CMD, start);
    expect(start).toMatchObject({ flags: 0, start: { speed: 0, format: 0 } });
    for (const cmd of [V4L2_DEC_CMD_PAUSE, V4L2_DEC_CMD_RESUME, V4L2_DEC_CMD_FLUSH])
      expect(await errnoOf(p.ioctl(fd, VIDIOC_TRY_DECODER_CMD, { cmd, flags: 0 }))).toBe("EINVAL");
    expect(await errnoOf(p.ioctl(fd, VIDIOC_ENCODER_CMD, { cmd: V4L2_ENC_CMD_STOP, flags: 0 }))).toBe("ENOTTY");
  });

  it("fails a corrupt frame with V4L2_BUF_FLAG_ERROR on both buffers and goes on with the next; drops garbage before the first header (dev-decoder.rst)", async () => {
    const { p, fd, outMaps } = await decoder();
    const { jpeg } = await picture(320, 240);
    const garbage = Uint8Array.from({ length: 1000 }, (_, i) => i & 0x7f);
    await queueJpeg(p, fd, outMaps, 0, garbage);
    await queueJpeg(p, fd, outMaps, 1, jpeg);
    await libv4l2.streamOn(p, fd, OUT);
    // The buffer without a header is returned in error before any SOURCE_CHANGE.
    const dropped = await dqbuf(p, fd, OUT);
    expect([dropped.index, dropped.flags! & V4L2_BUF_FLAG_ERROR]).toEqual([0, V4L2_BUF_FLAG_ERROR]);
    expect((await dqevent(p, fd)).type).toBe(V4L2_EVENT_SOURCE_CHANGE);
    await setupCapture(p, fd, 2);
    expect((await dqbuf(p, fd, CAP)).flags! & V4L2_BUF_FLAG_ERROR).toBe(0);
    // A truncated JPEG of the right size: the decode fails.
    await queueJpeg(p, fd, outMaps, 2, jpeg.subarray(0, jpeg.length >> 1));
    const bad = await dqbuf(p, fd, CAP);
    expect([bad.flags! & V4L2_BUF_FLAG_ERROR, bad.bytesused]).toEqual([V4L2_BUF_FLAG_ERROR, 0]);
    await queueJpeg(p, fd, outMaps, 3, jpeg);
    await qbuf(p, fd, CAP, bad.index);
    expect((await dqbuf(p, fd, CAP)).flags! & V4L2_BUF_FLAG_ERROR).toBe(0);
  });

  it("decodes into V4L2_PIX_FMT_XBGR32 (DRM XRGB8888 layout) when CAPTURE is set to it", async () => {
    const { p, fd, outMaps } = await decoder();
    const { jpeg } = await picture(320, 240);
    await queueJpeg(p, fd, outMaps, 0, jpeg);
    await libv4l2.streamOn(p, fd, OUT);
    await dqevent(p, fd);
    const f = await sFmt(p, fd, CAP, V4L2_PIX_FMT_XBGR32, 0, 0);
    expect(f.fmt.pix).toMatchObject({ width: 320, height: 240, bytesperline: 1280, sizeimage: 1280 * 240 });
    const { maps } = await setupCapture(p, fd, 1);
    const cap = await dqbuf(p, fd, CAP);
    const px = maps[cap.index]!.read(0, 8);
    // Pixel (0,0) is black-ish, pixel (1,0) one step brighter; X is 0xff.
    expect(px[3]).toBe(0xff);
    expect(Math.abs(px[4]! - 1)).toBeLessThanOrEqual(2);
  });
});
