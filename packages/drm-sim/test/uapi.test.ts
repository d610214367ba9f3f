/**
 * UAPI numbers as a C program compiled against include/uapi/drm/{drm,drm_mode,drm_fourcc,vgem_drm}.h
 * on x86-64 sees them (the values strace and libdrm print).
 */
import { describe, expect, it } from "vitest";
import { VKMS_MODES } from "../src/index.js";
import * as U from "../src/uapi.js";

describe("DRM UAPI request numbers (real struct sizes)", () => {
  it.each([
    ["DRM_IOCTL_VERSION", U.DRM_IOCTL_VERSION, 0xc0406400],
    ["DRM_IOCTL_GEM_CLOSE", U.DRM_IOCTL_GEM_CLOSE, 0x40086409],
    ["DRM_IOCTL_GET_CAP", U.DRM_IOCTL_GET_CAP, 0xc010640c],
    ["DRM_IOCTL_SET_CLIENT_CAP", U.DRM_IOCTL_SET_CLIENT_CAP, 0x4010640d],
    ["DRM_IOCTL_PRIME_HANDLE_TO_FD", U.DRM_IOCTL_PRIME_HANDLE_TO_FD, 0xc00c642d],
    ["DRM_IOCTL_PRIME_FD_TO_HANDLE", U.DRM_IOCTL_PRIME_FD_TO_HANDLE, 0xc00c642e],
    ["DRM_IOCTL_MODE_GETRESOURCES", U.DRM_IOCTL_MODE_GETRESOURCES, 0xc04064a0],
    ["DRM_IOCTL_MODE_GETCRTC", U.DRM_IOCTL_MODE_GETCRTC, 0xc06864a1],
    ["DRM_IOCTL_MODE_GETENCODER", U.DRM_IOCTL_MODE_GETENCODER, 0xc01464a6],
    ["DRM_IOCTL_MODE_GETCONNECTOR", U.DRM_IOCTL_MODE_GETCONNECTOR, 0xc05064a7],
    ["DRM_IOCTL_MODE_GETPROPERTY", U.DRM_IOCTL_MODE_GETPROPERTY, 0xc04064aa],
    ["DRM_IOCTL_MODE_GETPROPBLOB", U.DRM_IOCTL_MODE_GETPROPBLOB, 0xc01064ac],
    ["DRM_IOCTL_MODE_RMFB", U.DRM_IOCTL_MODE_RMFB, 0xc00464af],
    ["DRM_IOCTL_MODE_CREATE_DUMB", U.DRM_IOCTL_MODE_CREATE_DUMB, 0xc02064b2],
    ["DRM_IOCTL_MODE_MAP_DUMB", U.DRM_IOCTL_MODE_MAP_DUMB, 0xc01064b3],
    ["DRM_IOCTL_MODE_DESTROY_DUMB", U.DRM_IOCTL_MODE_DESTROY_DUMB, 0xc00464b4],
    ["DRM_IOCTL_MODE_GETPLANERESOURCES", U.DRM_IOCTL_MODE_GETPLANERESOURCES, 0xc01064b5],
    ["DRM_IOCTL_MODE_GETPLANE", U.DRM_IOCTL_MODE_GETPLANE, 0xc02064b6],
    ["DRM_IOCTL_MODE_ADDFB2", U.DRM_IOCTL_MODE_ADDFB2, 0xc06864b8],
    ["DRM_IOCTL_MODE_OBJ_GETPROPERTIES", U.DRM_IOCTL_MODE_OBJ_GETPROPERTIES, 0xc02064b9],
    ["DRM_IOCTL_MODE_ATOMIC", U.DRM_IOCTL_MODE_ATOMIC, 0xc03864bc],
    ["DRM_IOCTL_MODE_CREATEPROPBLOB", U.DRM_IOCTL_MODE_CREATEPROPBLOB, 0xc01064bd],
    ["DRM_IOCTL_MODE_DESTROYPROPBLOB", U.DRM_IOCTL_MODE_DESTROYPROPBLOB, 0xc00464be],
    ["DRM_IOCTL_VGEM_FENCE_ATTACH", U.DRM_IOCTL_VGEM_FENCE_ATTACH, 0xc0106441],
    ["DRM_IOCTL_VGEM_FENCE_SIGNAL", U.DRM_IOCTL_VGEM_FENCE_SIGNAL, 0x40086442],
  ])("%s", (_name, value, expected) => {
    expect(value).toBe(expected);
  });
});

describe("drm_fourcc.h and drm_mode.h constants", () => {
  it("fourccs and modifiers", () => {
    expect(U.DRM_FORMAT_XRGB8888).toBe(0x34325258);
    expect(U.DRM_FORMAT_NV12).toBe(0x3231564e);
    expect(U.DRM_FORMAT_YUYV).toBe(0x56595559);
    expect(U.fourccName(U.DRM_FORMAT_ARGB8888)).toBe("AR24");
    expect(U.DRM_FORMAT_MOD_INVALID).toBe(0x00ffffffffffffffn);
    expect(U.I915_FORMAT_MOD_X_TILED).toBe(0x0100000000000001n);
    expect(U.DRM_MODE_ATOMIC_FLAGS).toBe(0x0703);
    expect(U.DRM_CLOEXEC).toBe(0o2000000);
  });

  it("struct drm_event_vblank round-trips through the read() byte layout (32 bytes, little-endian)", () => {
    const ev: U.drm_event_vblank = { type: U.DRM_EVENT_FLIP_COMPLETE, length: 32, user_data: 0xdeadbeefcafen, tv_sec: 12, tv_usec: 345678, sequence: 99, crtc_id: 37 };
    const two = new Uint8Array(64);
    two.set(U.encodeDrmEventVblank(ev));
    two.set(U.encodeDrmEventVblank({ ...ev, sequence: 100 }), 32);
    expect(U.parseDrmEvents(two)).toEqual([ev, { ...ev, sequence: 100 }]);
  });

  it("a MODE_ID blob is the 68-byte struct drm_mode_modeinfo", () => {
    const m = VKMS_MODES[0]!;
    const blob = U.modeinfoBlob(m);
    expect(blob.length).toBe(68);
    expect(U.parseModeinfo(blob)).toEqual(m);
    expect(m).toMatchObject({ name: "1920x1080", vrefresh: 60, clock: 148500 });
  });
});
