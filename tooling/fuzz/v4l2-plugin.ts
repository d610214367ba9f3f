import * as fc from "fast-check";
import { O_ACCMODE, O_CLOEXEC, O_NONBLOCK, O_RDWR, filePrivate, isDmaBufFile, type DmaBuf, type File } from "@dmabuf/core";
import mm from "@dmabuf/mm";
import codecSim from "@dmabuf/codec-sim";
import v4l2Sim, {
  V4L2_BUF_FLAG_DONE, V4L2_BUF_FLAG_QUEUED, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP,
  VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DEQUEUED, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR, VB2_BUF_STATE_QUEUED, VIDIOC_DQBUF, VIDIOC_EXPBUF,
  VIDIOC_QBUF, VIDIOC_QUERYBUF, VIDIOC_REQBUFS, VIDIOC_STREAMOFF, VIDIOC_STREAMON, VividDevice,
  type V4l2Fh, type V4l2M2mCtx, type Vb2Queue, type v4l2_buffer, type v4l2_exportbuffer, type v4l2_requestbuffers,
} from "@dmabuf/v4l2-sim";
import { defineCommand, fdChoice, oflags } from "./core-plugin.js";
import { deviceDone, deviceWrites, shareMemory } from "./dmabuf-plugin.js";
import { V4L2_IOCTL_ERRNOS } from "./errno-table.js";
import type { Expect, FuzzCommand, FuzzPlugin, FuzzProc, FuzzWorld } from "./world.js";

/*
 * Streaming I/O from userspace on the vivid camera (/dev/video0) and the JPEG encoder and decoder
 * mem2mem nodes (/dev/video1, /dev/video2, as VIDIOC_QUERYCAP reports them on the default board):
 * VIDIOC_REQBUFS (MMAP and DMABUF memory, counts including 0, which frees the queue),
 * VIDIOC_QUERYBUF, VIDIOC_QBUF (MMAP, and DMABUF importing a dma-buf fd the process holds, too small
 * ones included), VIDIOC_DQBUF (O_NONBLOCK: EAGAIN while no buffer is done), VIDIOC_STREAMON/OFF,
 * VIDIOC_EXPBUF (whose dma-bufs the other plugins' commands then pass, map, import and close), and
 * virtual time passing so that frames and codec jobs complete. The model keeps, per vb2 queue (vivid's
 * one; each m2m context's OUTPUT and CAPTURE), the owner (vb2_queue.owner, the EBUSY rule), memory
 * type, whether it streams, and each buffer's state as userspace can know it: dequeued or queued
 * ("queued" covers QUEUED, ACTIVE and DONE in vb2, since completion is the hardware's timing). The
 * invariants compare it with the vb2 queues after every step.
 */

const VIDEO = "/dev/video0";
/** The JPEG encoder and decoder (mem2mem) nodes of the default board, as VIDIOC_QUERYCAP reports them. */
const M2M = ["/dev/video1", "/dev/video2"] as const;
const NODES = [VIDEO, ...M2M];
const isVideo = (f: File) => NODES.includes(f.inode.name);
/** DQBUF only on non-blocking opens: a blocking one with nothing queued would wait forever. */
const isNonblockingVideo = (f: File) => isVideo(f) && (f.flags & O_NONBLOCK) !== 0;
const proc = fc.nat(7);
const mostly = <T>(valid: fc.Arbitrary<T>, ...invalid: T[]) => fc.oneof({ arbitrary: valid, weight: 8 }, { arbitrary: fc.constantFrom(...invalid), weight: 1 });
/** V4L2_BUF_TYPE_PRIVATE: no queue has it. */
const BAD_TYPE = 0x80;
/** Mostly the target queue's own type, now and then one no queue has. */
const wrongType = mostly(fc.constant(false), true);
const typeName = (t: number) => (t === V4L2_BUF_TYPE_VIDEO_CAPTURE ? "V4L2_BUF_TYPE_VIDEO_CAPTURE" : t === V4L2_BUF_TYPE_VIDEO_OUTPUT ? "V4L2_BUF_TYPE_VIDEO_OUTPUT" : `0x${t.toString(16)}`);
const memName = (m: number) => (m === V4L2_MEMORY_MMAP ? "V4L2_MEMORY_MMAP" : m === V4L2_MEMORY_DMABUF ? "V4L2_MEMORY_DMABUF" : String(m));

