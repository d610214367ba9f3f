import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE,
  DMA_RESV_USAGE_READ, DMA_RESV_USAGE_WRITE, DmaFence, POLLIN, POLLOUT, dmaFenceContextAlloc, type DmaBuf,
  type DmaFenceOps, type Process,
} from "../../src/index.js";
import { createFence } from "./sync.js";

/* IGT lib/dmabuf_sync_file.c and the vgem fence ioctls, ported to the model. */

const vgemFenceOps: DmaFenceOps = { getDriverName: () => "vgem", getTimelineName: () => "file" };

/** vgem_fence_attach(): a new fence (own context, seqno 1) added to the buffer's resv as READ, or WRITE with VGEM_FENCE_WRITE. */
export async function vgemFenceAttach(buf: DmaBuf, write: boolean): Promise<DmaFence> {
  const k = buf.kernel;
  const fence = new DmaFence(k, vgemFenceOps, dmaFenceContextAlloc(k, 1), 1);
  await buf.resv.lock(null);
  buf.resv.reserveFences(1);
  buf.resv.addFence(fence, write ? DMA_RESV_USAGE_WRITE : DMA_RESV_USAGE_READ);
  buf.resv.unlock();
  return fence;
}

/** vgem_fence_signal(): signals and drops vgem's reference. */
export function vgemFenceSignal(fence: DmaFence): void {
  fence.signal();
  fence.put();
}

/** dmabuf_busy(): poll(POLLOUT if WRITE is asked for, else POLLIN, timeout 0) reports nothing ready. */
export async function dmabufBusy(p: Process, fd: number, flags: number): Promise<boolean> {
  const events = flags & DMA_BUF_SYNC_WRITE ? POLLOUT : flags & DMA_BUF_SYNC_READ ? POLLIN : 0;
  return (await p.poll([{ fd, events, revents: 0 }], 0)) === 0;
}

/** sync_file_busy(): poll(POLLIN, 0) on a sync_file reports nothing ready. */
export async function syncFileBusy(p: Process, fd: number): Promise<boolean> {
  return (await p.poll([{ fd, events: POLLIN, revents: 0 }], 0)) === 0;
}

/** dmabuf_export_sync_file() */
export async function dmabufExportSyncFile(p: Process, dmabuf: number, flags: number): Promise<number> {
  const arg = { flags, fd: -1 };
  await p.ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg);
  return arg.fd;
}

/** dmabuf_sync_file_busy(): export, check, close. */
export async function dmabufSyncFileBusy(p: Process, dmabuf: number, flags: number): Promise<boolean> {
  const sf = await dmabufExportSyncFile(p, dmabuf, flags);
  const busy = await syncFileBusy(p, sf);
  p.close(sf);
  return busy;
}

/** dmabuf_import_sync_file() */
export async function dmabufImportSyncFile(p: Process, dmabuf: number, flags: number, syncFile: number): Promise<void> {
  await p.ioctl(dmabuf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags, fd: syncFile });
}

/** dmabuf_import_timeline_fence(): imports point `seqno` of sw_sync timeline `tl`. */
export async function dmabufImportTimelineFence(p: Process, dmabuf: number, flags: number, tl: number, seqno: number): Promise<void> {
  const fence = await createFence(p, tl, seqno);
  await dmabufImportSyncFile(p, dmabuf, flags, fence);
  p.close(fence);
}
