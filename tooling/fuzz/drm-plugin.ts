import * as fc from "fast-check";
import { MAP_SHARED, O_CLOEXEC, O_NONBLOCK, O_RDWR, PAGE_SIZE, PROT_READ, PROT_WRITE, filePrivate, isDmaBufFile, type DmaBuf, type ErrnoCode, type File, type VmArea } from "@dmabuf/core";
import mm from "@dmabuf/mm";
import drmSim, {
  DRM_CLOEXEC, DRM_FORMAT_XRGB8888, DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_MODE_ADDFB2, DRM_IOCTL_MODE_CREATE_DUMB, DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_MODE_RMFB, DRM_IOCTL_PRIME_FD_TO_HANDLE, DRM_IOCTL_PRIME_HANDLE_TO_FD, DRM_RDWR, drmDeviceOf, pageAlign,
  type DrmFile, type DrmGemObject, type drm_mode_create_dumb, type drm_mode_fb_cmd2, type drm_mode_map_dumb, type drm_prime_handle,
} from "@dmabuf/drm-sim";
import { defineCommand, fdChoice } from "./core-plugin.js";
import { DRM_IOCTL_ERRNOS } from "./errno-table.js";
import type { Expect, FuzzPlugin, FuzzProc, FuzzWorld } from "./world.js";

/*
 * DRM from userspace on the default board's cards: /dev/dri/card0 (vkms: KMS, contiguous DMA
 * memory, no IOMMU) and /dev/dri/card1 (vgem: GEM only, shmem pages). Dumb buffers, MAP_DUMB and
 * mmap of the fake offset, GEM_CLOSE, PRIME export and import of any fd the process holds, ADDFB2
 * and RMFB. The model keeps each open file's GEM handle table and PRIME cache (handles are per
 * drm_file, drm_gem.c; importing a dma-buf the file already knows gives its handle again,
 * drm_prime.c's drm_prime_lookup_buf_handle) and checks it against the driver after every step,
 * together with the lifetime rule of drm_gem.c: an object lives while a handle, its dma-buf, a
 * framebuffer or a mapping holds it.
 */

const CARDS = ["/dev/dri/card0", "/dev/dri/card1"] as const;
const isCard = (f: File) => f.inode.name.startsWith("/dev/dri/card");
const U32_MAX = 0xffffffff;
/** vkms_drv.h XRES_MIN/MAX, YRES_MIN/MAX: the framebuffer size limits of card0. */
const [FB_MIN, FB_MAX] = [10, 8192];

/** A GEM object as the model knows it. */
interface Gem {
  readonly card: string;
  readonly obj: DrmGemObject;
  readonly size: number;
  /** Its one dma-buf: the one it was exported as, or the one it was imported from. */
  buf: File | undefined;
  /** Made by PRIME import of a foreign dma-buf (holds an attachment and a dma-buf reference until freed). */
  readonly imported: boolean;
}
interface Fb {
  readonly id: number;
  readonly owner: File;
  readonly gem: Gem;
  removed: boolean;
}
interface FileModel {
  readonly handles: Map<number, Gem>;
  /** drm_prime_file_private: dma-buf -> handle. */
  readonly prime: Map<File, number>;
}
interface Model {
  readonly files: Map<File, FileModel>;
  readonly gems: Gem[];
  readonly fbs: Fb[];
  /** Mappings of fake offsets: each holds its object. */
  readonly maps: Map<VmArea, Gem>;
}
const model = (w: FuzzWorld) => w.data<Model>("drm", () => ({ files: new Map(), gems: [], fbs: [], maps: new Map() }));
const fileModel = (w: FuzzWorld, f: File): FileModel => {
  const m = model(w).files;
  let fm = m.get(f);
  if (!fm) m.set(f, (fm = { handles: new Map(), prime: new Map() }));
  return fm;
};
/** A drm file is released with its last reference (fds and mappings of live processes). */
const isOpen = (w: FuzzWorld, f: File) => w.userRefs(f) > 0;
const openFiles = (w: FuzzWorld) => [...model(w).files].filter(([f]) => isOpen(w, f));
const handleCount = (w: FuzzWorld, g: Gem) => openFiles(w).reduce((n, [, fm]) => n + [...fm.handles.values()].filter((x) => x === g).length, 0);
const liveFbs = (w: FuzzWorld) => model(w).fbs.filter((fb) => !fb.removed && isOpen(w, fb.owner));
const liveMaps = (w: FuzzWorld) => {
  const vmas = new Set(w.live.flatMap((p) => [...p.vmas.values()].map((v) => v.vma)));
  return [...model(w).maps].filter(([v]) => vmas.has(v)).map(([, g]) => g);
};

