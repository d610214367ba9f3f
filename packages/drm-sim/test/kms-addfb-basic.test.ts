/**
 * IGT tests/kms_addfb_basic.c, the driver-independent groups (invalid, pitch, prop, master, addfb25,
 * size), against the vkms device: ADDFB2 checks of drm_framebuffer.c and the GEM fb helper
 * (reference kernel-subsystems.md 2.4; consolidated checks D19-D21).
 */
import { isErrno, type Process } from "@dmabuf/core";
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import * as U from "../src/uapi.js";
import { createDumb } from "../src/libdrm.js";
import { bootDrm, kmsOf, VKMS } from "./support/drm.js";

let p: Process;
let fd: number;
let gemBo: number;
let gemBoSmall: number;

const addfb = (f: U.drm_mode_fb_cmd2) => p.ioctl(fd, U.DRM_IOCTL_MODE_ADDFB2, f);
const rmfb = (id: number) => p.ioctl(fd, U.DRM_IOCTL_MODE_RMFB, id);
const errnoOf = async (f: U.drm_mode_fb_cmd2) => {
  try {
    await addfb(f);
    return "OK";
  } catch (e) {
    if (!isErrno(e)) throw e;
    return e.code;
  }
};
const cmd = (over: Partial<U.drm_mode_fb_cmd2> = {}): U.drm_mode_fb_cmd2 => ({
  width: 512, height: 512, pixel_format: U.DRM_FORMAT_XRGB8888, flags: 0, handles: [gemBo, 0, 0, 0], pitches: [512 * 4, 0, 0, 0], offsets: [0, 0, 0, 0], modifier: [0n, 0n, 0n, 0n], ...over,
});

beforeEach(async () => {
  const k = await bootDrm();
  p = k.spawn("kms_addfb_basic");
  fd = p.open(VKMS);
  // igt_create_bo_with_dimensions(fd, 1024, 1024 / 1023, XRGB8888)
  gemBo = (await createDumb(p, fd, 1024, 1024)).handle;
  gemBoSmall = (await createDumb(p, fd, 1024, 1023)).handle;
});

describe("IGT kms_addfb_basic: invalid tests (unused planes with DRM_MODE_FB_MODIFIERS)", () => {
  it("basic fixture: ADDFB2 + RMFB of a 512x512 XRGB8888 fb works", async () => {
    const f = cmd();
    await addfb(f);
    expect(f.fb_id).toBeGreaterThan(0);
    await rmfb(f.fb_id!);
  });
  it("unused-handle: handles[1] set -> EINVAL", async () => {
    expect(await errnoOf(cmd({ flags: U.DRM_MODE_FB_MODIFIERS, handles: [gemBo, gemBoSmall, 0, 0] }))).toBe("EINVAL");
  });
  it("unused-pitches: pitches[1] = 512 -> EINVAL", async () => {
    expect(await errnoOf(cmd({ flags: U.DRM_MODE_FB_MODIFIERS, pitches: [2048, 512, 0, 0] }))).toBe("EINVAL");
  });
  it("unused-offsets: offsets[1] = 512 -> EINVAL", async () => {
    expect(await errnoOf(cmd({ flags: U.DRM_MODE_FB_MODIFIERS, offsets: [0, 512, 0, 0] }))).toBe("EINVAL");
  });
  it("unused-modifier: modifier[1] = I915_FORMAT_MOD_X_TILED -> EINVAL", async () => {
    expect(await errnoOf(cmd({ flags: U.DRM_MODE_FB_MODIFIERS, modifier: [0n, U.I915_FORMAT_MOD_X_TILED, 0n, 0n] }))).toBe("EINVAL");
  });
  it("pre-FB_MODIFIERS userspace: garbage in unused handle/pitch/offset slots is tolerated without the flag", async () => {
    expect(await errnoOf(cmd({ handles: [gemBo, 77, 0, 0], pitches: [2048, 5, 0, 0], offsets: [0, 9, 0, 0] }))).toBe("OK");
  });
});

