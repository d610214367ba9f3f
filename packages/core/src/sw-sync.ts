import { DMA_FENCE_FLAG_TIMESTAMP_BIT, DMA_FENCE_FLAG_USER_BITS, DmaFence, dmaFenceContextAlloc, seqnoIsLater, type DmaFenceOps } from "./dma-fence.js";
import { ERRNO, Errno, check } from "./errno.js";
import { O_CLOEXEC, type File, type FileOperations } from "./file.js";
import { _IOW, _IOWR } from "./ioctl.js";
import type { Kernel } from "./kernel.js";
import { SyncFile, syncFileGetFence } from "./sync-file.js";

/*
 * sw_sync (drivers/dma-buf/sw_sync.c): the kernel's software timeline for testing explicit sync.
 * Each open() of <debugfs>/sync/sw_sync is a timeline with a 32-bit counter; CREATE_FENCE makes a
 * sync_file for a point on it, INC advances the counter and signals every point it passes.
 */

/** struct sw_sync_create_fence_data (40 bytes) */
export interface SwSyncCreateFenceData {
  value: number;
  name: string;
  fence: number;
}

/** struct sw_sync_get_deadline (16 bytes) */
export interface SwSyncGetDeadline {
  deadline_ns: number;
  fence_fd: number;
  pad: number;
}

export const SW_SYNC_IOC_MAGIC = "W";
export const SW_SYNC_IOC_CREATE_FENCE = _IOWR(SW_SYNC_IOC_MAGIC, 0, 40);
export const SW_SYNC_IOC_INC = _IOW(SW_SYNC_IOC_MAGIC, 1, 4);
export const SW_SYNC_GET_DEADLINE = _IOWR(SW_SYNC_IOC_MAGIC, 2, 16);
export const SW_SYNC_DEBUGFS_PATH = "/sys/kernel/debug/sync/sw_sync";
/** The timelines and their pending points, as sync_debug.c prints them. */
export const SYNC_INFO_DEBUGFS_PATH = "/sys/kernel/debug/sync/info";

/** Fence flag bit a sync_pt sets once it carries a deadline hint. */
const SW_SYNC_HAS_DEADLINE = 1 << DMA_FENCE_FLAG_USER_BITS;
const INT_MAX = 0x7fffffff;
const TASK_COMM_LEN = 16;

/** struct sync_pt: a point on a sw_sync timeline. */
export class SyncPt extends DmaFence {
  /** The earliest deadline hint, valid once flags has SW_SYNC_HAS_DEADLINE_BIT. */
  deadline = 0;
  /** The timeline, whose pending list holds the point until it signals. */
  timeline!: SyncTimeline;
}

/** sync_timeline_list_head: live timelines per kernel, in creation order. */
const timelines = new WeakMap<Kernel, Set<SyncTimeline>>();

/** struct sync_timeline. Refcounted: the timeline file holds one reference and every point one more. */
export class SyncTimeline {
  readonly context: number;
  private refs = 1;
  /** The counter: points with seqno <= value (32-bit wrap-aware) have signalled. */
  value = 0;
  /** Pending points, in seqno order (pt_list). */
  readonly pending: SyncPt[] = [];
  readonly ops: DmaFenceOps;

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
  ) {
    this.context = dmaFenceContextAlloc(kernel, 1);
    timelines.get(kernel)!.add(this); // sync_timeline_debug_add()
    // The ops carry the timeline (the kernel reaches it through fence->lock's container).
    this.ops = {
      getDriverName: () => "sw_sync",
      getTimelineName: () => this.name,
      enableSignaling: () => true,
      signaled: (f) => !seqnoIsLater(f.seqno, this.value),
      release: (f) => {
        const i = this.pending.indexOf(f as SyncPt);
        if (i >= 0) this.pending.splice(i, 1);
        this.put();
      },
      fenceValueStr: (f) => String(f.seqno),
      timelineValueStr: () => String(this.value | 0),
      setDeadline: (f, deadlineNs) => {
        const pt = f as SyncPt;
        if (!(pt.flags & SW_SYNC_HAS_DEADLINE) || deadlineNs < pt.deadline) pt.deadline = deadlineNs;
        pt.flags |= SW_SYNC_HAS_DEADLINE;
      },
    };
  }

  /**
   * sync_pt_create(): a point at `value`; born signalled when the counter has passed it. An
   * unsignalled point with the same value is reused (a new reference to it is returned).
   */
  createPt(value: number): SyncPt {
    value >>>= 0;
    const pt = new SyncPt(this.kernel, this.ops, this.context, value);
    pt.timeline = this;
    this.refs++;
    if (pt.isSignaled()) return pt;
    const same = this.pending.find((p) => p.seqno === value);
    if (same) {
      // sync_pt_create() drops the new point's timeline reference and kfree()s it unused.
      this.refs--;
      this.kernel.objects.unregister(pt);
      return same.get();
    }
    const at = this.pending.findIndex((p) => seqnoIsLater(p.seqno, value));
    this.pending.splice(at < 0 ? this.pending.length : at, 0, pt);
    return pt;
  }

  /** sync_timeline_signal(): advances the counter by `inc` (u32) and signals the points it passed, in order. */
  signal(inc: number): void {
    this.value = (this.value + inc) >>> 0;
    while (this.pending.length && this.ops.signaled!(this.pending[0]!)) this.pending.shift()!.signal();
  }

  /**
   * sw_sync_debugfs_release(): closing the timeline fails every pending point with -ENOENT (they
   * stay on its list until released) and drops the file's reference.
   */
  close(): void {
    for (const pt of [...this.pending]) {
      pt.setError(-ERRNO.ENOENT);
      pt.signal();
    }
    this.put();
  }

  /** sync_timeline_put(): the last reference takes the timeline off the debug list. */
  private put(): void {
    if (--this.refs === 0) timelines.get(this.kernel)!.delete(this);
  }

  /** sync_print_obj(): the timeline and each point on its list. */
  describe(): string {
    let out = `${this.name}: ${this.value | 0}\n`;
    for (const pt of this.pending) {
      const status = pt.getStatus();
      out += `  fence ${status < 0 ? "error" : status > 0 ? "signaled" : "active"}`;
      if (pt.flags & (1 << DMA_FENCE_FLAG_TIMESTAMP_BIT)) out += `@${Math.floor(pt.timestamp / 1e9)}.${String(pt.timestamp % 1e9).padStart(9, "0")}`;
      out += `: ${pt.seqno} / ${this.value | 0}\n`;
    }
    return out;
  }
}