/** drm_gem.c: an object lives while a handle, a framebuffer, a mapping or (exported) its dma-buf holds it. */
function gemAlive(w: FuzzWorld, g: Gem, seen = new Set<Gem>()): boolean {
  if (handleCount(w, g) > 0 || liveFbs(w).some((fb) => fb.gem === g) || liveMaps(w).includes(g)) return true;
  if (g.imported || !g.buf || seen.has(g)) return false;
  seen.add(g);
  return w.userRefs(g.buf) + drmBufRefs(w, g.buf, seen) + otherRefs(w, g.buf) > 0;
}

/** References the DRM side holds on dma-buf `buf`: PRIME caches, obj->dma_buf while handles exist, imports. */
function drmBufRefs(w: FuzzWorld, buf: File, seen = new Set<Gem>()): number {
  let n = openFiles(w).filter(([, fm]) => fm.prime.has(buf)).length;
  for (const g of model(w).gems) {
    if (g.buf !== buf) continue;
    if (handleCount(w, g) > 0) n++;
    if (g.imported && gemAlive(w, g, seen)) n++;
  }
  return n;
}

/** Kernel references on `buf` from the other fuzz plugins (their importers, vb2 queues). */
const otherRefs = (w: FuzzWorld, buf: File) => w.plugins.reduce((n, pl) => n + (pl.name === "drm" ? 0 : (pl.kernelRefs?.(w, buf) ?? 0)), 0);

const proc = fc.nat(7);
const mostly = <T>(valid: fc.Arbitrary<T>, ...invalid: T[]) => fc.oneof({ arbitrary: valid, weight: 8 }, { arbitrary: fc.constantFrom(...invalid), weight: 1 });
const handleChoice = fc.oneof({ arbitrary: fc.record({ nth: fc.nat(7) }), weight: 8 }, { arbitrary: fc.record({ bogus: fc.constantFrom(0, 77) }), weight: 1 });

/** The drm fd of `p` chosen by `n`, its file and model; undefined when `p` has none. */
function card(w: FuzzWorld, p: FuzzProc, n: number, withHandles = false) {
  // steps on handles mostly go to a file that has some
  const has = withHandles && [...p.fds.values()].some((e) => isCard(e.file) && fileModel(w, e.file).handles.size > 0);
  const fd = w.fdOf(p, n, has ? (f) => isCard(f) && fileModel(w, f).handles.size > 0 : isCard, false);
  if (fd === undefined) return undefined;
  const file = p.fds.get(fd)!.file;
  return { fd, file, fm: fileModel(w, file), kms: file.inode.name === CARDS[0] };
}

/** A handle of the file chosen by `h`, or a bogus one; undefined (skip the step) when the file has none. */
function pickHandle(fm: FileModel, h: { nth: number } | { bogus: number }): { handle: number; gem: Gem | undefined } | undefined {
  if ("bogus" in h) return { handle: h.bogus, gem: fm.handles.get(h.bogus) };
  const hs = [...fm.handles.keys()].sort((a, b) => a - b);
  if (!hs.length) return undefined;
  const handle = hs[h.nth % hs.length]!;
  return { handle, gem: fm.handles.get(handle) };
}

