/**
 * The DRM UAPI: include/uapi/drm/drm.h, drm_mode.h, drm_fourcc.h and vgem_drm.h. Request numbers
 * are computed from the real struct sizes (x86-64 layout); structs are plain objects with the
 * headers' field names, read and written in place by the ioctls.
 *
 * User pointers (`*_ptr` fields, `__u64` holding a `void __user *`) are modelled as arrays the
 * caller owns: the kernel reads them and writes into them as copy_from_user/copy_to_user would.
 * `0`/`undefined` is NULL; any other plain number is a bad pointer (EFAULT).
 */
import { O_CLOEXEC, O_RDWR, _IOW, _IOWR } from "@dmabuf/core";

/* drm.h: ioctl encoding */
export const DRM_IOCTL_BASE = "d";
export const DRM_COMMAND_BASE = 0x40;
const DRM_IOW = (nr: number, size: number) => _IOW(DRM_IOCTL_BASE, nr, size);
const DRM_IOWR = (nr: number, size: number) => _IOWR(DRM_IOCTL_BASE, nr, size);

/** A `void __user *`: an array (or typed array) the caller owns, or NULL (0). */
export type UserPtr<T> = T[] | (T extends number ? Uint32Array | Int32Array : never) | 0 | undefined;
/** A `__u64` property value: a number, a bigint, or for OUT_FENCE_PTR a `s32 __user *` (Int32Array of 1). */
export type PropValue = number | bigint | Int32Array;

/** struct drm_version (64 bytes). The kernel writes the strings and their lengths. */
export interface drm_version {
  version_major?: number;
  version_minor?: number;
  version_patchlevel?: number;
  name_len?: number;
  name?: string;
  date_len?: number;
  date?: string;
  desc_len?: number;
  desc?: string;
}
/** struct drm_gem_close (8 bytes). */
export interface drm_gem_close {
  handle: number;
  pad?: number;
}
/** struct drm_get_cap / drm_set_client_cap (16 bytes each). */
export interface drm_get_cap {
  capability: number;
  value?: number;
}
export interface drm_set_client_cap {
  capability: number;
  value: number;
}
/** struct drm_prime_handle (12 bytes). */
export interface drm_prime_handle {
  handle: number;
  /** Flags: only DRM_CLOEXEC and DRM_RDWR (HANDLE_TO_FD). */
  flags: number;
  /** Returned dmabuf file descriptor (HANDLE_TO_FD), or the one to import (FD_TO_HANDLE). */
  fd: number;
}

export const DRM_IOCTL_VERSION = DRM_IOWR(0x00, 64);
export const DRM_IOCTL_GEM_CLOSE = DRM_IOW(0x09, 8);
export const DRM_IOCTL_GET_CAP = DRM_IOWR(0x0c, 16);
export const DRM_IOCTL_SET_CLIENT_CAP = DRM_IOW(0x0d, 16);
export const DRM_IOCTL_PRIME_HANDLE_TO_FD = DRM_IOWR(0x2d, 12);
export const DRM_IOCTL_PRIME_FD_TO_HANDLE = DRM_IOWR(0x2e, 12);
export const DRM_IOCTL_MODE_GETRESOURCES = DRM_IOWR(0xa0, 64);
export const DRM_IOCTL_MODE_GETCRTC = DRM_IOWR(0xa1, 104);
export const DRM_IOCTL_MODE_GETENCODER = DRM_IOWR(0xa6, 20);
export const DRM_IOCTL_MODE_GETCONNECTOR = DRM_IOWR(0xa7, 80);
export const DRM_IOCTL_MODE_GETPROPERTY = DRM_IOWR(0xaa, 64);
export const DRM_IOCTL_MODE_GETPROPBLOB = DRM_IOWR(0xac, 16);
export const DRM_IOCTL_MODE_RMFB = DRM_IOWR(0xaf, 4);
export const DRM_IOCTL_MODE_CREATE_DUMB = DRM_IOWR(0xb2, 32);
export const DRM_IOCTL_MODE_MAP_DUMB = DRM_IOWR(0xb3, 16);
export const DRM_IOCTL_MODE_DESTROY_DUMB = DRM_IOWR(0xb4, 4);
export const DRM_IOCTL_MODE_GETPLANERESOURCES = DRM_IOWR(0xb5, 16);
export const DRM_IOCTL_MODE_GETPLANE = DRM_IOWR(0xb6, 32);
export const DRM_IOCTL_MODE_ADDFB2 = DRM_IOWR(0xb8, 104);
export const DRM_IOCTL_MODE_OBJ_GETPROPERTIES = DRM_IOWR(0xb9, 32);
export const DRM_IOCTL_MODE_ATOMIC = DRM_IOWR(0xbc, 56);
export const DRM_IOCTL_MODE_CREATEPROPBLOB = DRM_IOWR(0xbd, 16);
export const DRM_IOCTL_MODE_DESTROYPROPBLOB = DRM_IOWR(0xbe, 4);

