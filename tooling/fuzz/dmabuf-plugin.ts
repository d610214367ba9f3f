import * as fc from "fast-check";
import {
  DMA_BUF_IOCTL_SYNC, DMA_BUF_NAME_LEN, DMA_BUF_SET_NAME, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_VALID_FLAGS_MASK, DMA_BUF_SYNC_WRITE, File, MAP_SHARED, O_CLOEXEC, O_RDONLY, O_RDWR, PAGE_SIZE, PROT_READ,
  DMA_BIDIRECTIONAL, PROT_WRITE, dmaDirectionName,
  isDmaBufFile, isValidDmaDirection, type DmaBuf, type DmaDataDirection, type ErrnoCode,
} from "@dmabuf/core";
import mm, { MM } from "@dmabuf/mm";
import { defineCommand, fdChoice, oflags } from "./core-plugin.js";
import { DMA_HEAP_IOCTL_ALLOC, FUZZ_DETACH, FUZZ_IMPORT, FUZZ_MAP, FUZZ_UNMAP, POOL_PAGES, dmaBufFixtures, fixtures, type HeapAllocationData, type ImportData } from "./dmabuf-fixture.js";
import type { Expect, FuzzPlugin, FuzzProc, FuzzWorld } from "./world.js";

const BUFINFO = "/sys/kernel/debug/dma_buf/bufinfo";
/** mm's heaps on the default board, and the fixture heap (whose pool the invariants can see). */
const SYSTEM_HEAP = "/dev/dma_heap/system";
const CMA_HEAP = "/dev/dma_heap/linux,cma";
const FUZZ_HEAP = "/dev/fuzz_heap";
const isHeap = (f: File) => f.inode.name === FUZZ_HEAP || f.inode.name.startsWith("/dev/dma_heap/");
const isFixtureBuf = (f: File) => (f.privateData as DmaBuf).expName === "fuzz_heap";
/** Buffers of mm's heaps (their priv is a HeapBuffer with the CPU-side table). */
const isMmHeapBuf = (f: File) => ["system", "linux,cma"].includes((f.privateData as DmaBuf).expName);
const isImporter = (f: File) => f.inode.name === "/dev/fuzz_importer";

/** The model of the importer driver: which buffer each handle holds and how often it is mapped. */
interface Import {
  importer: File;
  handle: number;
  buf: File;
  mapped: number;
  /** The direction of the table a caching exporter keeps for the attachment until detach (attach->sgt, attach->dir). */
  cachedDir?: number;
}
interface Model {
  imports: Import[];
  /** The last marker written at offset 0 of each buffer's memory through any mapping; DEVICE_WROTE once a device may have written it. */
  marker: Map<File | string, number>;
  /** Memory a device may write right now (a buffer queued on a capture queue): stores to it are not reliable. */
  deviceOwned: Set<File | string>;
  /**
   * dma-bufs that share memory with others: every VIDIOC_EXPBUF of one vb2 buffer exports a new
   * dma-buf over the same pages (vb2_dc_get_dmabuf / vb2_dma_sg_get_dmabuf), keyed here by buffer.
   */
  memory: Map<File, string>;
  nextHandle: Map<File, number>;
  /** Free pages right after boot, before any program step. */
  freeAtBoot: number;
}
const model = (w: FuzzWorld) => w.data<Model>("dma-buf", () => ({ imports: [], marker: new Map(), deviceOwned: new Set(), memory: new Map(), nextHandle: new Map(), freeAtBoot: w.kernel.resolve(MM).pages.nrFree }));
/** Records that dma-buf `file` shows the memory named `key` (shared with other dma-bufs). */
export const shareMemory = (w: FuzzWorld, file: File, key: string) => void model(w).memory.set(file, key);
const memoryOf = (w: FuzzWorld, file: File) => model(w).memory.get(file) ?? file;
/** The marker of memory whose content a device decided: not predicted. */
const DEVICE_WROTE = -1;
/**
 * A device may write the memory of `mem` (a dma-buf file or a shareMemory key) from now until
 * {@link deviceDone}, e.g. a buffer queued on a capture queue: what the CPU reads there is the device's.
 */
