import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, DMA_BUF_IOCTL_SYNC, DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW, DMA_BUF_SYNC_START, DMA_BUF_SYNC_WRITE, DMA_FROM_DEVICE, DMA_RESV_USAGE_BOOKKEEP,
  DMA_RESV_USAGE_KERNEL, NSEC_PER_MSEC, POLLIN, POLLOUT, dmaBufBeginCpuAccess, flushSignals, sendSignal, signalPending, type DmaBuf,
  type Kernel, type Process,
  leakCheck,
} from "../src/index.js";
import {
  dmabufBusy, dmabufExportSyncFile, dmabufImportTimelineFence, dmabufSyncFileBusy, syncFileBusy,
  vgemFenceAttach, vgemFenceSignal,
} from "./helpers/implicit-sync.js";
import { createFence, fileInfo, timelineCreate, timelineInc } from "./helpers/sync.js";
import { PageExporter } from "./support/page-exporter.js";

const { READ, WRITE, RW } = { READ: DMA_BUF_SYNC_READ, WRITE: DMA_BUF_SYNC_WRITE, RW: DMA_BUF_SYNC_RW };

let k: Kernel;
let exp: PageExporter;
let p: Process;
/** The buffer (vgem_create + prime_handle_to_fd): `fd` in p, `bo` the driver's reference. */
let fd: number;
let bo: DmaBuf;
beforeEach(async () => {
  ({ k, exp } = await PageExporter.boot());
  p = k.spawn("dmabuf_sync_file");
  fd = await exp.alloc(p, 4096);
  bo = await exp.import(p, fd);
});
afterEach(() => {
  for (const b of exp.imports.values()) b.file.put(); // gem_close(): the driver's reference
  exp.imports.clear();
  k.shutdown();
  // Every fence the test made was put: timelines closed at exit signal and release theirs.
  expect(leakCheck(k).text.split("\n").filter((l) => l.startsWith("fence:"))).toEqual([]);
});

/** All six busy checks at once: poll and exported sync_file, for READ, WRITE and RW. */
async function busy(): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  for (const [name, flags] of [["read", READ], ["write", WRITE], ["rw", RW]] as const) {
    out[`poll ${name}`] = await dmabufBusy(p, fd, flags);
    out[`sync_file ${name}`] = await dmabufSyncFileBusy(p, fd, flags);
  }
  return out;
}
const states = (read: boolean, write: boolean) => ({
  "poll read": read, "sync_file read": read, "poll write": write, "sync_file write": write, "poll rw": write, "sync_file rw": write,
});

