/**
 * The V4L2 UAPI (include/uapi/linux/videodev2.h, v4l2-controls.h): constants with Linux's names and
 * values, structs as plain objects with Linux's field names (mutated in place by ioctls, as
 * copy_to_user would), and VIDIOC_* numbers computed from the real struct sizes on a 64-bit kernel.
 */
import { _IOR, _IOW, _IOWR } from "@dmabuf/core";

/** v4l2_fourcc(a, b, c, d): little-endian four-character code. */
export const v4l2_fourcc = (a: string, b: string, c: string, d: string): number =>
  (a.charCodeAt(0) | (b.charCodeAt(0) << 8) | (c.charCodeAt(0) << 16) | (d.charCodeAt(0) << 24)) >>> 0;

/** The fourcc as text ("NV12"), as v4l2-ctl and v4l2_fourcc_conv print it. */
export const fourccToString = (f: number): string =>
  String.fromCharCode(f & 0xff, (f >>> 8) & 0xff, (f >>> 16) & 0xff, (f >>> 24) & 0x7f);

/* Pixel formats */
export const V4L2_PIX_FMT_YUYV = v4l2_fourcc("Y", "U", "Y", "V");
export const V4L2_PIX_FMT_NV12 = v4l2_fourcc("N", "V", "1", "2");
export const V4L2_PIX_FMT_NV12M = v4l2_fourcc("N", "M", "1", "2");
export const V4L2_PIX_FMT_RGB24 = v4l2_fourcc("R", "G", "B", "3");
/** Bytes B,G,R,X in memory: the same fourcc value as DRM_FORMAT_XRGB8888. */
export const V4L2_PIX_FMT_XBGR32 = v4l2_fourcc("X", "R", "2", "4");
/** Bytes X,R,G,B in memory. */
export const V4L2_PIX_FMT_XRGB32 = v4l2_fourcc("B", "X", "2", "4");
/** 10-bit 4:2:0, two planes, each sample in the high bits of a little-endian 16-bit word. */
export const V4L2_PIX_FMT_P010 = v4l2_fourcc("P", "0", "1", "0");

/* enum v4l2_buf_type */
export const V4L2_BUF_TYPE_VIDEO_CAPTURE = 1;
export const V4L2_BUF_TYPE_VIDEO_OUTPUT = 2;
export const V4L2_BUF_TYPE_VIDEO_OVERLAY = 3;
export const V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE = 9;
export const V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE = 10;
export const V4L2_BUF_TYPE_META_CAPTURE = 13;

/** V4L2_TYPE_IS_MULTIPLANAR */
export const V4L2_TYPE_IS_MULTIPLANAR = (t: number) =>
  t === V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE || t === V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
/** V4L2_TYPE_IS_OUTPUT (video types only, which is all this model has) */
export const V4L2_TYPE_IS_OUTPUT = (t: number) => t === V4L2_BUF_TYPE_VIDEO_OUTPUT || t === V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;

/* enum v4l2_memory */
export const V4L2_MEMORY_MMAP = 1;
export const V4L2_MEMORY_USERPTR = 2;
export const V4L2_MEMORY_OVERLAY = 3;
export const V4L2_MEMORY_DMABUF = 4;

/* enum v4l2_field */
export const V4L2_FIELD_ANY = 0;
export const V4L2_FIELD_NONE = 1;
export const V4L2_FIELD_ALTERNATE = 7;

/* enum v4l2_colorspace (the ones this model uses) */
export const V4L2_COLORSPACE_SMPTE170M = 1;
export const V4L2_COLORSPACE_REC709 = 3;
export const V4L2_COLORSPACE_SRGB = 8;

