/**
 * A vkms-like virtual display (drivers/gpu/drm/vkms/): one CRTC, a primary plane, overlay planes,
 * a virtual connector with DMT modes up to 1920x1080 (1024x768 preferred), a writeback connector,
 * vblank from an hrtimer at the mode's frame period and a CPU composer.
 *
 * Unlike upstream vkms (shmem GEM), buffers follow the GEM DMA helpers, as the display controller
 * of a SoC without an IOMMU does: dumb buffers are one contiguous DMA allocation (CMA), and imports
 * must map to one DMA-contiguous range (drm_gem_dma_prime_import_sg_table), else EINVAL.
 */
import { check, type Device, type Kernel, type PlatformDriver } from "@dmabuf/core";
import { COMPOSER_FORMATS } from "./composer.js";
import { DRIVER_ATOMIC, DRIVER_GEM, DRIVER_MODESET, DrmDevice, type DrmDriver } from "./drm-device.js";
import { DrmGemObject } from "./drm-gem.js";
import { drmMinorAlloc } from "./drm-minor.js";
import { drmPrimeGetContiguousSize } from "./drm-prime.js";
import { dmaBacking } from "./internal/gem-memory.js";
import { KmsDevice } from "./kms.js";
import * as U from "./uapi.js";

/** Options of the vkms driver (its module parameters). */
export interface VkmsOptions {
  /** enable_overlay: number of overlay planes (default 1). */
  readonly overlayPlanes?: number;
  /** enable_writeback (default true). */
  readonly writeback?: boolean;
}

const mode = (clock: number, h: number[], v: number[], flags: number, preferred = false): U.drm_mode_modeinfo => ({
  clock, hdisplay: h[0]!, hsync_start: h[1]!, hsync_end: h[2]!, htotal: h[3]!, hskew: 0, vdisplay: v[0]!, vsync_start: v[1]!, vsync_end: v[2]!, vtotal: v[3]!, vscan: 0,
  vrefresh: Math.round((clock * 1000) / (h[3]! * v[3]!)), flags, type: U.DRM_MODE_TYPE_DRIVER | (preferred ? U.DRM_MODE_TYPE_PREFERRED : 0), name: `${h[0]}x${v[0]}`,
});
const P = U.DRM_MODE_FLAG_PHSYNC | U.DRM_MODE_FLAG_PVSYNC;
const N = U.DRM_MODE_FLAG_NHSYNC | U.DRM_MODE_FLAG_NVSYNC;

/** DMT modes of the virtual connector (drm_add_modes_noedid + drm_set_preferred_mode(1024, 768)). */
export const VKMS_MODES: readonly U.drm_mode_modeinfo[] = [
  mode(148500, [1920, 2008, 2052, 2200], [1080, 1084, 1089, 1125], P),
  mode(74250, [1280, 1390, 1430, 1650], [720, 725, 730, 750], P),
  mode(65000, [1024, 1048, 1184, 1344], [768, 771, 777, 806], N, true),
  mode(40000, [800, 840, 968, 1056], [600, 601, 605, 628], P),
  mode(25175, [640, 656, 752, 800], [480, 490, 492, 525], N),
];

/** XRES_MIN/YRES_MIN and XRES_MAX/YRES_MAX of vkms_drv.h. */
const XRES_MIN = 10;
const YRES_MIN = 10;
const XRES_MAX = 8192;
const YRES_MAX = 8192;

function vkmsDriver(): DrmDriver {
  return {
    name: "vkms",
    desc: "Virtual Kernel Mode Setting",
    date: "20180514",
    major: 1,
    minor: 0,
    patchlevel: 0,
    driverFeatures: DRIVER_MODESET | DRIVER_ATOMIC | DRIVER_GEM,
    createObject: (dev, size) => new DrmGemObject(dev, size, () => dmaBacking(dev.kernel, dev.device, size)).withBacking(),
    prime: {
      // drm_gem_dma_prime_import_sg_table(): the device sees one DMA address, so the mapping must be one range.
      importSgTable(_dev, attach, sgt) {
        const contiguous = drmPrimeGetContiguousSize(sgt);
        check(contiguous >= attach.dmabuf.size, "EINVAL", "DRM_IOCTL_PRIME_FD_TO_HANDLE", `buffer chunks must be mapped contiguously: ${contiguous} of ${attach.dmabuf.size} bytes are DMA-contiguous for ${attach.dev.name} (no IOMMU)`);
      },
    },
  };
}

/** The platform driver for compatible "sim,vkms": /dev/dri/cardN with KMS. */
export function vkmsPlatformDriver(options: VkmsOptions = {}): PlatformDriver {
  return {
    name: "vkms",
    compatible: ["sim,vkms"],
    probe(dev: Device, kernel: Kernel) {
      const drm = new DrmDevice(kernel, dev, vkmsDriver(), drmMinorAlloc(kernel));
      drm.kms = new KmsDevice(drm, {
        minWidth: XRES_MIN, maxWidth: XRES_MAX, minHeight: YRES_MIN, maxHeight: YRES_MAX, modes: VKMS_MODES, formats: COMPOSER_FORMATS,
        overlayPlanes: options.overlayPlanes ?? 1, writeback: options.writeback ?? true,
      });
      drm.register();
      dev.driverData = drm;
    },
    remove(dev: Device) {
      (dev.driverData as DrmDevice).unregister();
    },
  };
}