describe("IGT kms_addfb_basic: pitch tests", () => {
  it("no-handle: EINVAL", async () => {
    expect(await errnoOf(cmd({ handles: [0, 0, 0, 0], pitches: [4096, 0, 0, 0] }))).toBe("EINVAL");
  });
  it("basic: 512x512 with a 4096-byte pitch", async () => {
    const f = cmd({ pitches: [4096, 0, 0, 0] });
    await addfb(f);
    await rmfb(f.fb_id!);
  });
  for (const pitch of [0, 32, 63, 128, 256, 1024, 999, 65536])
    it(`bad-pitch-${pitch}: EINVAL`, async () => {
      expect(await errnoOf(cmd({ pitches: [pitch, 0, 0, 0] }))).toBe("EINVAL");
    });
});

describe("IGT kms_addfb_basic: prop tests", () => {
  it("invalid-get-prop-any / invalid-get-prop: an fb has no properties (EINVAL)", async () => {
    const f = cmd({ width: 1024, height: 1024, pitches: [4096, 0, 0, 0] });
    await addfb(f);
    for (const obj_type of [U.DRM_MODE_OBJECT_ANY, U.DRM_MODE_OBJECT_FB]) {
      const q: U.drm_mode_obj_get_properties = { obj_id: f.fb_id!, obj_type, count_props: 1, props_ptr: [0], prop_values_ptr: [0n] };
      await expect(p.ioctl(fd, U.DRM_IOCTL_MODE_OBJ_GETPROPERTIES, q)).rejects.toThrow(/EINVAL/);
    }
  });
});

describe("IGT kms_addfb_basic: master tests", () => {
  it("master-rmfb: another file (not master) cannot remove this file's fb (ENOENT)", async () => {
    const f = cmd({ width: 1024, height: 1024, pitches: [4096, 0, 0, 0] });
    await addfb(f);
    const fd2 = p.open(VKMS);
    await expect(p.ioctl(fd2, U.DRM_IOCTL_MODE_RMFB, f.fb_id)).rejects.toThrow(/ENOENT/);
    await rmfb(f.fb_id!);
  });
});

describe("IGT kms_addfb_basic: addfb25 tests", () => {
  it("addfb25-modifier-no-flag: a modifier without DRM_MODE_FB_MODIFIERS -> EINVAL", async () => {
    expect(await errnoOf(cmd({ width: 1024, height: 1024, pitches: [4096, 0, 0, 0], modifier: [U.I915_FORMAT_MOD_X_TILED, 0n, 0n, 0n] }))).toBe("EINVAL");
  });
  it("addfb25-bad-modifier: DRM_FORMAT_MOD_INVALID with the flag -> EINVAL (no plane scans it out)", async () => {
    expect(await errnoOf(cmd({ width: 1024, height: 1024, pitches: [4096, 0, 0, 0], flags: U.DRM_MODE_FB_MODIFIERS, modifier: [U.DRM_FORMAT_MOD_INVALID, 0n, 0n, 0n] }))).toBe("EINVAL");
  });
  it("DRM_FORMAT_MOD_LINEAR with the flag is accepted (DRM_CAP_ADDFB2_MODIFIERS = 1)", async () => {
    const cap: U.drm_get_cap = { capability: U.DRM_CAP_ADDFB2_MODIFIERS };
    await p.ioctl(fd, U.DRM_IOCTL_GET_CAP, cap);
    expect(cap.value).toBe(1);
    expect(await errnoOf(cmd({ flags: U.DRM_MODE_FB_MODIFIERS, modifier: [U.DRM_FORMAT_MOD_LINEAR, 0n, 0n, 0n] }))).toBe("OK");
  });
});