/** The model of one vb2 queue. */
interface QueueModel {
  /** vivid: the file handle that owns the buffers (vb2_queue.owner), undefined when it has none. m2m: the context's file. */
  owner: File | undefined;
  memory: number;
  streaming: boolean;
  /** Per buffer index: queued (userspace gave it and has not dequeued it), and the dma-buf a DMABUF plane holds. */
  bufs: { queued: boolean; dbuf: File | undefined }[];
  /** Which REQBUFS allocated the buffers (unique in the program): names their memory. */
  generation: number;
}
const empty = (owner?: File): Omit<QueueModel, "generation"> => ({ owner, memory: 0, streaming: false, bufs: [] });

interface Model {
  vivid: QueueModel;
  /** mem2mem queues of open contexts (each open of a codec node has an OUTPUT and a CAPTURE queue). */
  m2m: Map<Vb2Queue, QueueModel>;
  /** REQBUFS calls so far, on any queue. */
  reqbufs: number;
}
/** Drops what released files took with them: vivid's owner (vb2_fop_release) and m2m contexts (v4l2_m2m_ctx_release). */
function model(w: FuzzWorld): Model {
  const m = w.data<Model>("v4l2", () => ({ vivid: { ...empty(), generation: 0 }, m2m: new Map(), reqbufs: 0 }));
  if (m.vivid.owner && w.userRefs(m.vivid.owner) === 0) Object.assign(m.vivid, empty());
  for (const [q, qm] of m.m2m) {
    if (w.userRefs(qm.owner!) > 0) continue;
    m.m2m.delete(q);
    if (q.numBuffers || q.isStreaming) w.fail(`a released ${qm.owner!.inode.name} context's ${typeName(q.type)} queue still has ${q.numBuffers} buffers${q.isStreaming ? " and streams" : ""}`);
  }
  return m;
}
const vividQueue = (w: FuzzWorld): Vb2Queue => (w.kernel.devices.find((d) => d.driverData instanceof VividDevice)!.driverData as VividDevice).queue;

/** A queue userspace reaches through an fd: vivid's one queue, or one of an m2m context's two. */
interface Target {
  fd: number;
  file: File;
  q: Vb2Queue;
  m: QueueModel;
  m2m: boolean;
}
/** vb2_queue_is_busy(): another file handle owns vivid's queue (EBUSY for QBUF, DQBUF, STREAMON/OFF, REQBUFS). m2m queues belong to their context. */
const busy = (t: Target) => !t.m2m && t.m.owner !== undefined && t.m.owner !== t.file;

/** A live process chosen by `n`: mostly one that holds vivid's queue owner, when one does. */
function pickProc(w: FuzzWorld, n: number): FuzzProc | undefined {
  const owner = model(w).vivid.owner;
  const holders = owner && n % 4 !== 3 ? w.live.filter((p) => [...p.fds.values()].some((e) => e.file === owner)) : [];
  return holders.length ? holders[n % holders.length] : w.pick(n);
}

/**
 * A queue behind a video fd of `p` chosen by `n` (only non-blocking opens with `nonblocking`): vivid's
 * one queue, or an m2m context's OUTPUT or CAPTURE queue (by `out`). Mostly one that satisfies
 * `prefer` (e.g. has buffers) when `p` has such a queue, as a real program works on the queue it set up.
 */
