/**
 * Property test of dma-buf lifetimes (prime_self_import's leak checks, generalised): random
 * sequences of export / fd / dup / pass (SCM_RIGHTS) / mmap / import (dma_buf_get) / attach / map /
 * unmap / detach / put / close / exit across three processes, plus misuse that must fail cleanly.
 * After every step: each buffer's file_count equals the references the model says exist, no
 * attachment outlives its buffer, bufinfo lists exactly the live buffers. At the end, once every
 * process has exited and every driver reference is dropped, each buffer was released exactly once
 * and the exporter has every page back.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, MAP_SHARED, PAGE_SIZE, PROT_READ, PROT_WRITE, dmaBufAttach,
  dmaBufDetach, dmaBufDynamicAttach, dmaBufMapAttachment, dmaBufPut, dmaBufUnmapAttachment, type DmaBuf,
  type DmaBufAttachment, type DmaDataDirection, type Process, type SgTable, type VmArea,
} from "../src/index.js";
import { PageExporter } from "./support/page-exporter.js";

const OPS = ["export", "dup", "pass", "close", "mmap", "munmap", "import", "attach", "map", "unmap", "detach", "put", "exit", "badUnmap", "badDetach", "mapDetached", "putReleased"] as const;
type Op = (typeof OPS)[number];
interface Step {
  op: Op;
  a: number;
  b: number;
  c: number;
}
/** Common operations weigh more, so that runs build up buffers, attachments and mappings. */
const WEIGHT: Partial<Record<Op, number>> = { export: 4, import: 4, attach: 4, map: 4, dup: 2, pass: 2, mmap: 2, unmap: 2, detach: 2, put: 2 };
const step = fc.record({
  op: fc.oneof(...OPS.map((op) => ({ arbitrary: fc.constant(op), weight: WEIGHT[op] ?? 1 }))),
  a: fc.nat(64),
  b: fc.nat(64),
  c: fc.nat(64),
});
const DIRS: DmaDataDirection[] = [DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE];

/** One driver reference from dma_buf_get, with the attachments the driver made through it. */
interface DriverRef {
  buf: DmaBuf;
  atts: { att: DmaBufAttachment; maps: { sgt: SgTable; dir: DmaDataDirection }[] }[];
}

const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);