/* drm.h: DRM_CLOEXEC / DRM_RDWR are O_CLOEXEC / O_RDWR */
export const DRM_CLOEXEC = O_CLOEXEC;
export const DRM_RDWR = O_RDWR;

/* drm.h: capabilities */
export const DRM_CAP_DUMB_BUFFER = 0x1;
export const DRM_CAP_VBLANK_HIGH_CRTC = 0x2;
export const DRM_CAP_DUMB_PREFERRED_DEPTH = 0x3;
export const DRM_CAP_DUMB_PREFER_SHADOW = 0x4;
export const DRM_CAP_PRIME = 0x5;
export const DRM_PRIME_CAP_IMPORT = 0x1;
export const DRM_PRIME_CAP_EXPORT = 0x2;
export const DRM_CAP_TIMESTAMP_MONOTONIC = 0x6;
export const DRM_CAP_ASYNC_PAGE_FLIP = 0x7;
export const DRM_CAP_CURSOR_WIDTH = 0x8;
export const DRM_CAP_CURSOR_HEIGHT = 0x9;
export const DRM_CAP_ADDFB2_MODIFIERS = 0x10;
export const DRM_CAP_PAGE_FLIP_TARGET = 0x11;
export const DRM_CAP_CRTC_IN_VBLANK_EVENT = 0x12;
export const DRM_CAP_SYNCOBJ = 0x13;
export const DRM_CAP_SYNCOBJ_TIMELINE = 0x14;
export const DRM_CLIENT_CAP_STEREO_3D = 1;
export const DRM_CLIENT_CAP_UNIVERSAL_PLANES = 2;
export const DRM_CLIENT_CAP_ATOMIC = 3;
export const DRM_CLIENT_CAP_ASPECT_RATIO = 4;
export const DRM_CLIENT_CAP_WRITEBACK_CONNECTORS = 5;

/* drm.h: events read() from the DRM fd */
export const DRM_EVENT_VBLANK = 0x01;
export const DRM_EVENT_FLIP_COMPLETE = 0x02;
export const DRM_EVENT_CRTC_SEQUENCE = 0x03;
/** sizeof(struct drm_event_vblank): drm_event {type, length} + user_data + tv_sec, tv_usec, sequence, crtc_id. */
export const DRM_EVENT_VBLANK_SIZE = 32;

/** struct drm_event_vblank, as parsed from the bytes read() returns. */
export interface drm_event_vblank {
  type: number;
  length: number;
  user_data: bigint;
  tv_sec: number;
  tv_usec: number;
  sequence: number;
  crtc_id: number;
}

/** Serialises an event as the kernel lays it out in the read() buffer (little-endian). */
export function encodeDrmEventVblank(e: drm_event_vblank): Uint8Array {
  const b = new Uint8Array(DRM_EVENT_VBLANK_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, e.type, true);
  v.setUint32(4, e.length, true);
  v.setBigUint64(8, e.user_data, true);
  v.setUint32(16, e.tv_sec, true);
  v.setUint32(20, e.tv_usec, true);
  v.setUint32(24, e.sequence, true);
  v.setUint32(28, e.crtc_id, true);
  return b;
}

