/** Userspace helpers for the V4L2 suites: what v4l2-compliance's cv4l_fd wraps around the ioctls. */
import { O_CLOEXEC, O_RDWR, type Process } from "@dmabuf/core";
import { DMA_HEAP_IOCTL_ALLOC, type DmaHeapAllocationData } from "@dmabuf/mm";
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
  V4L2_CAP_VIDEO_CAPTURE, V4L2_CAP_VIDEO_CAPTURE_MPLANE, V4L2_CAP_VIDEO_M2M, V4L2_CAP_VIDEO_M2M_MPLANE, V4L2_TYPE_IS_MULTIPLANAR,
  VIDIOC_ENUM_FMT, VIDIOC_G_FMT, VIDIOC_QUERYCAP, VIDIOC_REQBUFS, type v4l2_buffer, type v4l2_capability, type v4l2_fmtdesc,
  type v4l2_format, type v4l2_requestbuffers,
} from "@dmabuf/v4l2-sim";

/** V4L2_FMT_FLAG_COMPRESSED (include/uapi/linux/videodev2.h). */
export const V4L2_FMT_FLAG_COMPRESSED = 0x0001;

export async function querycap(p: Process, fd: number): Promise<v4l2_capability> {
  const cap = {} as v4l2_capability;
  await p.ioctl(fd, VIDIOC_QUERYCAP, cap);
  return cap;
}

/** The buffer types a node streams: [CAPTURE] for a camera, [OUTPUT, CAPTURE] for mem2mem. */
export function bufTypes(deviceCaps: number): number[] {
  if (deviceCaps & V4L2_CAP_VIDEO_M2M_MPLANE) return [V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE];
  if (deviceCaps & V4L2_CAP_VIDEO_M2M) return [V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_BUF_TYPE_VIDEO_CAPTURE];
  if (deviceCaps & V4L2_CAP_VIDEO_CAPTURE_MPLANE) return [V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE];
  if (deviceCaps & V4L2_CAP_VIDEO_CAPTURE) return [V4L2_BUF_TYPE_VIDEO_CAPTURE];
  return [];
}

export async function enumFmts(p: Process, fd: number, type: number): Promise<v4l2_fmtdesc[]> {
  const out: v4l2_fmtdesc[] = [];
  for (let index = 0; index < 64; index++) {
    const f: v4l2_fmtdesc = { index, type };
    try {
      await p.ioctl(fd, VIDIOC_ENUM_FMT, f);
    } catch {
      break;
    }
    out.push(f);
  }
  return out;
}

export async function gFmt(p: Process, fd: number, type: number): Promise<v4l2_format> {
  const f: v4l2_format = { type, fmt: {} };
  await p.ioctl(fd, VIDIOC_G_FMT, f);
  return f;
}

/** The fields of a format that TRY/S/G must agree on, as comparable text. */
export function fmtKey(f: v4l2_format): string {
  if (V4L2_TYPE_IS_MULTIPLANAR(f.type)) {
    const m = f.fmt.pix_mp!;
    return `${m.width}x${m.height} ${m.pixelformat} field ${m.field} planes ${m.plane_fmt.slice(0, m.num_planes).map((pl) => `${pl.bytesperline}/${pl.sizeimage}`).join(",")}`;
  }
  const s = f.fmt.pix!;
  return `${s.width}x${s.height} ${s.pixelformat} field ${s.field} ${s.bytesperline}/${s.sizeimage}`;
}

/** A format request of `pixelformat` at the current size. */
export function fmtRequest(cur: v4l2_format, pixelformat: number): v4l2_format {
  if (V4L2_TYPE_IS_MULTIPLANAR(cur.type)) {
    const m = cur.fmt.pix_mp!;
    return { type: cur.type, fmt: { pix_mp: { width: m.width, height: m.height, pixelformat, field: m.field, colorspace: 0, plane_fmt: [], num_planes: 0 } } };
  }
  const s = cur.fmt.pix!;
  return { type: cur.type, fmt: { pix: { width: s.width, height: s.height, pixelformat, field: s.field, bytesperline: 0, sizeimage: 0, colorspace: 0 } } };
}

/** sizeimage of each plane of a format. */
export function planeSizes(f: v4l2_format): number[] {
  if (V4L2_TYPE_IS_MULTIPLANAR(f.type)) return f.fmt.pix_mp!.plane_fmt.slice(0, f.fmt.pix_mp!.num_planes).map((pl) => pl.sizeimage);
  return [f.fmt.pix!.sizeimage];
}

export async function reqbufs(p: Process, fd: number, type: number, memory: number, count: number): Promise<v4l2_requestbuffers> {
  const rb: v4l2_requestbuffers = { count, type, memory };
  await p.ioctl(fd, VIDIOC_REQBUFS, rb);
  return rb;
}

/**
 * A v4l2_buffer for `index`; for multi-planar types with `planes` entries. DMABUF: `fds` and their
 * `lengths` (userspace gives the length of an imported plane).
 */
export function vbuf(type: number, memory: number, index: number, planes = 1, fds?: number[], bytesused?: number[], lengths?: number[]): v4l2_buffer {
  if (V4L2_TYPE_IS_MULTIPLANAR(type))
    return {
      index, type, memory, length: planes,
      m: { planes: Array.from({ length: planes }, (_, i) => ({ bytesused: bytesused?.[i] ?? 0, length: lengths?.[i] ?? 0, m: fds ? { fd: fds[i]! } : {}, data_offset: 0 })) },
    };
  return { index, type, memory, bytesused: bytesused?.[0] ?? 0, length: lengths?.[0] ?? 0, m: fds ? { fd: fds[0]! } : {} };
}

/** A dma-buf from a heap (DMA_HEAP_IOCTL_ALLOC), the usual DMABUF-import source. */
export async function heapAlloc(p: Process, heap: string, len: number): Promise<number> {
  const hfd = p.open(heap, O_RDWR);
  try {
    const a: DmaHeapAllocationData = { len, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
    await p.ioctl(hfd, DMA_HEAP_IOCTL_ALLOC, a);
    return a.fd;
  } finally {
    p.close(hfd);
  }
}