export function deviceWrites(w: FuzzWorld, mem: File | string): void {
  const m = model(w);
  const key = typeof mem === "string" ? mem : memoryOf(w, mem);
  m.marker.set(key, DEVICE_WROTE);
  m.deviceOwned.add(key);
}
/** The device is done with the memory (DQBUF, STREAMOFF): CPU stores are reliable again. */
export const deviceDone = (w: FuzzWorld, mem: File | string) => void model(w).deviceOwned.delete(typeof mem === "string" ? mem : memoryOf(w, mem));
/** Imports whose importer file is still open somewhere (its release drops the rest). */
const liveImports = (w: FuzzWorld) => model(w).imports.filter((i) => w.userRefs(i.importer) > 0);

const fixture = (w: FuzzWorld) => fixtures.get(w.kernel)!;
const proc = fc.nat(7);
/** `valid` most of the time, one of `invalid` now and then; shrinks to `valid`. */
const mostly = <T>(valid: fc.Arbitrary<T>, ...invalid: T[]) => fc.oneof({ arbitrary: valid, weight: 8 }, { arbitrary: fc.constantFrom(...invalid), weight: 1 });
/** Now and then act on a wrong fd or handle when the right kind is missing; otherwise skip the step. */
const misuse = mostly(fc.constant(false), true);
const handleChoice = fc.oneof({ arbitrary: fc.record({ nth: fc.nat(7) }), weight: 8 }, { arbitrary: fc.record({ bogus: fc.constantFrom(0, 999) }), weight: 1 });

/** bufinfo as a reader would see it, without an fd (the seq_file's show, run directly). */
function bufinfo(w: FuzzWorld): string {
  const node = w.kernel.vfs.lookup(BUFINFO);
  const f = new File(node.fops, node.inode, O_RDONLY);
  node.fops.open?.(f, w.kernel);
  return new TextDecoder().decode(node.fops.read!(f, 1 << 24, 0) as Uint8Array);
}

const heapAlloc = defineCommand({
  name: "DMA_HEAP_IOCTL_ALLOC",
  weight: 8,
  args: fc.record({
    p: proc,
    heap: fc.nat(7),
    misuse,
    len: mostly(fc.constantFrom(4096, 8192, 3 * PAGE_SIZE + 5, 1, 64 * PAGE_SIZE, 150 * PAGE_SIZE), 0, (POOL_PAGES + 1) * PAGE_SIZE),
    fd_flags: mostly(fc.constantFrom(O_RDWR | O_CLOEXEC, O_RDWR, O_RDONLY | O_CLOEXEC), 0x80),
    fd: mostly(fc.constant(0), 7),
    heap_flags: mostly(fc.constant(0), 1),
  }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fdOf(p, a.heap, isHeap, a.misuse);
    if (fd === undefined) return;
    const isHeapFd = p.fds.get(fd) && isHeap(p.fds.get(fd)!.file);
    const arg: HeapAllocationData = { len: a.len, fd: a.fd, fd_flags: a.fd_flags, heap_flags: a.heap_flags };
    const pages = Math.ceil(a.len / PAGE_SIZE);
    // dma_heap_ioctl_allocate's checks, then the allocation, then dma_buf_fd
    const errs: ErrnoCode[] = [];
    if (a.fd !== 0 || a.fd_flags & ~(O_CLOEXEC | 3) || a.heap_flags || pages === 0) errs.push("EINVAL");
    // the fixture's pool is small enough to run out; mm's heaps have 1 GiB and 256 MiB of CMA
    if (!errs.length && p.fds.get(fd)?.file.inode.name === FUZZ_HEAP && pages > fixture(w).heap.free.length) errs.push("ENOMEM");
    if (!errs.length && w.lowestFree(p) === undefined) errs.push("EMFILE");
    const expect: Expect = !p.fds.has(fd) ? ["EBADF"] : isHeapFd ? errs : undefined;
    const want = w.lowestFree(p);
    const text = `ioctl(${fd}, DMA_HEAP_IOCTL_ALLOC, {len: ${a.len}, fd: ${a.fd}, fd_flags: ${oflags(a.fd_flags)}, heap_flags: ${a.heap_flags}})`;
    const r = await w.call(p, "ioctl", text, () => p.proc.ioctl(fd, DMA_HEAP_IOCTL_ALLOC, arg), expect, () => `0; fd ${arg.fd}`);
    if (!r || !isHeapFd) return;
    if (arg.fd !== want) w.fail(`DMA_HEAP_IOCTL_ALLOC returned fd ${arg.fd}; expected the lowest free fd, ${want}`);
    const file = p.proc.fds.lookup(arg.fd);
    if (!file || !isDmaBufFile(file) || w.files.has(file)) return w.fail(`DMA_HEAP_IOCTL_ALLOC fd ${arg.fd} is not a new dma-buf`);
    if ((file.privateData as DmaBuf).size !== pages * PAGE_SIZE) w.fail(`buffer of ${a.len} bytes has size ${(file.privateData as DmaBuf).size}; the heap rounds up to ${pages * PAGE_SIZE}`);
    w.addFd(p, arg.fd, `DMA_HEAP_IOCTL_ALLOC(${a.len})`, (a.fd_flags & O_CLOEXEC) !== 0);
  },
});

