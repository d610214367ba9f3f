/**
 * libv4l2 for the model's userspace: the ioctl sequences a V4L2 application writes (find a node,
 * S_FMT, REQBUFS + QUERYBUF + mmap, EXPBUF, QBUF/DQBUF, STREAMON/OFF), single-planar API, for
 * applications, tests and plugin authors. Import as `libv4l2` from the package.
 */
import { MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE, type Process, type VmArea } from "@dmabuf/core";
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, V4L2_MEMORY_USERPTR, VIDIOC_DQBUF,
  VIDIOC_EXPBUF, VIDIOC_QBUF, VIDIOC_QUERYBUF, VIDIOC_REQBUFS, VIDIOC_S_FMT, VIDIOC_S_PARM, VIDIOC_STREAMOFF, VIDIOC_STREAMON,
  type v4l2_buffer, type v4l2_format, type v4l2_pix_format,
} from "./uapi.js";

/** The two single-planar queue types, short. */
export const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;
export const OUT = V4L2_BUF_TYPE_VIDEO_OUTPUT;

/** The /dev/videoN whose sysfs name is `name` (how applications find a device by its card name). */
export async function findVideoNode(p: Process, name: string): Promise<string> {
  for (const entry of p.readdir("/sys/class/video4linux"))
    if ((await p.readFile(`/sys/class/video4linux/${entry}/name`)).trim() === name) return `/dev/${entry}`;
  throw new Error(`no V4L2 device named "${name}" on this board (is its driver plugin loaded?)`);
}

export async function setFormat(p: Process, fd: number, type: number, pixelformat: number, width: number, height: number, sizeimage = 0): Promise<v4l2_pix_format> {
  const f: v4l2_format = { type, fmt: { pix: { width, height, pixelformat, field: 1, bytesperline: 0, sizeimage, colorspace: 0 } } };
  await p.ioctl(fd, VIDIOC_S_FMT, f);
  return f.fmt.pix!;
}

export async function setFrameRate(p: Process, fd: number, fps: number): Promise<void> {
  await p.ioctl(fd, VIDIOC_S_PARM, { type: CAP, parm: { capture: { capability: 0, capturemode: 0, timeperframe: { numerator: 1, denominator: fps }, extendedmode: 0, readbuffers: 0 } } });
}

export async function requestBuffers(p: Process, fd: number, type: number, memory: number, count: number): Promise<number> {
  const rb = { count, type, memory };
  await p.ioctl(fd, VIDIOC_REQBUFS, rb);
  return rb.count;
}

/** REQBUFS(MMAP) and mmap of each buffer. */
export async function mmapBuffers(p: Process, fd: number, type: number, count: number): Promise<VmArea[]> {
  const n = await requestBuffers(p, fd, type, V4L2_MEMORY_MMAP, count);
  const maps: VmArea[] = [];
  for (let index = 0; index < n; index++) {
    const b: v4l2_buffer = { index, type, memory: V4L2_MEMORY_MMAP };
    await p.ioctl(fd, VIDIOC_QUERYBUF, b);
    maps.push(p.mmap(null, b.length!, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m!.offset!));
  }
  return maps;
}

/** VIDIOC_EXPBUF of every buffer: dma-buf fds to hand to other devices. */
export async function exportBuffers(p: Process, fd: number, type: number, count: number): Promise<number[]> {
  const fds: number[] = [];
  for (let index = 0; index < count; index++) {
    const e = { type, index, plane: 0, flags: O_RDWR, fd: -1 };
    await p.ioctl(fd, VIDIOC_EXPBUF, e);
    fds.push(e.fd);
  }
  return fds;
}

export async function qbufMmap(p: Process, fd: number, type: number, index: number, bytesused = 0, timestamp = { tv_sec: 0, tv_usec: 0 }): Promise<void> {
  await p.ioctl(fd, VIDIOC_QBUF, { index, type, memory: V4L2_MEMORY_MMAP, bytesused, field: 1, flags: 0, timestamp } satisfies v4l2_buffer);
}

export async function qbufDmabuf(p: Process, fd: number, type: number, index: number, dmabuf: number, length: number, bytesused: number, timestamp = { tv_sec: 0, tv_usec: 0 }): Promise<void> {
  await p.ioctl(fd, VIDIOC_QBUF, { index, type, memory: V4L2_MEMORY_DMABUF, m: { fd: dmabuf }, length, bytesused, field: 1, flags: 0, timestamp } satisfies v4l2_buffer);
}

export async function qbufUserptr(p: Process, fd: number, type: number, index: number, userptr: Uint8Array): Promise<void> {
  await p.ioctl(fd, VIDIOC_QBUF, { index, type, memory: V4L2_MEMORY_USERPTR, m: { userptr }, length: userptr.length, field: 1, flags: 0 } satisfies v4l2_buffer);
}

export async function dqbuf(p: Process, fd: number, type: number, memory = V4L2_MEMORY_MMAP): Promise<Required<Pick<v4l2_buffer, "index" | "bytesused" | "sequence" | "timestamp" | "flags">>> {
  const b: v4l2_buffer = { index: 0, type, memory };
  await p.ioctl(fd, VIDIOC_DQBUF, b);
  return b as Required<v4l2_buffer>;
}

export async function streamOn(p: Process, fd: number, ...types: number[]): Promise<void> {
  for (const t of types) await p.ioctl(fd, VIDIOC_STREAMON, t);
}

export async function streamOff(p: Process, fd: number, ...types: number[]): Promise<void> {
  for (const t of types) await p.ioctl(fd, VIDIOC_STREAMOFF, t);
}