/** Port of IGT tests/dmabuf_sync_file.c (vgem exporter; here a test heap with vgem-style fences). */
describe("igt dmabuf_sync_file", () => {
  it("export-basic: a READ fence blocks writers only; a WRITE fence blocks everyone; idle once signalled", async () => {
    expect(await busy()).toEqual(states(false, false));
    let fence = await vgemFenceAttach(bo, false);
    expect(await busy()).toEqual(states(false, true));
    vgemFenceSignal(fence);
    expect(await busy()).toEqual(states(false, false));
    fence = await vgemFenceAttach(bo, true);
    expect(await busy()).toEqual(states(true, true));
    vgemFenceSignal(fence);
    expect(await busy()).toEqual(states(false, false));
  });

  it("export-before-signal: exported sync_files wait for the fences present at export", async () => {
    let fence = await vgemFenceAttach(bo, false);
    let readFd = await dmabufExportSyncFile(p, fd, READ);
    let writeFd = await dmabufExportSyncFile(p, fd, WRITE);
    expect(await syncFileBusy(p, readFd)).toBe(false);
    expect(await syncFileBusy(p, writeFd)).toBe(true);
    vgemFenceSignal(fence);
    expect(await syncFileBusy(p, readFd)).toBe(false);
    expect(await syncFileBusy(p, writeFd)).toBe(false);
    p.close(readFd);
    p.close(writeFd);
    fence = await vgemFenceAttach(bo, true);
    readFd = await dmabufExportSyncFile(p, fd, READ);
    writeFd = await dmabufExportSyncFile(p, fd, WRITE);
    expect(await syncFileBusy(p, readFd)).toBe(true);
    expect(await syncFileBusy(p, writeFd)).toBe(true);
    vgemFenceSignal(fence);
    expect(await syncFileBusy(p, readFd)).toBe(false);
    expect(await syncFileBusy(p, writeFd)).toBe(false);
    p.close(readFd);
    p.close(writeFd);
  });

  it("export-multiwait: a WRITE export waits for both READ fences present, not for one added later", async () => {
    const f1 = await vgemFenceAttach(bo, false);
    const f2 = await vgemFenceAttach(bo, false);
    const sf = await dmabufExportSyncFile(p, fd, WRITE);
    const f3 = await vgemFenceAttach(bo, false);
    expect(await syncFileBusy(p, sf)).toBe(true);
    vgemFenceSignal(f1);
    expect(await syncFileBusy(p, sf)).toBe(true);
    vgemFenceSignal(f2);
    expect(await syncFileBusy(p, sf)).toBe(false);
    vgemFenceSignal(f3);
    expect((await fileInfo(p, sf)).num_fences).toBe(2);
    p.close(sf);
  });

  it("export-wait-after-attach: an export is a snapshot; fences attached afterwards are not in it", async () => {
    let readFd = await dmabufExportSyncFile(p, fd, READ);
    let writeFd = await dmabufExportSyncFile(p, fd, WRITE);
    const fence1 = await vgemFenceAttach(bo, true);
    expect(await syncFileBusy(p, readFd)).toBe(false);
    expect(await syncFileBusy(p, writeFd)).toBe(false);
    expect((await fileInfo(p, readFd)).sync_fence_info[0]!.driver_name).toBe("stub");
    p.close(readFd);
    p.close(writeFd);
    readFd = await dmabufExportSyncFile(p, fd, READ);
    writeFd = await dmabufExportSyncFile(p, fd, WRITE);
    expect(await syncFileBusy(p, readFd)).toBe(true);
    expect(await syncFileBusy(p, writeFd)).toBe(true);
    vgemFenceSignal(fence1);
    const fence2 = await vgemFenceAttach(bo, true);
    expect(await syncFileBusy(p, readFd)).toBe(false);
    expect(await syncFileBusy(p, writeFd)).toBe(false);
    expect(await dmabufSyncFileBusy(p, fd, READ)).toBe(true);
    expect(await dmabufSyncFileBusy(p, fd, WRITE)).toBe(true);
    vgemFenceSignal(fence2);
    p.close(readFd);
    p.close(writeFd);
  });

  it("import-basic: imported sw_sync points act as READ, WRITE and (for RW) WRITE fences", async () => {
    expect(await dmabufBusy(p, fd, READ)).toBe(false);
    expect(await dmabufBusy(p, fd, WRITE)).toBe(false);
    const tl = timelineCreate(p);
    await dmabufImportTimelineFence(p, fd, READ, tl, 1);
    expect(await busy()).toEqual(states(false, true));
    await timelineInc(p, tl, 1);
    expect(await busy()).toEqual(states(false, false));
    await dmabufImportTimelineFence(p, fd, WRITE, tl, 2);
    expect(await busy()).toEqual(states(true, true));
    await timelineInc(p, tl, 1);
    expect(await busy()).toEqual(states(false, false));
    await dmabufImportTimelineFence(p, fd, RW, tl, 3);
    expect(await busy()).toEqual(states(true, true));
    await timelineInc(p, tl, 1);
    expect(await busy()).toEqual(states(false, false));
    p.close(tl);
  });

  for (const write of [false, true])
    it(`import-multiple-read-${write ? "write" : "only"}: 32 READ points${write ? " and a WRITE point" : ""} block ${write ? "everyone" : "writers only"} until they signal`, async () => {
      const reads = Array.from({ length: 32 }, () => timelineCreate(p));
      for (const tl of reads) await dmabufImportTimelineFence(p, fd, READ, tl, 1);
      const writeTl = write ? timelineCreate(p) : -1;
      if (write) await dmabufImportTimelineFence(p, fd, WRITE, writeTl, 1);
      const readSf = await dmabufExportSyncFile(p, fd, READ);
      const writeSf = await dmabufExportSyncFile(p, fd, WRITE);
      for (let i = reads.length - 1; i >= 0; i--) {
        expect(await dmabufBusy(p, fd, READ)).toBe(write);
        expect(await syncFileBusy(p, readSf)).toBe(write);
        expect(await dmabufBusy(p, fd, WRITE)).toBe(true);
        expect(await syncFileBusy(p, writeSf)).toBe(true);
        await timelineInc(p, reads[i]!, 1);
      }
      expect(await dmabufBusy(p, fd, READ)).toBe(write);
      expect(await syncFileBusy(p, readSf)).toBe(write);
      expect(await dmabufBusy(p, fd, WRITE)).toBe(write);
      expect(await syncFileBusy(p, writeSf)).toBe(write);
      if (write) await timelineInc(p, writeTl, 1);
      expect(await dmabufBusy(p, fd, READ)).toBe(false);
      expect(await syncFileBusy(p, readSf)).toBe(false);
      expect(await dmabufBusy(p, fd, WRITE)).toBe(false);
      expect(await syncFileBusy(p, writeSf)).toBe(false);
    });
});

