import type { DmaBuf } from "./dma-buf.js";
import { DMA_BUF_SYNC_RW, DMA_BUF_SYNC_WRITE, type DmaBufExportSyncFile, type DmaBufImportSyncFile } from "./dma-buf-uapi.js";
import { dmaFenceGetStub, type DmaFence, type DmaFenceCb } from "./dma-fence.js";
import { dmaFenceUnwrap } from "./dma-fence-unwrap.js";
import { DMA_RESV_USAGE_READ, DMA_RESV_USAGE_WRITE, dmaResvUsageRw, type DmaResv } from "./dma-resv.js";
import { Errno, check } from "./errno.js";
import { O_CLOEXEC, POLLIN, POLLOUT, type PollTable } from "./file.js";
import { callAs } from "./internal/call-as.js";
import { MAX_SCHEDULE_TIMEOUT } from "./internal/schedule-timeout.js";
import type { Process } from "./process.js";
import { DMA_BIDIRECTIONAL, DMA_TO_DEVICE, type DmaDataDirection } from "./scatterlist.js";
import { syncFileCreate, syncFileGetFence } from "./sync-file.js";
import { WaitQueue } from "./wait-queue.js";

/*
 * Implicit synchronisation on dma-buf fds (drivers/dma-buf/dma-buf.c, 6.x): poll() tells whether
 * the buffer's fences allow reading (POLLIN: no pending KERNEL/WRITE fence) or writing (POLLOUT:
 * none at KERNEL/WRITE/READ); DMA_BUF_IOCTL_EXPORT_SYNC_FILE / IMPORT_SYNC_FILE bridge those
 * implicit fences and explicit sync_files; CPU access waits for them.
 */

/** struct dma_buf_poll_cb_t: `active` is the event being waited for, 0 when idle. */
interface PollCb extends DmaFenceCb {
  active: number;
}

/** dmabuf->poll, cb_in and cb_out. */
interface PollState {
  readonly wq: WaitQueue;
  readonly cbIn: PollCb;
  readonly cbOut: PollCb;
}
const pollStates = new WeakMap<DmaBuf, PollState>();

function pollState(buf: DmaBuf): PollState {
  let st = pollStates.get(buf);
  if (!st) pollStates.set(buf, (st = { wq: new WaitQueue(), cbIn: { active: 0 }, cbOut: { active: 0 } }));
  return st;
}

/**
 * Runs `fn` with the resv held. Poll and debugfs cannot sleep in this model, so when another
 * actor holds the lock (asleep, mid-update) they read the list as it stands: nothing else runs
 * meanwhile, so it is consistent.
 */
function underResv<T>(resv: DmaResv, fn: () => T): T {
  const took = resv.trylock();
  try {
    return fn();
  } finally {
    if (took) resv.unlock();
  }
}

/** dma_buf_poll_cb(): the armed fence signalled: wake the pollers, disarm, drop the file reference. */
function pollCb(buf: DmaBuf, st: PollState, dcb: PollCb, fence: DmaFence | null): void {
  st.wq.wake();
  dcb.active = 0;
  fence?.put();
  buf.file.put();
}

/**
 * Arms `dcb` for one direction. Returns true when the direction is busy: its callback was already
 * armed (the latch: a second poll reports busy until the armed fence signals), or a pending fence
 * took the callback. Otherwise the callback runs at once and the direction is ready.
 */
function pollArm(buf: DmaBuf, st: PollState, dcb: PollCb, event: number, write: boolean): boolean {
  if (dcb.active) return true;
  dcb.active = event;
  buf.file.get(); // paired with the fput in dma_buf_poll_cb
  // dma_buf_poll_add_cb()
  for (const { fence } of buf.resv.fences(dmaResvUsageRw(write))) {
    fence.get();
    if (fence.addCallback(dcb, (f) => pollCb(buf, st, dcb, f)) === 0) return true;
    fence.put();
  }
  pollCb(buf, st, dcb, null);
  return false;
}

/** dma_buf_poll(): the dma-buf fd's poll op. */
export function dmaBufPoll(buf: DmaBuf, table: PollTable): number {
  const st = pollState(buf);
  table.wait(st.wq);
  let events = table.events & (POLLIN | POLLOUT);
  if (!events) return 0;
  underResv(buf.resv, () => {
    if (events & POLLOUT && pollArm(buf, st, st.cbOut, POLLOUT, true)) events &= ~POLLOUT;
    if (events & POLLIN && pollArm(buf, st, st.cbIn, POLLIN, false)) events &= ~POLLIN;
  });
  return events;
}

