import * as fc from "fast-check";
import { O_ACCMODE, O_CLOEXEC, O_NONBLOCK, O_RDWR, isDmaBufFile, type DmaBuf, type File } from "@dmabuf/core";
import mm from "@dmabuf/mm";
import v4l2Sim, {
  V4L2_BUF_FLAG_DONE, V4L2_BUF_FLAG_QUEUED, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP,
  VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DEQUEUED, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR, VB2_BUF_STATE_QUEUED, VIDIOC_DQBUF, VIDIOC_EXPBUF,
  VIDIOC_QBUF, VIDIOC_QUERYBUF, VIDIOC_REQBUFS, VIDIOC_STREAMOFF, VIDIOC_STREAMON, VividDevice,
  type Vb2Queue, type v4l2_buffer, type v4l2_exportbuffer, type v4l2_requestbuffers,
} from "@dmabuf/v4l2-sim";
import { defineCommand, fdChoice, oflags } from "./core-plugin.js";
import { shareMemory } from "./dmabuf-plugin.js";
import type { Expect, FuzzPlugin, FuzzProc, FuzzWorld } from "./world.js";

/*
 * The vivid camera's buffer queue from userspace: VIDIOC_REQBUFS (MMAP and DMABUF memory, counts
 * including 0, which frees the queue), VIDIOC_QUERYBUF, VIDIOC_QBUF (MMAP, and DMABUF importing a
 * dma-buf fd the process holds, too small ones included), VIDIOC_DQBUF (O_NONBLOCK: EAGAIN while no
 * frame is done), VIDIOC_STREAMON/STREAMOFF, VIDIOC_EXPBUF (whose dma-bufs the other plugins'
 * commands then pass, map, import and close), and virtual time passing so that frames complete.
 * The model keeps the queue's owner (the file handle that allocated the buffers, vb2_queue.owner),
 * its memory type, whether it streams, and each buffer's state as userspace can know it
 * (dequeued or queued; "queued" covers QUEUED, ACTIVE and DONE in the driver, since completion is
 * the hardware's timing); the invariants compare it with the vb2 queue after every step.
 */

const VIDEO = "/dev/video0";
const isVideo = (f: File) => f.inode.name === VIDEO;
/** DQBUF only on non-blocking opens: a blocking one with nothing queued would wait forever. */
const isNonblockingVideo = (f: File) => isVideo(f) && (f.flags & O_NONBLOCK) !== 0;
const proc = fc.nat(7);
const mostly = <T>(valid: fc.Arbitrary<T>, ...invalid: T[]) => fc.oneof({ arbitrary: valid, weight: 8 }, { arbitrary: fc.constantFrom(...invalid), weight: 1 });
const bufType = mostly(fc.constant(V4L2_BUF_TYPE_VIDEO_CAPTURE), V4L2_BUF_TYPE_VIDEO_OUTPUT);
const typeName = (t: number) => (t === V4L2_BUF_TYPE_VIDEO_CAPTURE ? "V4L2_BUF_TYPE_VIDEO_CAPTURE" : t === V4L2_BUF_TYPE_VIDEO_OUTPUT ? "V4L2_BUF_TYPE_VIDEO_OUTPUT" : String(t));
const memName = (m: number) => (m === V4L2_MEMORY_MMAP ? "V4L2_MEMORY_MMAP" : m === V4L2_MEMORY_DMABUF ? "V4L2_MEMORY_DMABUF" : String(m));

interface Vb2Model {
  /** The file handle that owns the buffers; undefined when the queue has none. */
  owner: File | undefined;
  memory: number;
  streaming: boolean;
  /** Per buffer index: queued (userspace gave it and has not dequeued it), and the dma-buf a DMABUF plane holds. */
  bufs: { queued: boolean; dbuf: File | undefined }[];
  /** REQBUFS so far: each frees the queue's buffers and allocates new memory. */
  generation: number;
}
const EMPTY = (): Omit<Vb2Model, "generation"> => ({ owner: undefined, memory: 0, streaming: false, bufs: [] });

/** The model of the vivid queue; the owner's release (its last reference gone) frees the queue (vb2_fop_release). */
function vq(w: FuzzWorld): Vb2Model {
  const m = w.data<Vb2Model>("v4l2", () => ({ ...EMPTY(), generation: 0 }));
  if (m.owner && w.userRefs(m.owner) === 0) Object.assign(m, EMPTY());
  return m;
}
const queueOf = (w: FuzzWorld): Vb2Queue => (w.kernel.devices.find((d) => d.driverData instanceof VividDevice)!.driverData as VividDevice).queue;
/** vb2_queue_is_busy(): another file handle owns the queue (EBUSY for QBUF, DQBUF, STREAMON/OFF, REQBUFS). */
const busy = (m: Vb2Model, f: File) => m.owner !== undefined && m.owner !== f;