function target(w: FuzzWorld, p: FuzzProc | undefined, n: number, out: boolean, nonblocking = false, prefer?: (m: QueueModel) => boolean): Target | undefined {
  if (!p) return undefined;
  const m = model(w);
  const all: Target[] = [];
  for (const [fd, e] of [...p.fds].sort(([x], [y]) => x - y)) {
    if (!(nonblocking ? isNonblockingVideo : isVideo)(e.file)) continue;
    if (e.file.inode.name === VIDEO) {
      all.push({ fd, file: e.file, q: vividQueue(w), m: m.vivid, m2m: false });
      continue;
    }
    const ctx = filePrivate<V4l2Fh>(e.file).m2mCtx as V4l2M2mCtx;
    for (const q of out ? [ctx.outQ, ctx.capQ] : [ctx.capQ, ctx.outQ]) {
      let qm = m.m2m.get(q);
      if (!qm) m.m2m.set(q, (qm = { ...empty(e.file), generation: 0 }));
      all.push({ fd, file: e.file, q, m: qm, m2m: true });
    }
  }
  const preferred = prefer && n % 4 !== 3 ? all.filter((t) => prefer(t.m) && !busy(t)) : [];
  const from = preferred.length ? preferred : all.filter((t, i) => !t.m2m || all[i - 1]?.file !== t.file);
  return from.length ? from[n % from.length] : undefined;
}
const hasBufs = (m: QueueModel) => m.bufs.length > 0;
/** Names MMAP buffer `index`'s memory in the dma-buf plugin's model (every EXPBUF of it shows the same pages). */
const mmapKey = (t: Target, index: number) => `${t.file.inode.name} ${typeName(t.q.type)} queue, REQBUFS #${t.m.generation}, buffer ${index}`;
/** Buffer `index`'s memory: the dma-buf a DMABUF plane holds, or the MMAP buffer's own. */
const memoryKey = (t: Target, index: number): File | string => t.m.bufs[index]?.dbuf ?? mmapKey(t, index);
/** Capture queues are where devices write (vivid's frames, a codec's CAPTURE results); userspace's stores there do not last. */
const deviceWritable = (t: Target) => t.q.type === V4L2_BUF_TYPE_VIDEO_CAPTURE;
/** Buffers back from the device: their content is the device's, and CPU stores hold again. */
const returned = (w: FuzzWorld, t: Target, index: number) => deviceWritable(t) && deviceDone(w, memoryKey(t, index));

const reqbufs = defineCommand({
  name: "VIDIOC_REQBUFS",
  weight: 3,
  args: fc.record({ p: proc, v: fc.nat(7), out: fc.boolean(), count: mostly(fc.integer({ min: 1, max: 4 }), 0), memory: mostly(fc.constantFrom(V4L2_MEMORY_MMAP, V4L2_MEMORY_DMABUF), 9), wrong: wrongType }),
  async run(w, a) {
    const p = pickProc(w, a.p);
    const t = target(w, p, a.v, a.out, false, (m) => !hasBufs(m));
    if (!p || !t) return;
    const type = a.wrong ? BAD_TYPE : t.q.type;
    const req: v4l2_requestbuffers = { count: a.count, type, memory: a.memory };
    // vb2_ioctl_reqbufs(): memory and type first, then the owner (EBUSY), then vb2_core_reqbufs (EBUSY while streaming);
    // a codec may refuse a queue its state does not allow yet
    const expect: Expect = a.memory === 9 || a.wrong ? ["EINVAL"] : busy(t) || t.m.streaming ? ["EBUSY"] : t.m2m ? undefined : [];
    const text = `ioctl(${t.fd}, VIDIOC_REQBUFS, {count: ${a.count}, type: ${typeName(type)}, memory: ${memName(a.memory)}})`;
    if (!(await w.call(p, "ioctl", text, () => p.proc.ioctl(t.fd, VIDIOC_REQBUFS, req), expect, () => `0; count ${req.count}`))) return;
    t.m.bufs.forEach((x, i) => x.queued && returned(w, t, i));
    if (!t.m2m && a.count && req.count < a.count) w.fail(`VIDIOC_REQBUFS allocated ${req.count} of ${a.count} buffers with memory to spare`);
    Object.assign(t.m, { owner: t.m2m ? t.file : req.count ? t.file : undefined, memory: a.memory, bufs: Array.from({ length: req.count }, () => ({ queued: false, dbuf: undefined })) });
    t.m.generation = ++model(w).reqbufs;
  },
});