describe("IGT kms_addfb_basic: size tests", () => {
  const f = () => cmd({ width: 1024, height: 1024, pitches: [4096, 0, 0, 0] });
  const f16 = () => cmd({ width: 1024, height: 2048, pixel_format: U.DRM_FORMAT_RGB565, pitches: [2048, 0, 0, 0] });
  it("size-max: exactly fitting XRGB8888 and RGB565 fbs work (C8 is not scanned out by vkms: EINVAL)", async () => {
    for (const x of [f(), f16()]) {
      await addfb(x);
      await rmfb(x.fb_id!);
    }
    expect(await errnoOf(cmd({ width: 2048, height: 2048, pixel_format: U.DRM_FORMAT_C8, pitches: [2048, 0, 0, 0] }))).toBe("EINVAL");
  });
  it("too-wide: width + 1 -> EINVAL", async () => {
    for (const x of [f(), f16()]) expect(await errnoOf({ ...x, width: x.width + 1 })).toBe("EINVAL");
  });
  it("too-high: height + 1 -> EINVAL (the object is too small)", async () => {
    for (const x of [f(), f16()]) expect(await errnoOf({ ...x, height: x.height + 1 })).toBe("EINVAL");
  });
  it("bo-too-small: a 1024x1023 object for a 1024x1024 fb -> EINVAL", async () => {
    expect(await errnoOf({ ...f(), handles: [gemBoSmall, 0, 0, 0] })).toBe("EINVAL");
  });
  it("small-bo: the same object fits a 1024x1020 fb", async () => {
    expect(await errnoOf({ ...f(), height: 1020, handles: [gemBoSmall, 0, 0, 0] })).toBe("OK");
  });
});

describe("ADDFB2 checks beyond IGT's list (drm_framebuffer.c framebuffer_check, mode_config limits)", () => {
  it("limits, flags, format, handles and overflow give Linux's errno in Linux's order", async () => {
    expect(await errnoOf(cmd({ flags: 0x4 }))).toBe("EINVAL"); // bad flags
    expect(await errnoOf(cmd({ width: 9 }))).toBe("EINVAL"); // below min_width (10)
    expect(await errnoOf(cmd({ width: 8193, pitches: [8193 * 4, 0, 0, 0] }))).toBe("EINVAL"); // above max_width
    expect(await errnoOf(cmd({ pixel_format: U.fourccCode("ZZZZ") }))).toBe("EINVAL"); // unknown fourcc
    expect(await errnoOf(cmd({ handles: [999, 0, 0, 0] }))).toBe("ENOENT"); // no such GEM handle
    expect(await errnoOf(cmd({ pitches: [0x80000000, 0, 0, 0] }))).toBe("ERANGE"); // height * pitch > UINT_MAX
  });

  it("NV12 in one object: chroma plane at offsets[1] = pitch * height; an offset past the object -> EINVAL", async () => {
    const nv = await createDumb(p, fd, 64, 96, 8); // 64x64 luma + 64x32 chroma
    const ok = { width: 64, height: 64, pixel_format: U.DRM_FORMAT_NV12, flags: 0, handles: [nv.handle, nv.handle, 0, 0], pitches: [64, 64, 0, 0], offsets: [0, 64 * 64, 0, 0] };
    expect(await errnoOf(ok)).toBe("OK");
    expect(await errnoOf({ ...ok, offsets: [0, nv.size, 0, 0] })).toBe("EINVAL");
    expect(await errnoOf({ ...ok, handles: [nv.handle, 0, 0, 0] })).toBe("EINVAL"); // no handle for plane 1
  });

  it("property: a failing ADDFB2 adds no fb and takes no object reference (validate before mutate)", async () => {
    const kms = kmsOf(p.kernel);
    const before = kms.fbs.size;
    await fc.assert(
      fc.asyncProperty(
        fc.record({ width: fc.integer({ min: 0, max: 9000 }), height: fc.integer({ min: 0, max: 2000 }), pitch: fc.integer({ min: 0, max: 70000 }), offset: fc.integer({ min: 0, max: 1 << 22 }), flags: fc.constantFrom(0, 2, 3, 4), handle: fc.constantFrom(0, gemBo, gemBoSmall, 99) }),
        async (r) => {
          const f: U.drm_mode_fb_cmd2 = { width: r.width, height: r.height, pixel_format: U.DRM_FORMAT_XRGB8888, flags: r.flags, handles: [r.handle, 0, 0, 0], pitches: [r.pitch, 0, 0, 0], offsets: [r.offset, 0, 0, 0] };
          const res = await errnoOf(f);
          if (res === "OK") await rmfb(f.fb_id!);
          expect(kms.fbs.size).toBe(before);
          expect(["OK", "EINVAL", "ENOENT", "ERANGE"]).toContain(res);
        },
      ),
      { numRuns: 200 },
    );
  });
});
