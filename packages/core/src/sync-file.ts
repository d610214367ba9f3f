import type { DmaFence, DmaFenceCb } from "./dma-fence.js";
import { dmaFenceUnwrap, dmaFenceUnwrapMerge } from "./dma-fence-unwrap.js";
import { Errno, check } from "./errno.js";
import { POLLIN, O_CLOEXEC, type File, type FileOperations } from "./file.js";
import { _IOW, _IOWR } from "./ioctl.js";
import type { Kernel } from "./kernel.js";
import { WaitQueue } from "./wait-queue.js";

/*
 * sync_file (drivers/dma-buf/sync_file.c, include/uapi/linux/sync_file.h): a fence as an fd, the
 * explicit-sync currency between processes and drivers.
 */

/** struct sync_merge_data (48 bytes) */
export interface SyncMergeData {
  name: string;
  fd2: number;
  fence: number;
  flags: number;
  pad: number;
}

/** struct sync_fence_info (80 bytes): one leaf fence. */
export interface SyncFenceInfo {
  obj_name: string;
  driver_name: string;
  status: number;
  flags: number;
  timestamp_ns: number;
}

/**
 * struct sync_file_info (56 bytes). `sync_fence_info` is the user buffer the kernel fills (a
 * pointer in C): an array with room for `num_fences` entries, or null to pass no buffer.
 */
export interface SyncFileInfo {
  name: string;
  status: number;
  flags: number;
  num_fences: number;
  pad: number;
  sync_fence_info: SyncFenceInfo[] | null;
}

/** struct sync_set_deadline (16 bytes) */
export interface SyncSetDeadline {
  deadline_ns: number;
  pad: number;
}

export const SYNC_IOC_MAGIC = ">";
export const SYNC_IOC_MERGE = _IOWR(SYNC_IOC_MAGIC, 3, 48);
export const SYNC_IOC_FILE_INFO = _IOWR(SYNC_IOC_MAGIC, 4, 56);
export const SYNC_IOC_SET_DEADLINE = _IOW(SYNC_IOC_MAGIC, 5, 16);

/** strscpy() into a char[32]: at most 31 characters survive. */
const strscpy32 = (s: string) => s.slice(0, 31);

/** struct sync_file */
export class SyncFile {
  /** The merge name (user_name), empty unless set by SYNC_IOC_MERGE. */
  userName = "";
  readonly wq = new WaitQueue();
  private readonly cb: DmaFenceCb = {};
  private pollEnabled = false;
  readonly file: File;

  /** sync_file_create(): takes a new reference to `fence`. */
  constructor(
    readonly kernel: Kernel,
    readonly fence: DmaFence,
  ) {
    fence.get();
    this.file = kernel.anonFile("sync_file", syncFileFops, this, 0);
  }

  /** sync_file_get_name(): the merge name, or "driver-timelineCONTEXT-SEQNO". */
  get name(): string {
    if (this.userName) return this.userName;
    const f = this.fence;
    return strscpy32(`${f.driverName}-${f.timelineName}${f.context}-${f.seqno}`);
  }

  /** sync_file_poll(): the first poll arms a callback that wakes pollers; POLLIN once signalled. */
  poll(wait: (q: WaitQueue) => void): number {
    wait(this.wq);
    if (!this.cb.queued && !this.pollEnabled) {
      this.pollEnabled = true;
      if (this.fence.addCallback(this.cb, () => this.wq.wake()) < 0) this.wq.wake();
    }
    return this.fence.isSignaled() ? POLLIN : 0;
  }

  /** sync_file_release() */
  release(): void {
    if (this.pollEnabled) this.fence.removeCallback(this.cb);
    this.fence.put();
  }
}

/** sync_file_create(): a new sync_file (its file holds one reference to `fence`; install it with kernel.fdInstall). */
export function syncFileCreate(fence: DmaFence): SyncFile {
  return new SyncFile(fence.kernel, fence);
}

/** sync_file_fdget(): the sync_file behind `fd` of the current process, or null. */
function syncFileFdget(kernel: Kernel, fd: number): SyncFile | null {
  const file = kernel.current?.fds.lookup(fd);
  return file?.ops === syncFileFops ? (file.privateData as SyncFile) : null;
}