/** Splits the bytes of a read() on a DRM fd into events (what libdrm's drmHandleEvent does). */
export function parseDrmEvents(bytes: Uint8Array): drm_event_vblank[] {
  const out: drm_event_vblank[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off + 8 <= bytes.length; ) {
    const length = v.getUint32(off + 4, true);
    out.push({
      type: v.getUint32(off, true),
      length,
      user_data: v.getBigUint64(off + 8, true),
      tv_sec: v.getUint32(off + 16, true),
      tv_usec: v.getUint32(off + 20, true),
      sequence: v.getUint32(off + 24, true),
      crtc_id: v.getUint32(off + 28, true),
    });
    off += length;
  }
  return out;
}

/* drm_mode.h */
export const DRM_DISPLAY_MODE_LEN = 32;
export const DRM_MODE_TYPE_PREFERRED = 1 << 3;
export const DRM_MODE_TYPE_DRIVER = 1 << 6;
export const DRM_MODE_FLAG_PHSYNC = 1 << 0;
export const DRM_MODE_FLAG_NHSYNC = 1 << 1;
export const DRM_MODE_FLAG_PVSYNC = 1 << 2;
export const DRM_MODE_FLAG_NVSYNC = 1 << 3;

export const DRM_MODE_OBJECT_CRTC = 0xcccccccc;
export const DRM_MODE_OBJECT_CONNECTOR = 0xc0c0c0c0;
export const DRM_MODE_OBJECT_ENCODER = 0xe0e0e0e0;
export const DRM_MODE_OBJECT_MODE = 0xdededede;
export const DRM_MODE_OBJECT_PROPERTY = 0xb0b0b0b0;
export const DRM_MODE_OBJECT_FB = 0xfbfbfbfb;
export const DRM_MODE_OBJECT_BLOB = 0xbbbbbbbb;
export const DRM_MODE_OBJECT_PLANE = 0xeeeeeeee;
export const DRM_MODE_OBJECT_ANY = 0;

export const DRM_MODE_PROP_PENDING = 1 << 0;
export const DRM_MODE_PROP_RANGE = 1 << 1;
export const DRM_MODE_PROP_IMMUTABLE = 1 << 2;
export const DRM_MODE_PROP_ENUM = 1 << 3;
export const DRM_MODE_PROP_BLOB = 1 << 4;
export const DRM_MODE_PROP_BITMASK = 1 << 5;
export const DRM_MODE_PROP_OBJECT = 1 << 6;
export const DRM_MODE_PROP_SIGNED_RANGE = 2 << 6;
export const DRM_MODE_PROP_EXTENDED_TYPE = 0x0000ffc0;
export const DRM_MODE_PROP_ATOMIC = 0x80000000;

export const DRM_MODE_CONNECTED = 1;
export const DRM_MODE_DISCONNECTED = 2;
export const DRM_MODE_UNKNOWNCONNECTION = 3;
export const DRM_MODE_CONNECTOR_VIRTUAL = 15;
export const DRM_MODE_CONNECTOR_WRITEBACK = 18;
export const DRM_MODE_ENCODER_VIRTUAL = 5;
export const DRM_MODE_SUBPIXEL_UNKNOWN = 1;

export const DRM_PLANE_TYPE_OVERLAY = 0;
export const DRM_PLANE_TYPE_PRIMARY = 1;
export const DRM_PLANE_TYPE_CURSOR = 2;
/** DRM_BLEND_ALPHA_OPAQUE: the plane "alpha" property's maximum. */
export const DRM_BLEND_ALPHA_OPAQUE = 0xffff;

export const DRM_MODE_FB_INTERLACED = 1 << 0;
export const DRM_MODE_FB_MODIFIERS = 1 << 1;