const querybuf = defineCommand({
  name: "VIDIOC_QUERYBUF",
  weight: 2,
  args: fc.record({ p: proc, v: fc.nat(7), out: fc.boolean(), index: fc.nat(4), wrong: wrongType }),
  async run(w, a) {
    const p = pickProc(w, a.p);
    const t = target(w, p, a.v, a.out, false, hasBufs);
    if (!p || !t) return;
    const type = a.wrong ? BAD_TYPE : t.q.type;
    // anyone may query (vb2_ioctl_querybuf has no owner check); type, then index
    const b: v4l2_buffer = { index: a.index, type, memory: t.m.memory || V4L2_MEMORY_MMAP };
    const expect: Expect = a.wrong || a.index >= t.m.bufs.length ? ["EINVAL"] : [];
    const r = await w.call(p, "ioctl", `ioctl(${t.fd}, VIDIOC_QUERYBUF, {index: ${a.index}, type: ${typeName(type)}})`, () => p.proc.ioctl(t.fd, VIDIOC_QUERYBUF, b), expect, () => `0; flags 0x${(b.flags ?? 0).toString(16)}, length ${b.length}`);
    if (!r) return;
    const flags = (b.flags ?? 0) & (V4L2_BUF_FLAG_QUEUED | V4L2_BUF_FLAG_DONE);
    // __fill_v4l2_buffer(): QUEUED while queued or active, DONE when done (never both); neither once dequeued
    const queued = t.m.bufs[a.index]!.queued;
    if (queued ? flags !== V4L2_BUF_FLAG_QUEUED && flags !== V4L2_BUF_FLAG_DONE : flags !== 0) w.fail(`VIDIOC_QUERYBUF of buffer ${a.index} reports flags 0x${(b.flags ?? 0).toString(16)}; the model has it ${queued ? "queued" : "dequeued"}`);
  },
});

const qbufArgs = fc.record({ p: proc, v: fc.nat(7), out: fc.boolean(), nth: mostly(fc.nat(4), -1), wrong: wrongType, memory: mostly(fc.constant(-1), V4L2_MEMORY_MMAP, V4L2_MEMORY_DMABUF), buf: fc.nat(7), any: mostly(fc.constant(false), true), raw: fdChoice });

const qbuf = defineCommand({
  name: "VIDIOC_QBUF",
  weight: 8,
  // a program usually queues several buffers in a row (vivid starts streaming with 2 queued)
  args: fc.record({ a: qbufArgs, times: fc.integer({ min: 1, max: 3 }) }),
  async run(w, { a, times }) {
    const valid = a.nth >= 0 && !a.wrong && a.memory === -1;
    for (let i = 0; i < (valid ? times : 1); i++) await qbufOnce(w, a);
  },
});

async function qbufOnce(w: FuzzWorld, a: typeof qbufArgs extends fc.Arbitrary<infer A> ? A : never): Promise<void> {
    const p = pickProc(w, a.p);
    const t = target(w, p, a.v, a.out, false, (m) => m.bufs.some((b) => !b.queued));
    if (!p || !t) return;
    // mostly a dequeued buffer; -1: any index (often queued or out of range)
    const free = t.m.bufs.flatMap((b, i) => (b.queued ? [] : [i]));
    if (a.nth >= 0 && !free.length) return;
    const index = a.nth >= 0 ? free[a.nth % free.length]! : a.v % 5;
    const type = a.wrong ? BAD_TYPE : t.q.type;
    // mostly the queue's own memory type; -1 = the model's, MMAP when it has none
    const memory = a.memory === -1 ? t.m.memory || V4L2_MEMORY_MMAP : a.memory;
    const b: v4l2_buffer = { index, type, memory };
    let text = `ioctl(${t.fd}, VIDIOC_QBUF, {index: ${index}, type: ${typeName(type)}, memory: ${memName(memory)}`;
    let dbuf: File | undefined;
    let small = false;
    if (memory === V4L2_MEMORY_DMABUF) {
      const fd = a.any ? w.fd(p, a.raw) : w.fdOf(p, a.buf, isDmaBufFile, true)!;
      dbuf = p.fds.get(fd)?.file;
      b.m = { fd };
      b.length = 0;
      text += `, m.fd: ${fd}, length: 0`;
      const vb = t.q.getBuffer(index);
      small = !!dbuf && isDmaBufFile(dbuf) && !!vb && (dbuf.privateData as DmaBuf).size < vb.planes[0]!.minLength;
    }
    const mb = t.m.bufs[index];
    // vb2_ioctl_qbuf(): owner; vb2_queue_or_prepare_buf(): type, index, memory; vb2_core_qbuf(): state;
    // __prepare_dmabuf(): dma_buf_get (EINVAL for a bad fd or a non-dma-buf) and the plane's minimum length
    const pre: Expect = busy(t) ? ["EBUSY"] : a.wrong || !mb || memory !== t.m.memory || mb.queued ? ["EINVAL"] : undefined;
    // whether the device can use the buffer's layout is the exporter's and the device's business
    // (vb2_dc_map_dmabuf: EFAULT when the mapping is not one contiguous DMA range); a codec's
    // buf_prepare checks payloads
    const bad = memory === V4L2_MEMORY_DMABUF && (!dbuf || !isDmaBufFile(dbuf) || small);
    const expect: Expect = pre ?? (bad ? ["EINVAL"] : memory === V4L2_MEMORY_DMABUF || t.m2m ? undefined : []);
    const r = await w.call(p, "ioctl", `${text}})`, () => p.proc.ioctl(t.fd, VIDIOC_QBUF, b), expect);
    if (pre || !mb) return;
    // a DMABUF plane keeps its dma-buf and attachment until replaced or freed; a failed prepare drops it
    if (memory === V4L2_MEMORY_DMABUF) mb.dbuf = r ? dbuf : undefined;
    if (!r) return;
    mb.queued = true;
    if (deviceWritable(t)) deviceWrites(w, memoryKey(t, index));
}