/** drivers/dma-buf/dma-buf.c: dma_buf_poll, the sync_file ioctls' argument rules, CPU access, bufinfo. */
describe("implicit sync on dma-buf fds", () => {
  it("EXPORT/IMPORT_SYNC_FILE reject flags outside RW or without READ/WRITE (EINVAL) and non-sync_file fds (EINVAL)", async () => {
    for (const flags of [0, 4, RW | 4, 0x100]) {
      await expect(p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, { flags, fd: -1 })).rejects.toMatchObject({ code: "EINVAL" });
      await expect(p.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags, fd: -1 })).rejects.toMatchObject({ code: "EINVAL" });
    }
    await expect(p.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: READ, fd })).rejects.toMatchObject({ code: "EINVAL" });
    await expect(p.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: READ, fd: 999 })).rejects.toMatchObject({ code: "EINVAL" });
    const arg = { flags: READ, fd: -1 };
    await p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg);
    expect(p.fcntl(arg.fd, 1 /* F_GETFD */)).toBe(1);
    p.close(arg.fd);
  });

  it("BOOKKEEP fences never make the fd busy; KERNEL fences block readers and writers", async () => {
    const [a, b] = [await vgemFenceAttach(bo, false), await vgemFenceAttach(bo, false)];
    await bo.resv.lock(null);
    bo.resv.replaceFences(a.context, a, DMA_RESV_USAGE_BOOKKEEP);
    bo.resv.replaceFences(b.context, b, DMA_RESV_USAGE_KERNEL);
    bo.resv.unlock();
    expect(await busy()).toEqual(states(true, true));
    vgemFenceSignal(b);
    expect(await busy()).toEqual(states(false, false));
    vgemFenceSignal(a);
  });

  it("poll latch: while a callback is armed for a direction, polling it again reports busy; a sleeping poller wakes at the signal", async () => {
    const fence = await vgemFenceAttach(bo, true);
    const pfd = [{ fd, events: POLLIN, revents: 0 }];
    expect(await p.poll(pfd, 0)).toBe(0);
    const before = bo.file.count;
    // The armed callback holds a reference to the dma-buf's file until the fence signals.
    expect(await p.poll(pfd, 0)).toBe(0);
    expect(bo.file.count).toBe(before);
    k.clock.addTimer(5 * NSEC_PER_MSEC, () => vgemFenceSignal(fence), "vgem fence");
    expect(await p.poll(pfd, 100)).toBe(1);
    expect(pfd[0]!.revents).toBe(POLLIN);
    expect(k.clock.now()).toBe(5 * NSEC_PER_MSEC);
    expect(bo.file.count).toBe(before - 1);
    const both = [{ fd, events: POLLIN | POLLOUT, revents: 0 }];
    expect(await p.poll(both, 0)).toBe(1);
    expect(both[0]!.revents).toBe(POLLIN | POLLOUT);
  });

  it("DMA_BUF_IOCTL_SYNC START sleeps for the fences its access needs: READ for writers, WRITE and READ fences for writers", async () => {
    const write = await vgemFenceAttach(bo, true);
    k.clock.addTimer(3 * NSEC_PER_MSEC, () => vgemFenceSignal(write), "writer done");
    await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | READ });
    expect(k.clock.now()).toBe(3 * NSEC_PER_MSEC);
    const read = await vgemFenceAttach(bo, false);
    k.clock.addTimer(2 * NSEC_PER_MSEC, () => vgemFenceSignal(read), "reader done");
    await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | READ }); // readers do not wait for readers
    expect(k.clock.now()).toBe(3 * NSEC_PER_MSEC);
    await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | WRITE });
    expect(k.clock.now()).toBe(5 * NSEC_PER_MSEC);
    // Both sleeps are traced as the ioctl's caller (dma_fence_wait_start carries its pid).
    const waits = k.trace.events("dma_fence_wait_start");
    expect(waits).toHaveLength(2);
    expect(waits.every((w) => w.pid === p.pid)).toBe(true);
  });

  it("a signal interrupts the CPU-access wait: the ioctl fails with EINTR, dma_buf_begin_cpu_access with ERESTARTSYS", async () => {
    const fence = await vgemFenceAttach(bo, true);
    k.clock.addTimer(1000, () => sendSignal(p), "kill");
    await expect(p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | READ })).rejects.toMatchObject({ code: "EINTR" });
    expect(signalPending(p)).toBe(false); // delivered on the way back to userspace
    sendSignal(p);
    k.current = p;
    const r = dmaBufBeginCpuAccess(bo, DMA_FROM_DEVICE);
    k.current = undefined;
    await expect(r).rejects.toMatchObject({ code: "ERESTARTSYS" });
    flushSignals(p);
    vgemFenceSignal(fence);
  });

  it("bufinfo lists each fence up to READ under its buffer, as dma_buf_debug_show does", async () => {
    const tl = timelineCreate(p);
    await dmabufImportTimelineFence(p, fd, WRITE, tl, 1);
    const read = await vgemFenceAttach(bo, false);
    const text = await p.readFile("/sys/kernel/debug/dma_buf/bufinfo");
    expect(text).toContain(`\twrite fence:${read.context - 1}:1 dmabuf_sync_fil sw_sync unsignalled\n\tread fence:${read.context}:1 file vgem unsignalled\n\tAttached Devices:\n`);
    await timelineInc(p, tl, 1);
    vgemFenceSignal(read);
    expect(await p.readFile("/sys/kernel/debug/dma_buf/bufinfo")).toContain(`\twrite fence:${read.context - 1}:1   signalled\n`);
    p.close(tl);
  });

  it("a buffer's own resv drops its fences at release; nothing stays referenced", async () => {
    const tl = timelineCreate(p);
    await dmabufImportTimelineFence(p, fd, READ, tl, 1);
    const sf = await createFence(p, tl, 1);
    const { fence } = p.fds.get(sf, "test").privateData as { fence: { refcount: number } };
    expect(fence.refcount).toBe(2); // the sync_file's and the resv's
    exp.imports.forEach((b) => b.file.put());
    exp.imports.clear();
    p.close(fd);
    expect(fence.refcount).toBe(1);
    p.close(sf);
    expect(fence.refcount).toBe(0);
    p.close(tl);
  });
});
