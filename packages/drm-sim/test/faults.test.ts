/**
 * Injected faults in the display: a display controller that stops raising vblanks
 * (fail_device_stall on vkms.0): the flip never completes, the commit's wait gives up after 10 s
 * with "[CRTC:id:crtc-0] flip_done timed out" in dmesg (drm_atomic_helper_wait_for_flip_done,
 * drivers/gpu/drm/drm_atomic_helper.c), the out-fence stays unsignalled, later nonblocking flips
 * are EBUSY, the next blocking commit waits 10 s for it ("commit wait timed out",
 * drm_atomic_helper_wait_for_dependencies), and turning the CRTC off (drm_crtc_vblank_off) sends
 * what was pending; and an
 * out-fence signalled with an error (fail_dma_fence on "vkms"): SYNC_IOC_FILE_INFO status -EIO.
 * The 10 s vgem fence timeout is covered by e2e-prime-flip.test.ts (IGT prime_vgem fence-flip-hang).
 */
import { ERRNO, POLLIN, SYNC_IOC_FILE_INFO, assertNoLeaks, type Process } from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import { FLIP_DONE_TIMEOUT_NS } from "../src/drm-atomic.js";
import * as U from "../src/uapi.js";
import { addFb, atomic, createDumb, kmsIds, modeset } from "../src/libdrm.js";
import { bootDrm, mode, VKMS } from "./support/drm.js";

async function display() {
  const k = await bootDrm();
  const p = k.spawn("compositor");
  const fd = p.open(VKMS);
  const ids = await kmsIds(p, fd);
  const m = mode(ids, 640, 480);
  const fb = async () => {
    const bo = await createDumb(p, fd, 640, 480);
    return addFb(p, fd, 640, 480, U.DRM_FORMAT_XRGB8888, [bo.handle], [bo.pitch]);
  };
  const a = await fb();
  const b = await fb();
  await modeset(p, fd, ids, m, a);
  return { k, p, fd, ids, a, b };
}

async function fenceStatus(p: Process, fd: number): Promise<number> {
  const info = { name: "", status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: 0 };
  await p.ioctl(fd, SYNC_IOC_FILE_INFO, info);
  return info.status;
}

describe("fault injection in vkms", () => {
  it("fail_device_stall: a blocking flip returns after the 10 s flip_done timeout with the error in dmesg; its out-fence stays unsignalled until the CRTC is turned off", async () => {
    const { k, p, fd, ids, b } = await display();
    k.faults.configure("fail_device_stall", { probability: 100, times: 1, match: ["vkms.0"] });
    const out = new Int32Array(1);
    const t0 = k.clock.now();
    await atomic(p, fd, ids, { [ids.crtc]: { OUT_FENCE_PTR: out }, [ids.primary]: { FB_ID: b } }, U.DRM_MODE_PAGE_FLIP_EVENT);
    expect(k.clock.now() - t0).toBeGreaterThanOrEqual(FLIP_DONE_TIMEOUT_NS);
    expect(k.clock.now() - t0).toBeLessThan(FLIP_DONE_TIMEOUT_NS + 20e6);
    expect(k.dmesg()).toMatch(new RegExp(`\\[drm:drm_atomic_helper_wait_for_flip_done\\] \\*ERROR\\* \\[CRTC:${ids.crtc}:crtc-0\\] flip_done timed out`));
    expect(await fenceStatus(p, out[0]!)).toBe(0); // still active
    expect(await p.poll([{ fd, events: POLLIN, revents: 0 }], 100)).toBe(0); // no flip event
    await expect(atomic(p, fd, ids, { [ids.primary]: { FB_ID: b } }, U.DRM_MODE_ATOMIC_NONBLOCK)).rejects.toMatchObject({ code: "EBUSY" });
    // Turning the CRTC off first waits 10 s for the hung commit (drm_crtc_commit_wait), then
    // drm_crtc_vblank_off sends the pending event and signals the out-fence.
    const t1 = k.clock.now();
    await atomic(p, fd, ids, { [ids.crtc]: { ACTIVE: 0, MODE_ID: 0 }, [ids.connector]: { CRTC_ID: 0 }, [ids.primary]: { FB_ID: 0, CRTC_ID: 0 } }, U.DRM_MODE_ATOMIC_ALLOW_MODESET);
    expect(k.clock.now() - t1).toBe(FLIP_DONE_TIMEOUT_NS);
    expect(k.dmesg()).toContain(`[drm:drm_atomic_helper_wait_for_dependencies] *ERROR* [CRTC:${ids.crtc}:crtc-0] commit wait timed out`);
    expect(await fenceStatus(p, out[0]!)).toBe(1);
    expect(await p.poll([{ fd, events: POLLIN, revents: 0 }], 0)).toBe(1);
    assertNoLeaks(k);
  });

  it("fail_dma_fence: the flip's out-fence signals with -EIO; the flip itself completes", async () => {
    const { k, p, fd, ids, b } = await display();
    k.faults.configure("fail_dma_fence", { probability: 100, times: 1, match: ["vkms"] });
    const out = new Int32Array(1);
    await atomic(p, fd, ids, { [ids.crtc]: { OUT_FENCE_PTR: out }, [ids.primary]: { FB_ID: b } }, U.DRM_MODE_PAGE_FLIP_EVENT);
    expect(await p.poll([{ fd: out[0]!, events: POLLIN, revents: 0 }], 0)).toBe(1);
    expect(await fenceStatus(p, out[0]!)).toBe(-ERRNO.EIO);
    expect(k.trace.events("drm_page_flip").length).toBeGreaterThan(0);
    assertNoLeaks(k);
  });
});
