import * as fc from "fast-check";
import { O_ACCMODE, O_CLOEXEC, O_RDWR, isDmaBufFile, type File } from "@dmabuf/core";
import mm from "@dmabuf/mm";
import v4l2Sim, {
  V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, VIDIOC_EXPBUF, VIDIOC_REQBUFS,
  type v4l2_exportbuffer, type v4l2_requestbuffers,
} from "@dmabuf/v4l2-sim";
import { defineCommand, oflags } from "./core-plugin.js";
import { shareMemory } from "./dmabuf-plugin.js";
import type { Expect, FuzzPlugin, FuzzWorld } from "./world.js";

/*
 * The vivid camera's buffer queue from userspace: VIDIOC_REQBUFS (MMAP and DMABUF memory, counts
 * including 0, which frees the queue) and VIDIOC_EXPBUF, which hands out a buffer as a dma-buf fd
 * that the other plugins' commands then pass, map, import and close. Queue ownership and buffer
 * counts are the driver's to decide: outcomes are not predicted, but every errno must be one the
 * V4L2 spec documents, a successful EXPBUF must install a new dma-buf at the lowest free fd, and
 * the generic invariants (fds, refcounts, leaks, pages) hold after every step.
 */

const VIDEO = "/dev/video0";
const isVideo = (f: File) => f.inode.name === VIDEO;
const proc = fc.nat(7);
const mostly = <T>(valid: fc.Arbitrary<T>, ...invalid: T[]) => fc.oneof({ arbitrary: valid, weight: 8 }, { arbitrary: fc.constantFrom(...invalid), weight: 1 });

const generation = (w: FuzzWorld) => w.data<{ n: number }>("v4l2", () => ({ n: 0 }));

const reqbufs = defineCommand({
  name: "VIDIOC_REQBUFS",
  weight: 4,
  args: fc.record({ p: proc, v: fc.nat(7), count: fc.nat(4), memory: mostly(fc.constantFrom(V4L2_MEMORY_MMAP, V4L2_MEMORY_DMABUF), 9), type: mostly(fc.constant(V4L2_BUF_TYPE_VIDEO_CAPTURE), 2) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fdOf(p, a.v, isVideo, false);
    if (fd === undefined) return;
    const req: v4l2_requestbuffers = { count: a.count, type: a.type, memory: a.memory };
    const mem = a.memory === V4L2_MEMORY_MMAP ? "V4L2_MEMORY_MMAP" : a.memory === V4L2_MEMORY_DMABUF ? "V4L2_MEMORY_DMABUF" : String(a.memory);
    const expect: Expect = a.memory === 9 || a.type !== V4L2_BUF_TYPE_VIDEO_CAPTURE ? ["EINVAL", "EBUSY"] : undefined;
    const text = `ioctl(${fd}, VIDIOC_REQBUFS, {count: ${a.count}, type: ${a.type === V4L2_BUF_TYPE_VIDEO_CAPTURE ? "V4L2_BUF_TYPE_VIDEO_CAPTURE" : a.type}, memory: ${mem}})`;
    // each successful REQBUFS frees the queue's buffers and allocates new memory
    if (await w.call(p, "ioctl", text, () => p.proc.ioctl(fd, VIDIOC_REQBUFS, req), expect, () => `0; count ${req.count}`)) generation(w).n++;
  },
});

const expbuf = defineCommand({
  name: "VIDIOC_EXPBUF",
  weight: 4,
  args: fc.record({ p: proc, v: fc.nat(7), index: fc.nat(4), flags: mostly(fc.constantFrom(O_RDWR | O_CLOEXEC, O_RDWR), 0x80) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fdOf(p, a.v, isVideo, false);
    if (fd === undefined) return;
    const eb: v4l2_exportbuffer = { type: V4L2_BUF_TYPE_VIDEO_CAPTURE, index: a.index, plane: 0, flags: a.flags };
    const want = w.lowestFree(p);
    // vb2_ioctl_expbuf(): EBUSY for a file handle that does not own the queue comes first
    const expect: Expect = a.flags & ~(O_CLOEXEC | O_ACCMODE) ? ["EINVAL", "EBUSY"] : undefined;
    const text = `ioctl(${fd}, VIDIOC_EXPBUF, {type: V4L2_BUF_TYPE_VIDEO_CAPTURE, index: ${a.index}, plane: 0, flags: ${oflags(a.flags)}})`;
    const r = await w.call(p, "ioctl", text, () => p.proc.ioctl(fd, VIDIOC_EXPBUF, eb), expect, () => `0; fd ${eb.fd}`);
    if (!r) return;
    if (eb.fd !== want) w.fail(`VIDIOC_EXPBUF returned fd ${eb.fd}; expected the lowest free fd, ${want}`);
    const file = p.proc.fds.lookup(eb.fd!);
    if (!file || !isDmaBufFile(file) || w.files.has(file)) return w.fail(`VIDIOC_EXPBUF fd ${eb.fd} is not a new dma-buf`);
    w.addFd(p, eb.fd!, `VIDIOC_EXPBUF(${a.index})`, (a.flags & O_CLOEXEC) !== 0);
    shareMemory(w, file, `vb2 queue generation ${generation(w).n}, buffer ${a.index}`);
  },
});

/** The vivid camera: REQBUFS and EXPBUF, whose dma-bufs join the rest of the program. */
export const v4l2Plugin: FuzzPlugin = {
  name: "v4l2",
  kernelPlugins: () => [mm(), v4l2Sim()],
  paths: [VIDEO],
  commands: [reqbufs, expbuf],
  // VIDIOC_REQBUFS: EINVAL, EBUSY (queue owned by another file handle or busy); ENOMEM; EMFILE from EXPBUF's fd
  errnos: { ioctl: { man: "V4L2 spec: VIDIOC_REQBUFS, VIDIOC_EXPBUF", errnos: ["EBUSY", "ENOMEM", "EMFILE"] } },
  async onSpawn(w: FuzzWorld, p) {
    await w.open(p, VIDEO, O_RDWR | O_CLOEXEC, `open("${VIDEO}", O_RDWR|O_CLOEXEC)`);
  },
};