/** sync_file_get_fence(): a new reference to the fence of sync_file `fd` (current process), or null if it is none. */
export function syncFileGetFence(kernel: Kernel, fd: number): DmaFence | null {
  return syncFileFdget(kernel, fd)?.fence.get() ?? null;
}

/** Is `file` a sync_file? */
export function isSyncFile(file: File): boolean {
  return file.ops === syncFileFops;
}

function ioctlMerge(sf: SyncFile, data: SyncMergeData): number {
  const kernel = sf.kernel;
  // get_unused_fd_flags(O_CLOEXEC) comes first: EMFILE wins over argument errors.
  kernel.current!.fds.lowestFree(0, "SYNC_IOC_MERGE");
  check(data && typeof data === "object", "EFAULT", "SYNC_IOC_MERGE", "argument is not a struct sync_merge_data");
  check(!data.flags && !data.pad, "EINVAL", "SYNC_IOC_MERGE", `flags (${data.flags}) and pad (${data.pad}) must be 0`);
  const other = syncFileFdget(kernel, data.fd2);
  check(other, "ENOENT", "SYNC_IOC_MERGE", `fd2 ${data.fd2} is not a sync_file`);
  const fence = dmaFenceUnwrapMerge(sf.fence, other.fence);
  const merged = new SyncFile(kernel, fence);
  fence.put();
  merged.userName = strscpy32(data.name ?? "");
  data.fence = kernel.fdInstall(merged.file, O_CLOEXEC, "SYNC_IOC_MERGE");
  return 0;
}

function ioctlFileInfo(sf: SyncFile, info: SyncFileInfo): number {
  check(info && typeof info === "object", "EFAULT", "SYNC_IOC_FILE_INFO", "argument is not a struct sync_file_info");
  check(!info.flags && !info.pad, "EINVAL", "SYNC_IOC_FILE_INFO", `flags (${info.flags}) and pad (${info.pad}) must be 0`);
  const leaves = [...dmaFenceUnwrap(sf.fence)];
  let status: number;
  // num_fences == 0 is the size query: only the count, name and status come back.
  if (!info.num_fences) status = sf.fence.getStatus();
  else {
    check(info.num_fences >= leaves.length, "EINVAL", "SYNC_IOC_FILE_INFO", `num_fences ${info.num_fences} is smaller than the ${leaves.length} fences; query the count with num_fences = 0 first`);
    const out = info.sync_fence_info;
    check(Array.isArray(out), "EFAULT", "SYNC_IOC_FILE_INFO", "sync_fence_info does not point to a buffer");
    status = 1;
    leaves.forEach((f, i) => {
      const s = f.getStatus();
      out[i] = { obj_name: strscpy32(f.timelineName), driver_name: strscpy32(f.driverName), status: s, flags: 0, timestamp_ns: f.isSignaled() ? f.timestampNs : 0 };
      if (status > 0) status = s;
    });
  }
  info.status = status;
  info.name = sf.name;
  info.num_fences = leaves.length;
  return 0;
}

function ioctlSetDeadline(sf: SyncFile, ts: SyncSetDeadline): number {
  check(ts && typeof ts === "object", "EFAULT", "SYNC_IOC_SET_DEADLINE", "argument is not a struct sync_set_deadline");
  check(!ts.pad, "EINVAL", "SYNC_IOC_SET_DEADLINE", `pad (${ts.pad}) must be 0`);
  sf.fence.setDeadline(ts.deadline_ns);
  return 0;
}

const syncFileFops: FileOperations = {
  name: "sync_file",
  release: (file) => (file.privateData as SyncFile).release(),
  poll: (file, table) => (file.privateData as SyncFile).poll((q) => table.wait(q)),
  ioctl(file, request, arg) {
    const sf = file.privateData as SyncFile;
    switch (request) {
      case SYNC_IOC_MERGE:
        return ioctlMerge(sf, arg as SyncMergeData);
      case SYNC_IOC_FILE_INFO:
        return ioctlFileInfo(sf, arg as SyncFileInfo);
      case SYNC_IOC_SET_DEADLINE:
        return ioctlSetDeadline(sf, arg as SyncSetDeadline);
      default:
        throw new Errno("ENOTTY", "ioctl", `unknown sync_file ioctl 0x${request.toString(16)}`);
    }
  },
};