/** The importer fd and import a step acts on. */
function target(w: FuzzWorld, p: FuzzProc, a: { imp: number; h: { nth: number } | { bogus: number }; misuse: boolean }, needImport = true) {
  const fd = w.fdOf(p, a.imp, isImporter, a.misuse);
  if (fd === undefined) return undefined;
  const importer = p.fds.get(fd)?.file;
  const mine = importer && isImporter(importer) ? model(w).imports.filter((i) => i.importer === importer) : [];
  if (needImport && !mine.length && !a.misuse) return undefined;
  const imp = "nth" in a.h ? mine[a.h.nth % Math.max(1, mine.length)] : undefined;
  return { fd, importer, imp, handle: imp?.handle ?? ("bogus" in a.h ? a.h.bogus : 0), valid: !!importer && isImporter(importer) };
}

const importBuf = defineCommand({
  name: "FUZZ_IMPORT",
  weight: 6,
  args: fc.record({ p: proc, imp: fc.nat(7), buf: fdChoice, bufNth: fc.nat(7), misuse, dev: mostly(fc.nat(4), 9) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const t = target(w, p, { imp: a.imp, h: { bogus: 0 }, misuse: a.misuse }, false);
    const bufFd = a.misuse ? w.fd(p, a.buf) : w.fdOf(p, a.bufNth, isDmaBufFile, false);
    if (!t || bufFd === undefined) return;
    const { fd, importer, valid } = t;
    const bufFile = p.fds.get(bufFd)?.file;
    const expect: Expect = !importer ? ["EBADF"] : !valid ? undefined : a.dev >= w.kernel.devices.length ? ["EINVAL"] : !bufFile ? ["EBADF"] : !isDmaBufFile(bufFile) ? ["EINVAL"] : [];
    const arg: ImportData = { fd: bufFd, dev: a.dev, handle: 0 };
    const dev = w.kernel.devices[a.dev]?.name ?? `#${a.dev}`;
    const r = await w.call(p, "ioctl", `ioctl(${fd}, FUZZ_IMPORT, {fd: ${bufFd}, dev: ${dev}})`, () => p.proc.ioctl(fd, FUZZ_IMPORT, arg), expect, () => `0; handle ${arg.handle}`);
    if (!r || !valid) return;
    const m = model(w);
    const want = m.nextHandle.get(importer!) ?? 1;
    if (arg.handle !== want) w.fail(`FUZZ_IMPORT gave handle ${arg.handle}; expected ${want}`);
    m.nextHandle.set(importer!, want + 1);
    m.imports.push({ importer: importer!, handle: arg.handle, buf: bufFile!, mapped: 0 });
  },
});

const mapBuf = defineCommand({
  name: "FUZZ_MAP",
  weight: 6,
  args: fc.record({ p: proc, imp: fc.nat(7), h: handleChoice, misuse, dir: mostly(fc.constantFrom<number>(0, 1, 2), 3, 7) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const t = target(w, p, a);
    if (!t) return;
    // mapping an attachment again before unmapping is exporter-specific: the fixture hands out one table
    // per map; mm's heaps keep one table per attachment and refuse a second map (Linux's heaps remap it)
    const again = t.imp && t.imp.mapped > 0 && !isFixtureBuf(t.imp.buf);
    // an exporter that caches the mapping (cache_sgt_mapping, e.g. GEM's PRIME ops) keeps the first map's
    // table and direction until detach: another direction is EBUSY unless that was DMA_BIDIRECTIONAL
    // (dma_buf_map_attachment, drivers/dma-buf/dma-buf.c)
    const cached = t.imp?.cachedDir;
    const conflict = cached !== undefined && cached !== a.dir && cached !== DMA_BIDIRECTIONAL;
    const expect: Expect = !t.importer ? ["EBADF"] : !t.valid ? undefined : !t.imp || !isValidDmaDirection(a.dir) ? ["EINVAL"] : conflict ? ["EBUSY"] : cached !== undefined ? [] : again ? undefined : [];
    const dir = isValidDmaDirection(a.dir) ? dmaDirectionName(a.dir as DmaDataDirection) : String(a.dir);
    const r = await w.call(p, "ioctl", `ioctl(${t.fd}, FUZZ_MAP, {handle: ${t.handle}, dir: ${dir}})`, () => p.proc.ioctl(t.fd, FUZZ_MAP, { handle: t.handle, dir: a.dir }), expect);
    if (!r || !t.imp) return;
    t.imp.mapped++;
    if ((t.imp.buf.privateData as DmaBuf).ops.cacheSgtMapping) t.imp.cachedDir ??= a.dir;
  },
});

const unmapBuf = defineCommand({
  name: "FUZZ_UNMAP",
  weight: 4,
  args: fc.record({ p: proc, imp: fc.nat(7), h: handleChoice, misuse }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const t = target(w, p, a);
    if (!t) return;
    const expect: Expect = !t.importer ? ["EBADF"] : !t.valid ? undefined : !t.imp || t.imp.mapped === 0 ? ["EINVAL"] : [];
    const r = await w.call(p, "ioctl", `ioctl(${t.fd}, FUZZ_UNMAP, {handle: ${t.handle}})`, () => p.proc.ioctl(t.fd, FUZZ_UNMAP, { handle: t.handle }), expect);
    if (r && t.imp) t.imp.mapped--;
  },
});

const detachBuf = defineCommand({
  name: "FUZZ_DETACH",
  weight: 4,
  args: fc.record({ p: proc, imp: fc.nat(7), h: handleChoice, misuse }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const t = target(w, p, a);
    if (!t) return;
    // dma_buf_detach() while the importer still has mappings: EBUSY, nothing changes
    const expect: Expect = !t.importer ? ["EBADF"] : !t.valid ? undefined : !t.imp ? ["EINVAL"] : t.imp.mapped ? ["EBUSY"] : [];
    const r = await w.call(p, "ioctl", `ioctl(${t.fd}, FUZZ_DETACH, {handle: ${t.handle}})`, () => p.proc.ioctl(t.fd, FUZZ_DETACH, { handle: t.handle }), expect);
    if (r && t.imp) model(w).imports.splice(model(w).imports.indexOf(t.imp), 1);
  },
});

/**
 * mmap of a dma-buf, then a CPU store and load through the mapping: every mapping of a buffer, in any
 * process, is the same memory (no copy), so it reads the last marker any of them wrote.
 */
const mmapBuf = defineCommand({
  name: "dma-buf mmap",
  weight: 6,
  args: fc.record({ p: proc, buf: fc.nat(7), pages: mostly(fc.constantFrom(1, 0), 2, 600), off: mostly(fc.constant(0), 1), write: fc.boolean() }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fdOf(p, a.buf, isDmaBufFile, false);
    if (fd === undefined) return;
    const file = p.fds.get(fd)!.file;
    const size = (file.privateData as DmaBuf).size;
    // pages 0 means "the whole buffer"
    const len = a.pages ? a.pages * PAGE_SIZE : size;
    const prot = PROT_READ | (a.write ? PROT_WRITE : 0);
    const errs: ErrnoCode[] = [];
    if (a.off + len / PAGE_SIZE > size / PAGE_SIZE) errs.push("EINVAL");
    if (a.write && (file.flags & 3) === O_RDONLY) errs.push("EACCES");
    const text = `mmap(NULL, ${len}, ${a.write ? "PROT_READ|PROT_WRITE" : "PROT_READ"}, MAP_SHARED, ${fd}, ${a.off * PAGE_SIZE})`;
    const r = await w.call(p, "mmap", text, () => p.proc.mmap(null, len, prot, MAP_SHARED, fd, a.off * PAGE_SIZE), errs, (v) => `0x${v.start.toString(16)}`);
    if (!r) return;
    const vma = r.value;
    p.vmas.set(vma.start, { vma, origin: text });
    if (a.off !== 0) return;
    const seen = new DataView(vma.read(0, 4).buffer).getUint32(0, true);
    const want = model(w).marker.get(memoryOf(w, file)) ?? 0;
    if (want !== DEVICE_WROTE && seen !== want) w.fail(`${p.name} reads 0x${seen.toString(16)} at offset 0 of dma-buf fd ${fd}; the last store through any mapping wrote 0x${want.toString(16)}`);
    if (!a.write) return;
    const marker = (w.steps * 2654435761) >>> 0 || 1;
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, marker, true);
    vma.write(0, bytes);
    const mem = memoryOf(w, file);
    model(w).marker.set(mem, model(w).deviceOwned.has(mem) ? DEVICE_WROTE : marker);
    w.log(`[${p.name}] *(uint32_t *)0x${vma.start.toString(16)} = 0x${marker.toString(16)}; // was 0x${seen.toString(16)}`);
  },
});

const NAMES = ["cam", "frame-0001", "x".repeat(DMA_BUF_NAME_LEN - 1), "y".repeat(DMA_BUF_NAME_LEN)];
const dmaBufIoctl = defineCommand({
  name: "dma-buf ioctl",
  weight: 6,
  args: fc.record({
    p: proc,
    buf: fc.nat(7),
    misuse,
    op: fc.constantFrom("sync", "name"),
    flags: mostly(fc.constantFrom(DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_RW, DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ | DMA_BUF_SYNC_END), 0, DMA_BUF_SYNC_END, 0x10),
    name: fc.nat(NAMES.length - 1),
  }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fdOf(p, a.buf, isDmaBufFile, a.misuse);
    if (fd === undefined) return;
    const f = p.fds.get(fd)?.file;
    const isBuf = !!f && isDmaBufFile(f);
    if (a.op === "sync") {
      // dma_buf_ioctl(): flags outside the mask, or neither READ nor WRITE, are EINVAL
      const bad = a.flags & ~DMA_BUF_SYNC_VALID_FLAGS_MASK || !(a.flags & DMA_BUF_SYNC_RW);
      const expect: Expect = !f ? ["EBADF"] : !isBuf ? undefined : bad ? ["EINVAL"] : [];
      await w.call(p, "ioctl", `ioctl(${fd}, DMA_BUF_IOCTL_SYNC, {flags: 0x${a.flags.toString(16)}})`, () => p.proc.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: a.flags }), expect);
    } else {
      const name = NAMES[a.name]!;
      // dma_buf_set_name(): strndup_user(buf, DMA_BUF_NAME_LEN) fails for longer strings
      const expect: Expect = !f ? ["EBADF"] : !isBuf ? undefined : name.length >= DMA_BUF_NAME_LEN ? ["EINVAL"] : [];
      await w.call(p, "ioctl", `ioctl(${fd}, DMA_BUF_SET_NAME, "${name}")`, () => p.proc.ioctl(fd, DMA_BUF_SET_NAME, name), expect);
    }
  },
});