/** A live process chosen by `n`: mostly one that holds the queue owner's file, when one does. */
function pickProc(w: FuzzWorld, n: number): FuzzProc | undefined {
  const owner = vq(w).owner;
  const holders = owner && n % 4 !== 3 ? w.live.filter((p) => [...p.fds.values()].some((e) => e.file === owner)) : [];
  return holders.length ? holders[n % holders.length] : w.pick(n);
}

/** The video fd of `p` chosen by `n` (only non-blocking ones with `nonblocking`), its file and the model. */
function video(w: FuzzWorld, p: FuzzProc | undefined, n: number, nonblocking = false) {
  if (!p) return undefined;
  const kind = nonblocking ? isNonblockingVideo : isVideo;
  // mostly through the owner's file when the process holds it (as a real program would)
  const owner = vq(w).owner;
  const ownerKind = (f: File) => kind(f) && f === owner;
  const useOwner = n % 4 !== 3 && [...p.fds.values()].some((e) => ownerKind(e.file));
  const fd = w.fdOf(p, n, useOwner ? ownerKind : kind, false);
  if (fd === undefined) return undefined;
  return { fd, file: p.fds.get(fd)!.file, m: vq(w) };
}

const reqbufs = defineCommand({
  name: "VIDIOC_REQBUFS",
  weight: 6,
  args: fc.record({ p: proc, v: fc.nat(7), count: mostly(fc.integer({ min: 1, max: 4 }), 0), memory: mostly(fc.constantFrom(V4L2_MEMORY_MMAP, V4L2_MEMORY_DMABUF), 9), type: mostly(fc.constant(V4L2_BUF_TYPE_VIDEO_CAPTURE), 2) }),
  async run(w, a) {
    const p = w.pick(a.p);
    const v = video(w, p, a.v);
    if (!p || !v) return;
    const req: v4l2_requestbuffers = { count: a.count, type: a.type, memory: a.memory };
    // vb2_ioctl_reqbufs(): memory and type first, then the owner (EBUSY), then vb2_core_reqbufs (EBUSY while streaming)
    const expect: Expect = a.memory === 9 || a.type !== V4L2_BUF_TYPE_VIDEO_CAPTURE ? ["EINVAL"] : busy(v.m, v.file) || v.m.streaming ? ["EBUSY"] : [];
    const text = `ioctl(${v.fd}, VIDIOC_REQBUFS, {count: ${a.count}, type: ${typeName(a.type)}, memory: ${memName(a.memory)}})`;
    if (!(await w.call(p, "ioctl", text, () => p.proc.ioctl(v.fd, VIDIOC_REQBUFS, req), expect, () => `0; count ${req.count}`))) return;
    if (a.count && req.count < a.count) w.fail(`VIDIOC_REQBUFS allocated ${req.count} of ${a.count} buffers with memory to spare`);
    Object.assign(v.m, { owner: req.count ? v.file : undefined, memory: a.memory, streaming: false, bufs: Array.from({ length: req.count }, () => ({ queued: false, dbuf: undefined })) });
    v.m.generation++;
  },
});

const querybuf = defineCommand({
  name: "VIDIOC_QUERYBUF",
  weight: 2,
  args: fc.record({ p: proc, v: fc.nat(7), index: fc.nat(4), type: bufType }),
  async run(w, a) {
    const p = pickProc(w, a.p);
    const v = video(w, p, a.v);
    if (!p || !v) return;
    // anyone may query (vb2_ioctl_querybuf has no owner check); type, then index
    const b: v4l2_buffer = { index: a.index, type: a.type, memory: v.m.memory || V4L2_MEMORY_MMAP };
    const expect: Expect = a.type !== V4L2_BUF_TYPE_VIDEO_CAPTURE || a.index >= v.m.bufs.length ? ["EINVAL"] : [];
    const r = await w.call(p, "ioctl", `ioctl(${v.fd}, VIDIOC_QUERYBUF, {index: ${a.index}, type: ${typeName(a.type)}})`, () => p.proc.ioctl(v.fd, VIDIOC_QUERYBUF, b), expect, () => `0; flags 0x${(b.flags ?? 0).toString(16)}, length ${b.length}`);
    if (!r) return;
    const flags = (b.flags ?? 0) & (V4L2_BUF_FLAG_QUEUED | V4L2_BUF_FLAG_DONE);
    // __fill_v4l2_buffer(): QUEUED while queued or active, DONE when done (never both); neither once dequeued
    const ok = v.m.bufs[a.index]!.queued ? flags === V4L2_BUF_FLAG_QUEUED || flags === V4L2_BUF_FLAG_DONE : flags === 0;
    if (!ok) w.fail(`VIDIOC_QUERYBUF of buffer ${a.index} reports flags 0x${(b.flags ?? 0).toString(16)}; the model has it ${v.m.bufs[a.index]!.queued ? "queued" : "dequeued"}`);
  },
});