/** The process, card file and GEM handle (maybe bogus) a handle command acts on; undefined skips the step. */
function handleTarget(w: FuzzWorld, a: { p: number; c: number; h: { nth: number } | { bogus: number } }) {
  const p = w.pick(a.p);
  const c = p && card(w, p, a.c, true);
  const picked = c && pickHandle(c.fm, a.h);
  return picked && { p: p!, c: c!, ...picked };
}

/** drm_gem_handle_create_tail(): idr_alloc(&file_priv->object_idr, obj, 1, 0): the lowest free handle >= 1. */
function lowestHandle(fm: FileModel): number {
  let h = 1;
  while (fm.handles.has(h)) h++;
  return h;
}

function driverFile(f: File): DrmFile {
  return filePrivate<DrmFile>(f);
}

const CARD_FLAGS = O_RDWR | O_CLOEXEC | O_NONBLOCK;

/** Another open of a card: a new drm_file with its own, empty handle table. */
const openCard = defineCommand({
  name: "open /dev/dri/cardN",
  weight: 1,
  args: fc.record({ p: proc, card: fc.nat(1) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const path = CARDS[a.card]!;
    await w.open(p, path, CARD_FLAGS, `open("${path}", O_RDWR|O_CLOEXEC|O_NONBLOCK)`);
  },
});

const createDumb = defineCommand({
  name: "DRM_IOCTL_MODE_CREATE_DUMB",
  weight: 8,
  args: fc.record({
    p: proc,
    c: fc.nat(7),
    width: mostly(fc.constantFrom(64, 640, 17), 0),
    height: mostly(fc.constantFrom(48, 480, 1), 0),
    /** 65536 x 65536: height * pitch overflows 32 bits at any bpp (large valid sizes would only cost time). */
    overflow: mostly(fc.constant(false), true),
    bpp: mostly(fc.constantFrom(32, 16, 8, 24), 0, 1, U32_MAX),
  }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const c = card(w, p, a.c);
    if (!c) return;
    const [width, height] = a.overflow ? [0x10000, 0x10000] : [a.width, a.height];
    // drm_mode_create_dumb(): zero sizes, then the 32-bit overflow checks of cpp, pitch and size
    const cpp = Math.ceil(a.bpp / 8);
    const bad = !width || !height || !a.bpp || a.bpp > U32_MAX - 8 || cpp > Math.floor(U32_MAX / width) || height > Math.floor(U32_MAX / (cpp * width));
    const arg: drm_mode_create_dumb = { width: width, height: height, bpp: a.bpp, flags: 0, handle: 0, pitch: 0, size: 0 };
    const text = `ioctl(${c.fd}, DRM_IOCTL_MODE_CREATE_DUMB, {width: ${width}, height: ${height}, bpp: ${a.bpp}})`;
    const expect: Expect = bad ? ["EINVAL"] : [];
    const r = await w.call(p, "ioctl", text, () => p.proc.ioctl(c.fd, DRM_IOCTL_MODE_CREATE_DUMB, arg), expect, () => `0; handle ${arg.handle}, pitch ${arg.pitch}, size ${arg.size}`);
    if (!r) return;
    const want = lowestHandle(c.fm);
    if (arg.handle !== want) w.fail(`CREATE_DUMB gave handle ${arg.handle}; the lowest free handle of this file is ${want}`);
    if (arg.pitch !== cpp * width || arg.size !== pageAlign(height * cpp * width)) w.fail(`CREATE_DUMB gave pitch ${arg.pitch}, size ${arg.size}; expected ${cpp * width}, ${pageAlign(height * cpp * width)}`);
    const obj = driverFile(c.file).lookup(arg.handle!);
    if (!obj) return w.fail(`CREATE_DUMB handle ${arg.handle} is not in the file's handle table`);
    const gem: Gem = { card: c.file.inode.name, obj, size: arg.size!, buf: undefined, imported: false };
    model(w).gems.push(gem);
    c.fm.handles.set(arg.handle!, gem);
  },
});

const mapDumb = defineCommand({
  name: "DRM_IOCTL_MODE_MAP_DUMB",
  weight: 6,
  args: fc.record({ p: proc, c: fc.nat(7), h: handleChoice, other: fc.nat(7), extra: mostly(fc.constant(0), PAGE_SIZE) }),
  async run(w, a) {
    const t = handleTarget(w, a);
    if (!t) return;
    const { p, c, handle, gem } = t;
    // drm_gem_dumb_map_offset(): ENOENT for an unknown handle, EINVAL for an imported object
    const arg: drm_mode_map_dumb = { handle, pad: 0, offset: 0 };
    const r = await w.call(p, "ioctl", `ioctl(${c.fd}, DRM_IOCTL_MODE_MAP_DUMB, {handle: ${handle}})`, () => p.proc.ioctl(c.fd, DRM_IOCTL_MODE_MAP_DUMB, arg), !gem ? ["ENOENT"] : gem.imported ? ["EINVAL"] : [], () => `0; offset 0x${arg.offset!.toString(16)}`);
    if (!r || !gem) return;
    // mmap through some drm fd of the same card: drm_gem_mmap() needs a handle in that file (EACCES)
    // and at most the object's size (EINVAL)
    const fds = [...p.fds].filter(([, e]) => e.file.inode.name === c.file.inode.name).map(([fd]) => fd).sort((x, y) => x - y);
    const fd = fds[a.other % fds.length]!;
    const file = p.fds.get(fd)!.file;
    const len = gem.size + a.extra;
    const errs: ErrnoCode[] = [];
    if (a.extra) errs.push("EINVAL");
    if (![...fileModel(w, file).handles.values()].includes(gem)) errs.push("EACCES");
    const text = `mmap(NULL, ${len}, PROT_READ|PROT_WRITE, MAP_SHARED, ${fd}, 0x${arg.offset!.toString(16)})`;
    const m = await w.call(p, "mmap", text, () => p.proc.mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, arg.offset!), errs, (v) => `0x${v.start.toString(16)}`);
    if (!m) return;
    p.vmas.set(m.value.start, { vma: m.value, origin: text });
    model(w).maps.set(m.value, gem);
  },
});