/* struct v4l2_capability capabilities */
export const V4L2_CAP_VIDEO_CAPTURE = 0x00000001;
export const V4L2_CAP_VIDEO_OUTPUT = 0x00000002;
export const V4L2_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000;
export const V4L2_CAP_VIDEO_OUTPUT_MPLANE = 0x00002000;
export const V4L2_CAP_VIDEO_M2M_MPLANE = 0x00004000;
export const V4L2_CAP_VIDEO_M2M = 0x00008000;
export const V4L2_CAP_EXT_PIX_FORMAT = 0x00200000;
export const V4L2_CAP_READWRITE = 0x01000000;
export const V4L2_CAP_STREAMING = 0x04000000;
export const V4L2_CAP_DEVICE_CAPS = 0x80000000;

/* struct v4l2_buffer flags */
export const V4L2_BUF_FLAG_MAPPED = 0x00000001;
export const V4L2_BUF_FLAG_QUEUED = 0x00000002;
export const V4L2_BUF_FLAG_DONE = 0x00000004;
export const V4L2_BUF_FLAG_KEYFRAME = 0x00000008;
export const V4L2_BUF_FLAG_PFRAME = 0x00000010;
export const V4L2_BUF_FLAG_BFRAME = 0x00000020;
export const V4L2_BUF_FLAG_ERROR = 0x00000040;
export const V4L2_BUF_FLAG_IN_REQUEST = 0x00000080;
export const V4L2_BUF_FLAG_TIMECODE = 0x00000100;
export const V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF = 0x00000200;
export const V4L2_BUF_FLAG_PREPARED = 0x00000400;
export const V4L2_BUF_FLAG_NO_CACHE_INVALIDATE = 0x00000800;
export const V4L2_BUF_FLAG_NO_CACHE_CLEAN = 0x00001000;
export const V4L2_BUF_FLAG_TIMESTAMP_MASK = 0x0000e000;
export const V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN = 0x00000000;
export const V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC = 0x00002000;
export const V4L2_BUF_FLAG_TIMESTAMP_COPY = 0x00004000;
export const V4L2_BUF_FLAG_TSTAMP_SRC_MASK = 0x00070000;
export const V4L2_BUF_FLAG_TSTAMP_SRC_EOF = 0x00000000;
export const V4L2_BUF_FLAG_TSTAMP_SRC_SOE = 0x00010000;
export const V4L2_BUF_FLAG_LAST = 0x00100000;
export const V4L2_BUF_FLAG_REQUEST_FD = 0x00800000;

/* struct v4l2_requestbuffers / v4l2_create_buffers capabilities */
export const V4L2_BUF_CAP_SUPPORTS_MMAP = 1 << 0;
export const V4L2_BUF_CAP_SUPPORTS_USERPTR = 1 << 1;
export const V4L2_BUF_CAP_SUPPORTS_DMABUF = 1 << 2;
export const V4L2_BUF_CAP_SUPPORTS_REQUESTS = 1 << 3;
export const V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS = 1 << 4;
export const V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF = 1 << 5;
export const V4L2_BUF_CAP_SUPPORTS_MMAP_CACHE_HINTS = 1 << 6;
export const V4L2_BUF_CAP_SUPPORTS_MAX_NUM_BUFFERS = 1 << 7;
/** V4L2_MEMORY_FLAG_NON_COHERENT */
export const V4L2_MEMORY_FLAG_NON_COHERENT = 1 << 0;

/** VIDEO_MAX_FRAME / VB2_MAX_FRAME and VIDEO_MAX_PLANES / VB2_MAX_PLANES */
export const VIDEO_MAX_FRAME = 32;
export const VIDEO_MAX_PLANES = 8;

/* struct v4l2_fmtdesc flags (none used by raw formats) and frame size/interval types */
export const V4L2_FRMSIZE_TYPE_DISCRETE = 1;
export const V4L2_FRMSIZE_TYPE_CONTINUOUS = 2;
export const V4L2_FRMSIZE_TYPE_STEPWISE = 3;
export const V4L2_FRMIVAL_TYPE_DISCRETE = 1;
export const V4L2_FRMIVAL_TYPE_CONTINUOUS = 2;
export const V4L2_FRMIVAL_TYPE_STEPWISE = 3;
/** struct v4l2_captureparm capability */
export const V4L2_CAP_TIMEPERFRAME = 0x1000;