const qbuf = defineCommand({
  name: "VIDIOC_QBUF",
  weight: 8,
  args: fc.record({ p: proc, v: fc.nat(7), nth: mostly(fc.nat(4), -1), type: bufType, memory: mostly(fc.constant(-1), V4L2_MEMORY_MMAP, V4L2_MEMORY_DMABUF), buf: fc.nat(7), any: mostly(fc.constant(false), true), raw: fdChoice }),
  async run(w, a) {
    const p = pickProc(w, a.p);
    const v = video(w, p, a.v);
    if (!p || !v) return;
    // mostly a dequeued buffer; -1: any index (often queued or out of range)
    const free = v.m.bufs.flatMap((b, i) => (b.queued ? [] : [i]));
    if (a.nth >= 0 && !free.length) return;
    const index = a.nth >= 0 ? free[a.nth % free.length]! : a.v % 5;
    // mostly the queue's own memory type; -1 = the model's, MMAP when it has none
    const memory = a.memory === -1 ? v.m.memory || V4L2_MEMORY_MMAP : a.memory;
    const b: v4l2_buffer = { index: index, type: a.type, memory };
    let text = `ioctl(${v.fd}, VIDIOC_QBUF, {index: ${index}, type: ${typeName(a.type)}, memory: ${memName(memory)}`;
    let dbuf: File | undefined;
    let small = false;
    if (memory === V4L2_MEMORY_DMABUF) {
      const fd = a.any ? w.fd(p, a.raw) : w.fdOf(p, a.buf, isDmaBufFile, true)!;
      dbuf = p.fds.get(fd)?.file;
      b.m = { fd };
      b.length = 0;
      text += `, m.fd: ${fd}, length: 0`;
      const vb = queueOf(w).getBuffer(index);
      small = !!dbuf && isDmaBufFile(dbuf) && !!vb && (dbuf.privateData as DmaBuf).size < vb.planes[0]!.minLength;
    }
    const mb = v.m.bufs[index];
    // vb2_ioctl_qbuf(): owner; vb2_queue_or_prepare_buf(): type, index, memory; vb2_core_qbuf(): state;
    // __prepare_dmabuf(): dma_buf_get (EINVAL for a bad fd or a non-dma-buf) and the plane's minimum length
    const pre: Expect = busy(v.m, v.file) ? ["EBUSY"] : a.type !== V4L2_BUF_TYPE_VIDEO_CAPTURE || !mb || memory !== v.m.memory || mb.queued ? ["EINVAL"] : undefined;
    // whether the device can use the buffer's layout is the exporter's and the device's business
    // (vb2_dc_map_dmabuf: EFAULT when the mapping is not one contiguous DMA range)
    const expect: Expect = pre ?? (memory !== V4L2_MEMORY_DMABUF ? [] : !dbuf || !isDmaBufFile(dbuf) || small ? ["EINVAL"] : undefined);
    const r = await w.call(p, "ioctl", `${text}})`, () => p.proc.ioctl(v.fd, VIDIOC_QBUF, b), expect);
    if (pre || !mb) return;
    // a DMABUF plane keeps its dma-buf and attachment until replaced or freed; a failed prepare drops it
    if (memory === V4L2_MEMORY_DMABUF) mb.dbuf = r ? dbuf : undefined;
    if (r) mb.queued = true;
  },
});