async function run(mode: "static" | "dynamic" | "cached", steps: Step[]): Promise<void> {
  const { k, exp, dev } = await PageExporter.boot({ pages: 256, dynamic: mode === "dynamic", cacheSgt: mode === "cached" });
  const devices = ["cam0", "enc0", "disp0"].map(dev);
  const procs: Process[] = [k.spawn("p0"), k.spawn("p1"), k.spawn("p2")];
  const cat = k.spawn("cat");
  const vmas = new Map<Process, VmArea[]>(procs.map((p) => [p, []]));
  const exported: DmaBuf[] = [];
  let refs: DriverRef[] = [];
  const detached: { buf: DmaBuf; att: DmaBufAttachment }[] = [];
  const unmapped: { att: DmaBufAttachment; sgt: SgTable; dir: DmaDataDirection }[] = [];
  const bufOf = (p: Process, fd: number) => p.fds.get(fd, "test").privateData as DmaBuf;
  const dmaFds = (p: Process) => (p.exited ? [] : [...p.fds.entries()].map(([fd]) => fd));
  const alive = () => procs.filter((p) => !p.exited);
  const allAtts = () => refs.flatMap((r) => r.atts);

  const expectErrno = (code: string, fn: () => void) => {
    const before = exported.map((b) => b.released || b.refcount);
    expect(fn).toThrow(expect.objectContaining({ code }));
    expect(exported.map((b) => b.released || b.refcount)).toEqual(before);
  };

  const checkInvariants = async () => {
    for (const buf of exported) {
      let held = refs.filter((r) => r.buf === buf).length;
      for (const p of alive()) {
        held += [...p.fds.entries()].filter(([, f]) => f === buf.file).length;
        held += vmas.get(p)!.filter((v) => v.file === buf.file).length;
      }
      expect(buf.released).toBe(held === 0);
      if (held) expect(buf.refcount).toBe(held);
      expect(exp.released.get(buf.ino) ?? 0).toBe(held ? 0 : 1);
      if (buf.released) expect(buf.attachments).toEqual([]);
      const modelAtts = allAtts().filter((x) => x.att.dmabuf === buf).map((x) => x.att);
      expect(new Set(buf.attachments)).toEqual(new Set(modelAtts));
    }
    for (const { att } of allAtts()) expect(att.dmabuf.released).toBe(false);
    const live = exported.filter((b) => !b.released);
    const info = await cat.readFile("/sys/kernel/debug/dma_buf/bufinfo");
    expect(info).toContain(`\nTotal ${live.length} objects, ${live.reduce((n, b) => n + b.size, 0)} bytes\n`);
  };

  for (const s of steps) {
    const p = pick(alive(), s.a);
    switch (s.op) {
      case "export":
        if (p) {
          const fd = await exp.alloc(p, (1 + (s.b % 4)) * PAGE_SIZE);
          exported.push(bufOf(p, fd));
        }
        break;
      case "dup":
        if (p && dmaFds(p).length) p.dup(pick(dmaFds(p), s.b)!);
        break;
      case "pass": {
        const q = pick(alive(), s.c);
        if (p && q && dmaFds(p).length) p.sendFds(q, [pick(dmaFds(p), s.b)!]);
        break;
      }
      case "close":
        if (p && dmaFds(p).length) p.close(pick(dmaFds(p), s.b)!);
        break;
      case "mmap":
        if (p && dmaFds(p).length) {
          const fd = pick(dmaFds(p), s.b)!;
          vmas.get(p)!.push(p.mmap(null, bufOf(p, fd).size, PROT_READ | PROT_WRITE, MAP_SHARED, fd));
        }
        break;
      case "munmap": {
        const vs = p ? vmas.get(p)! : [];
        const v = pick(vs, s.b);
        if (p && v) {
          p.munmap(v);
          vs.splice(vs.indexOf(v), 1);
        }
        break;
      }
      case "import":
        if (p && dmaFds(p).length) refs.push({ buf: await exp.import(p, pick(dmaFds(p), s.b)!), atts: [] });
        break;
      case "attach": {
        const r = pick(refs, s.a);
        if (r) {
          const d = devices[s.b % devices.length]!;
          const att = s.c % 2 ? dmaBufDynamicAttach(r.buf, d, { moveNotify: () => {} }) : dmaBufAttach(r.buf, d);
          r.atts.push({ att, maps: [] });
        }
        break;
      }
      case "map": {
        const x = pick(allAtts(), s.a);
        if (x) {
          const dir = DIRS[s.b % 3]!;
          const cachedOther = x.att.sgt !== undefined && x.att.dir !== dir && x.att.dir !== DMA_BIDIRECTIONAL;
          if (cachedOther) expectErrno("EBUSY", () => dmaBufMapAttachment(x.att, dir));
          else x.maps.push({ sgt: dmaBufMapAttachment(x.att, dir), dir });
        }
        break;
      }
      case "unmap": {
        const x = pick(allAtts(), s.a);
        const m = x && pick(x.maps, s.b);
        if (x && m) {
          dmaBufUnmapAttachment(x.att, m.sgt, m.dir);
          x.maps.splice(x.maps.indexOf(m), 1);
          if (!x.maps.some((o) => o.sgt === m.sgt)) unmapped.push({ att: x.att, ...m });
        }
        break;
      }
      case "detach": {
        const r = pick(refs, s.a);
        const x = r && pick(r.atts, s.b);
        if (r && x) {
          if (x.maps.length) expectErrno("EBUSY", () => dmaBufDetach(r.buf, x.att));
          else {
            dmaBufDetach(r.buf, x.att);
            r.atts.splice(r.atts.indexOf(x), 1);
            detached.push({ buf: r.buf, att: x.att });
          }
        }
        break;
      }
      case "put": {
        const r = pick(refs, s.a);
        if (r && r.atts.length === 0) {
          dmaBufPut(r.buf);
          refs = refs.filter((o) => o !== r);
        }
        break;
      }
      case "exit":
        if (p) {
          p.exit(0);
          vmas.set(p, []);
        }
        break;
      case "badUnmap": {
        const u = pick(unmapped, s.a);
        const x = u && allAtts().find((o) => o.att === u.att);
        if (u && x && !x.maps.some((m) => m.sgt === u.sgt)) expectErrno("EINVAL", () => dmaBufUnmapAttachment(u.att, u.sgt, u.dir));
        break;
      }
      case "badDetach": {
        const x = pick(allAtts(), s.a);
        const other = pick(exported.filter((b) => !b.released && b !== x?.att.dmabuf), s.b);
        if (x && other) expectErrno("EINVAL", () => dmaBufDetach(other, x.att));
        break;
      }
      case "mapDetached": {
        const d = pick(detached, s.a);
        if (d) expectErrno("EINVAL", () => dmaBufMapAttachment(d.att, DIRS[s.b % 3]!));
        break;
      }
      case "putReleased": {
        const b = pick(exported.filter((x) => x.released), s.a);
        if (b) expectErrno("EINVAL", () => dmaBufPut(b));
        break;
      }
    }
    await checkInvariants();
  }

  // Teardown as a well-behaved system does: processes exit, drivers unmap, detach and put.
  for (const p of procs) p.exit(0);
  vmas.clear();
  for (const r of refs) {
    for (const x of r.atts) {
      for (const m of x.maps) dmaBufUnmapAttachment(x.att, m.sgt, m.dir);
      dmaBufDetach(r.buf, x.att);
    }
    dmaBufPut(r.buf);
  }
  refs = [];
  for (const buf of exported) expect(exp.released.get(buf.ino)).toBe(1);
  expect(exp.released.size).toBe(exported.length);
  expect(exp.freePages).toBe(256);
  const info = await cat.readFile("/sys/kernel/debug/dma_buf/bufinfo");
  expect(info).toContain("\nTotal 0 objects, 0 bytes\n");
  expect(k.dmesg()).not.toMatch(/dma_buf_release/); // never released while attached or vmapped
}

describe("dma-buf lifetimes under random use across processes (property)", () => {
  it("keeps refcounts equal to the references held and releases every buffer exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("static", "dynamic", "cached") as fc.Arbitrary<"static" | "dynamic" | "cached">, fc.array(step, { minLength: 10, maxLength: 80, size: "medium" }), run),
      { numRuns: 150 },
    );
  }, 30_000); // ~1.5 s on an idle machine; generous for shared CI cores
});
