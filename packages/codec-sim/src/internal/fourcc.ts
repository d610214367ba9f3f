// Pixel format codes from include/uapi/linux/videodev2.h (v4l2_fourcc(a, b, c, d) = a | b<<8 | c<<16 | d<<24).
const fourcc = (s: string): number => (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0;

export const V4L2_PIX_FMT_NV12 = fourcc("NV12");
export const V4L2_PIX_FMT_YUYV = fourcc("YUYV");
/** Bytes B,G,R,X: the same memory layout as DRM_FORMAT_XRGB8888 ('XR24'). */
export const V4L2_PIX_FMT_XBGR32 = fourcc("XR24");
export const V4L2_PIX_FMT_JPEG = fourcc("JPEG");
export const V4L2_PIX_FMT_MJPEG = fourcc("MJPG");