const dqbuf = defineCommand({
  name: "VIDIOC_DQBUF",
  weight: 6,
  args: fc.record({ p: proc, v: fc.nat(7), type: bufType }),
  async run(w, a) {
    const p = pickProc(w, a.p);
    const v = video(w, p, a.v, true);
    if (!p || !v) return;
    const b: v4l2_buffer = { index: 0, type: a.type, memory: v.m.memory || V4L2_MEMORY_MMAP };
    // vb2_ioctl_dqbuf(): owner; type; __vb2_wait_for_done_vb(): EINVAL when not streaming, EAGAIN
    // (O_NONBLOCK) while no buffer is done; whether one is done depends on the hardware's timing
    const queued = v.m.bufs.some((x) => x.queued);
    // mostly when something is queued; now and then regardless (EINVAL, EAGAIN)
    if (!queued && a.v % 4 !== 3) return;
    const expect: Expect = busy(v.m, v.file) ? ["EBUSY"] : a.type !== V4L2_BUF_TYPE_VIDEO_CAPTURE || !v.m.streaming ? ["EINVAL"] : !queued ? ["EAGAIN"] : undefined;
    const r = await w.call(p, "ioctl", `ioctl(${v.fd}, VIDIOC_DQBUF, {type: ${typeName(a.type)}})`, () => p.proc.ioctl(v.fd, VIDIOC_DQBUF, b), expect, () => `0; index ${b.index}, sequence ${b.sequence}`);
    if (!r) return;
    const mb = v.m.bufs[b.index];
    if (!mb?.queued) return w.fail(`VIDIOC_DQBUF returned buffer ${b.index}, which the model has ${mb ? "dequeued" : "not allocated"}`);
    mb.queued = false;
  },
});

const stream = defineCommand({
  name: "VIDIOC_STREAMON/OFF",
  weight: 3,
  args: fc.record({ p: proc, v: fc.nat(7), on: fc.boolean(), type: bufType }),
  async run(w, a) {
    const p = pickProc(w, a.p);
    const v = video(w, p, a.v);
    if (!p || !v) return;
    if (a.on && !v.m.bufs.length && a.v % 4 !== 3) return;
    // vb2_ioctl_streamon/off(): owner; vb2_core_streamon/off(): type; STREAMON needs buffers
    const expect: Expect = busy(v.m, v.file) ? ["EBUSY"] : a.type !== V4L2_BUF_TYPE_VIDEO_CAPTURE || (a.on && !v.m.bufs.length) ? ["EINVAL"] : [];
    const name = a.on ? "VIDIOC_STREAMON" : "VIDIOC_STREAMOFF";
    const r = await w.call(p, "ioctl", `ioctl(${v.fd}, ${name}, &(int){${typeName(a.type)}})`, () => p.proc.ioctl(v.fd, a.on ? VIDIOC_STREAMON : VIDIOC_STREAMOFF, a.type), expect);
    if (!r) return;
    v.m.streaming = a.on;
    // __vb2_queue_cancel(): every buffer back to dequeued, done ones discarded
    if (a.on) return;
    for (const x of v.m.bufs) x.queued = false;
    const q = queueOf(w);
    if (q.queuedList.length || q.doneList.length) w.fail(`after VIDIOC_STREAMOFF ${q.queuedList.length} buffer(s) are still queued and ${q.doneList.length} done`);
  },
});

const sleep = defineCommand({
  name: "usleep",
  weight: 3,
  args: fc.constantFrom(1, 20, 34, 100),
  run(w, ms: number) {
    // time passes for the hardware: vivid completes a frame per interval (1/30 s by default)
    w.steps++;
    w.kernel.clock.advance(ms * 1_000_000);
    w.log(`usleep(${ms * 1000}); // virtual time`);
  },
});

const expbuf = defineCommand({
  name: "VIDIOC_EXPBUF",
  weight: 4,
  args: fc.record({ p: proc, v: fc.nat(7), index: fc.nat(4), flags: mostly(fc.constantFrom(O_RDWR | O_CLOEXEC, O_RDWR), 0x80) }),
  async run(w, a) {
    const p = pickProc(w, a.p);
    const v = video(w, p, a.v);
    if (!p || !v) return;
    const eb: v4l2_exportbuffer = { type: V4L2_BUF_TYPE_VIDEO_CAPTURE, index: a.index, plane: 0, flags: a.flags };
    const want = w.lowestFree(p);
    // vb2_ioctl_expbuf(): EBUSY for a file handle that does not own the queue comes first
    const expect: Expect = busy(v.m, v.file) ? ["EBUSY"] : a.flags & ~(O_CLOEXEC | O_ACCMODE) || v.m.memory !== V4L2_MEMORY_MMAP || a.index >= v.m.bufs.length ? ["EINVAL"] : undefined;
    const text = `ioctl(${v.fd}, VIDIOC_EXPBUF, {type: V4L2_BUF_TYPE_VIDEO_CAPTURE, index: ${a.index}, plane: 0, flags: ${oflags(a.flags)}})`;
    const r = await w.call(p, "ioctl", text, () => p.proc.ioctl(v.fd, VIDIOC_EXPBUF, eb), expect, () => `0; fd ${eb.fd}`);
    if (!r) return;
    if (eb.fd !== want) w.fail(`VIDIOC_EXPBUF returned fd ${eb.fd}; expected the lowest free fd, ${want}`);
    const file = p.proc.fds.lookup(eb.fd!);
    if (!file || !isDmaBufFile(file) || w.files.has(file)) return w.fail(`VIDIOC_EXPBUF fd ${eb.fd} is not a new dma-buf`);
    w.addFd(p, eb.fd!, `VIDIOC_EXPBUF(${a.index})`, (a.flags & O_CLOEXEC) !== 0);
    shareMemory(w, file, `vb2 queue generation ${v.m.generation}, buffer ${a.index}`);
  },
});