function checkSyncFileFlags(arg: { flags: number } | null, call: string): number {
  check(arg && typeof arg === "object" && Number.isInteger(arg.flags), "EFAULT", call, "argument is not a struct dma_buf_{export,import}_sync_file");
  check(!(arg.flags & ~DMA_BUF_SYNC_RW), "EINVAL", call, `flags 0x${(arg.flags >>> 0).toString(16)} has bits outside DMA_BUF_SYNC_RW`);
  check(arg.flags & DMA_BUF_SYNC_RW, "EINVAL", call, "flags must include DMA_BUF_SYNC_READ and/or DMA_BUF_SYNC_WRITE");
  return arg.flags;
}

/**
 * DMA_BUF_IOCTL_EXPORT_SYNC_FILE (dma_buf_export_sync_file()): a sync_file (O_CLOEXEC fd) for the
 * fences a reader (READ: KERNEL and WRITE fences) or writer (WRITE: KERNEL, WRITE and READ) must
 * wait for, as they are now: fences added later are not in it. Idle buffers give the stub.
 */
export function dmaBufExportSyncFile(buf: DmaBuf, arg: DmaBufExportSyncFile): number {
  const call = "DMA_BUF_IOCTL_EXPORT_SYNC_FILE";
  const flags = checkSyncFileFlags(arg, call);
  const kernel = buf.kernel;
  kernel.current!.fds.lowestFree(0, call); // get_unused_fd_flags(O_CLOEXEC) before any work
  const fence = buf.resv.getSingleton(dmaResvUsageRw((flags & DMA_BUF_SYNC_WRITE) !== 0)) ?? dmaFenceGetStub(kernel);
  const sf = syncFileCreate(fence);
  fence.put();
  arg.fd = kernel.fdInstall(sf.file, O_CLOEXEC, call);
  return 0;
}

/**
 * DMA_BUF_IOCTL_IMPORT_SYNC_FILE (dma_buf_import_sync_file()): adds the leaves of a sync_file's
 * fence to the buffer's resv, as WRITE fences when WRITE is asked for, else READ. EINVAL when the
 * fd is not a sync_file.
 */
export async function dmaBufImportSyncFile(buf: DmaBuf, arg: DmaBufImportSyncFile): Promise<number> {
  const call = "DMA_BUF_IOCTL_IMPORT_SYNC_FILE";
  const flags = checkSyncFileFlags(arg, call);
  const fence = syncFileGetFence(buf.kernel, arg.fd);
  check(fence, "EINVAL", call, `fd ${arg.fd} is not a sync_file`);
  const usage = flags & DMA_BUF_SYNC_WRITE ? DMA_RESV_USAGE_WRITE : DMA_RESV_USAGE_READ;
  try {
    let numFences = 0;
    for (const _f of dmaFenceUnwrap(fence)) numFences++;
    if (numFences > 0) {
      await buf.resv.lock(null);
      buf.resv.reserveFences(numFences);
      for (const f of dmaFenceUnwrap(fence)) buf.resv.addFence(f, usage);
      buf.resv.unlock();
    }
  } finally {
    fence.put();
  }
  return 0;
}

/**
 * __dma_buf_begin_cpu_access(): waits (interruptibly, for `task`) until the implicit fences allow
 * CPU access in `dir`: a writer waits for readers and writers, a reader for writers. Throws
 * ERESTARTSYS when a signal interrupts the wait.
 */
export async function dmaBufWaitForCpuAccess(buf: DmaBuf, dir: DmaDataDirection, task: Process | undefined): Promise<void> {
  const write = dir === DMA_BIDIRECTIONAL || dir === DMA_TO_DEVICE;
  const ret = await callAs(buf.kernel, task, () => buf.resv.waitTimeout(dmaResvUsageRw(write), true, MAX_SCHEDULE_TIMEOUT));
  if (ret < 0) throw new Errno("ERESTARTSYS", "dma_buf_begin_cpu_access", "a signal interrupted the wait for the buffer's implicit fences");
}

/** dma_resv_describe() for bufinfo, taken under the resv lock as dma_buf_debug_show() does. */
export function dmaBufDescribeFences(buf: DmaBuf): string {
  // most buffers carry no fences: skip the lock round trip (bufinfo lists every buffer)
  if (!buf.resv.hasFences) return "";
  return underResv(buf.resv, () => buf.resv.describe());
}
