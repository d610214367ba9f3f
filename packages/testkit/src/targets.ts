/**
 * Ready-made exporter and importer targets for V4L2 and DRM device nodes, so a driver author gets
 * the dma-buf suites from a device path: EXPBUF / PRIME_HANDLE_TO_FD to export, QBUF of
 * V4L2_MEMORY_DMABUF / PRIME_FD_TO_HANDLE to import.
 */
import { O_RDWR } from "@dmabuf/core";
import { DRM_CLOEXEC, DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_MODE_CREATE_DUMB, DRM_IOCTL_PRIME_FD_TO_HANDLE, DRM_IOCTL_PRIME_HANDLE_TO_FD, DRM_RDWR, type drm_mode_create_dumb, type drm_prime_handle } from "@dmabuf/drm-sim";
import { V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, V4L2_TYPE_IS_OUTPUT, VIDIOC_EXPBUF, VIDIOC_QBUF, type v4l2_exportbuffer } from "@dmabuf/v4l2-sim";
import type { CheckContext, ConformanceTarget } from "./conformance.js";
import type { ExporterTarget } from "./exporter-suite.js";
import type { ImporterTarget } from "./importer-suite.js";
import { bufTypes, gFmt, planeSizes, querycap, reqbufs, vbuf } from "./internal/v4l2-util.js";

/** A V4L2 node as an exporter: REQBUFS(MMAP) on its first queue and EXPBUF of buffer 0, plane 0. */
export function v4l2ExporterTarget(base: ConformanceTarget, opts: { attachDevice?: string } = {}): ExporterTarget {
  return {
    ...base,
    ...opts,
    async exportBuffer(ctx) {
      const fd = ctx.proc.open(ctx.device, O_RDWR);
      const type = bufTypes((await querycap(ctx.proc, fd)).device_caps)[0]!;
      await reqbufs(ctx.proc, fd, type, V4L2_MEMORY_MMAP, 1);
      const eb: v4l2_exportbuffer = { type, index: 0, plane: 0, flags: O_RDWR };
      await ctx.proc.ioctl(fd, VIDIOC_EXPBUF, eb);
      return eb.fd!;
    },
  };
}

/** A V4L2 node as a static importer: QBUF of V4L2_MEMORY_DMABUF on its first queue; REQBUFS(0) releases. */
export function v4l2ImporterTarget(base: ConformanceTarget & { heap?: string }, importerDevice?: string): ImporterTarget<{ fd: number; type: number }> {
  const open = async (ctx: CheckContext) => {
    const fd = ctx.proc.open(ctx.device, O_RDWR);
    const type = bufTypes((await querycap(ctx.proc, fd)).device_caps)[0]!;
    return { fd, type, sizes: planeSizes(await gFmt(ctx.proc, fd, type)) };
  };
  return {
    ...base,
    importerDevice,
    async importBuffer(ctx, dmabufFd) {
      const { fd, type, sizes } = await open(ctx);
      try {
        await reqbufs(ctx.proc, fd, type, V4L2_MEMORY_DMABUF, 1);
        await ctx.proc.ioctl(fd, VIDIOC_QBUF, vbuf(type, V4L2_MEMORY_DMABUF, 0, 1, [dmabufFd], V4L2_TYPE_IS_OUTPUT(type) ? [sizes[0]!] : undefined, [sizes[0]!]));
      } catch (e) {
        ctx.proc.close(fd);
        throw e;
      }
      return { fd, type };
    },
    async releaseBuffer(ctx, h) {
      await reqbufs(ctx.proc, h.fd, h.type, V4L2_MEMORY_DMABUF, 0);
      ctx.proc.close(h.fd);
    },
  };
}

/** A DRM node as an exporter: a 256x256 XRGB dumb buffer and PRIME_HANDLE_TO_FD. */
export function drmExporterTarget(base: ConformanceTarget, opts: { attachDevice?: string } = {}): ExporterTarget {
  return {
    ...base,
    ...opts,
    async exportBuffer(ctx) {
      const fd = ctx.proc.open(ctx.device, O_RDWR);
      const d: drm_mode_create_dumb = { width: 256, height: 256, bpp: 32, flags: 0 };
      await ctx.proc.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, d);
      const a: drm_prime_handle = { handle: d.handle!, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
      await ctx.proc.ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, a);
      return a.fd;
    },
  };
}

/** A DRM node as a static importer: PRIME_FD_TO_HANDLE; GEM_CLOSE releases. */
export function drmImporterTarget(base: ConformanceTarget & { heap?: string }, importerDevice?: string): ImporterTarget<{ fd: number; handle: number }> {
  return {
    ...base,
    importerDevice,
    async importBuffer(ctx, dmabufFd) {
      const fd = ctx.proc.open(ctx.device, O_RDWR);
      const a: drm_prime_handle = { handle: 0, flags: 0, fd: dmabufFd };
      try {
        await ctx.proc.ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, a);
      } catch (e) {
        ctx.proc.close(fd);
        throw e;
      }
      return { fd, handle: a.handle };
    },
    async releaseBuffer(ctx, h) {
      await ctx.proc.ioctl(h.fd, DRM_IOCTL_GEM_CLOSE, { handle: h.handle });
      ctx.proc.close(h.fd);
    },
  };
}
