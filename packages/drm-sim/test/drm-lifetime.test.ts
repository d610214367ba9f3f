/**
 * Lifetimes: closing files and exiting processes releases handles, framebuffers, blobs, imports and
 * pending events (drm_release -> drm_file_free); a failed allocation leaves nothing behind; caps
 * and version report what Linux reports for a KMS and a render-only driver (drm_getcap).
 */
import { assertNoLeaks, MAP_SHARED, PROT_READ } from "@dmabuf/core";
import { MM } from "@dmabuf/mm";
import { describe, expect, it } from "vitest";
import { drmDeviceOf } from "../src/index.js";
import * as U from "../src/uapi.js";
import { addFb, atomic, createDumb, fdToHandle, handleToFd, kmsIds, mapDumb, modeset } from "../src/libdrm.js";
import { bootDrm, kmsOf, mode, VGEM, VKMS } from "./support/drm.js";

describe("DRM file and process lifetimes", () => {
  it("a process that exits mid-flip, with imports, fbs, blobs and mappings, leaks nothing (pages back to the allocators)", async () => {
    const k = await bootDrm();
    const mm = k.resolve(MM);
    const freeBefore = mm.pages.nrFree;
    const p = k.spawn("compositor");
    const card = p.open(VKMS);
    const vgem = p.open(VGEM);
    const ids = await kmsIds(p, card);
    const a = await createDumb(p, card, 1024, 768);
    const fbA = await addFb(p, card, 1024, 768, U.DRM_FORMAT_XRGB8888, [a.handle], [a.pitch]);
    await modeset(p, card, ids, mode(ids, 1024, 768), fbA);
    const bo = await createDumb(p, vgem, 1024, 768);
    await mapDumb(p, vgem, bo.handle, bo.size);
    const h = await fdToHandle(p, card, await handleToFd(p, vgem, bo.handle));
    const fbB = await addFb(p, card, 1024, 768, U.DRM_FORMAT_XRGB8888, [h], [bo.pitch]);
    await atomic(p, card, ids, { [ids.primary]: { FB_ID: fbB } }, U.DRM_MODE_ATOMIC_NONBLOCK | U.DRM_MODE_PAGE_FLIP_EVENT);
    p.exit(0);
    // the flip in flight completes at its vblank; then the last references go
    await k.clock.sleep(20e6);
    expect(drmDeviceOf(k, VKMS).objectCount + drmDeviceOf(k, VGEM).objectCount).toBe(0);
    expect(kmsOf(k).fbs.size).toBe(0);
    expect(mm.pages.nrFree).toBe(freeBefore);
    k.shutdown();
    assertNoLeaks(k);
  });

  it("DUMB_CREATE that cannot get contiguous memory fails with ENOMEM and creates no handle or object", async () => {
    const k = await bootDrm();
    const p = k.spawn("big");
    const card = p.open(VKMS);
    const first = await createDumb(p, card, 8192, 6000); // ~188 MiB of the 256 MiB CMA area
    await expect(createDumb(p, card, 8192, 6000)).rejects.toMatchObject({ code: "ENOMEM" });
    expect(drmDeviceOf(k, VKMS).objectCount).toBe(1);
    expect((await createDumb(p, card, 64, 64)).handle).toBe(first.handle + 1);
  });

  it("MAP_DUMB of an imported object is EINVAL (mmap the dma-buf instead); a mapping outlives GEM_CLOSE", async () => {
    const k = await bootDrm();
    const p = k.spawn("map");
    const card = p.open(VKMS);
    const vgem = p.open(VGEM);
    const bo = await createDumb(p, vgem, 64, 64);
    const h = await fdToHandle(p, card, await handleToFd(p, vgem, bo.handle));
    await expect(p.ioctl(card, U.DRM_IOCTL_MODE_MAP_DUMB, { handle: h })).rejects.toMatchObject({ code: "EINVAL" });
    await expect(p.ioctl(card, U.DRM_IOCTL_MODE_MAP_DUMB, { handle: 99 })).rejects.toMatchObject({ code: "ENOENT" });
    const own = await createDumb(p, card, 64, 64);
    const m: U.drm_mode_map_dumb = { handle: own.handle };
    await p.ioctl(card, U.DRM_IOCTL_MODE_MAP_DUMB, m);
    const map = p.mmap(null, own.size, PROT_READ, MAP_SHARED, card, m.offset!);
    await p.ioctl(card, U.DRM_IOCTL_MODE_DESTROY_DUMB, { handle: own.handle });
    expect(map.read(0, 4)).toEqual(new Uint8Array(4));
    p.munmap(map);
    expect(drmDeviceOf(k, VKMS).objectCount).toBe(1);
  });
});

