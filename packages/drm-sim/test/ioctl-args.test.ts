/**
 * drm_ioctl() (drivers/gpu/drm/drm_ioctl.c) copies _IOC_SIZE(cmd) bytes in and out of a
 * zero-filled kernel buffer sized for the ioctl: a request encoded with size 0 and a NULL argument
 * runs on an all-zero struct and copies nothing back; a sized request with a NULL argument faults.
 * Found by the fuzzer: ioctl(card, 0, NULL) crashed drm_version on a null argument.
 */
import { describe, expect, it } from "vitest";
import * as U from "../src/uapi.js";
import { bootDrm, VGEM, VKMS } from "./support/drm.js";

describe("drm_ioctl() argument copying", () => {
  it("ioctl(fd, 0, NULL) is DRM_IOCTL_VERSION with no bytes copied: 0, as on Linux (kdata zero-filled, out_size 0)", async () => {
    const k = await bootDrm();
    const p = k.spawn("t");
    for (const path of [VKMS, VGEM]) expect(await p.ioctl(p.open(path), 0, null)).toBe(0);
    k.shutdown();
  });

  it("a sized request with a NULL argument fails with EFAULT (copy_from_user of NULL) and changes nothing", async () => {
    const k = await bootDrm();
    const p = k.spawn("t");
    const fd = p.open(VKMS);
    await expect(p.ioctl(fd, U.DRM_IOCTL_MODE_CREATE_DUMB, null)).rejects.toMatchObject({ code: "EFAULT" });
    await expect(p.ioctl(fd, U.DRM_IOCTL_GEM_CLOSE, undefined)).rejects.toMatchObject({ code: "EFAULT" });
    k.shutdown();
  });
});
