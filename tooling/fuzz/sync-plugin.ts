import * as fc from "fast-check";
import {
  ERRNO, O_CLOEXEC, O_RDWR, POLLIN, SW_SYNC_DEBUGFS_PATH, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC, SYNC_IOC_FILE_INFO,
  SYNC_IOC_MERGE, isSyncFile, type File, type SwSyncCreateFenceData, type SyncFileInfo, type SyncMergeData,
} from "@dmabuf/core";
import { defineCommand } from "./core-plugin.js";
import type { Expect, FuzzPlugin, FuzzProc, FuzzWorld } from "./world.js";

/*
 * Explicit sync through sw_sync timelines and sync_file fds (drivers/dma-buf/sw_sync.c,
 * sync_file.c). The model predicts every fence's status from the timelines' counters:
 * a point signals once its timeline reaches its seqno, and fails with -ENOENT when its timeline
 * is closed first (sw_sync_debugfs_release); a merged fence keeps only the points still pending at
 * merge time, the latest per timeline (dma_fence_unwrap_merge), and signals when all of them have.
 */

const isTimeline = (f: File) => f.inode.name === SW_SYNC_DEBUGFS_PATH;

interface Point {
  tl: File;
  seqno: number;
}
interface Model {
  /** Timeline counters, by the timeline's open file. */
  value: Map<File, number>;
  /** The pending-at-creation points behind each sync_file. */
  fences: Map<File, Point[]>;
}
const model = (w: FuzzWorld) => w.data<Model>("sync", () => ({ value: new Map(), fences: new Map() }));

/** dma_fence_get_status() of one point: 1 signalled, -ENOENT failed by the timeline's close, 0 pending. */
function pointStatus(w: FuzzWorld, pt: Point): number {
  if ((model(w).value.get(pt.tl) ?? 0) >= pt.seqno) return 1;
  return w.userRefs(pt.tl) === 0 ? -ERRNO.ENOENT : 0;
}

/** The status of a fence made of `points`: pending while any is, else the first error, else 1. */
function fenceStatus(w: FuzzWorld, points: Point[]): number {
  const s = points.map((p) => pointStatus(w, p));
  return s.includes(0) ? 0 : (s.find((x) => x < 0) ?? 1);
}

const proc = fc.nat(7);
const mostly = <T>(valid: fc.Arbitrary<T>, ...invalid: T[]) => fc.oneof({ arbitrary: valid, weight: 8 }, { arbitrary: fc.constantFrom(...invalid), weight: 1 });
/** Now and then act on a wrong fd when the right kind is missing; otherwise skip the step. */
const misuse = mostly(fc.constant(false), true);

/** Installs a new sync_file fd in the model (sw_sync and SYNC_IOC_MERGE install with O_CLOEXEC). */
function addFence(w: FuzzWorld, p: FuzzProc, fd: number, want: number | undefined, points: Point[], origin: string): void {
  if (fd !== want) w.fail(`${origin} returned fd ${fd}; expected the lowest free fd, ${want}`);
  const file = p.proc.fds.lookup(fd);
  if (!file || !isSyncFile(file) || w.files.has(file)) w.fail(`${origin}: fd ${fd} is not a new sync_file`);
  w.addFd(p, fd, origin, true);
  model(w).fences.set(file!, points);
}

const createFence = defineCommand({
  name: "SW_SYNC_IOC_CREATE_FENCE",
  weight: 6,
  args: fc.record({ p: proc, tl: fc.nat(7), value: fc.nat(6), misuse }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fdOf(p, a.tl, isTimeline, a.misuse);
    if (fd === undefined) return;
    const tl = p.fds.get(fd)?.file;
    const want = w.lowestFree(p);
    const expect: Expect = !tl ? ["EBADF"] : !isTimeline(tl) ? undefined : want === undefined ? ["EMFILE"] : [];
    const data: SwSyncCreateFenceData = { value: a.value, name: "fuzz", fence: 0 };
    const text = `ioctl(${fd}, SW_SYNC_IOC_CREATE_FENCE, {value: ${a.value}, name: "fuzz"})`;
    const r = await w.call(p, "ioctl", text, () => p.proc.ioctl(fd, SW_SYNC_IOC_CREATE_FENCE, data), expect, () => `0; fence fd ${data.fence}`);
    if (r && tl && isTimeline(tl)) addFence(w, p, data.fence, want, [{ tl, seqno: a.value }], `SW_SYNC_IOC_CREATE_FENCE(${a.value})`);
  },
});

const inc = defineCommand({
  name: "SW_SYNC_IOC_INC",
  weight: 4,
  args: fc.record({ p: proc, tl: fc.nat(7), n: fc.nat(3), misuse }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fdOf(p, a.tl, isTimeline, a.misuse);
    if (fd === undefined) return;
    const tl = p.fds.get(fd)?.file;
    const expect: Expect = !tl ? ["EBADF"] : !isTimeline(tl) ? undefined : [];
    const r = await w.call(p, "ioctl", `ioctl(${fd}, SW_SYNC_IOC_INC, ${a.n})`, () => p.proc.ioctl(fd, SW_SYNC_IOC_INC, a.n), expect);
    if (r && tl && isTimeline(tl)) model(w).value.set(tl, (model(w).value.get(tl) ?? 0) + a.n);
  },
});