const dqbuf = defineCommand({
  name: "VIDIOC_DQBUF",
  weight: 6,
  args: fc.record({ p: proc, v: fc.nat(7), out: fc.boolean(), wrong: wrongType, wait: fc.constantFrom(0, 34, 100) }),
  async run(w, a) {
    // as a program that sleeps (or polls) before it dequeues
    if (a.wait) advance(w, a.wait);
    const p = pickProc(w, a.p);
    const t = target(w, p, a.v, a.out, true, (m) => m.streaming && m.bufs.some((b) => b.queued));
    if (!p || !t) return;
    const type = a.wrong ? BAD_TYPE : t.q.type;
    const b: v4l2_buffer = { index: 0, type, memory: t.m.memory || V4L2_MEMORY_MMAP };
    const queued = t.m.bufs.some((x) => x.queued);
    // mostly when something is queued; now and then regardless (EINVAL, EAGAIN)
    if (!(queued && t.m.streaming) && a.v % 4 !== 3) return;
    // vb2_ioctl_dqbuf(): owner; type; __vb2_wait_for_done_vb(): EINVAL when not streaming, EAGAIN
    // (O_NONBLOCK) while no buffer is done; whether one is done depends on the hardware's timing, and
    // a codec may end the stream (EPIPE)
    const expect: Expect = busy(t) ? ["EBUSY"] : a.wrong || !t.m.streaming ? ["EINVAL"] : !queued && !t.m2m ? ["EAGAIN"] : undefined;
    const r = await w.call(p, "ioctl", `ioctl(${t.fd}, VIDIOC_DQBUF, {type: ${typeName(type)}})`, () => p.proc.ioctl(t.fd, VIDIOC_DQBUF, b), expect, () => `0; index ${b.index}, sequence ${b.sequence}`);
    if (!r) return;
    const mb = t.m.bufs[b.index];
    if (!mb?.queued) return w.fail(`VIDIOC_DQBUF returned buffer ${b.index}, which the model has ${mb ? "dequeued" : "not allocated"}`);
    mb.queued = false;
    returned(w, t, b.index!);
  },
});

const stream = defineCommand({
  name: "VIDIOC_STREAMON/OFF",
  weight: 3,
  args: fc.record({ p: proc, v: fc.nat(7), out: fc.boolean(), on: mostly(fc.constant(true), false), wrong: wrongType }),
  async run(w, a) {
    const p = pickProc(w, a.p);
    const t = target(w, p, a.v, a.out, false, a.on ? (m) => !m.streaming && hasBufs(m) : (m) => m.streaming);
    if (!p || !t) return;
    if (a.on && !t.m.bufs.length && a.v % 4 !== 3) return;
    const type = a.wrong ? BAD_TYPE : t.q.type;
    // vb2_ioctl_streamon/off(): owner; vb2_core_streamon/off(): type; STREAMON needs buffers (a codec
    // may refuse to start in its current state)
    const expect: Expect = busy(t) ? ["EBUSY"] : a.wrong || (a.on && !t.m.streaming && !t.m.bufs.length) ? ["EINVAL"] : a.on && t.m2m ? undefined : [];
    const name = a.on ? "VIDIOC_STREAMON" : "VIDIOC_STREAMOFF";
    const r = await w.call(p, "ioctl", `ioctl(${t.fd}, ${name}, &(int){${typeName(type)}})`, () => p.proc.ioctl(t.fd, a.on ? VIDIOC_STREAMON : VIDIOC_STREAMOFF, type), expect);
    if (!r) return;
    t.m.streaming = a.on;
    if (a.on) return;
    // __vb2_queue_cancel(): every buffer back to dequeued, done ones discarded
    t.m.bufs.forEach((x, i) => {
      if (x.queued) returned(w, t, i);
      x.queued = false;
    });
    if (t.q.queuedList.length || t.q.doneList.length) w.fail(`after VIDIOC_STREAMOFF ${t.q.queuedList.length} buffer(s) are still queued and ${t.q.doneList.length} done`);
  },
});