/** dma-buf through mm's heaps, the fixture heap and the fixture importer: export, pass, attach/map/unmap/detach, dma-buf ioctls. */
export const dmaBufPlugin: FuzzPlugin = {
  name: "dma-buf",
  kernelPlugins: () => [mm(), dmaBufFixtures()],
  paths: [SYSTEM_HEAP, CMA_HEAP, FUZZ_HEAP, "/dev/fuzz_importer", BUFINFO, "/proc/meminfo"],
  commands: [heapAlloc, importBuf, mapBuf, unmapBuf, detachBuf, dmaBufIoctl, mmapBuf],
  // as a real program starts: open the heap and the importing device
  async onSpawn(w, p) {
    model(w); // snapshot the free pages before the first allocation
    await w.open(p, SYSTEM_HEAP, O_RDWR | O_CLOEXEC, `open("${SYSTEM_HEAP}", O_RDWR|O_CLOEXEC)`);
    await w.open(p, FUZZ_HEAP, O_RDWR | O_CLOEXEC, `open("${FUZZ_HEAP}", O_RDWR|O_CLOEXEC)`);
    await w.open(p, "/dev/fuzz_importer", O_RDWR | O_CLOEXEC, `open("/dev/fuzz_importer", O_RDWR|O_CLOEXEC)`);
  },
  // dma-heap allocation (dma-heap.c: ENOMEM, fd errors) and the importer's refusals (dma_buf_detach: EBUSY while mapped)
  errnos: { ioctl: { man: "dma-heap ioctls (drivers/dma-buf/dma-heap.c), dma-buf importer ioctls", errnos: ["ENOMEM", "EMFILE", "EBUSY"] } },
  // dma_buf_mmap_internal(): EINVAL for pages past the end of the buffer
  predictMmap: (file, length, offset) => {
    if (!isDmaBufFile(file)) return undefined;
    const size = (file.privateData as DmaBuf).size;
    return offset / PAGE_SIZE + Math.ceil(length / PAGE_SIZE) > Math.floor(size / PAGE_SIZE) ? ["EINVAL"] : [];
  },
  kernelRefs: (w, file) => liveImports(w).filter((i) => i.buf === file).length,
  invariants: [
    {
      name: "bufinfo lists exactly the live dma-bufs, each with its importers' attachments",
      check(w: FuzzWorld) {
        const live = [...w.files].filter((f) => isDmaBufFile(f) && w.expectedRefs(f) > 0);
        const text = bufinfo(w);
        const total = /Total (\d+) objects/.exec(text)?.[1];
        if (Number(total) !== live.length) w.fail(`bufinfo says ${total} objects; ${live.length} dma-bufs are referenced\n${text}`);
        for (const f of live) {
          const buf = f.privateData as DmaBuf;
          const want = liveImports(w).filter((i) => i.buf === f).length + w.plugins.reduce((n, pl) => n + (pl.attachments?.(w, f) ?? 0), 0);
          if (buf.attachments.length !== want) w.fail(`dma-buf ino ${buf.ino} has ${buf.attachments.length} attachments; ${want} imports hold it`);
        }
      },
    },
    {
      name: "no page is owned by two heap buffers, and mm's allocator counts every buffer page as taken",
      check(w: FuzzWorld) {
        const pages = w.kernel.resolve(MM).pages;
        const runs: { phys: number; length: number; ino: number }[] = [];
        for (const f of w.files) {
          if (!isDmaBufFile(f) || !isMmHeapBuf(f) || f.released) continue;
          const buf = f.privateData as DmaBuf;
          for (const s of (buf.priv as { table: { sgl: readonly { phys: number; length: number }[] } }).table.sgl) runs.push({ phys: s.phys, length: s.length, ino: buf.ino });
        }
        runs.sort((x, y) => x.phys - y.phys);
        let owned = 0;
        runs.forEach((r, i) => {
          const prev = runs[i - 1];
          if (prev && prev.phys + prev.length > r.phys) w.fail(`dma-bufs ino ${prev.ino} and ${r.ino} both own physical page 0x${r.phys.toString(16)}`);
          for (const pfn of [r.phys / PAGE_SIZE, (r.phys + r.length) / PAGE_SIZE - 1])
            if (pages.pageState(pfn) === "free") w.fail(`page 0x${(pfn * PAGE_SIZE).toString(16)} of dma-buf ino ${r.ino} is free in mm's allocator`);
          owned += r.length / PAGE_SIZE;
        });
        if (owned > pages.managedPages - pages.nrFree) w.fail(`buffers own ${owned} pages but mm has only ${pages.managedPages - pages.nrFree} in use`);
      },
    },
    {
      name: "the exporter's release runs exactly once, when the last reference goes",
      check(w: FuzzWorld) {
        const releases = fixture(w).heap.releases;
        for (const f of w.files) {
          if (!isDmaBufFile(f) || !isFixtureBuf(f)) continue;
          const n = releases.get((f.privateData as DmaBuf).ino) ?? 0;
          const want = w.expectedRefs(f) > 0 ? 0 : 1;
          if (n !== want) w.fail(`dma-buf ino ${(f.privateData as DmaBuf).ino}: release ran ${n} time(s); expected ${want}`);
        }
      },
    },
  ],
  final: [
    {
      name: "after every process exits every page is back (fixture pool and mm's allocator) and bufinfo is empty",
      check(w: FuzzWorld) {
        const free = w.kernel.resolve(MM).pages.nrFree;
        if (free !== model(w).freeAtBoot) w.fail(`${model(w).freeAtBoot - free} pages of mm's allocator are still in use`);
        const { heap } = fixture(w);
        if (heap.free.length !== POOL_PAGES) w.fail(`${POOL_PAGES - heap.free.length} pages still allocated`);
        if (new Set(heap.free).size !== POOL_PAGES) w.fail("a page was freed twice");
        const text = bufinfo(w);
        if (!text.includes("Total 0 objects, 0 bytes")) w.fail(`bufinfo is not empty:\n${text}`);
      },
    },
  ],
};
