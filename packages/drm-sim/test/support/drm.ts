/** Test-only helpers: a booted DRM kernel, the default board's card paths, the vkms KMS state. */
import { Kernel } from "@dmabuf/core";
import mm from "@dmabuf/mm";
import drmSim, { drmDeviceOf, type DrmSimOptions } from "../../src/index.js";
import type { KmsIds } from "../../src/libdrm.js";

export async function bootDrm(opts: DrmSimOptions = {}): Promise<Kernel> {
  return Kernel.boot({ plugins: [mm(), drmSim(opts)] });
}

export const VKMS = "/dev/dri/card0";
export const VGEM = "/dev/dri/card1";

export const kmsOf = (k: Kernel) => drmDeviceOf(k, VKMS).kms!;
export const mode = (ids: KmsIds, w: number, h: number) => ids.modes.find((m) => m.hdisplay === w && m.vdisplay === h)!;
