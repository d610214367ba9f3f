import { Kernel, MAP_SHARED, O_NONBLOCK, O_RDWR, PROT_READ, type BoardInput, type Process } from "@dmabuf/core";
import mm from "@dmabuf/mm";
import v4l2Sim, {
  V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_MEMORY_MMAP, VIDIOC_DQBUF, VIDIOC_EXPBUF,
  VIDIOC_G_FMT, VIDIOC_QBUF, VIDIOC_REQBUFS, VIDIOC_S_FMT, VIDIOC_STREAMON, type VividOptions, type v4l2_buffer,
  type v4l2_exportbuffer, type v4l2_format, type v4l2_requestbuffers,
} from "../src/index.js";

/** A board with two cameras: vivid.0 behind an IOMMU, vivid.1 without (contiguous DMA only). */
export const TWO_CAMERAS: BoardInput = {
  model: "test,two-cameras",
  memory: [{ base: "0x40000000", size: "512M" }],
  reservedMemory: [{ name: "linux,cma", size: "128M", reusable: true, default: true }],
  iommus: [{ name: "iommu0", pageSizes: ["4K", "2M"], iovaBits: 32 }],
  devices: [
    { name: "vivid.0", compatible: ["sim,vivid"], dmaMask: 32, iommu: "iommu0" },
    { name: "vivid.1", compatible: ["sim,vivid"], dmaMask: 32 },
  ],
};

export async function boot(opts: VividOptions = {}, board?: BoardInput): Promise<Kernel> {
  return Kernel.boot({ plugins: [mm(), v4l2Sim(opts)], ...(board && { board }) });
}

export function captureType(mplane = false): number {
  return mplane ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE : V4L2_BUF_TYPE_VIDEO_CAPTURE;
}

export async function setFormat(p: Process, fd: number, pixelformat: number, width: number, height: number, type = V4L2_BUF_TYPE_VIDEO_CAPTURE): Promise<v4l2_format> {
  const f: v4l2_format =
    type === V4L2_BUF_TYPE_VIDEO_CAPTURE
      ? { type, fmt: { pix: { width, height, pixelformat, field: 0, bytesperline: 0, sizeimage: 0, colorspace: 0 } } }
      : { type, fmt: { pix_mp: { width, height, pixelformat, field: 0, colorspace: 0, plane_fmt: [], num_planes: 0 } } };
  await p.ioctl(fd, VIDIOC_S_FMT, f);
  return f;
}

export async function getFormat(p: Process, fd: number, type = V4L2_BUF_TYPE_VIDEO_CAPTURE): Promise<v4l2_format> {
  const f: v4l2_format = { type, fmt: {} };
  await p.ioctl(fd, VIDIOC_G_FMT, f);
  return f;
}

export async function reqbufs(p: Process, fd: number, count: number, memory: number, type = V4L2_BUF_TYPE_VIDEO_CAPTURE): Promise<v4l2_requestbuffers> {
  const rb: v4l2_requestbuffers = { count, type, memory };
  await p.ioctl(fd, VIDIOC_REQBUFS, rb);
  return rb;
}

export const buf = (index: number, memory: number, type = V4L2_BUF_TYPE_VIDEO_CAPTURE, m: v4l2_buffer["m"] = {}, length = 0): v4l2_buffer => ({ index, type, memory, m, length });

export async function qbuf(p: Process, fd: number, b: v4l2_buffer): Promise<v4l2_buffer> {
  await p.ioctl(fd, VIDIOC_QBUF, b);
  return b;
}

export async function dqbuf(p: Process, fd: number, memory: number, type = V4L2_BUF_TYPE_VIDEO_CAPTURE): Promise<v4l2_buffer> {
  const b: v4l2_buffer = { index: 0, type, memory, m: type === V4L2_BUF_TYPE_VIDEO_CAPTURE ? {} : { planes: [] }, length: 8 };
  await p.ioctl(fd, VIDIOC_DQBUF, b);
  return b;
}

export async function streamon(p: Process, fd: number, type = V4L2_BUF_TYPE_VIDEO_CAPTURE): Promise<void> {
  await p.ioctl(fd, VIDIOC_STREAMON, type);
}

/** REQBUFS(MMAP) + EXPBUF of every buffer (plane 0): the fds, as v4l2src io-mode=dmabuf does. */
export async function exportBuffers(p: Process, fd: number, count: number, type = V4L2_BUF_TYPE_VIDEO_CAPTURE): Promise<number[]> {
  const rb = await reqbufs(p, fd, count, V4L2_MEMORY_MMAP, type);
  const fds: number[] = [];
  for (let i = 0; i < rb.count; i++) {
    const eb: v4l2_exportbuffer = { type, index: i, plane: 0, flags: O_RDWR };
    await p.ioctl(fd, VIDIOC_EXPBUF, eb);
    fds.push(eb.fd!);
  }
  return fds;
}

/** A read-only shared mapping: what a consumer reading the frames does. */
export const mapFd = (p: Process, fd: number, size: number) => p.mmap(null, size, PROT_READ, MAP_SHARED, fd, 0);
export { O_NONBLOCK, O_RDWR };