const merge = defineCommand({
  name: "SYNC_IOC_MERGE",
  weight: 4,
  args: fc.record({ p: proc, f1: fc.nat(7), f2: fc.nat(7), flags: mostly(fc.constant(0), 1), misuse }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fdOf(p, a.f1, isSyncFile, a.misuse);
    const fd2 = w.fdOf(p, a.f2, isSyncFile, a.misuse);
    if (fd === undefined || fd2 === undefined) return;
    const [f1, f2] = [p.fds.get(fd)?.file, p.fds.get(fd2)?.file];
    const want = w.lowestFree(p);
    // sync_file_ioctl_merge(): get_unused_fd_flags, then flags/pad, then fd2 (ENOENT when not a sync_file)
    const errs: Expect = [...(want === undefined ? ["EMFILE" as const] : []), ...(a.flags ? ["EINVAL" as const] : []), ...(f2 && isSyncFile(f2) ? [] : ["ENOENT" as const])];
    const expect: Expect = !f1 ? ["EBADF"] : !isSyncFile(f1) ? undefined : errs;
    const data: SyncMergeData = { name: "merged", fd2, fence: 0, flags: a.flags, pad: 0 };
    const text = `ioctl(${fd}, SYNC_IOC_MERGE, {name: "merged", fd2: ${fd2}, flags: ${a.flags}})`;
    const r = await w.call(p, "ioctl", text, () => p.proc.ioctl(fd, SYNC_IOC_MERGE, data), expect, () => `0; fence fd ${data.fence}`);
    if (!r || !f1 || !isSyncFile(f1)) return;
    // dma_fence_unwrap_merge(): only pending points survive, the latest per timeline
    const latest = new Map<File, Point>();
    for (const pt of [...model(w).fences.get(f1)!, ...model(w).fences.get(f2!)!])
      if (pointStatus(w, pt) === 0 && pt.seqno > (latest.get(pt.tl)?.seqno ?? -1)) latest.set(pt.tl, pt);
    addFence(w, p, data.fence, want, [...latest.values()], `SYNC_IOC_MERGE(${fd}, ${fd2})`);
  },
});

const fileInfo = defineCommand({
  name: "SYNC_IOC_FILE_INFO",
  weight: 4,
  args: fc.record({ p: proc, f: fc.nat(7), misuse }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fdOf(p, a.f, isSyncFile, a.misuse);
    if (fd === undefined) return;
    const f = p.fds.get(fd)?.file;
    const sync = !!f && isSyncFile(f);
    const info: SyncFileInfo = { name: "", status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: null };
    const r = await w.call(p, "ioctl", `ioctl(${fd}, SYNC_IOC_FILE_INFO, {num_fences: 0})`, () => p.proc.ioctl(fd, SYNC_IOC_FILE_INFO, info), !f ? ["EBADF"] : sync ? [] : undefined, () => `0; status ${info.status}, ${info.num_fences} fence(s)`);
    if (!r || !sync) return;
    const want = fenceStatus(w, model(w).fences.get(f)!);
    if (info.status !== want) w.fail(`sync_file fd ${fd} has status ${info.status}; its points (${describe(w, model(w).fences.get(f)!)}) give ${want}`);
    // poll(2) agrees: POLLIN once the fence has signalled (with or without an error)
    const pfd = [{ fd, events: POLLIN, revents: 0 }];
    await w.call(p, "poll", `poll([{${fd}, POLLIN}], 1, 0)`, () => p.proc.poll(pfd, 0), [], (n) => `${n} [revents 0x${pfd[0]!.revents.toString(16)}]`);
    if (!!(pfd[0]!.revents & POLLIN) !== (want !== 0)) w.fail(`poll on sync_file fd ${fd} gave revents 0x${pfd[0]!.revents.toString(16)} for a fence of status ${want}`);
  },
});

const describe = (w: FuzzWorld, points: Point[]) => points.map((pt) => `seqno ${pt.seqno} on a timeline at ${model(w).value.get(pt.tl) ?? 0}${w.userRefs(pt.tl) ? "" : " (closed)"}`).join(", ") || "none pending: a signalled stub";

/** sw_sync timelines and sync_file fds: create, signal, merge, query and poll fences. */
export const syncPlugin: FuzzPlugin = {
  name: "sync_file",
  paths: [SW_SYNC_DEBUGFS_PATH],
  commands: [createFence, inc, merge, fileInfo],
  // sync_file.c: ENOENT for a merge with an fd that is not a sync_file; EMFILE from get_unused_fd_flags
  errnos: { ioctl: { man: "sync_file ioctls (drivers/dma-buf/sync_file.c)", errnos: ["ENOENT", "EMFILE", "ENOMEM"] } },
  async onSpawn(w, p) {
    await w.open(p, SW_SYNC_DEBUGFS_PATH, O_RDWR | O_CLOEXEC, `open("${SW_SYNC_DEBUGFS_PATH}", O_RDWR|O_CLOEXEC)`);
  },
};