/* Controls (v4l2-controls.h) */
export const V4L2_CTRL_CLASS_USER = 0x00980000;
export const V4L2_CTRL_CLASS_IMAGE_PROC = 0x009f0000;
export const V4L2_CID_BASE = V4L2_CTRL_CLASS_USER | 0x900;
export const V4L2_CID_MIN_BUFFERS_FOR_CAPTURE = V4L2_CID_BASE + 39;
export const V4L2_CID_MIN_BUFFERS_FOR_OUTPUT = V4L2_CID_BASE + 40;
export const V4L2_CID_IMAGE_PROC_CLASS_BASE = V4L2_CTRL_CLASS_IMAGE_PROC | 0x900;
export const V4L2_CID_TEST_PATTERN = V4L2_CID_IMAGE_PROC_CLASS_BASE + 3;
/** Driver-private controls start here (V4L2_CID_USER_BASE | 0x1000 space is per driver). */
export const V4L2_CID_PRIVATE_BASE = 0x08000000;
/* enum v4l2_ctrl_type */
export const V4L2_CTRL_TYPE_INTEGER = 1;
export const V4L2_CTRL_TYPE_BOOLEAN = 2;
export const V4L2_CTRL_TYPE_MENU = 3;
/* control flags */
export const V4L2_CTRL_FLAG_READ_ONLY = 0x0004;
export const V4L2_CTRL_FLAG_NEXT_CTRL = 0x80000000;
/* struct v4l2_ext_controls which */
export const V4L2_CTRL_WHICH_CUR_VAL = 0;
export const V4L2_CTRL_WHICH_DEF_VAL = 0x0f000000;

/* Events */
export const V4L2_EVENT_ALL = 0;
export const V4L2_EVENT_VSYNC = 1;
export const V4L2_EVENT_EOS = 2;
export const V4L2_EVENT_CTRL = 3;
export const V4L2_EVENT_FRAME_SYNC = 4;
export const V4L2_EVENT_SOURCE_CHANGE = 5;
export const V4L2_EVENT_SRC_CH_RESOLUTION = 1 << 0;

/* ---------------------------------------------------------------- structs */

export interface v4l2_capability {
  driver: string;
  card: string;
  bus_info: string;
  version: number;
  capabilities: number;
  device_caps: number;
  reserved?: number[];
}

export interface v4l2_pix_format {
  width: number;
  height: number;
  pixelformat: number;
  field: number;
  bytesperline: number;
  sizeimage: number;
  colorspace: number;
  priv?: number;
  flags?: number;
  ycbcr_enc?: number;
  quantization?: number;
  xfer_func?: number;
}

export interface v4l2_plane_pix_format {
  sizeimage: number;
  bytesperline: number;
}

export interface v4l2_pix_format_mplane {
  width: number;
  height: number;
  pixelformat: number;
  field: number;
  colorspace: number;
  plane_fmt: v4l2_plane_pix_format[];
  num_planes: number;
  flags?: number;
  ycbcr_enc?: number;
  quantization?: number;
  xfer_func?: number;
}

/** struct v4l2_format: `fmt` is the union; the member read is the one `type` selects. */
export interface v4l2_format {
  type: number;
  fmt: { pix?: v4l2_pix_format; pix_mp?: v4l2_pix_format_mplane };
}

export interface v4l2_requestbuffers {
  count: number;
  type: number;
  memory: number;
  capabilities?: number;
  flags?: number;
  reserved?: number[];
}

export interface v4l2_create_buffers {
  index?: number;
  count: number;
  memory: number;
  format: v4l2_format;
  capabilities?: number;
  flags?: number;
  max_num_buffers?: number;
}