export const DRM_MODE_PAGE_FLIP_EVENT = 0x01;
export const DRM_MODE_PAGE_FLIP_ASYNC = 0x02;
export const DRM_MODE_PAGE_FLIP_TARGET_ABSOLUTE = 0x4;
export const DRM_MODE_PAGE_FLIP_TARGET_RELATIVE = 0x8;
export const DRM_MODE_ATOMIC_TEST_ONLY = 0x0100;
export const DRM_MODE_ATOMIC_NONBLOCK = 0x0200;
export const DRM_MODE_ATOMIC_ALLOW_MODESET = 0x0400;
export const DRM_MODE_ATOMIC_FLAGS =
  DRM_MODE_PAGE_FLIP_EVENT | DRM_MODE_PAGE_FLIP_ASYNC | DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_ATOMIC_ALLOW_MODESET;

/** struct drm_mode_modeinfo (68 bytes). */
export interface drm_mode_modeinfo {
  clock: number;
  hdisplay: number;
  hsync_start: number;
  hsync_end: number;
  htotal: number;
  hskew: number;
  vdisplay: number;
  vsync_start: number;
  vsync_end: number;
  vtotal: number;
  vscan: number;
  vrefresh: number;
  flags: number;
  type: number;
  name: string;
}
/** struct drm_mode_card_res (64 bytes). */
export interface drm_mode_card_res {
  fb_id_ptr?: UserPtr<number>;
  crtc_id_ptr?: UserPtr<number>;
  connector_id_ptr?: UserPtr<number>;
  encoder_id_ptr?: UserPtr<number>;
  count_fbs: number;
  count_crtcs: number;
  count_connectors: number;
  count_encoders: number;
  min_width?: number;
  max_width?: number;
  min_height?: number;
  max_height?: number;
}
/** struct drm_mode_crtc (104 bytes). */
export interface drm_mode_crtc {
  set_connectors_ptr?: UserPtr<number>;
  count_connectors?: number;
  crtc_id: number;
  fb_id?: number;
  x?: number;
  y?: number;
  gamma_size?: number;
  mode_valid?: number;
  mode?: drm_mode_modeinfo;
}
/** struct drm_mode_get_encoder (20 bytes). */
export interface drm_mode_get_encoder {
  encoder_id: number;
  encoder_type?: number;
  crtc_id?: number;
  possible_crtcs?: number;
  possible_clones?: number;
}
/** struct drm_mode_get_connector (80 bytes). */
export interface drm_mode_get_connector {
  encoders_ptr?: UserPtr<number>;
  modes_ptr?: UserPtr<drm_mode_modeinfo>;
  props_ptr?: UserPtr<number>;
  prop_values_ptr?: UserPtr<bigint>;
  count_modes: number;
  count_props: number;
  count_encoders: number;
  encoder_id?: number;
  connector_id: number;
  connector_type?: number;
  connector_type_id?: number;
  connection?: number;
  mm_width?: number;
  mm_height?: number;
  subpixel?: number;
  pad?: number;
}
/** struct drm_mode_get_plane_res (16 bytes). */
export interface drm_mode_get_plane_res {
  plane_id_ptr?: UserPtr<number>;
  count_planes: number;
}
/** struct drm_mode_get_plane (32 bytes). */
export interface drm_mode_get_plane {
  plane_id: number;
  crtc_id?: number;
  fb_id?: number;
  possible_crtcs?: number;
  gamma_size?: number;
  count_format_types: number;
  format_type_ptr?: UserPtr<number>;
}
/** struct drm_mode_fb_cmd2 (104 bytes). `modifier` entries are u64 (bigint). */
export interface drm_mode_fb_cmd2 {
  fb_id?: number;
  width: number;
  height: number;
  pixel_format: number;
  flags: number;
  handles: number[];
  pitches: number[];
  offsets: number[];
  modifier?: bigint[];
}
/** struct drm_mode_obj_get_properties (32 bytes). */
export interface drm_mode_obj_get_properties {
  props_ptr?: UserPtr<number>;
  prop_values_ptr?: UserPtr<bigint>;
  count_props: number;
  obj_id: number;
  obj_type: number;
}
/** struct drm_mode_property_enum (36 bytes). */
export interface drm_mode_property_enum {
  value: bigint;
  name: string;
}
/** struct drm_mode_get_property (64 bytes). */
export interface drm_mode_get_property {
  values_ptr?: UserPtr<bigint>;
  enum_blob_ptr?: UserPtr<drm_mode_property_enum>;
  prop_id: number;
  flags?: number;
  name?: string;
  count_values: number;
  count_enum_blobs: number;
}
/** struct drm_mode_get_blob (16 bytes). `data` receives the blob bytes. */
export interface drm_mode_get_blob {
  blob_id: number;
  length: number;
  data?: Uint8Array | 0;
}
/** struct drm_mode_create_blob (16 bytes); `data` is the blob content (a mode: {@link modeinfoBlob}). */
export interface drm_mode_create_blob {
  data: Uint8Array;
  length: number;
  blob_id?: number;
}
/** struct drm_mode_destroy_blob (4 bytes). */
export interface drm_mode_destroy_blob {
  blob_id: number;
}
/** struct drm_mode_atomic (56 bytes). */
export interface drm_mode_atomic {
  flags: number;
  count_objs: number;
  objs_ptr: UserPtr<number>;
  count_props_ptr: UserPtr<number>;
  props_ptr: UserPtr<number>;
  prop_values_ptr: UserPtr<PropValue>;
  reserved?: number;
  user_data?: bigint;
}
/** struct drm_mode_create_dumb (32 bytes). */
export interface drm_mode_create_dumb {
  height: number;
  width: number;
  bpp: number;
  flags: number;
  handle?: number;
  pitch?: number;
  size?: number;
}
/** struct drm_mode_map_dumb (16 bytes). */
export interface drm_mode_map_dumb {
  handle: number;
  pad?: number;
  offset?: number;
}
/** struct drm_mode_destroy_dumb (4 bytes). */
export interface drm_mode_destroy_dumb {
  handle: number;
}

