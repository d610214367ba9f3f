/**
 * IGT kms_prime (basic-crc-vgem) and the contiguity rule of GEM DMA helper importers
 * (drm_gem_dma_prime_import_sg_table; reference 2.1, 4.2 item 1; consolidated D10, D18, M12):
 * a display without an IOMMU takes only buffers that are one DMA-contiguous range, and the same
 * scattered buffer is fine once the display sits behind an IOMMU.
 */
import { DEFAULT_BOARD, Kernel, type BoardInput, type Process } from "@dmabuf/core";
import mm from "@dmabuf/mm";
import { describe, expect, it } from "vitest";
import drmSim, { drmDeviceOf, ScanoutFrame } from "../src/index.js";
import * as U from "../src/uapi.js";
import { addFb, atomic, createDumb, fdToHandle, gemClose, handleToFd, kmsIds, mapDumb, modeset, planeProps } from "../src/libdrm.js";
import { bootDrm, kmsOf, mode, VGEM, VKMS } from "./support/drm.js";

const W = 1024;
const H = 768;
const fill = (bytes: Uint8Array, xrgb: number) => new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).fill(xrgb);

/** A vgem buffer whose pages are not physically contiguous: it takes the holes left between live one-page objects. */
async function scatteredVgemBo(p: Process, vgem: number, pages: number) {
  const ones = [];
  for (let i = 0; i < pages * 2; i++) {
    const b = await createDumb(p, vgem, 1024, 1);
    p.munmap(await mapDumb(p, vgem, b.handle, b.size)); // faults the page in
    ones.push(b.handle);
  }
  for (let i = 0; i < ones.length; i += 2) await gemClose(p, vgem, ones[i]!);
  const bo = await createDumb(p, vgem, 1024, pages);
  p.munmap(await mapDumb(p, vgem, bo.handle, bo.size));
  const obj = [...drmDeviceOf(p.kernel, VGEM).files][0]!.lookup(bo.handle)!;
  expect(obj.sgTable().origNents).toBeGreaterThan(1);
  return bo;
}

describe("IGT kms_prime basic-crc-vgem (D18)", () => {
  it("a vgem buffer shown through PRIME has the CRC of a native fb of the same colour, and not that of black, white or red", async () => {
    const k = await bootDrm();
    const p = k.spawn("kms_prime");
    const card = p.open(VKMS);
    const vgem = p.open(VGEM);
    const ids = await kmsIds(p, card);
    const m = mode(ids, W, H);
    const crtc = kmsOf(k).crtcs[0]!;
    const crcOf = async (fb: number) => {
      await modeset(p, card, ids, m, fb);
      return crtc.compose().crc();
    };
    const native = async (xrgb: number) => {
      const bo = await createDumb(p, card, W, H);
      fill((await mapDumb(p, card, bo.handle, bo.size)).bytes, xrgb);
      return addFb(p, card, W, H, U.DRM_FORMAT_XRGB8888, [bo.handle], [bo.pitch]);
    };
    const colour = 0x3366cc;
    const bo = await createDumb(p, vgem, W, H); // width already 256-aligned
    fill((await mapDumb(p, vgem, bo.handle, bo.size)).bytes, colour);
    const imported = await fdToHandle(p, card, await handleToFd(p, vgem, bo.handle));
    const primeFb = await addFb(p, card, W, H, U.DRM_FORMAT_XRGB8888, [imported], [bo.pitch]);
    const primeCrc = await crcOf(primeFb);
    expect(primeCrc).toBe(await crcOf(await native(colour)));
    for (const other of [0x000000, 0xffffff, 0xff0000]) expect(primeCrc).not.toBe(await crcOf(await native(other)));
    expect(primeCrc).toBe(new ScanoutFrame(ids.crtc, W, H, new Uint32Array(W * H).fill(colour), 0, 0).crc());
  });
});

describe("contiguous-only import (drm_gem_dma_prime_import_sg_table, D10, M12)", () => {
  it("vkms without an IOMMU refuses a scattered buffer with EINVAL and leaves nothing attached", async () => {
    const k = await bootDrm();
    const p = k.spawn("import");
    const card = p.open(VKMS);
    const vgem = p.open(VGEM);
    const bo = await scatteredVgemBo(p, vgem, 4);
    const dmabuf = await handleToFd(p, vgem, bo.handle);
    const refs = p.fds.lookup(dmabuf)!.count;
    await expect(fdToHandle(p, card, dmabuf)).rejects.toMatchObject({ code: "EINVAL" });
    expect(p.fds.lookup(dmabuf)!.count).toBe(refs);
    expect(drmDeviceOf(k, VKMS).objectCount).toBe(0);
    const obj = [...drmDeviceOf(k, VGEM).files][0]!.lookup(bo.handle)!;
    expect(obj.dmaBuf!.attachments).toEqual([]);
  });

  it("behind an IOMMU the same scattered buffer maps to one IOVA range and is displayed", async () => {
    const board: BoardInput = { ...DEFAULT_BOARD, devices: DEFAULT_BOARD.devices!.map((d) => (d.name === "vkms.0" ? { ...d, iommu: "iommu0" } : d)) };
    const k = await Kernel.boot({ board, plugins: [mm(), drmSim()] });
    const p = k.spawn("import");
    const card = p.open(VKMS);
    const vgem = p.open(VGEM);
    const ids = await kmsIds(p, card);
    const bo = await scatteredVgemBo(p, vgem, 16);
    (await mapDumb(p, vgem, bo.handle, bo.size)).write(0, new Uint8Array(new Uint32Array(bo.size / 4).fill(0x00ffff).buffer));
    const h = await fdToHandle(p, card, await handleToFd(p, vgem, bo.handle));
    const fb = await addFb(p, card, 1024, 16, U.DRM_FORMAT_XRGB8888, [h], [bo.pitch]);
    const blank = await createDumb(p, card, 640, 480);
    await modeset(p, card, ids, mode(ids, 640, 480), await addFb(p, card, 640, 480, U.DRM_FORMAT_XRGB8888, [blank.handle], [blank.pitch]));
    await atomic(p, card, ids, { [ids.overlay]: planeProps(ids.crtc, fb, 640, 16) });
    expect(kmsOf(k).crtcs[0]!.compose().pixel(639, 15)).toBe(0x00ffff);
  });

  it("vkms dumb buffers are CMA-contiguous; importing one into vgem (any layout) works and shares the pages", async () => {
    const k = await bootDrm();
    const p = k.spawn("import");
    const card = p.open(VKMS);
    const vgem = p.open(VGEM);
    const bo = await createDumb(p, card, 256, 256);
    const obj = [...drmDeviceOf(k, VKMS).files][0]!.lookup(bo.handle)!;
    expect(obj.sgTable().origNents).toBe(1);
    const map = await mapDumb(p, card, bo.handle, bo.size);
    map.write(4096 * 3, Uint8Array.of(77));
    const h = await fdToHandle(p, vgem, await handleToFd(p, card, bo.handle));
    const viaVgem = [...drmDeviceOf(k, VGEM).files][0]!.lookup(h)!;
    expect(viaVgem.bytes().slice(4096 * 3, 1)[0]).toBe(77);
  });
});
