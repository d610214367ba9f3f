/**
 * @dmabuf/drm-sim: DRM/KMS with GEM, PRIME and atomic commits; a vkms-like display ("sim,vkms",
 * /dev/dri/card0 on the default board) and a vgem-like GEM device ("sim,vgem", /dev/dri/card1).
 * Needs the mm plugin: `Kernel.boot({ plugins: [mm(), drmSim()] })`.
 */
export { default, type DrmSimOptions } from "./plugin.js";
export {
  DRM_BLEND_ALPHA_OPAQUE, DRM_CAP_ADDFB2_MODIFIERS, DRM_CAP_ASYNC_PAGE_FLIP, DRM_CAP_CRTC_IN_VBLANK_EVENT,
  DRM_CAP_CURSOR_HEIGHT, DRM_CAP_CURSOR_WIDTH, DRM_CAP_DUMB_BUFFER, DRM_CAP_DUMB_PREFER_SHADOW,
  DRM_CAP_DUMB_PREFERRED_DEPTH, DRM_CAP_PAGE_FLIP_TARGET, DRM_CAP_PRIME, DRM_CAP_SYNCOBJ,
  DRM_CAP_SYNCOBJ_TIMELINE, DRM_CAP_TIMESTAMP_MONOTONIC, DRM_CAP_VBLANK_HIGH_CRTC, DRM_CLIENT_CAP_ASPECT_RATIO,
  DRM_CLIENT_CAP_ATOMIC, DRM_CLIENT_CAP_STEREO_3D, DRM_CLIENT_CAP_UNIVERSAL_PLANES,
  DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, DRM_CLOEXEC, DRM_COMMAND_BASE, DRM_DISPLAY_MODE_LEN,
  DRM_EVENT_CRTC_SEQUENCE, DRM_EVENT_FLIP_COMPLETE, DRM_EVENT_VBLANK, DRM_EVENT_VBLANK_SIZE,
  DRM_FORMAT_ABGR8888, DRM_FORMAT_ARGB16161616, DRM_FORMAT_ARGB8888, DRM_FORMAT_BGR888, DRM_FORMAT_BIG_ENDIAN,
  DRM_FORMAT_C8, DRM_FORMAT_INVALID, DRM_FORMAT_MOD_INVALID, DRM_FORMAT_MOD_LINEAR, DRM_FORMAT_MOD_VENDOR_AMD,
  DRM_FORMAT_MOD_VENDOR_ARM, DRM_FORMAT_MOD_VENDOR_BROADCOM, DRM_FORMAT_MOD_VENDOR_INTEL,
  DRM_FORMAT_MOD_VENDOR_NONE, DRM_FORMAT_MOD_VENDOR_NVIDIA, DRM_FORMAT_MOD_VENDOR_QCOM,
  DRM_FORMAT_MOD_VENDOR_SAMSUNG, DRM_FORMAT_MOD_VENDOR_VIVANTE, DRM_FORMAT_NV12, DRM_FORMAT_NV16,
  DRM_FORMAT_NV21, DRM_FORMAT_RESERVED, DRM_FORMAT_RGB565, DRM_FORMAT_RGB888, DRM_FORMAT_UYVY,
  DRM_FORMAT_XBGR8888, DRM_FORMAT_XRGB16161616, DRM_FORMAT_XRGB8888, DRM_FORMAT_YUV420, DRM_FORMAT_YUYV,
  DRM_IOCTL_BASE, DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_GET_CAP, DRM_IOCTL_MODE_ADDFB2, DRM_IOCTL_MODE_ATOMIC,
  DRM_IOCTL_MODE_CREATE_DUMB, DRM_IOCTL_MODE_CREATEPROPBLOB, DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_DESTROYPROPBLOB, DRM_IOCTL_MODE_GETCONNECTOR, DRM_IOCTL_MODE_GETCRTC,
  DRM_IOCTL_MODE_GETENCODER, DRM_IOCTL_MODE_GETPLANE, DRM_IOCTL_MODE_GETPLANERESOURCES,
  DRM_IOCTL_MODE_GETPROPBLOB, DRM_IOCTL_MODE_GETPROPERTY, DRM_IOCTL_MODE_GETRESOURCES, DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_MODE_OBJ_GETPROPERTIES, DRM_IOCTL_MODE_RMFB, DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD, DRM_IOCTL_SET_CLIENT_CAP, DRM_IOCTL_VERSION, DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL, DRM_MODE_ATOMIC_ALLOW_MODESET, DRM_MODE_ATOMIC_FLAGS, DRM_MODE_ATOMIC_NONBLOCK,
  DRM_MODE_ATOMIC_TEST_ONLY, DRM_MODE_CONNECTED, DRM_MODE_CONNECTOR_VIRTUAL, DRM_MODE_CONNECTOR_WRITEBACK,
  DRM_MODE_DISCONNECTED, DRM_MODE_ENCODER_VIRTUAL, DRM_MODE_FB_INTERLACED, DRM_MODE_FB_MODIFIERS,
  DRM_MODE_FLAG_NHSYNC, DRM_MODE_FLAG_NVSYNC, DRM_MODE_FLAG_PHSYNC, DRM_MODE_FLAG_PVSYNC,
  DRM_MODE_MODEINFO_SIZE, DRM_MODE_OBJECT_ANY, DRM_MODE_OBJECT_BLOB, DRM_MODE_OBJECT_CONNECTOR,
  DRM_MODE_OBJECT_CRTC, DRM_MODE_OBJECT_ENCODER, DRM_MODE_OBJECT_FB, DRM_MODE_OBJECT_MODE,
  DRM_MODE_OBJECT_PLANE, DRM_MODE_OBJECT_PROPERTY, DRM_MODE_PAGE_FLIP_ASYNC, DRM_MODE_PAGE_FLIP_EVENT,
  DRM_MODE_PAGE_FLIP_TARGET_ABSOLUTE, DRM_MODE_PAGE_FLIP_TARGET_RELATIVE, DRM_MODE_PROP_ATOMIC,
  DRM_MODE_PROP_BITMASK, DRM_MODE_PROP_BLOB, DRM_MODE_PROP_ENUM, DRM_MODE_PROP_EXTENDED_TYPE,
  DRM_MODE_PROP_IMMUTABLE, DRM_MODE_PROP_OBJECT, DRM_MODE_PROP_PENDING, DRM_MODE_PROP_RANGE,
  DRM_MODE_PROP_SIGNED_RANGE, DRM_MODE_SUBPIXEL_UNKNOWN, DRM_MODE_TYPE_DRIVER, DRM_MODE_TYPE_PREFERRED,
  DRM_MODE_UNKNOWNCONNECTION, DRM_PLANE_TYPE_CURSOR, DRM_PLANE_TYPE_OVERLAY, DRM_PLANE_TYPE_PRIMARY,
  DRM_PRIME_CAP_EXPORT, DRM_PRIME_CAP_IMPORT, DRM_RDWR, DRM_VGEM_FENCE_ATTACH, DRM_VGEM_FENCE_SIGNAL,
  encodeDrmEventVblank, fourccCode, fourccModCode, fourccName, I915_FORMAT_MOD_X_TILED,
  I915_FORMAT_MOD_Y_TILED, modeinfoBlob, parseDrmEvents, parseModeinfo, VGEM_FENCE_WRITE,
  type drm_event_vblank, type drm_gem_close, type drm_get_cap, type drm_mode_atomic, type drm_mode_card_res,
  type drm_mode_create_blob, type drm_mode_create_dumb, type drm_mode_crtc, type drm_mode_destroy_blob,
  type drm_mode_destroy_dumb, type drm_mode_fb_cmd2, type drm_mode_get_blob, type drm_mode_get_connector,
  type drm_mode_get_encoder, type drm_mode_get_plane, type drm_mode_get_plane_res, type drm_mode_get_property,
  type drm_mode_map_dumb, type drm_mode_modeinfo, type drm_mode_obj_get_properties,
  type drm_mode_property_enum, type drm_prime_handle, type drm_set_client_cap, type drm_version,
  type drm_vgem_fence_attach, type drm_vgem_fence_signal, type PropValue, type UserPtr
} from "./uapi.js";
export { DRIVER_ATOMIC, DRIVER_GEM, DRIVER_MODESET, DRIVER_RENDER, DrmDevice, DrmFile, sliceSegments, type DrmDriver, type DrmIoctlFunc } from "./drm-device.js";
export { DrmGemObject, pageAlign, type GemBacking } from "./drm-gem.js";
export { drmFormatInfo, minPitch, planeHeight, planeWidth, type DrmFormatInfo } from "./drm-format.js";
export { DrmFramebuffer, framebufferCheck, type FbLimits } from "./drm-framebuffer.js";
export { drmGemPrimeDmabufOps, drmPrimeFdToHandle, drmPrimeGetContiguousSize, drmPrimeHandleToFd, type DrmPrimeOps } from "./drm-prime.js";
export { KmsDevice, type KmsConfig, type ModeObject } from "./kms.js";
export { DrmAtomic } from "./drm-atomic.js";
export { DrmCrtc } from "./drm-crtc.js";
export { DrmPlane } from "./drm-plane.js";
export { DrmConnector, DrmEncoder } from "./drm-connector.js";
export { DrmProperty, DrmPropertyBlob } from "./drm-property.js";
export { COMPOSER_FORMATS, WRITEBACK_FORMATS, composeFrame, writeFrame, yuvToArgb, type ComposerPlane, type PlaneMemory } from "./composer.js";
export { ScanoutFrame } from "./scanout-frame.js";
export { VKMS_MODES, vkmsPlatformDriver, type VkmsOptions } from "./vkms.js";
export { VGEM_FENCE_TIMEOUT_NS, vgemPlatformDriver } from "./vgem.js";
export { drmDeviceOf } from "./plugin.js";
/** Userspace helpers (libdrm / igt_kms style) over the UAPI: `libdrm.createDumb(p, fd, w, h)`, `libdrm.kmsIds(p, fd)`, ... */
export * as libdrm from "./libdrm.js";
export type { KmsIds } from "./libdrm.js";
