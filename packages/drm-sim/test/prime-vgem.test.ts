/**
 * IGT vgem_basic and prime_vgem, the cases that concern the core (reference kernel-subsystems.md
 * 2.2, kernel-dmabuf-core.md 10.13; consolidated checks D11-D13, D15, D16): vgem dumb sizes, the
 * fence ioctls and their errors, data through the vgem mmap, the dma-buf mmap and the importer.
 */
import { DMA_RESV_USAGE_READ, DMA_RESV_USAGE_WRITE, MAP_SHARED, PROT_READ, PROT_WRITE, type Process } from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import { drmDeviceOf, VGEM_FENCE_TIMEOUT_NS } from "../src/index.js";
import * as U from "../src/uapi.js";
import { addFb, createDumb, fdToHandle, gemClose, handleToFd, kmsIds, mapDumb, modeset } from "../src/libdrm.js";
import { bootDrm, kmsOf, mode, VGEM, VKMS } from "./support/drm.js";

async function setup() {
  const k = await bootDrm();
  const p = k.spawn("prime_vgem");
  return { k, p, vgem: p.open(VGEM) };
}

const attach = async (p: Process, fd: number, handle: number, flags: number) => {
  const a: U.drm_vgem_fence_attach = { handle, flags };
  await p.ioctl(fd, U.DRM_IOCTL_VGEM_FENCE_ATTACH, a);
  return a.out_fence!;
};
const signal = (p: Process, fd: number, fence: number, flags = 0) => p.ioctl(fd, U.DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence, flags } satisfies U.drm_vgem_fence_signal);