const gemClose = defineCommand({
  name: "DRM_IOCTL_GEM_CLOSE",
  weight: 3,
  args: fc.record({ p: proc, c: fc.nat(7), h: handleChoice }),
  async run(w, a) {
    const t = handleTarget(w, a);
    if (!t) return;
    const { p, c, handle, gem } = t;
    // drm_gem_handle_delete(): EINVAL for a handle the file does not have
    const r = await w.call(p, "ioctl", `ioctl(${c.fd}, DRM_IOCTL_GEM_CLOSE, {handle: ${handle}})`, () => p.proc.ioctl(c.fd, DRM_IOCTL_GEM_CLOSE, { handle, pad: 0 }), gem ? [] : ["EINVAL"]);
    if (!r) return;
    c.fm.handles.delete(handle);
    // drm_gem_remove_prime_handles(): the cache entry of the handle goes with it
    for (const [buf, h] of c.fm.prime) if (h === handle) c.fm.prime.delete(buf);
  },
});

const handleToFd = defineCommand({
  name: "DRM_IOCTL_PRIME_HANDLE_TO_FD",
  weight: 6,
  args: fc.record({ p: proc, c: fc.nat(7), h: handleChoice, flags: mostly(fc.constantFrom(DRM_CLOEXEC | DRM_RDWR, DRM_CLOEXEC, DRM_RDWR, 0), 0x1000, 0x80000000) }),
  async run(w, a) {
    const t = handleTarget(w, a);
    if (!t) return;
    const { p, c, handle, gem } = t;
    const want = w.lowestFree(p);
    // drm_prime_handle_to_fd_ioctl(): flags first; then get_unused_fd_flags(); then the handle lookup
    const expect: Expect = a.flags & ~(DRM_CLOEXEC | DRM_RDWR) ? ["EINVAL"] : want === undefined ? ["EMFILE"] : !gem ? ["ENOENT"] : [];
    const flags = [a.flags & DRM_CLOEXEC ? "DRM_CLOEXEC" : "", a.flags & DRM_RDWR ? "DRM_RDWR" : "", a.flags & ~(DRM_CLOEXEC | DRM_RDWR) ? `0x${(a.flags & ~(DRM_CLOEXEC | DRM_RDWR) >>> 0).toString(16)}` : ""].filter(Boolean).join("|") || "0";
    const arg: drm_prime_handle = { handle, flags: a.flags, fd: -1 };
    const r = await w.call(p, "ioctl", `ioctl(${c.fd}, DRM_IOCTL_PRIME_HANDLE_TO_FD, {handle: ${handle}, flags: ${flags}})`, () => p.proc.ioctl(c.fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, arg), expect, () => `0; fd ${arg.fd}`);
    if (!r || !gem) return;
    if (arg.fd !== want) w.fail(`PRIME_HANDLE_TO_FD returned fd ${arg.fd}; expected the lowest free fd, ${want}`);
    const file = p.proc.fds.lookup(arg.fd);
    if (!file || !isDmaBufFile(file)) return w.fail(`PRIME_HANDLE_TO_FD fd ${arg.fd} is not a dma-buf`);
    // an object has one dma-buf: exporting it again (from any file) gives the same one (drm_gem_prime_handle_to_dmabuf)
    if (gem.buf && file !== gem.buf) w.fail(`PRIME_HANDLE_TO_FD of an object already exported as dma-buf ino ${(gem.buf.privateData as DmaBuf).ino} gave a new dma-buf`);
    if (!gem.buf && w.files.has(file)) w.fail(`PRIME_HANDLE_TO_FD fd ${arg.fd} is not a new dma-buf`);
    gem.buf = file;
    w.addFd(p, arg.fd, `PRIME_HANDLE_TO_FD(${handle})`, (a.flags & DRM_CLOEXEC) !== 0);
    c.fm.prime.set(file, handle);
  },
});