describe("DRM_IOCTL_GET_CAP / SET_CLIENT_CAP / VERSION (drm_ioctl.c)", () => {
  it("vkms reports KMS caps; vgem (no DRIVER_MODESET) only PRIME/TIMESTAMP and EOPNOTSUPP for the rest", async () => {
    const k = await bootDrm();
    const p = k.spawn("caps");
    const card = p.open(VKMS);
    const vgem = p.open(VGEM);
    const cap = async (fd: number, capability: number) => {
      const c: U.drm_get_cap = { capability };
      await p.ioctl(fd, U.DRM_IOCTL_GET_CAP, c);
      return c.value;
    };
    expect(await cap(card, U.DRM_CAP_DUMB_BUFFER)).toBe(1);
    expect(await cap(card, U.DRM_CAP_PRIME)).toBe(U.DRM_PRIME_CAP_IMPORT | U.DRM_PRIME_CAP_EXPORT);
    expect(await cap(card, U.DRM_CAP_CRTC_IN_VBLANK_EVENT)).toBe(1);
    await expect(cap(card, 0x99)).rejects.toMatchObject({ code: "EINVAL" });
    expect(await cap(vgem, U.DRM_CAP_PRIME)).toBe(3);
    await expect(cap(vgem, U.DRM_CAP_DUMB_BUFFER)).rejects.toMatchObject({ code: "EOPNOTSUPP" });
    await expect(p.ioctl(vgem, U.DRM_IOCTL_SET_CLIENT_CAP, { capability: U.DRM_CLIENT_CAP_ATOMIC, value: 1 })).rejects.toMatchObject({ code: "EOPNOTSUPP" });
    await expect(p.ioctl(card, U.DRM_IOCTL_SET_CLIENT_CAP, { capability: U.DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, value: 1 })).rejects.toMatchObject({ code: "EINVAL" });
    await expect(p.ioctl(vgem, U.DRM_IOCTL_MODE_GETRESOURCES, { count_fbs: 0, count_crtcs: 0, count_connectors: 0, count_encoders: 0 })).rejects.toMatchObject({ code: "EOPNOTSUPP" });
    const v: U.drm_version = {};
    await p.ioctl(card, U.DRM_IOCTL_VERSION, v);
    expect(v).toMatchObject({ name: "vkms", desc: "Virtual Kernel Mode Setting", date: "20180514" });
  });

  it("without the writeback cap the writeback connector is hidden from GETRESOURCES; plane lists need universal planes", async () => {
    const k = await bootDrm();
    const p = k.spawn("res");
    const card = p.open(VKMS);
    const res: U.drm_mode_card_res = { count_fbs: 0, count_crtcs: 0, count_connectors: 0, count_encoders: 0 };
    await p.ioctl(card, U.DRM_IOCTL_MODE_GETRESOURCES, res);
    expect(res).toMatchObject({ count_crtcs: 1, count_connectors: 1, min_width: 10, max_width: 8192 });
    const pr: U.drm_mode_get_plane_res = { count_planes: 0 };
    await p.ioctl(card, U.DRM_IOCTL_MODE_GETPLANERESOURCES, pr);
    expect(pr.count_planes).toBe(1); // the overlay only
    const ids = await kmsIds(p, card);
    expect(ids.writeback).toBeGreaterThan(0);
    expect(ids.modes.map((m) => m.name)).toEqual(["1920x1080", "1280x720", "1024x768", "800x600", "640x480"]);
    expect(ids.modes.find((m) => m.type & U.DRM_MODE_TYPE_PREFERRED)!.name).toBe("1024x768");
  });
});
