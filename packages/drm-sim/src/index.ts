/**
 * @dmabuf/drm-sim: DRM/KMS with GEM, PRIME and atomic commits; a vkms-like display ("sim,vkms",
 * /dev/dri/card0 on the default board) and a vgem-like GEM device ("sim,vgem", /dev/dri/card1).
 * Needs the mm plugin: `Kernel.boot({ plugins: [mm(), drmSim()] })`.
 */
export { default, type DrmSimOptions } from "./plugin.js";
export * from "./uapi.js";
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