export interface v4l2_timeval {
  tv_sec: number;
  tv_usec: number;
}

export interface v4l2_timecode {
  type: number;
  flags: number;
  frames: number;
  seconds: number;
  minutes: number;
  hours: number;
  userbits: number[];
}

/**
 * User memory for V4L2_MEMORY_USERPTR. In C it is an address in the process; here it is the
 * process's own array (malloc'd memory that the device cannot reach without a copy in this model).
 */
export type UserPtr = Uint8Array;

export interface v4l2_plane {
  bytesused: number;
  length: number;
  m: { mem_offset?: number; userptr?: UserPtr; fd?: number };
  data_offset: number;
  reserved?: number[];
}

export interface v4l2_buffer {
  index: number;
  type: number;
  bytesused?: number;
  flags?: number;
  field?: number;
  timestamp?: v4l2_timeval;
  timecode?: v4l2_timecode;
  sequence?: number;
  memory: number;
  /** The union: `offset` (MMAP), `userptr` (USERPTR), `fd` (DMABUF), `planes` (multi-planar types). */
  m?: { offset?: number; userptr?: UserPtr; fd?: number; planes?: v4l2_plane[] };
  /** Single-planar: buffer size in bytes. Multi-planar: number of entries in `m.planes`. */
  length?: number;
  reserved2?: number;
  request_fd?: number;
}

export interface v4l2_exportbuffer {
  type: number;
  index: number;
  plane: number;
  flags: number;
  fd?: number;
  reserved?: number[];
}

export interface v4l2_fmtdesc {
  index: number;
  type: number;
  flags?: number;
  description?: string;
  pixelformat?: number;
  mbus_code?: number;
}

export interface v4l2_frmsize_discrete {
  width: number;
  height: number;
}
export interface v4l2_frmsize_stepwise {
  min_width: number;
  max_width: number;
  step_width: number;
  min_height: number;
  max_height: number;
  step_height: number;
}
export interface v4l2_frmsizeenum {
  index: number;
  pixel_format: number;
  type?: number;
  discrete?: v4l2_frmsize_discrete;
  stepwise?: v4l2_frmsize_stepwise;
}

export interface v4l2_fract {
  numerator: number;
  denominator: number;
}
export interface v4l2_frmivalenum {
  index: number;
  pixel_format: number;
  width: number;
  height: number;
  type?: number;
  discrete?: v4l2_fract;
  stepwise?: { min: v4l2_fract; max: v4l2_fract; step: v4l2_fract };
}

export interface v4l2_captureparm {
  capability: number;
  capturemode: number;
  timeperframe: v4l2_fract;
  extendedmode: number;
  readbuffers: number;
}
export interface v4l2_outputparm {
  capability: number;
  outputmode: number;
  timeperframe: v4l2_fract;
  extendedmode: number;
  writebuffers: number;
}
export interface v4l2_streamparm {
  type: number;
  parm: { capture?: v4l2_captureparm; output?: v4l2_outputparm };
}

export interface v4l2_control {
  id: number;
  value: number;
}
export interface v4l2_queryctrl {
  id: number;
  type?: number;
  name?: string;
  minimum?: number;
  maximum?: number;
  step?: number;
  default_value?: number;
  flags?: number;
}
export interface v4l2_querymenu {
  id: number;
  index: number;
  name?: string;
}
export interface v4l2_ext_control {
  id: number;
  size?: number;
  value?: number;
  value64?: bigint;
}
export interface v4l2_ext_controls {
  which: number;
  count: number;
  error_idx?: number;
  request_fd?: number;
  controls: v4l2_ext_control[];
}

export interface v4l2_event_subscription {
  type: number;
  id: number;
  flags: number;
}
export interface v4l2_event {
  type: number;
  u: { src_change?: { changes: number }; ctrl?: { changes: number; type: number; value: number }; frame_sync?: { frame_sequence: number } };
  pending: number;
  sequence: number;
  timestamp: { tv_sec: number; tv_nsec: number };
  id: number;
}