/** Time passes for the hardware: vivid completes a frame per interval (1/30 s by default), codecs their jobs. */
function advance(w: FuzzWorld, ms: number): void {
  w.steps++;
  w.kernel.clock.advance(ms * 1_000_000);
  w.log(`usleep(${ms * 1000}); // virtual time`);
}

const sleep = defineCommand({
  name: "usleep",
  weight: 3,
  args: fc.constantFrom(1, 20, 34, 100),
  run: advance,

});

const expbuf = defineCommand({
  name: "VIDIOC_EXPBUF",
  weight: 4,
  args: fc.record({ p: proc, v: fc.nat(7), out: fc.boolean(), index: fc.nat(4), flags: mostly(fc.constantFrom(O_RDWR | O_CLOEXEC, O_RDWR), 0x80) }),
  async run(w, a) {
    const p = pickProc(w, a.p);
    const t = target(w, p, a.v, a.out, false, (m) => m.memory === V4L2_MEMORY_MMAP && hasBufs(m));
    if (!p || !t) return;
    const eb: v4l2_exportbuffer = { type: t.q.type, index: a.index, plane: 0, flags: a.flags };
    const want = w.lowestFree(p);
    // vb2_ioctl_expbuf(): EBUSY for a file handle that does not own the queue comes first
    const expect: Expect = busy(t) ? ["EBUSY"] : a.flags & ~(O_CLOEXEC | O_ACCMODE) || t.m.memory !== V4L2_MEMORY_MMAP || a.index >= t.m.bufs.length ? ["EINVAL"] : undefined;
    const text = `ioctl(${t.fd}, VIDIOC_EXPBUF, {type: ${typeName(t.q.type)}, index: ${a.index}, plane: 0, flags: ${oflags(a.flags)}})`;
    const r = await w.call(p, "ioctl", text, () => p.proc.ioctl(t.fd, VIDIOC_EXPBUF, eb), expect, () => `0; fd ${eb.fd}`);
    if (!r) return;
    if (eb.fd !== want) w.fail(`VIDIOC_EXPBUF returned fd ${eb.fd}; expected the lowest free fd, ${want}`);
    const file = p.proc.fds.lookup(eb.fd!);
    if (!file || !isDmaBufFile(file) || w.files.has(file)) return w.fail(`VIDIOC_EXPBUF fd ${eb.fd} is not a new dma-buf`);
    w.addFd(p, eb.fd!, `VIDIOC_EXPBUF(${a.index})`, (a.flags & O_CLOEXEC) !== 0);
    shareMemory(w, file, mmapKey(t, a.index));
  },
});

/** Runs another command of this plugin with arguments the caller chose. */
const runWith = <A>(c: FuzzCommand<never>, w: FuzzWorld, a: A) => (c as unknown as FuzzCommand<A>).run(w, a);

/**
 * A whole streaming session, as a capture program or a vim2m-style client writes it: REQBUFS(MMAP),
 * QBUF of every buffer, STREAMON (both queues of an m2m context), time for the hardware, DQBUF. Single
 * random steps rarely line up into a successful DQBUF (about once in 600 programs); this reaches
 * vb2's completion and dequeue paths, and the codecs' jobs, in most programs that run it.
 */
