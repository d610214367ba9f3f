import { PLATFORM_DRIVER, type DriverPlugin, type Kernel } from "@dmabuf/core";
import type { DrmDevice } from "./drm-device.js";
import { vgemPlatformDriver } from "./vgem.js";
import { vkmsPlatformDriver, type VkmsOptions } from "./vkms.js";

/** Options of the drm-sim plugin: which drivers to register (both by default). */
export interface DrmSimOptions {
  /** The vkms driver and its options, or false to leave it out. */
  readonly vkms?: VkmsOptions | boolean;
  /** The vgem driver, or false to leave it out. */
  readonly vgem?: boolean;
}

/** The drm-sim plugin: `Kernel.boot({ plugins: [mm(), drmSim()] })`. */
export default function drmSim(options: DrmSimOptions = {}): DriverPlugin {
  return {
    name: "drm-sim",
    register(container) {
      if (options.vkms !== false) container.register(PLATFORM_DRIVER, { useValue: vkmsPlatformDriver(typeof options.vkms === "object" ? options.vkms : {}) });
      if (options.vgem !== false) container.register(PLATFORM_DRIVER, { useValue: vgemPlatformDriver() });
    },
  };
}

/** The DRM device behind a device node path ("/dev/dri/card0"), for the driver-face API (frames, objects). */
export function drmDeviceOf(kernel: Kernel, path: string): DrmDevice {
  const node = kernel.vfs.lookup(path);
  return node.privateData as DrmDevice;
}