/** Size of struct drm_mode_modeinfo, the content of a MODE_ID blob. */
export const DRM_MODE_MODEINFO_SIZE = 68;

/** Packs a mode into the 68 bytes of a MODE_ID property blob (what drmModeCreatePropertyBlob is given). */
export function modeinfoBlob(m: drm_mode_modeinfo): Uint8Array {
  const b = new Uint8Array(DRM_MODE_MODEINFO_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, m.clock, true);
  [m.hdisplay, m.hsync_start, m.hsync_end, m.htotal, m.hskew, m.vdisplay, m.vsync_start, m.vsync_end, m.vtotal, m.vscan].forEach((x, i) => v.setUint16(4 + 2 * i, x, true));
  v.setUint32(24, m.vrefresh, true);
  v.setUint32(28, m.flags, true);
  v.setUint32(32, m.type, true);
  b.set(new TextEncoder().encode(m.name).subarray(0, DRM_DISPLAY_MODE_LEN - 1), 36);
  return b;
}

/** Unpacks a MODE_ID blob (drm_mode_convert_umode's input). */
export function parseModeinfo(b: Uint8Array): drm_mode_modeinfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u16 = (i: number) => v.getUint16(4 + 2 * i, true);
  const nameBytes = b.subarray(36, 36 + DRM_DISPLAY_MODE_LEN);
  const end = nameBytes.indexOf(0);
  return {
    clock: v.getUint32(0, true),
    hdisplay: u16(0), hsync_start: u16(1), hsync_end: u16(2), htotal: u16(3), hskew: u16(4),
    vdisplay: u16(5), vsync_start: u16(6), vsync_end: u16(7), vtotal: u16(8), vscan: u16(9),
    vrefresh: v.getUint32(24, true),
    flags: v.getUint32(28, true),
    type: v.getUint32(32, true),
    name: new TextDecoder().decode(end < 0 ? nameBytes : nameBytes.subarray(0, end)),
  };
}