function createFence(tl: SyncTimeline, data: SwSyncCreateFenceData): number {
  const kernel = tl.kernel;
  kernel.current!.fds.lowestFree(0, "SW_SYNC_IOC_CREATE_FENCE");
  check(data && typeof data === "object" && Number.isInteger(data.value), "EFAULT", "SW_SYNC_IOC_CREATE_FENCE", "argument is not a struct sw_sync_create_fence_data");
  const pt = tl.createPt(data.value);
  const sf = new SyncFile(kernel, pt);
  pt.put();
  data.fence = kernel.fdInstall(sf.file, O_CLOEXEC, "SW_SYNC_IOC_CREATE_FENCE");
  return 0;
}

function inc(tl: SyncTimeline, arg: unknown): number {
  check(typeof arg === "number" && Number.isInteger(arg), "EFAULT", "SW_SYNC_IOC_INC", "argument must be a __u32 increment");
  let value = arg >>> 0;
  while (value > INT_MAX) {
    tl.signal(INT_MAX);
    value -= INT_MAX;
  }
  tl.signal(value);
  return 0;
}

function getDeadline(tl: SyncTimeline, data: SwSyncGetDeadline): number {
  check(data && typeof data === "object", "EFAULT", "SW_SYNC_GET_DEADLINE", "argument is not a struct sw_sync_get_deadline");
  check(!data.deadline_ns && !data.pad, "EINVAL", "SW_SYNC_GET_DEADLINE", "deadline_ns and pad must be 0 on input");
  const fence = syncFileGetFence(tl.kernel, data.fence_fd);
  check(fence, "EINVAL", "SW_SYNC_GET_DEADLINE", `fd ${data.fence_fd} is not a sync_file`);
  try {
    check(fence instanceof SyncPt, "EINVAL", "SW_SYNC_GET_DEADLINE", "the sync_file's fence is not a sw_sync point");
    check(fence.flags & SW_SYNC_HAS_DEADLINE, "ENOENT", "SW_SYNC_GET_DEADLINE", "no deadline was set on this fence");
    data.deadline_ns = fence.deadline;
  } finally {
    fence.put();
  }
  return 0;
}

const swSyncFops: FileOperations = {
  name: "sw_sync",
  open(file, kernel) {
    file.privateData = new SyncTimeline(kernel, (kernel.current?.comm ?? "swapper").slice(0, TASK_COMM_LEN - 1));
  },
  release: (file: File) => (file.privateData as SyncTimeline).close(),
  ioctl(file, request, arg) {
    const tl = file.privateData as SyncTimeline;
    switch (request) {
      case SW_SYNC_IOC_CREATE_FENCE:
        return createFence(tl, arg as SwSyncCreateFenceData);
      case SW_SYNC_IOC_INC:
        return inc(tl, arg);
      case SW_SYNC_GET_DEADLINE:
        return getDeadline(tl, arg as SwSyncGetDeadline);
      default:
        throw new Errno("ENOTTY", "ioctl", `unknown sw_sync ioctl 0x${request.toString(16)}`);
    }
  },
};

/** sync_debugfs_init(): creates <debugfs>/sync/info and <debugfs>/sync/sw_sync; the kernel does this at boot. */
export function swSyncInit(kernel: Kernel): void {
  const list = new Set<SyncTimeline>();
  timelines.set(kernel, list);
  // sync_info_debugfs_show(). The "fences" part lists debug-registered sync_files, which nothing
  // has registered since 2016 (sync_file_debug_add() is unused), so it stays empty.
  kernel.vfs.createText(SYNC_INFO_DEBUGFS_PATH, () => `objs:\n--------------\n${[...list].map((tl) => tl.describe() + "\n").join("")}fences:\n--------------\n`);
  kernel.vfs.create(SW_SYNC_DEBUGFS_PATH, swSyncFops);
}