const fdToHandle = defineCommand({
  name: "DRM_IOCTL_PRIME_FD_TO_HANDLE",
  weight: 6,
  args: fc.record({ p: proc, c: fc.nat(7), buf: fc.nat(7), any: mostly(fc.constant(false), true), raw: fdChoice }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const c = card(w, p, a.c);
    if (!c) return;
    const fd = a.any ? w.fd(p, a.raw) : w.fdOf(p, a.buf, isDmaBufFile, false);
    if (fd === undefined) return;
    const buf = p.fds.get(fd)?.file;
    const cached = buf && c.fm.prime.get(buf);
    // self-import: a dma-buf this device exported gives back its object (drm_gem_prime_import_dev)
    const own = buf && model(w).gems.find((g) => g.buf === buf && !g.imported && g.card === c.file.inode.name);
    // dma_buf_get(): EBADF for a bad fd, EINVAL for a file that is not a dma-buf; foreign imports are
    // the device's to accept (vkms needs one DMA-contiguous range)
    const expect: Expect = !buf ? ["EBADF"] : !isDmaBufFile(buf) ? ["EINVAL"] : cached !== undefined || own ? [] : undefined;
    const arg: drm_prime_handle = { fd, flags: 0, handle: 0 };
    const r = await w.call(p, "ioctl", `ioctl(${c.fd}, DRM_IOCTL_PRIME_FD_TO_HANDLE, {fd: ${fd}})`, () => p.proc.ioctl(c.fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, arg), expect, () => `0; handle ${arg.handle}`);
    if (!r || !buf) return;
    if (cached !== undefined) {
      if (arg.handle !== cached) w.fail(`PRIME_FD_TO_HANDLE of a dma-buf this file already has as handle ${cached} gave handle ${arg.handle} (drm_prime_lookup_buf_handle)`);
      return;
    }
    const want = lowestHandle(c.fm);
    if (arg.handle !== want) w.fail(`PRIME_FD_TO_HANDLE gave handle ${arg.handle}; the lowest free handle of this file is ${want}`);
    const obj = driverFile(c.file).lookup(arg.handle);
    if (!obj) return w.fail(`PRIME_FD_TO_HANDLE handle ${arg.handle} is not in the file's handle table`);
    let gem = own;
    if (!gem) {
      gem = { card: c.file.inode.name, obj, size: (buf.privateData as DmaBuf).size, buf, imported: true };
      model(w).gems.push(gem);
    } else if (obj !== gem.obj) w.fail(`PRIME_FD_TO_HANDLE of a dma-buf exported by this device did not give back its GEM object`);
    c.fm.handles.set(arg.handle, gem);
    c.fm.prime.set(buf, arg.handle);
  },
});

