/**
 * drm_ioctl() (drivers/gpu/drm/drm_ioctl.c) copies _IOC_SIZE(cmd) bytes in and out of a
 * zero-filled kernel buffer sized for the ioctl: a request encoded with size 0 and a NULL argument
 * runs on an all-zero struct and copies nothing back; a sized request with a NULL argument faults.
 * Found by the fuzzer: ioctl(card, 0, NULL) crashed drm_version on a null argument, and a random
 * request whose nr was ADDFB2's crashed the ADDFB2 handler on a struct of another shape.
 */
import { describe, expect, it } from "vitest";
import { _IO, _IOWR } from "@dmabuf/core";
import * as U from "../src/uapi.js";
import { bootDrm, VGEM, VKMS } from "./support/drm.js";

describe("drm_ioctl() argument copying", () => {
  it("_IO('d', 0) with NULL is DRM_IOCTL_VERSION with no bytes copied: 0, as on Linux (kdata zero-filled, out_size 0)", async () => {
    const k = await bootDrm();
    const p = k.spawn("t");
    for (const path of [VKMS, VGEM]) expect(await p.ioctl(p.open(path), _IO("d", 0), null)).toBe(0);
    k.shutdown();
  });

  it("a request of another type is ENOTTY even when its nr is a DRM ioctl's (drm_ioctl checks DRM_IOCTL_TYPE since 5.14)", async () => {
    const k = await bootDrm();
    const p = k.spawn("t");
    const fd = p.open(VKMS);
    const version: U.drm_version = { name_len: 0, date_len: 0, desc_len: 0 };
    // nr 0xb8 is DRM_IOCTL_MODE_ADDFB2's; type ':' is not DRM's
    await expect(p.ioctl(fd, _IOWR(":", 0xb8, 64), version)).rejects.toMatchObject({ code: "ENOTTY" });
    await expect(p.ioctl(fd, 0, null)).rejects.toMatchObject({ code: "ENOTTY" });
    expect(k.tainted).toBe(0);
    k.shutdown();
  });

  it("a DRM request with fields left out runs on zeros (kdata is zero-filled): ADDFB2 with {} is EINVAL for format 0, not a crash", async () => {
    const k = await bootDrm();
    const p = k.spawn("t");
    const fd = p.open(VKMS);
    for (const req of [U.DRM_IOCTL_MODE_ADDFB2, _IO("d", U.DRM_IOCTL_MODE_ADDFB2 & 0xff)])
      await expect(p.ioctl(fd, req, req === U.DRM_IOCTL_MODE_ADDFB2 ? {} : null)).rejects.toMatchObject({ code: "EINVAL" });
    expect(k.tainted).toBe(0);
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