/* drm_fourcc.h */
export const fourccCode = (s: string): number =>
  (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0;
/** The four characters of a fourcc ("XR24"), as drm_get_format_name prints them. */
export const fourccName = (f: number): string => String.fromCharCode(f & 0xff, (f >>> 8) & 0xff, (f >>> 16) & 0xff, (f >>> 24) & 0xff);

export const DRM_FORMAT_INVALID = 0;
export const DRM_FORMAT_BIG_ENDIAN = 0x80000000;
export const DRM_FORMAT_C8 = fourccCode("C8  ");
export const DRM_FORMAT_RGB565 = fourccCode("RG16");
export const DRM_FORMAT_RGB888 = fourccCode("RG24");
export const DRM_FORMAT_BGR888 = fourccCode("BG24");
export const DRM_FORMAT_XRGB8888 = fourccCode("XR24");
export const DRM_FORMAT_XBGR8888 = fourccCode("XB24");
export const DRM_FORMAT_ARGB8888 = fourccCode("AR24");
export const DRM_FORMAT_ABGR8888 = fourccCode("AB24");
export const DRM_FORMAT_XRGB16161616 = fourccCode("XR48");
export const DRM_FORMAT_ARGB16161616 = fourccCode("AR48");
export const DRM_FORMAT_YUYV = fourccCode("YUYV");
export const DRM_FORMAT_UYVY = fourccCode("UYVY");
export const DRM_FORMAT_NV12 = fourccCode("NV12");
export const DRM_FORMAT_NV21 = fourccCode("NV21");
export const DRM_FORMAT_NV16 = fourccCode("NV16");
export const DRM_FORMAT_YUV420 = fourccCode("YU12");

export const DRM_FORMAT_MOD_VENDOR_NONE = 0n;
export const DRM_FORMAT_MOD_VENDOR_INTEL = 0x01n;
export const DRM_FORMAT_MOD_VENDOR_AMD = 0x02n;
export const DRM_FORMAT_MOD_VENDOR_NVIDIA = 0x03n;
export const DRM_FORMAT_MOD_VENDOR_SAMSUNG = 0x04n;
export const DRM_FORMAT_MOD_VENDOR_QCOM = 0x05n;
export const DRM_FORMAT_MOD_VENDOR_VIVANTE = 0x06n;
export const DRM_FORMAT_MOD_VENDOR_BROADCOM = 0x07n;
export const DRM_FORMAT_MOD_VENDOR_ARM = 0x08n;
export const DRM_FORMAT_RESERVED = (1n << 56n) - 1n;
export const fourccModCode = (vendor: bigint, val: bigint): bigint => (vendor << 56n) | (val & 0x00ff_ffff_ffff_ffffn);
export const DRM_FORMAT_MOD_INVALID = fourccModCode(DRM_FORMAT_MOD_VENDOR_NONE, DRM_FORMAT_RESERVED);
export const DRM_FORMAT_MOD_LINEAR = fourccModCode(DRM_FORMAT_MOD_VENDOR_NONE, 0n);
export const I915_FORMAT_MOD_X_TILED = fourccModCode(DRM_FORMAT_MOD_VENDOR_INTEL, 1n);
export const I915_FORMAT_MOD_Y_TILED = fourccModCode(DRM_FORMAT_MOD_VENDOR_INTEL, 2n);

/* vgem_drm.h */
export const DRM_VGEM_FENCE_ATTACH = 0x1;
export const DRM_VGEM_FENCE_SIGNAL = 0x2;
export const VGEM_FENCE_WRITE = 0x1;
/** struct drm_vgem_fence_attach (16 bytes). */
export interface drm_vgem_fence_attach {
  handle: number;
  flags: number;
  out_fence?: number;
  pad?: number;
}
/** struct drm_vgem_fence_signal (8 bytes). */
export interface drm_vgem_fence_signal {
  fence: number;
  flags: number;
}
export const DRM_IOCTL_VGEM_FENCE_ATTACH = DRM_IOWR(DRM_COMMAND_BASE + DRM_VGEM_FENCE_ATTACH, 16);
export const DRM_IOCTL_VGEM_FENCE_SIGNAL = DRM_IOW(DRM_COMMAND_BASE + DRM_VGEM_FENCE_SIGNAL, 8);
