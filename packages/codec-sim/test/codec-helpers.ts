/* Userspace helpers for the codec tests beyond libv4l2 (G_FMT, S_FMT with V4L2_FIELD_ANY, QBUF with a timestamp, the whole v4l2_buffer back from DQBUF). */
import { Kernel, O_RDWR, type Process, type VmArea } from "@dmabuf/core";
import mm from "@dmabuf/mm";
import v4l2Sim, {
  V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12, VIDIOC_DQBUF, VIDIOC_G_FMT, VIDIOC_QBUF,
  VIDIOC_S_FMT, libv4l2, type v4l2_buffer, type v4l2_format,
} from "@dmabuf/v4l2-sim";
import codecSim, { V4L2_PIX_FMT_JPEG, type CodecSimOptions } from "../src/index.js";

export const OUT = V4L2_BUF_TYPE_VIDEO_OUTPUT;
export const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;

/** Boots the default board with memory management, V4L2 (vivid) and the codec. */
export async function bootSoc(options?: CodecSimOptions): Promise<Kernel> {
  return Kernel.boot({ plugins: [mm(), v4l2Sim(), codecSim(options)] });
}

export async function gFmt(p: Process, fd: number, type: number): Promise<v4l2_format> {
  const f: v4l2_format = { type, fmt: {} };
  await p.ioctl(fd, VIDIOC_G_FMT, f);
  return f;
}

export async function sFmt(p: Process, fd: number, type: number, pixelformat: number, width: number, height: number, sizeimage = 0): Promise<v4l2_format> {
  const f: v4l2_format = { type, fmt: { pix: { width, height, pixelformat, field: 0, bytesperline: 0, sizeimage, colorspace: 0 } } };
  await p.ioctl(fd, VIDIOC_S_FMT, f);
  return f;
}

/** QBUF of MMAP buffer `index`; OUTPUT buffers carry `bytesused` and a timestamp in microseconds. */
export async function qbuf(p: Process, fd: number, type: number, index: number, bytesused = 0, timestampUs = 0): Promise<v4l2_buffer> {
  const b: v4l2_buffer = {
    index, type, memory: V4L2_MEMORY_MMAP, bytesused, field: 0, flags: 0,
    timestamp: { tv_sec: Math.floor(timestampUs / 1e6), tv_usec: timestampUs % 1e6 },
  };
  await p.ioctl(fd, VIDIOC_QBUF, b);
  return b;
}

export async function dqbuf(p: Process, fd: number, type: number, memory = V4L2_MEMORY_MMAP): Promise<v4l2_buffer> {
  const b: v4l2_buffer = { index: 0, type, memory };
  await p.ioctl(fd, VIDIOC_DQBUF, b);
  return b;
}


/**
 * The encoder set up as a vicodec client does: opened with `flags`, JPEG out, NV12 `width` x `height`
 * in, `count` MMAP buffers per queue, streaming.
 */
export async function streamingEncoder(p: Process, width: number, height: number, count: number, flags = O_RDWR): Promise<{ fd: number; outs: VmArea[]; caps: VmArea[] }> {
  const fd = p.open(await libv4l2.findVideoNode(p, "sim-jpeg-encoder"), flags);
  await sFmt(p, fd, CAP, V4L2_PIX_FMT_JPEG, 0, 0);
  await sFmt(p, fd, OUT, V4L2_PIX_FMT_NV12, width, height);
  const outs = await libv4l2.mmapBuffers(p, fd, OUT, count);
  const caps = await libv4l2.mmapBuffers(p, fd, CAP, count);
  await libv4l2.streamOn(p, fd, OUT, CAP);
  return { fd, outs, caps };
}
