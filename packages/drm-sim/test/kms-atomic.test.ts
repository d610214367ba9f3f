import { O_NONBLOCK, POLLIN, isErrno } from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import * as U from "../src/uapi.js";
import { addFb, atomic, bootDrm, createDumb, kmsIds, kmsOf, mapDumb, mode, modeset, planeProps, VKMS } from "./support/drm.js";

const fill = (bytes: Uint8Array, xrgb: number) => new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).fill(xrgb);

describe("vkms atomic modeset, page flips and vblank (drm_atomic_uapi.c, vkms_crtc.c)", () => {
  it("a modeset shows the fb; a PAGE_FLIP_EVENT flip is delivered at the next vblank via read() and poll()", async () => {
    const k = await bootDrm();
    const p = k.spawn("kms");
    const fd = p.open(VKMS, 2 | O_NONBLOCK);
    const ids = await kmsIds(p, fd);
    const m = mode(ids, 1024, 768);
    const a = await createDumb(p, fd, 1024, 768);
    const b = await createDumb(p, fd, 1024, 768);
    fill((await mapDumb(p, fd, a.handle, a.size)).bytes, 0x00ff0000);
    fill((await mapDumb(p, fd, b.handle, b.size)).bytes, 0x0000ff00);
    const fbA = await addFb(p, fd, 1024, 768, U.DRM_FORMAT_XRGB8888, [a.handle], [a.pitch]);
    const fbB = await addFb(p, fd, 1024, 768, U.DRM_FORMAT_XRGB8888, [b.handle], [b.pitch]);
    await modeset(p, fd, ids, m, fbA);
    const crtc = kmsOf(k).crtcs[0]!;
    expect(crtc.compose().pixel(5, 5)).toBe(0xff0000);
    const t0 = k.clock.now();
    await atomic(p, fd, ids, { [ids.primary]: { FB_ID: fbB } }, U.DRM_MODE_PAGE_FLIP_EVENT | U.DRM_MODE_ATOMIC_NONBLOCK, 0x1234n);
    await expect(p.read(fd)).rejects.toThrow(/EAGAIN/);
    const pfd = { fd, events: POLLIN, revents: 0 };
    expect(await p.poll([pfd], 100)).toBe(1);
    const [ev] = U.parseDrmEvents(await p.read(fd));
    expect(ev).toMatchObject({ type: U.DRM_EVENT_FLIP_COMPLETE, length: 32, user_data: 0x1234n, crtc_id: ids.crtc });
    const period = Math.floor((1344 * 806 * 1e6) / 65000);
    expect(k.clock.now() - t0).toBeLessThanOrEqual(period);
    expect(crtc.compose().pixel(5, 5)).toBe(0x00ff00);
  });
});
