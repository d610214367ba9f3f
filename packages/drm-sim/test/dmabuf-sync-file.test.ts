/**
 * Implicit fences seen through a dma-buf that vgem exported: IGT vgem_basic dmabuf-fence and
 * dmabuf-fence-before (consolidated D14) and IGT dmabuf_sync_file export-basic, export-before-signal
 * and import-basic (reference kernel-dmabuf-core.md 10.10). The vgem object and its dma-buf share
 * one reservation object (exp_info.resv = obj->resv), so fences attached before or after the export
 * are visible through the fd.
 */
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_RW, DMA_BUF_SYNC_WRITE, POLLIN, POLLOUT,
  SW_SYNC_DEBUGFS_PATH, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC, type DmaBufExportSyncFile, type Process, type SwSyncCreateFenceData,
} from "@dmabuf/core";
import { describe, expect, it } from "vitest";
import * as U from "../src/uapi.js";
import { createDumb, handleToFd } from "../src/libdrm.js";
import { bootDrm, VGEM } from "./support/drm.js";

const polled = async (p: Process, fd: number, events: number) => {
  const pfd = { fd, events, revents: 0 };
  await p.poll([pfd], 0);
  return pfd.revents;
};
/** dmabuf_busy(): poll with POLLOUT for a writer, POLLIN for a reader, timeout 0. */
const busy = async (p: Process, fd: number, flags: number) => (await polled(p, fd, flags & DMA_BUF_SYNC_WRITE ? POLLOUT : POLLIN)) === 0;
/** dmabuf_sync_file_busy(): export a sync_file for `flags` and poll it. */
async function syncFileBusy(p: Process, fd: number, flags: number): Promise<boolean> {
  const e: DmaBufExportSyncFile = { flags, fd: -1 };
  await p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, e);
  const b = (await polled(p, e.fd, POLLIN)) === 0;
  p.close(e.fd);
  return b;
}

async function setup() {
  const k = await bootDrm();
  const p = k.spawn("dmabuf_sync_file");
  const vgem = p.open(VGEM);
  const bo = await createDumb(p, vgem, 1024, 1);
  const attach = async (flags: number) => {
    const a: U.drm_vgem_fence_attach = { handle: bo.handle, flags };
    await p.ioctl(vgem, U.DRM_IOCTL_VGEM_FENCE_ATTACH, a);
    return a.out_fence!;
  };
  const signal = (id: number) => p.ioctl(vgem, U.DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence: id, flags: 0 });
  return { p, vgem, bo, attach, signal };
}

describe("IGT vgem_basic dmabuf-fence / dmabuf-fence-before (D14)", () => {
  for (const before of [false, true])
    it(`${before ? "dmabuf-fence-before" : "dmabuf-fence"}: READ fence -> POLLIN ready, POLLOUT busy; WRITE fence -> both busy; signal -> both ready`, async () => {
      const { p, vgem, bo, attach, signal } = await setup();
      let dmabuf = before ? -1 : await handleToFd(p, vgem, bo.handle);
      const r = await attach(0);
      if (before) dmabuf = await handleToFd(p, vgem, bo.handle);
      expect(await polled(p, dmabuf, POLLIN)).toBe(POLLIN);
      expect(await polled(p, dmabuf, POLLOUT)).toBe(0);
      await signal(r);
      expect(await polled(p, dmabuf, POLLIN | POLLOUT)).toBe(POLLIN | POLLOUT);
      const w = await attach(U.VGEM_FENCE_WRITE);
      expect(await polled(p, dmabuf, POLLIN | POLLOUT)).toBe(0);
      await signal(w);
      expect(await polled(p, dmabuf, POLLIN | POLLOUT)).toBe(POLLIN | POLLOUT);
    });
});

describe("IGT dmabuf_sync_file with the vgem exporter", () => {
  it("export-basic: a READ fence makes only writers busy, a WRITE fence everyone, by poll and by exported sync_file", async () => {
    const { p, vgem, bo, attach, signal } = await setup();
    const fd = await handleToFd(p, vgem, bo.handle);
    for (const f of [DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_RW]) {
      expect(await busy(p, fd, f)).toBe(false);
      expect(await syncFileBusy(p, fd, f)).toBe(false);
    }
    const r = await attach(0);
    expect([await busy(p, fd, DMA_BUF_SYNC_READ), await busy(p, fd, DMA_BUF_SYNC_WRITE), await busy(p, fd, DMA_BUF_SYNC_RW)]).toEqual([false, true, true]);
    expect([await syncFileBusy(p, fd, DMA_BUF_SYNC_READ), await syncFileBusy(p, fd, DMA_BUF_SYNC_WRITE), await syncFileBusy(p, fd, DMA_BUF_SYNC_RW)]).toEqual([false, true, true]);
    await signal(r);
    const w = await attach(U.VGEM_FENCE_WRITE);
    for (const f of [DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_RW]) {
      expect(await busy(p, fd, f)).toBe(true);
      expect(await syncFileBusy(p, fd, f)).toBe(true);
    }
    await signal(w);
    for (const f of [DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_RW]) expect(await busy(p, fd, f)).toBe(false);
  });

  it("export-before-signal: a sync_file exported while a WRITE fence is pending stays busy until the vgem signal", async () => {
    const { p, vgem, bo, attach, signal } = await setup();
    const fd = await handleToFd(p, vgem, bo.handle);
    const w = await attach(U.VGEM_FENCE_WRITE);
    const e: DmaBufExportSyncFile = { flags: DMA_BUF_SYNC_READ, fd: -1 };
    await p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, e);
    expect(await polled(p, e.fd, POLLIN)).toBe(0);
    await signal(w);
    expect(await polled(p, e.fd, POLLIN)).toBe(POLLIN);
  });

  it("import-basic: an sw_sync point imported READ makes writers busy; imported WRITE makes everyone busy; inc -> idle", async () => {
    const { p, vgem, bo } = await setup();
    const fd = await handleToFd(p, vgem, bo.handle);
    const tl = p.open(SW_SYNC_DEBUGFS_PATH);
    for (const [value, flags, readBusy] of [[1, DMA_BUF_SYNC_READ, false], [2, DMA_BUF_SYNC_WRITE, true], [3, DMA_BUF_SYNC_RW, true]] as const) {
      const pt: SwSyncCreateFenceData = { value, name: "pt", fence: -1 };
      await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, pt);
      await p.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags, fd: pt.fence });
      p.close(pt.fence);
      expect(await busy(p, fd, DMA_BUF_SYNC_READ)).toBe(readBusy);
      expect(await busy(p, fd, DMA_BUF_SYNC_WRITE)).toBe(true);
      await p.ioctl(tl, SW_SYNC_IOC_INC, 1);
      expect(await busy(p, fd, DMA_BUF_SYNC_RW)).toBe(false);
    }
  });
});