const session = defineCommand({
  name: "streaming session",
  weight: 2,
  args: fc.record({ p: proc, v: fc.nat(7), count: fc.integer({ min: 2, max: 4 }), wait: fc.constantFrom(34, 100) }),
  async run(w, { p, v, count, wait }) {
    const both = [true, false];
    for (const out of both) await runWith(reqbufs, w, { p, v, out, count, memory: V4L2_MEMORY_MMAP, wrong: false });
    for (const out of both) await runWith(qbuf, w, { a: { p, v, out, nth: 0, wrong: false, memory: -1, buf: 0, any: false, raw: { held: 0 } }, times: count });
    for (const out of both) await runWith(stream, w, { p, v, out, on: true, wrong: false });
    advance(w, wait);
    for (const out of both) await runWith(dqbuf, w, { p, v, out, wrong: false, wait: 0 });
  },
});

const QUEUED_STATES: readonly number[] = [VB2_BUF_STATE_QUEUED, VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR];

/** Every queue the model knows, with its driver queue. */
const queues = (w: FuzzWorld): [Vb2Queue, QueueModel][] => {
  const m = model(w);
  return [[vividQueue(w), m.vivid], ...m.m2m];
};
const dbufRefs = (w: FuzzWorld, file: File) => queues(w).reduce((n, [, qm]) => n + qm.bufs.filter((b) => b.dbuf === file).length, 0);

/** The vivid camera and the JPEG codecs: the whole streaming I/O cycle; exported dma-bufs join the rest of the program. */
export const v4l2Plugin: FuzzPlugin = {
  name: "v4l2",
  kernelPlugins: () => [mm(), v4l2Sim(), codecSim()],
  paths: NODES,
  commands: [reqbufs, querybuf, qbuf, dqbuf, stream, sleep, expbuf, session],
  errnos: { ioctl: V4L2_IOCTL_ERRNOS },
  async onSpawn(w: FuzzWorld, p) {
    for (const path of NODES) await w.open(p, path, O_RDWR | O_CLOEXEC | O_NONBLOCK, `open("${path}", O_RDWR|O_CLOEXEC|O_NONBLOCK)`);
  },
  // vb2 holds a reference on (and an attachment to) the dma-buf of each DMABUF plane it prepared
  kernelRefs: (w, file) => (isDmaBufFile(file) ? dbufRefs(w, file) : 0),
  attachments: dbufRefs,
  invariants: [
    {
      name: "each vb2 buffer is in exactly one of {dequeued, queued, done}, as the model has it",
      check(w) {
        for (const [q, m] of queues(w)) {
          const where = `${m === model(w).vivid ? VIDEO : m.owner!.inode.name} ${typeName(q.type)}`;
          if (q.numBuffers !== m.bufs.length) w.fail(`the ${where} queue has ${q.numBuffers} buffers; the model expects ${m.bufs.length}`);
          if (q.isStreaming !== m.streaming) w.fail(`the ${where} queue is ${q.isStreaming ? "" : "not "}streaming; the model expects ${m.streaming ? "streaming" : "stopped"}`);
          if ((q.owner === undefined) !== (m.owner === undefined) && m === model(w).vivid) w.fail(`the vivid queue ${q.owner === undefined ? "has no owner" : "has an owner"}; the model expects ${m.owner ? "one" : "none"}`);
          const queued = new Set(q.queuedList);
          const done = new Set(q.doneList);
          m.bufs.forEach((mb, i) => {
            const vb = q.getBuffer(i);
            if (!vb) return w.fail(`${where} buffer ${i} does not exist`);
            const inLists = (queued.has(vb) ? 1 : 0) + (done.has(vb) ? 1 : 0);
            const isDone = vb.state === VB2_BUF_STATE_DONE || vb.state === VB2_BUF_STATE_ERROR;
            if (vb.state === VB2_BUF_STATE_DEQUEUED ? inLists !== 0 : !QUEUED_STATES.includes(vb.state) || !queued.has(vb) || done.has(vb) !== isDone)
              w.fail(`${where} buffer ${i} is in state ${vb.state} but ${queued.has(vb) ? "" : "not "}on the queued list and ${done.has(vb) ? "" : "not "}on the done list`);
            if (mb.queued !== (vb.state !== VB2_BUF_STATE_DEQUEUED)) w.fail(`${where} buffer ${i} is in vb2 state ${vb.state}; the model has it ${mb.queued ? "queued" : "dequeued"}`);
            if (mb.dbuf && vb.planes[0]!.dbuf !== mb.dbuf.privateData) w.fail(`${where} buffer ${i} does not hold the dma-buf it was queued with`);
          });
        }
      },
    },
  ],
};