const QUEUED_STATES: readonly number[] = [VB2_BUF_STATE_QUEUED, VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR];

/** The vivid camera: the whole streaming I/O cycle, whose exported dma-bufs join the rest of the program. */
export const v4l2Plugin: FuzzPlugin = {
  name: "v4l2",
  kernelPlugins: () => [mm(), v4l2Sim()],
  paths: [VIDEO],
  commands: [reqbufs, querybuf, qbuf, dqbuf, stream, sleep, expbuf],
  // Documentation/userspace-api/media/v4l/vidioc-reqbufs.rst, vidioc-qbuf.rst (EAGAIN, EINVAL, EIO,
  // EPIPE), vidioc-streamon.rst (EINVAL, EPIPE), vidioc-expbuf.rst; EBUSY: the queue belongs
  // to another file handle (vb2_queue_is_busy); ENOMEM; EMFILE from EXPBUF's fd
  errnos: { ioctl: { man: "V4L2 spec: VIDIOC_REQBUFS, VIDIOC_QUERYBUF, VIDIOC_QBUF/DQBUF, VIDIOC_STREAMON/OFF, VIDIOC_EXPBUF", errnos: ["EBUSY", "ENOMEM", "EMFILE", "EAGAIN", "EIO", "EPIPE"] } },
  async onSpawn(w: FuzzWorld, p) {
    await w.open(p, VIDEO, O_RDWR | O_CLOEXEC | O_NONBLOCK, `open("${VIDEO}", O_RDWR|O_CLOEXEC|O_NONBLOCK)`);
  },
  // vb2 holds a reference on (and an attachment to) the dma-buf of each DMABUF plane it prepared
  kernelRefs: (w, file) => (isDmaBufFile(file) ? vq(w).bufs.filter((b) => b.dbuf === file).length : 0),
  attachments: (w, file) => vq(w).bufs.filter((b) => b.dbuf === file).length,
  invariants: [
    {
      name: "each vb2 buffer is in exactly one of {dequeued, queued, done}, as the model has it",
      check(w) {
        const m = vq(w);
        const q = queueOf(w);
        if (q.numBuffers !== m.bufs.length) w.fail(`the vivid queue has ${q.numBuffers} buffers; the model expects ${m.bufs.length}`);
        if (q.isStreaming !== m.streaming) w.fail(`the vivid queue is ${q.isStreaming ? "" : "not "}streaming; the model expects ${m.streaming ? "streaming" : "stopped"}`);
        if ((q.owner === undefined) !== (m.owner === undefined)) w.fail(`the vivid queue ${q.owner === undefined ? "has no owner" : "has an owner"}; the model expects ${m.owner ? "one" : "none"}`);
        const queued = new Set(q.queuedList);
        const done = new Set(q.doneList);
        m.bufs.forEach((mb, i) => {
          const vb = q.getBuffer(i);
          if (!vb) return w.fail(`vivid buffer ${i} does not exist`);
          const inLists = (queued.has(vb) ? 1 : 0) + (done.has(vb) ? 1 : 0);
          const isDone = vb.state === VB2_BUF_STATE_DONE || vb.state === VB2_BUF_STATE_ERROR;
          if (vb.state === VB2_BUF_STATE_DEQUEUED ? inLists !== 0 : !QUEUED_STATES.includes(vb.state) || !queued.has(vb) || done.has(vb) !== isDone)
            w.fail(`vivid buffer ${i} is in state ${vb.state} but ${queued.has(vb) ? "" : "not "}on the queued list and ${done.has(vb) ? "" : "not "}on the done list`);
          if (mb.queued !== (vb.state !== VB2_BUF_STATE_DEQUEUED)) w.fail(`vivid buffer ${i} is in vb2 state ${vb.state}; the model has it ${mb.queued ? "queued" : "dequeued"}`);
          if (mb.dbuf && vb.planes[0]!.dbuf !== mb.dbuf.privateData) w.fail(`vivid buffer ${i} does not hold the dma-buf it was queued with`);
        });
      },
    },
  ],
};
