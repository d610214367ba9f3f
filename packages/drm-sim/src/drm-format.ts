import * as U from "./uapi.js";

/**
 * struct drm_format_info (drivers/gpu/drm/drm_fourcc.c): the layout facts ADDFB2 and the composer
 * need. `cpp` is bytes per pixel of each plane (for YUYV, bytes per 2-pixel block / 2).
 */
export interface DrmFormatInfo {
  readonly format: number;
  readonly numPlanes: number;
  readonly cpp: readonly number[];
  /** Horizontal and vertical chroma subsampling of planes 1.. (1 = none). */
  readonly hsub: number;
  readonly vsub: number;
  readonly hasAlpha: boolean;
  readonly isYuv: boolean;
}

const rgb = (format: number, cpp: number, hasAlpha: boolean): DrmFormatInfo => ({ format, numPlanes: 1, cpp: [cpp], hsub: 1, vsub: 1, hasAlpha, isYuv: false });
const yuv = (format: number, cpp: number[], hsub: number, vsub: number): DrmFormatInfo => ({ format, numPlanes: cpp.length, cpp, hsub, vsub, hasAlpha: false, isYuv: true });

/** The formats __drm_format_info knows in this model (a subset of the kernel's table). */
const FORMATS = new Map<number, DrmFormatInfo>(
  [
    rgb(U.DRM_FORMAT_C8, 1, false),
    rgb(U.DRM_FORMAT_RGB565, 2, false),
    rgb(U.DRM_FORMAT_RGB888, 3, false),
    rgb(U.DRM_FORMAT_BGR888, 3, false),
    rgb(U.DRM_FORMAT_XRGB8888, 4, false),
    rgb(U.DRM_FORMAT_XBGR8888, 4, false),
    rgb(U.DRM_FORMAT_ARGB8888, 4, true),
    rgb(U.DRM_FORMAT_ABGR8888, 4, true),
    rgb(U.DRM_FORMAT_XRGB16161616, 8, false),
    rgb(U.DRM_FORMAT_ARGB16161616, 8, true),
    // packed YUV 4:2:2: one plane, cpp 2, hsub 2 (drm_fourcc.c)
    yuv(U.DRM_FORMAT_YUYV, [2], 2, 1),
    yuv(U.DRM_FORMAT_UYVY, [2], 2, 1),
    yuv(U.DRM_FORMAT_NV12, [1, 2], 2, 2),
    yuv(U.DRM_FORMAT_NV21, [1, 2], 2, 2),
    yuv(U.DRM_FORMAT_NV16, [1, 2], 2, 1),
    yuv(U.DRM_FORMAT_YUV420, [1, 1, 1], 2, 2),
  ].map((f) => [f.format, f]),
);

/** __drm_format_info(): undefined for an unknown fourcc. */
export function drmFormatInfo(format: number): DrmFormatInfo | undefined {
  return FORMATS.get(format >>> 0);
}

/** fb_plane_width(): plane 0 is full width, chroma planes are divided by hsub, rounding up. */
export const planeWidth = (info: DrmFormatInfo, width: number, plane: number) => (plane === 0 ? width : Math.ceil(width / info.hsub));
export const planeHeight = (info: DrmFormatInfo, height: number, plane: number) => (plane === 0 ? height : Math.ceil(height / info.vsub));
/** drm_format_info_min_pitch() */
export const minPitch = (info: DrmFormatInfo, plane: number, width: number) => planeWidth(info, width, plane) * info.cpp[plane]!;