const addFb2 = defineCommand({
  name: "DRM_IOCTL_MODE_ADDFB2",
  weight: 5,
  args: fc.record({
    p: proc,
    c: fc.nat(7),
    h: handleChoice,
    width: mostly(fc.constantFrom(64, 640, 16), 0, 5, 9000),
    height: mostly(fc.constantFrom(48, 480, 16), 0, 9000),
    pitch: mostly(fc.constantFrom(0, 64), -4, -1),
    format: mostly(fc.constant(DRM_FORMAT_XRGB8888), 0x20202020),
  }),
  async run(w, a) {
    const t = handleTarget(w, a);
    if (!t) return;
    const { p, c, handle, gem } = t;
    // pitch: width * 4 plus a step's extra bytes; -1 means 0
    const pitch = a.pitch === -1 ? 0 : a.width * 4 + a.pitch;
    // drm_mode_addfb2() -> drm_internal_framebuffer_create() -> framebuffer_check() -> drm_gem_fb_init_with_funcs(), in order
    const sizeOk = (g: Gem) => g.size >= (a.height - 1) * pitch + a.width * 4;
    const expect: Expect = !c.kms
      ? ["EOPNOTSUPP"]
      : a.width < FB_MIN || a.width > FB_MAX || a.height < FB_MIN || a.height > FB_MAX || a.format !== DRM_FORMAT_XRGB8888 || !handle || pitch < a.width * 4
        ? ["EINVAL"]
        : !gem ? ["ENOENT"] : !sizeOk(gem) ? ["EINVAL"] : [];
    const arg: drm_mode_fb_cmd2 = { fb_id: 0, width: a.width, height: a.height, pixel_format: a.format, flags: 0, handles: [handle, 0, 0, 0], pitches: [pitch, 0, 0, 0], offsets: [0, 0, 0, 0] };
    const fmt = a.format === DRM_FORMAT_XRGB8888 ? "DRM_FORMAT_XRGB8888" : `0x${a.format.toString(16)}`;
    const text = `ioctl(${c.fd}, DRM_IOCTL_MODE_ADDFB2, {width: ${a.width}, height: ${a.height}, pixel_format: ${fmt}, handles: {${handle}}, pitches: {${pitch}}})`;
    const r = await w.call(p, "ioctl", text, () => p.proc.ioctl(c.fd, DRM_IOCTL_MODE_ADDFB2, arg), expect, () => `0; fb_id ${arg.fb_id}`);
    if (r && gem) model(w).fbs.push({ id: arg.fb_id!, owner: c.file, gem, removed: false });
  },
});