describe("IGT vgem_basic", () => {
  it("setversion/second-client: DRM_IOCTL_VERSION names vgem; two clients open the node", async () => {
    const { p, vgem } = await setup();
    const v: U.drm_version = {};
    await p.ioctl(vgem, U.DRM_IOCTL_VERSION, v);
    expect(v).toMatchObject({ name: "vgem", name_len: 4, desc: "Virtual GEM provider", version_major: 1 });
    expect(p.open(VGEM)).toBe(vgem + 1);
  });

  it("create (D11): 0x0x0 -> EINVAL, 1x1x1 -> 4096, 1024x1024x8 -> 1 MiB, 32768x32768x16 -> 2 GiB (pages come on first use)", async () => {
    const { p, vgem } = await setup();
    await expect(createDumb(p, vgem, 0, 0, 0)).rejects.toMatchObject({ code: "EINVAL" });
    expect((await createDumb(p, vgem, 1, 1, 1)).size).toBe(4096);
    const mib = await createDumb(p, vgem, 1024, 1024, 8);
    expect([mib.size, mib.pitch]).toEqual([1 << 20, 1024]);
    expect((await createDumb(p, vgem, 32768, 32768, 16)).size).toBe(2 ** 31);
  });

  it("handles: the lowest free handle from 1 (idr_alloc), GEM_CLOSE of an unknown handle -> EINVAL", async () => {
    const { p, vgem } = await setup();
    const hs = [];
    for (let i = 0; i < 3; i++) hs.push((await createDumb(p, vgem, 16, 16)).handle);
    expect(hs).toEqual([1, 2, 3]);
    await gemClose(p, vgem, 2);
    expect((await createDumb(p, vgem, 16, 16)).handle).toBe(2);
    await expect(gemClose(p, vgem, 2000)).rejects.toMatchObject({ code: "EINVAL" });
  });

  it("mmap: through MAP_DUMB's fake offset; a file without a handle gets EACCES; too long -> EINVAL; unknown offset -> EINVAL", async () => {
    const { p, vgem } = await setup();
    const bo = await createDumb(p, vgem, 1024, 1, 32);
    const m: U.drm_mode_map_dumb = { handle: bo.handle };
    await p.ioctl(vgem, U.DRM_IOCTL_MODE_MAP_DUMB, m);
    expect(m.offset).toBe(0x100000000);
    const other = p.open(VGEM);
    expect(() => p.mmap(null, bo.size, PROT_READ, MAP_SHARED, other, m.offset!)).toThrow(/EACCES/);
    expect(() => p.mmap(null, bo.size * 2, PROT_READ, MAP_SHARED, vgem, m.offset!)).toThrow(/EINVAL/);
    expect(() => p.mmap(null, bo.size, PROT_READ, MAP_SHARED, vgem, m.offset! + 4096 * 7)).toThrow(/EINVAL/);
    const map = p.mmap(null, bo.size, PROT_READ | PROT_WRITE, MAP_SHARED, vgem, m.offset!);
    map.write(0, Uint8Array.of(9));
    // the mapping keeps the object after GEM_CLOSE
    await gemClose(p, vgem, bo.handle);
    expect(map.read(0, 1)[0]).toBe(9);
    p.munmap(map);
    expect(drmDeviceOf(p.kernel, VGEM).objectCount).toBe(0);
  });

  it("dmabuf-mmap (D15): export with DRM_RDWR, a PROT_WRITE shared mmap of the dma-buf shows through the vgem mapping; without DRM_RDWR it is EACCES", async () => {
    const { p, vgem } = await setup();
    const bo = await createDumb(p, vgem, 1024, 1);
    const ro = await handleToFd(p, vgem, bo.handle, U.DRM_CLOEXEC);
    expect(() => p.mmap(null, bo.size, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0)).toThrow(/EACCES/);
    p.close(ro);
    await gemClose(p, vgem, bo.handle);
    const bo2 = await createDumb(p, vgem, 1024, 1);
    const rw = await handleToFd(p, vgem, bo2.handle, U.DRM_CLOEXEC | U.DRM_RDWR);
    const viaBuf = p.mmap(null, bo2.size, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
    viaBuf.write(100, Uint8Array.of(1, 2, 3));
    const viaGem = await mapDumb(p, vgem, bo2.handle, bo2.size);
    expect([...viaGem.read(100, 3)]).toEqual([1, 2, 3]);
  });

  it("PRIME errors (D9): bad flags -> EINVAL, closed handle -> ENOENT, FD_TO_HANDLE of a non-dma-buf fd fails, of a bad fd -> EBADF", async () => {
    const { p, vgem } = await setup();
    const bo = await createDumb(p, vgem, 16, 16);
    for (const flags of [U.DRM_CLOEXEC + 1, U.DRM_RDWR + 1, U.DRM_CLOEXEC - 1, 0x4])
      await expect(handleToFd(p, vgem, bo.handle, flags)).rejects.toMatchObject({ code: "EINVAL" });
    await expect(handleToFd(p, vgem, 77)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(fdToHandle(p, vgem, vgem)).rejects.toMatchObject({ code: "EINVAL" });
    await expect(fdToHandle(p, vgem, 99)).rejects.toMatchObject({ code: "EBADF" });
  });
});

describe("vgem fence ioctls (vgem_fence.c; D12, D13)", () => {
  it("attach: bad flags or pad -> EINVAL, bad handle -> ENOENT; ids from 1", async () => {
    const { p, vgem } = await setup();
    const bo = await createDumb(p, vgem, 16, 16);
    await expect(p.ioctl(vgem, U.DRM_IOCTL_VGEM_FENCE_ATTACH, { handle: bo.handle, flags: 2 })).rejects.toMatchObject({ code: "EINVAL" });
    await expect(p.ioctl(vgem, U.DRM_IOCTL_VGEM_FENCE_ATTACH, { handle: bo.handle, flags: 0, pad: 1 })).rejects.toMatchObject({ code: "EINVAL" });
    await expect(p.ioctl(vgem, U.DRM_IOCTL_VGEM_FENCE_ATTACH, { handle: 55, flags: 0 })).rejects.toMatchObject({ code: "ENOENT" });
    expect(await attach(p, vgem, bo.handle, 0)).toBe(1);
    expect(await attach(p, vgem, bo.handle, 0)).toBe(2);
  });

  it("conflicts: a WRITE fence after any unsignalled fence -> EBUSY; a READ fence after a WRITE fence -> EBUSY; READ after READ is fine", async () => {
    const { p, vgem } = await setup();
    const bo = await createDumb(p, vgem, 16, 16);
    const r = await attach(p, vgem, bo.handle, 0);
    await attach(p, vgem, bo.handle, 0);
    await expect(attach(p, vgem, bo.handle, U.VGEM_FENCE_WRITE)).rejects.toMatchObject({ code: "EBUSY" });
    const bo2 = await createDumb(p, vgem, 16, 16);
    const w = await attach(p, vgem, bo2.handle, U.VGEM_FENCE_WRITE);
    await expect(attach(p, vgem, bo2.handle, 0)).rejects.toMatchObject({ code: "EBUSY" });
    await signal(p, vgem, w);
    await signal(p, vgem, r);
    expect(await attach(p, vgem, bo2.handle, 0)).toBeGreaterThan(0);
  });

  it("signal: flags -> EINVAL; unknown or already signalled -> ENOENT; expired by the 10 s timer -> ETIMEDOUT", async () => {
    const { k, p, vgem } = await setup();
    const bo = await createDumb(p, vgem, 16, 16);
    const f = await attach(p, vgem, bo.handle, U.VGEM_FENCE_WRITE);
    await expect(signal(p, vgem, f, 1)).rejects.toMatchObject({ code: "EINVAL" });
    await signal(p, vgem, f);
    await expect(signal(p, vgem, f)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(signal(p, vgem, 42)).rejects.toMatchObject({ code: "ENOENT" });
    const g = await attach(p, vgem, bo.handle, U.VGEM_FENCE_WRITE);
    k.clock.advance(VGEM_FENCE_TIMEOUT_NS);
    await expect(signal(p, vgem, g)).rejects.toMatchObject({ code: "ETIMEDOUT" });
  });

  it("fences land in the object's reservation object with their usage, and closing the file signals the outstanding ones", async () => {
    const { k, p, vgem } = await setup();
    const bo = await createDumb(p, vgem, 16, 16);
    await attach(p, vgem, bo.handle, 0);
    const obj = drmDeviceOf(k, VGEM).files.values().next().value!.lookup(bo.handle)!;
    expect(obj.resv.testSignaled(DMA_RESV_USAGE_WRITE)).toBe(true);
    expect(obj.resv.testSignaled(DMA_RESV_USAGE_READ)).toBe(false);
    obj.get();
    p.close(vgem);
    expect(obj.resv.testSignaled(DMA_RESV_USAGE_READ)).toBe(true);
    obj.put();
  });
});

describe("IGT prime_vgem: vgem exporter, vkms importer", () => {
  it("basic-read (D15): CPU writes through the vgem mmap are what the importer scans out, after the exporter's handle is closed", async () => {
    const { k, p, vgem } = await setup();
    const card = p.open(VKMS);
    const ids = await kmsIds(p, card);
    const bo = await createDumb(p, vgem, 1024, 768);
    const map = await mapDumb(p, vgem, bo.handle, bo.size);
    new Uint32Array(map.bytes.buffer, map.bytes.byteOffset, bo.size / 4).fill(0x123456);
    const dmabuf = await handleToFd(p, vgem, bo.handle);
    await gemClose(p, vgem, bo.handle);
    const h = await fdToHandle(p, card, dmabuf);
    const fb = await addFb(p, card, 1024, 768, U.DRM_FORMAT_XRGB8888, [h], [bo.pitch]);
    await modeset(p, card, ids, mode(ids, 1024, 768), fb);
    const frame = kmsOf(k).crtcs[0]!.compose();
    expect(frame.pixel(1023, 767)).toBe(0x123456);
    // a later CPU write is seen by the next scanout (the same pages, no copy)
    map.write(0, Uint8Array.of(0xff));
    expect(kmsOf(k).crtcs[0]!.compose().pixel(0, 0)).toBe(0x1234ff);
  });

  it("an import attaches once and maps once (kept for the object's life); closing everything detaches", async () => {
    const { p, vgem } = await setup();
    const card = p.open(VKMS);
    const bo = await createDumb(p, vgem, 64, 64);
    const dmabuf = await handleToFd(p, vgem, bo.handle);
    const h = await fdToHandle(p, card, dmabuf);
    expect(await fdToHandle(p, card, dmabuf)).toBe(h);
    const buf = drmDeviceOf(p.kernel, VGEM).files.values().next().value!.lookup(bo.handle)!.dmaBuf!;
    expect(buf.attachments.length).toBe(1);
    expect(buf.attachments[0]!.dev.name).toBe("vkms.0");
    await gemClose(p, card, h);
    expect(buf.attachments.length).toBe(0);
  });
});
