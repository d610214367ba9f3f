/* Userspace helpers for the codec tests: what a C test would write with ioctl() and mmap(). */
import { Kernel, MAP_SHARED, PROT_READ, PROT_WRITE, type Process } from "@dmabuf/core";
import mm from "@dmabuf/mm";
import v4l2Sim, {
  V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_MEMORY_MMAP, VIDIOC_DQBUF, VIDIOC_G_FMT, VIDIOC_QBUF,
  VIDIOC_QUERYBUF, VIDIOC_REQBUFS, VIDIOC_S_FMT, VIDIOC_STREAMON, type v4l2_buffer, type v4l2_format,
} from "@dmabuf/v4l2-sim";
import codecSim, { type CodecSimOptions } from "../src/index.js";

export const OUT = V4L2_BUF_TYPE_VIDEO_OUTPUT;
export const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;

/** Boots the default board with memory management, V4L2 (vivid) and the codec. */
export async function bootSoc(options?: CodecSimOptions): Promise<Kernel> {
  return Kernel.boot({ plugins: [mm(), v4l2Sim(), codecSim(options)] });
}

/** The /dev/videoN node whose sysfs name is `name` ("sim-jpeg-encoder", "sim-jpeg-decoder", ...). */
export async function videoNode(p: Process, name: string): Promise<string> {
  for (const entry of p.readdir("/sys/class/video4linux")) {
    if ((await p.readFile(`/sys/class/video4linux/${entry}/name`)).trim() === name) return `/dev/${entry}`;
  }
  throw new Error(`no video node named ${name}`);
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

/** REQBUFS(MMAP) and an mmap of every buffer, in the order of their index. */
export async function mmapBuffers(p: Process, fd: number, type: number, count: number) {
  const rb = { count, type, memory: V4L2_MEMORY_MMAP };
  await p.ioctl(fd, VIDIOC_REQBUFS, rb);
  const maps = [];
  for (let index = 0; index < rb.count; index++) {
    const b: v4l2_buffer = { index, type, memory: V4L2_MEMORY_MMAP };
    await p.ioctl(fd, VIDIOC_QUERYBUF, b);
    maps.push(p.mmap(null, b.length!, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m!.offset!));
  }
  return maps;
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

export async function streamon(p: Process, fd: number, ...types: number[]): Promise<void> {
  for (const t of types) await p.ioctl(fd, VIDIOC_STREAMON, t);
}