const rmFb = defineCommand({
  name: "DRM_IOCTL_MODE_RMFB",
  weight: 2,
  args: fc.record({ p: proc, c: fc.nat(7), fb: fc.nat(7), bogus: mostly(fc.constant(false), true) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const c = card(w, p, a.c);
    if (!c) return;
    // any framebuffer of the card, often another file's: drm_mode_rmfb() gives ENOENT for those
    const fbs = liveFbs(w).filter((fb) => fb.owner.inode.name === c.file.inode.name);
    const fb = a.bogus || !fbs.length ? undefined : fbs[a.fb % fbs.length]!;
    const id = fb?.id ?? 999;
    const expect: Expect = !c.kms ? ["EOPNOTSUPP"] : fb?.owner === c.file ? [] : ["ENOENT"];
    const r = await w.call(p, "ioctl", `ioctl(${c.fd}, DRM_IOCTL_MODE_RMFB, &(uint32_t){${id}})`, () => p.proc.ioctl(c.fd, DRM_IOCTL_MODE_RMFB, id), expect);
    if (r && fb) fb.removed = true;
  },
});

/** DRM: dumb buffers, fake-offset mmap, GEM handles, PRIME both ways and framebuffers on vkms and vgem. */
export const drmPlugin: FuzzPlugin = {
  name: "drm",
  kernelPlugins: () => [mm(), drmSim()],
  // opened O_NONBLOCK only (onSpawn and DRM open), so that read(2) cannot wait forever for an event
  commands: [openCard, createDumb, mapDumb, gemClose, handleToFd, fdToHandle, addFb2, rmFb],
  errnos: { ioctl: DRM_IOCTL_ERRNOS },
  async onSpawn(w, p) {
    for (const path of CARDS) await w.open(p, path, CARD_FLAGS, `open("${path}", O_RDWR|O_CLOEXEC|O_NONBLOCK)`);
  },
  // drm_read(): no event is ever queued by these commands, so a non-blocking read finds none
  predictRead: (file, count) => (isCard(file) ? { expect: count ? ["EAGAIN"] : undefined } : undefined),
  kernelRefs: (w, file) => (isDmaBufFile(file) ? drmBufRefs(w, file) : 0),
  attachments: (w, file) => model(w).gems.filter((g) => g.imported && g.buf === file && gemAlive(w, g)).length,
  invariants: [
    {
      name: "each open drm file's GEM handle table and PRIME cache are the model's (handles per drm_file, drm_gem.c; drm_prime.c's cache)",
      check(w) {
        for (const [file, fm] of model(w).files) {
          const f = driverFile(file);
          if (!isOpen(w, file)) {
            if (!f.closed || f.handles.size) w.fail(`${file.inode.name} (ino ${file.inode.ino}) has no references left but its drm_file is ${f.closed ? "closed" : "open"} with ${f.handles.size} handle(s)`);
            continue;
          }
          const want = [...fm.handles.keys()].sort((a, b) => a - b).join(",");
          const got = [...f.handles.keys()].sort((a, b) => a - b).join(",");
          if (want !== got) w.fail(`${file.inode.name} (ino ${file.inode.ino}) has handles [${got}]; the model expects [${want}]`);
          for (const [h, g] of fm.handles) if (f.handles.get(h) !== g.obj) w.fail(`${file.inode.name} handle ${h} refers to another GEM object than the model's`);
          if (f.primeByBuf.size !== fm.prime.size) w.fail(`${file.inode.name} (ino ${file.inode.ino}) caches ${f.primeByBuf.size} PRIME entries; the model expects ${fm.prime.size}`);
          for (const [buf, h] of fm.prime) if (f.primeByBuf.get(buf.privateData as DmaBuf) !== h) w.fail(`${file.inode.name}: the PRIME cache does not map dma-buf ino ${(buf.privateData as DmaBuf).ino} to handle ${h}`);
        }
      },
    },
    {
      name: "a GEM object lives exactly while a handle, its dma-buf, a framebuffer or a mapping holds it; objectCount counts the live ones",
      check(w) {
        const alive = new Map<string, number>();
        for (const g of model(w).gems) {
          const want = gemAlive(w, g);
          if (want === g.obj.freed) w.fail(`a ${g.card} GEM object of ${g.size} bytes is ${g.obj.freed ? "freed" : "alive"}; ${want ? "a handle, dma-buf, fb or mapping still holds it" : "nothing holds it"}`);
          if (want) alive.set(g.card, (alive.get(g.card) ?? 0) + 1);
        }
        for (const path of CARDS) {
          const dev = drmDeviceOf(w.kernel, path);
          if (dev && dev.objectCount !== (alive.get(path) ?? 0)) w.fail(`${path} has ${dev.objectCount} GEM objects; the model knows ${alive.get(path) ?? 0} live ones`);
        }
      },
    },
  ],
};
