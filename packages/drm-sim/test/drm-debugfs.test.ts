/**
 * debugfs in the kernel's text (drm_debugfs.c name/clients/framebuffer) and CRC capture through
 * crtc-0/crc/{control,data} as IGT's igt_pipe_crc reads it (drm_debugfs_crc.c, vkms_crc).
 */
import { O_NONBLOCK, O_RDONLY, O_WRONLY } from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import * as U from "../src/uapi.js";
import { addFb, atomic, createDumb, kmsIds, mapDumb, modeset } from "../src/libdrm.js";
import { bootDrm, kmsOf, mode, VKMS } from "./support/drm.js";

describe("DRM debugfs", () => {
  it("name, clients and framebuffer read as in Linux", async () => {
    const k = await bootDrm();
    const p = k.spawn("weston");
    const fd = p.open(VKMS);
    expect(await p.readFile("/sys/kernel/debug/dri/0/name")).toBe("vkms dev=vkms.0 unique=vkms.0\n");
    expect(await p.readFile("/sys/kernel/debug/dri/1/name")).toBe("vgem dev=vgem.0 unique=vgem.0\n");
    const clients = await p.readFile("/sys/kernel/debug/dri/0/clients");
    expect(clients.split("\n")[0]).toBe("             command  tgid dev master a   uid      magic");
    expect(clients.split("\n")[1]).toBe(`              weston   ${p.pid}   0   y    n     0          0`);
    const bo = await createDumb(p, fd, 64, 32);
    const fb = await addFb(p, fd, 64, 32, U.DRM_FORMAT_XRGB8888, [bo.handle], [bo.pitch]);
    const text = await p.readFile("/sys/kernel/debug/dri/0/framebuffer");
    expect(text).toContain(`framebuffer[${fb}]:\n\tallocated by = weston\n\trefcount=1\n\tformat=XR24 little-endian (0x34325258)\n\tmodifier=0x0\n\tsize=64x32\n\tlayers:\n\t\tsize[0]=64x32\n\t\tpitch[0]=256\n\t\toffset[0]=0\n\t\tobj[0]:\n`);
    expect(text).toContain("\t\t\tsize=8192\n\t\t\timported=no\n");
  });

  it("crc/data: EIO while the CRTC is off; then one \"frame crc\" line per vblank, the CRC changing with the picture", async () => {
    const k = await bootDrm();
    const p = k.spawn("igt");
    const fd = p.open(VKMS);
    const ids = await kmsIds(p, fd);
    expect(() => p.open("/sys/kernel/debug/dri/0/crtc-0/crc/data", O_RDONLY)).toThrow(/EIO/);
    await expect(p.writeFile("/sys/kernel/debug/dri/0/crtc-0/crc/control", "pipe-A")).rejects.toThrow(/EINVAL/);
    const c = p.open("/sys/kernel/debug/dri/0/crtc-0/crc/control", O_WRONLY);
    await p.write(c, "auto");
    const fbs: number[] = [];
    for (const colour of [0x0000ff, 0xffff00]) {
      const bo = await createDumb(p, fd, 640, 480);
      (await mapDumb(p, fd, bo.handle, bo.size)).write(0, new Uint8Array(new Uint32Array(640 * 480).fill(colour).buffer));
      fbs.push(await addFb(p, fd, 640, 480, U.DRM_FORMAT_XRGB8888, [bo.handle], [bo.pitch]));
    }
    await modeset(p, fd, ids, mode(ids, 640, 480), fbs[0]!);
    const data = p.open("/sys/kernel/debug/dri/0/crtc-0/crc/data", O_RDONLY | O_NONBLOCK);
    expect(() => p.open("/sys/kernel/debug/dri/0/crtc-0/crc/data", O_RDONLY)).toThrow(/EBUSY/);
    await expect(p.read(data, 21)).rejects.toThrow(/EINVAL/);
    await expect(p.read(data, 64)).rejects.toThrow(/EAGAIN/);
    await k.clock.sleep(20e6);
    const line = new TextDecoder().decode(await p.read(data, 64));
    expect(line).toMatch(/^0x[0-9a-f]{8} 0x[0-9a-f]{8}\n$/);
    const [frame, crcA] = line.trim().split(" ");
    expect(Number(crcA)).toBe(kmsOf(k).crtcs[0]!.compose().crc());
    await atomic(p, fd, ids, { [ids.primary]: { FB_ID: fbs[1]! } }, U.DRM_MODE_PAGE_FLIP_EVENT);
    await k.clock.sleep(20e6);
    const lines: string[] = [];
    for (;;) {
      try {
        lines.push(new TextDecoder().decode(await p.read(data, 64)).trim());
      } catch {
        break;
      }
    }
    const last = lines.at(-1)!.split(" ");
    expect(Number(last[0])).toBeGreaterThan(Number(frame));
    expect(last[1]).not.toBe(crcA);
    p.close(data);
    expect(p.open("/sys/kernel/debug/dri/0/crtc-0/crc/data", O_RDONLY)).toBeGreaterThan(0);
  });
});