/* ---------------------------------------------------------------- ioctl numbers */

/** sizeof() of each struct on a 64-bit kernel (videodev2.h); the ioctl numbers encode them. */
export const V4L2_STRUCT_SIZES = {
  v4l2_capability: 104,
  v4l2_fmtdesc: 64,
  v4l2_format: 208,
  v4l2_requestbuffers: 20,
  v4l2_buffer: 88,
  v4l2_exportbuffer: 64,
  v4l2_streamparm: 204,
  v4l2_control: 8,
  v4l2_queryctrl: 68,
  v4l2_querymenu: 44,
  v4l2_ext_controls: 32,
  v4l2_frmsizeenum: 44,
  v4l2_frmivalenum: 52,
  v4l2_create_buffers: 256,
  v4l2_event: 136,
  v4l2_event_subscription: 32,
  int: 4,
} as const;
const S = V4L2_STRUCT_SIZES;

export const VIDIOC_QUERYCAP = _IOR("V", 0, S.v4l2_capability);
export const VIDIOC_ENUM_FMT = _IOWR("V", 2, S.v4l2_fmtdesc);
export const VIDIOC_G_FMT = _IOWR("V", 4, S.v4l2_format);
export const VIDIOC_S_FMT = _IOWR("V", 5, S.v4l2_format);
export const VIDIOC_REQBUFS = _IOWR("V", 8, S.v4l2_requestbuffers);
export const VIDIOC_QUERYBUF = _IOWR("V", 9, S.v4l2_buffer);
export const VIDIOC_QBUF = _IOWR("V", 15, S.v4l2_buffer);
export const VIDIOC_EXPBUF = _IOWR("V", 16, S.v4l2_exportbuffer);
export const VIDIOC_DQBUF = _IOWR("V", 17, S.v4l2_buffer);
export const VIDIOC_STREAMON = _IOW("V", 18, S.int);
export const VIDIOC_STREAMOFF = _IOW("V", 19, S.int);
export const VIDIOC_G_PARM = _IOWR("V", 21, S.v4l2_streamparm);
export const VIDIOC_S_PARM = _IOWR("V", 22, S.v4l2_streamparm);
export const VIDIOC_G_CTRL = _IOWR("V", 27, S.v4l2_control);
export const VIDIOC_S_CTRL = _IOWR("V", 28, S.v4l2_control);
export const VIDIOC_QUERYCTRL = _IOWR("V", 36, S.v4l2_queryctrl);
export const VIDIOC_QUERYMENU = _IOWR("V", 37, S.v4l2_querymenu);
export const VIDIOC_TRY_FMT = _IOWR("V", 64, S.v4l2_format);
export const VIDIOC_G_EXT_CTRLS = _IOWR("V", 71, S.v4l2_ext_controls);
export const VIDIOC_S_EXT_CTRLS = _IOWR("V", 72, S.v4l2_ext_controls);
export const VIDIOC_TRY_EXT_CTRLS = _IOWR("V", 73, S.v4l2_ext_controls);
export const VIDIOC_ENUM_FRAMESIZES = _IOWR("V", 74, S.v4l2_frmsizeenum);
export const VIDIOC_ENUM_FRAMEINTERVALS = _IOWR("V", 75, S.v4l2_frmivalenum);
export const VIDIOC_DQEVENT = _IOR("V", 89, S.v4l2_event);
export const VIDIOC_SUBSCRIBE_EVENT = _IOW("V", 90, S.v4l2_event_subscription);
export const VIDIOC_UNSUBSCRIBE_EVENT = _IOW("V", 91, S.v4l2_event_subscription);
export const VIDIOC_CREATE_BUFS = _IOWR("V", 92, S.v4l2_create_buffers);
export const VIDIOC_PREPARE_BUF = _IOWR("V", 93, S.v4l2_buffer);
