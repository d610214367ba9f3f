import {
  ERRNO, O_RDWR, POLLERR, POLLIN, POLLNVAL, SW_SYNC_DEBUGFS_PATH, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC,
  SYNC_IOC_FILE_INFO, SYNC_IOC_MERGE, type Process, type SyncFenceInfo, type SyncFileInfo,
} from "../../src/index.js";

/* The helpers of IGT lib/sw_sync.c, ported to the model's Process calls. */

/** sw_sync_timeline_create(): opens the debugfs sw_sync file. */
export const timelineCreate = (p: Process) => p.open(SW_SYNC_DEBUGFS_PATH, O_RDWR);

/** __sw_sync_timeline_create_fence(): the sync_file fd, or throws the ioctl's Errno. */
export async function createFence(p: Process, tl: number, value: number): Promise<number> {
  const data = { value, name: "", fence: -1 };
  await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, data);
  return data.fence;
}

/** sw_sync_timeline_inc() */
export const timelineInc = (p: Process, tl: number, count: number) => p.ioctl(tl, SW_SYNC_IOC_INC, count);

/** sync_fence_wait(): 0 if signalled, -ETIME on timeout, -EINVAL on POLLERR/POLLNVAL; -1 ms waits forever. */
export async function syncFenceWait(p: Process, fd: number, timeoutMs: number): Promise<number> {
  const pfd = [{ fd, events: POLLIN, revents: 0 }];
  const n = await p.poll(pfd, timeoutMs);
  if (n === 0) return -ERRNO.ETIME;
  if (pfd[0]!.revents & (POLLERR | POLLNVAL)) return -ERRNO.EINVAL;
  return 0;
}

/** sync_fence_merge() */
export async function syncFenceMerge(p: Process, fd1: number, fd2: number, name = "igt merge"): Promise<number> {
  const data = { name, fd2, fence: -1, flags: 0, pad: 0 };
  await p.ioctl(fd1, SYNC_IOC_MERGE, data);
  return data.fence;
}

/** SYNC_IOC_FILE_INFO with the num_fences = 0 size query first, as libsync does. */
export async function fileInfo(p: Process, fd: number): Promise<SyncFileInfo & { sync_fence_info: SyncFenceInfo[] }> {
  const q: SyncFileInfo = { name: "", status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: null };
  await p.ioctl(fd, SYNC_IOC_FILE_INFO, q);
  const info = { ...q, sync_fence_info: [] as SyncFenceInfo[] };
  await p.ioctl(fd, SYNC_IOC_FILE_INFO, info);
  return info;
}

/** sync_fence_status(): FILE_INFO's status. */
export const syncFenceStatus = async (p: Process, fd: number) => (await fileInfo(p, fd)).status;

/* lib/sw_sync.h */
export const SW_SYNC_FENCE_STATUS_ERROR = -1;
export const SW_SYNC_FENCE_STATUS_ACTIVE = 0;
export const SW_SYNC_FENCE_STATUS_SIGNALED = 1;
/** sync_fence_count_status(): leaves whose status equals `status` (so ERROR counts -1 only, as in IGT). */
export async function countStatus(p: Process, fd: number, status: number): Promise<number> {
  const info = await fileInfo(p, fd);
  return info.sync_fence_info.filter((f) => f.status === status).length;
}
