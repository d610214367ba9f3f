/**
 * The DRM core (drivers/gpu/drm/drm_drv.c, drm_file.c, drm_ioctl.c, drm_gem.c, drm_dumb_buffers.c):
 * a `/dev/dri/cardN` node per device, one {@link DrmFile} per open with its GEM handle table,
 * PRIME cache, framebuffers, property blobs and event queue; GEM handles, dumb buffers and the
 * fake-offset mmap of GEM objects.
 */
import { Errno, O_NONBLOCK, PAGE_SIZE, POLLIN, POLLRDNORM, WaitQueue, check, filePrivate, type Device, type File, type FileOperations, type Kernel, type VmArea } from "@dmabuf/core";
import { dmaBufPut, type DmaBuf } from "@dmabuf/core";
import { drmDebugfsInit } from "./drm-debugfs.js";
import { pageAlign, type DrmGemObject } from "./drm-gem.js";
import { drmPrimeFdToHandle, drmPrimeHandleToFd, type DrmPrimeOps } from "./drm-prime.js";
import type { KmsDevice } from "./kms.js";
import * as U from "./uapi.js";

/* enum drm_driver_feature (include/drm/drm_drv.h) */
export const DRIVER_GEM = 1 << 0;
export const DRIVER_MODESET = 1 << 1;
export const DRIVER_RENDER = 1 << 3;
export const DRIVER_ATOMIC = 1 << 4;

/** DRM_FILE_PAGE_OFFSET_START (64-bit): fake mmap offsets start above 4 GiB. */
const DRM_FILE_PAGE_OFFSET_START = 0x100000;
/** drm_file->event_space: bytes of events a file may have queued. */
const EVENT_SPACE = 4096;

/** A driver-private ioctl handler (drm_ioctl_desc.func). */
export type DrmIoctlFunc = (dev: DrmDevice, file: DrmFile, arg: unknown) => number | Promise<number>;

/**
 * struct drm_driver: what a DRM driver gives the core. The core calls these from its ioctls.
 */
export interface DrmDriver {
  readonly name: string;
  readonly desc: string;
  readonly date: string;
  readonly major: number;
  readonly minor: number;
  readonly patchlevel: number;
  /** DRIVER_* feature bits. */
  readonly driverFeatures: number;
  /**
   * @createObject: allocates a GEM object of `size` bytes (page aligned) for DUMB_CREATE. Throws
   * ENOMEM when the memory it needs (e.g. contiguous CMA) cannot be had. Mandatory for dumb buffers.
   */
  createObject(dev: DrmDevice, size: number): DrmGemObject;
  /** @prime: PRIME import/export hooks (gem_prime_import_sg_table and the exporter ops). */
  readonly prime: DrmPrimeOps;
  /** @ioctls: driver-private ioctls by number (DRM_COMMAND_BASE..), e.g. vgem's fence ioctls. */
  readonly ioctls?: ReadonlyMap<number, DrmIoctlFunc>;
  /** @postclose: called when a file is closed, after the core has released its handles. Optional. */
  postclose?(dev: DrmDevice, file: DrmFile): void;
}

/** A pending event (struct drm_pending_event): bytes queued on the file until read(). */
interface PendingEvent {
  readonly bytes: Uint8Array;
}

/**
 * struct drm_file: one open of the device node. Owns GEM handles (idr from 1, lowest free), the
 * PRIME import/export cache, framebuffers and blobs it created, client caps and its event queue.
 */
export class DrmFile {
  readonly handles = new Map<number, DrmGemObject>();
  /** drm_prime_file_private: dma-buf <-> handle, both directions; each entry holds a dma-buf ref. */
  readonly primeByBuf = new Map<DmaBuf, number>();
  readonly primeByHandle = new Map<number, DmaBuf>();
  atomic = false;
  universalPlanes = false;
  writebackConnectors = false;
  stereo = false;
  aspectRatio = false;
  isMaster = false;
  /** Pending events, oldest first, and the wait queue read()/poll() sleep on. */
  readonly events: PendingEvent[] = [];
  readonly eventWait = new WaitQueue();
  private eventSpace = EVENT_SPACE;
  closed = false;
  /** drm_file->client_id: unique per device, from 1. */
  readonly clientId: number;
  /** The opener (drm_file->pid and its comm), for debugfs "clients". */
  readonly pid: number;
  readonly comm: string;

  constructor(
    readonly dev: DrmDevice,
    readonly file: File,
  ) {
    this.clientId = ++dev.clients;
    this.pid = dev.kernel.current?.pid ?? 0;
    this.comm = dev.kernel.current?.comm ?? "<unknown>";
  }

  /** drm_event_reserve_init(): ENOMEM when the file's event space (4096 bytes) is used up. */
  reserveEvent(length: number): void {
    check(this.eventSpace >= length, "ENOMEM", "drm_event_reserve_init", `the file already has ${EVENT_SPACE - this.eventSpace} bytes of unread events`);
    this.eventSpace -= length;
  }

  /** Gives back a reservation whose event will never be sent (failed or cancelled commit). */
  cancelEvent(length: number): void {
    this.eventSpace += length;
  }

  /** drm_send_event(): queues a reserved event and wakes readers. Dropped if the file closed. */
  sendEvent(bytes: Uint8Array): void {
    if (this.closed) return;
    this.events.push({ bytes });
    this.eventWait.wake();
  }

  /** drm_gem_object_lookup() */
  lookup(handle: number): DrmGemObject | undefined {
    return this.handles.get(handle);
  }

  /** drm_gem_handle_create_tail(): the lowest free handle >= 1; the first handle takes an object reference. */
  handleCreate(obj: DrmGemObject): number {
    let h = 1;
    while (this.handles.has(h)) h++;
    if (obj.handleCount++ === 0) obj.get();
    this.handles.set(h, obj);
    obj.vmaAllowed.set(this, (obj.vmaAllowed.get(this) ?? 0) + 1);
    return h;
  }

  /**
   * drm_gem_handle_delete() -> drm_gem_object_release_handle(): drops the PRIME cache entry, the
   * mmap permission and the handle's share of the object; the last handle also drops the
   * exported dma-buf reference (drm_gem_object_exported_dma_buf_free). EINVAL for an unknown handle.
   */
  handleDelete(handle: number, call: string): void {
    const obj = this.handles.get(handle);
    check(obj, "EINVAL", call, `handle ${handle} does not exist in this file`);
    this.handles.delete(handle);
    this.releaseHandle(handle, obj);
  }

  private releaseHandle(handle: number, obj: DrmGemObject): void {
    const buf = this.primeByHandle.get(handle);
    if (buf) {
      this.primeByHandle.delete(handle);
      this.primeByBuf.delete(buf);
      dmaBufPut(buf);
    }
    const n = (obj.vmaAllowed.get(this) ?? 1) - 1;
    if (n > 0) obj.vmaAllowed.set(this, n);
    else obj.vmaAllowed.delete(this);
    if (--obj.handleCount === 0) {
      if (obj.dmaBuf) {
        const b = obj.dmaBuf;
        obj.dmaBuf = undefined;
        dmaBufPut(b);
      }
      obj.put();
    }
  }

  /** drm_gem_release(): every handle of a closing file. */
  releaseAllHandles(): void {
    for (const [h, obj] of [...this.handles]) {
      this.handles.delete(h);
      this.releaseHandle(h, obj);
    }
  }

  /** drm_read(): copies out whole events that fit; blocks (or EAGAIN) while there are none. */
  async read(count: number): Promise<Uint8Array> {
    const clock = this.dev.kernel.clock;
    if (this.events.length === 0) {
      check(!(this.file.flags & O_NONBLOCK), "EAGAIN", "read", "no DRM event pending and the file is O_NONBLOCK");
      await this.eventWait.waitEvent(clock, () => this.events.length > 0);
    }
    const out: Uint8Array[] = [];
    let n = 0;
    while (this.events.length > 0 && n + this.events[0]!.bytes.length <= count) {
      const e = this.events.shift()!;
      out.push(e.bytes);
      n += e.bytes.length;
      this.eventSpace += e.bytes.length;
    }
    const res = new Uint8Array(n);
    let off = 0;
    for (const b of out) res.set(b, (off += b.length) - b.length);
    return res;
  }
}

/**
 * struct drm_device: one DRM device (a bound platform device), its /dev/dri/cardN node and, for
 * KMS drivers, its mode configuration.
 */
export class DrmDevice {
  /** Live GEM objects (the count IGT's leak checks compare). */
  objectCount = 0;
  /** The KMS side (mode_config), for DRIVER_MODESET drivers. */
  kms: KmsDevice | undefined;
  readonly files = new Set<DrmFile>();
  private nextVmaPage = DRM_FILE_PAGE_OFFSET_START;
  private readonly vma = new Map<number, DrmGemObject>();
  private debugfs: string[] = [];
  /** Client ids handed out so far. */
  clients = 0;
  /** The current master file (drm_master), if any. */
  master: DrmFile | undefined;
  readonly path: string;

  constructor(
    readonly kernel: Kernel,
    readonly device: Device,
    readonly driver: DrmDriver,
    readonly minor: number,
  ) {
    this.path = `/dev/dri/card${minor}`;
  }

  hasFeature(f: number): boolean {
    return (this.driver.driverFeatures & f) !== 0;
  }

  /** drm_dev_register(): creates the device node and its debugfs directory. */
  register(): void {
    this.kernel.vfs.create(this.path, drmFops, this, `226:${this.minor}`);
    this.debugfs = drmDebugfsInit(this);
    this.kernel.printk(`[drm] Initialized ${this.driver.name} ${this.driver.major}.${this.driver.minor}.${this.driver.patchlevel} ${this.driver.date} for ${this.device.name} on minor ${this.minor}`);
  }

  /** drm_dev_unregister() */
  unregister(): void {
    this.kernel.vfs.remove(this.path);
    for (const p of this.debugfs) this.kernel.vfs.remove(p);
  }

  /** drm_gem_create_mmap_offset(): a fake offset range of the object's size, made once. */
  createMmapOffset(obj: DrmGemObject): void {
    if (obj.vmaStart) return;
    obj.vmaStart = this.nextVmaPage;
    this.nextVmaPage += obj.size / PAGE_SIZE;
    this.vma.set(obj.vmaStart, obj);
  }

  /** drm_vma_offset_remove(), when the object is freed. */
  removeMmapOffset(obj: DrmGemObject): void {
    if (obj.vmaStart) this.vma.delete(obj.vmaStart);
  }

  /** drm_gem_mmap(): exact lookup of the fake offset, permission of the file, size of the object. */
  mmap(file: DrmFile, vma: VmArea): void {
    const obj = this.vma.get(vma.pgoff);
    check(obj && !obj.freed, "EINVAL", "mmap", `no GEM object at fake offset 0x${(vma.pgoff * PAGE_SIZE).toString(16)} (use the offset MAP_DUMB returned)`);
    check(obj.vmaAllowed.has(file), "EACCES", "mmap", "this file holds no handle to the object at that offset");
    check(vma.length <= obj.size, "EINVAL", "mmap", `mapping of ${vma.length} bytes exceeds the ${obj.size}-byte object`);
    const bytes = obj.bytes();
    vma.segments = sliceSegments(bytes.segments, 0, vma.length);
    obj.get();
    vma.onClose = () => obj.put();
  }

  open(file: File): DrmFile {
    const f = new DrmFile(this, file);
    // drm_master_open(): the first opener becomes master while there is none.
    if (!this.master && this.hasFeature(DRIVER_MODESET)) {
      this.master = f;
      f.isMaster = true;
    }
    this.files.add(f);
    return f;
  }

  /** drm_release() -> drm_file_free(): events, framebuffers, blobs, handles, then master. */
  release(f: DrmFile): void {
    f.closed = true;
    f.events.length = 0;
    this.kms?.fileClosed(f);
    f.releaseAllHandles();
    this.driver.postclose?.(this, f);
    if (this.master === f) this.master = undefined;
    this.files.delete(f);
  }

  async ioctl(f: DrmFile, request: number, arg: unknown): Promise<number> {
    const nr = request & 0xff;
    if (nr >= U.DRM_COMMAND_BASE && nr < 0xa0) {
      const fn = this.driver.ioctls?.get(request);
      check(fn, "EINVAL", "ioctl", `${this.driver.name} has no driver ioctl 0x${nr.toString(16)}`);
      return fn(this, f, userArg(request, arg));
    }
    const fn = CORE_IOCTLS.get(nr);
    check(fn, "EINVAL", "ioctl", `unknown DRM ioctl nr 0x${nr.toString(16)}`);
    check(!fn.master || f.isMaster, "EACCES", "ioctl", "this ioctl needs DRM master and this file is not master");
    return fn.func(this, f, userArg(request, arg));
  }
}

/**
 * drm_ioctl() copies _IOC_SIZE(cmd) bytes of the argument into a zero-filled kernel buffer and back:
 * a NULL argument of a request whose size is 0 reads as an all-zero struct (nothing is copied back);
 * with a size, copy_from_user() of NULL faults (EFAULT).
 */
function userArg(request: number, arg: unknown): unknown {
  if (arg !== null && arg !== undefined) return arg;
  check(((request >>> 16) & 0x3fff) === 0, "EFAULT", "ioctl", "bad address: the argument is NULL");
  return {};
}

/** The views of [off, off+len) of a segmented buffer (a mapping of part of an object). */
export function sliceSegments(segments: readonly Uint8Array[], off: number, len: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const s of segments) {
    if (len <= 0) break;
    if (off >= s.length) {
      off -= s.length;
      continue;
    }
    const n = Math.min(s.length - off, len);
    out.push(s.subarray(off, off + n));
    len -= n;
    off = 0;
  }
  return out;
}

const drmOf = (file: File) => filePrivate<DrmFile>(file);

const drmFops: FileOperations = {
  name: "drm",
  open(file) {
    file.privateData = (file.privateData as DrmDevice).open(file);
  },
  release(file) {
    const f = drmOf(file);
    f.dev.release(f);
  },
  ioctl(file, request, arg) {
    const f = drmOf(file);
    return f.dev.ioctl(f, request, arg);
  },
  read(file, count) {
    return drmOf(file).read(count);
  },
  poll(file, table) {
    const f = drmOf(file);
    table.wait(f.eventWait);
    return f.events.length > 0 ? POLLIN | POLLRDNORM : 0;
  },
  mmap(file, vma) {
    const f = drmOf(file);
    f.dev.mmap(f, vma);
  },
  showFdinfo(file) {
    const f = drmOf(file);
    return `drm-driver:\t${f.dev.driver.name}\ndrm-client-id:\t${f.clientId}\n`;
  },
};

interface CoreIoctl {
  readonly func: DrmIoctlFunc;
  /** DRM_MASTER: only the master file may call it. */
  readonly master?: boolean;
}

const modeset = (dev: DrmDevice, call: string) => check(dev.hasFeature(DRIVER_MODESET), "EOPNOTSUPP", call, `${dev.driver.name} is not a KMS driver`);
const kmsIoctl = (nr: number, master = false): [number, CoreIoctl] => [
  nr,
  {
    master,
    func: (dev, f, arg) => {
      modeset(dev, "ioctl");
      return dev.kms!.ioctl(nr, f, arg);
    },
  },
];

/** drm_version(): strings and their lengths. */
function drmVersion(dev: DrmDevice, _f: DrmFile, arg: unknown): number {
  const v = arg as U.drm_version;
  const d = dev.driver;
  Object.assign(v, { version_major: d.major, version_minor: d.minor, version_patchlevel: d.patchlevel, name: d.name, name_len: d.name.length, date: d.date, date_len: d.date.length, desc: d.desc, desc_len: d.desc.length });
  return 0;
}

/** drm_getcap() */
function drmGetCap(dev: DrmDevice, _f: DrmFile, arg: unknown): number {
  const c = arg as U.drm_get_cap;
  switch (c.capability) {
    case U.DRM_CAP_TIMESTAMP_MONOTONIC:
      c.value = 1;
      return 0;
    case U.DRM_CAP_PRIME:
      c.value = U.DRM_PRIME_CAP_IMPORT | U.DRM_PRIME_CAP_EXPORT;
      return 0;
    case U.DRM_CAP_SYNCOBJ:
    case U.DRM_CAP_SYNCOBJ_TIMELINE:
      c.value = 0;
      return 0;
  }
  check(dev.hasFeature(DRIVER_MODESET), "EOPNOTSUPP", "DRM_IOCTL_GET_CAP", `capability ${c.capability} needs a KMS driver`);
  const caps: Record<number, number> = {
    [U.DRM_CAP_DUMB_BUFFER]: 1,
    [U.DRM_CAP_VBLANK_HIGH_CRTC]: 1,
    [U.DRM_CAP_DUMB_PREFERRED_DEPTH]: 24,
    [U.DRM_CAP_DUMB_PREFER_SHADOW]: 1,
    [U.DRM_CAP_ASYNC_PAGE_FLIP]: 0,
    [U.DRM_CAP_PAGE_FLIP_TARGET]: 0,
    [U.DRM_CAP_CURSOR_WIDTH]: 64,
    [U.DRM_CAP_CURSOR_HEIGHT]: 64,
    [U.DRM_CAP_ADDFB2_MODIFIERS]: 1,
    [U.DRM_CAP_CRTC_IN_VBLANK_EVENT]: 1,
  };
  const v = caps[c.capability];
  check(v !== undefined, "EINVAL", "DRM_IOCTL_GET_CAP", `unknown capability ${c.capability}`);
  c.value = v;
  return 0;
}

/** drm_setclientcap() */
function drmSetClientCap(dev: DrmDevice, f: DrmFile, arg: unknown): number {
  const c = arg as U.drm_set_client_cap;
  const call = "DRM_IOCTL_SET_CLIENT_CAP";
  switch (c.capability) {
    case U.DRM_CLIENT_CAP_STEREO_3D:
      check(c.value <= 1, "EINVAL", call, "value must be 0 or 1");
      f.stereo = c.value === 1;
      return 0;
    case U.DRM_CLIENT_CAP_UNIVERSAL_PLANES:
      check(c.value <= 1, "EINVAL", call, "value must be 0 or 1");
      f.universalPlanes = c.value === 1;
      return 0;
    case U.DRM_CLIENT_CAP_ATOMIC:
      check(dev.hasFeature(DRIVER_ATOMIC), "EOPNOTSUPP", call, `${dev.driver.name} is not an atomic driver`);
      check(c.value <= 2, "EINVAL", call, "value must be 0, 1 or 2");
      f.atomic = c.value !== 0;
      if (f.atomic) f.universalPlanes = true;
      return 0;
    case U.DRM_CLIENT_CAP_ASPECT_RATIO:
      check(c.value <= 1, "EINVAL", call, "value must be 0 or 1");
      f.aspectRatio = c.value === 1;
      return 0;
    case U.DRM_CLIENT_CAP_WRITEBACK_CONNECTORS:
      check(f.atomic, "EINVAL", call, "DRM_CLIENT_CAP_WRITEBACK_CONNECTORS needs DRM_CLIENT_CAP_ATOMIC first");
      check(c.value <= 1, "EINVAL", call, "value must be 0 or 1");
      f.writebackConnectors = c.value === 1;
      return 0;
    default:
      throw new Errno("EINVAL", call, `unknown client capability ${c.capability}`);
  }
}

function drmGemClose(dev: DrmDevice, f: DrmFile, arg: unknown): number {
  check(dev.hasFeature(DRIVER_GEM), "EOPNOTSUPP", "DRM_IOCTL_GEM_CLOSE", "driver has no GEM");
  f.handleDelete((arg as U.drm_gem_close).handle, "DRM_IOCTL_GEM_CLOSE");
  return 0;
}

const U32_MAX = 0xffffffff;

/** drm_mode_create_dumb() with the shmem/DMA helpers' dumb_create: pitch = width * cpp, size page aligned. */
function drmModeCreateDumb(dev: DrmDevice, f: DrmFile, arg: unknown): number {
  const a = arg as U.drm_mode_create_dumb;
  const call = "DRM_IOCTL_MODE_CREATE_DUMB";
  check(a.width && a.height && a.bpp, "EINVAL", call, `width ${a.width}, height ${a.height} and bpp ${a.bpp} must all be non-zero`);
  check(a.bpp <= U32_MAX - 8, "EINVAL", call, "bpp overflows");
  const cpp = Math.ceil(a.bpp / 8);
  check(cpp <= Math.floor(U32_MAX / a.width), "EINVAL", call, "width * cpp overflows 32 bits");
  const stride = cpp * a.width;
  check(a.height <= Math.floor(U32_MAX / stride), "EINVAL", call, "height * pitch overflows 32 bits");
  const size = pageAlign(a.height * stride);
  const obj = dev.driver.createObject(dev, size);
  const handle = f.handleCreate(obj);
  obj.put(); // the handle holds it now (drm_gem_handle_create + drm_gem_object_put)
  Object.assign(a, { handle, pitch: stride, size });
  return 0;
}

/** drm_gem_dumb_map_offset(): imported objects cannot be mapped through the DRM fd. */
function drmModeMapDumb(dev: DrmDevice, f: DrmFile, arg: unknown): number {
  const a = arg as U.drm_mode_map_dumb;
  const obj = f.lookup(a.handle);
  check(obj, "ENOENT", "DRM_IOCTL_MODE_MAP_DUMB", `handle ${a.handle} does not exist`);
  check(!obj.importAttach, "EINVAL", "DRM_IOCTL_MODE_MAP_DUMB", "imported objects cannot be mapped through the DRM fd; mmap the dma-buf instead");
  dev.createMmapOffset(obj);
  a.offset = obj.mmapOffset;
  return 0;
}

function drmModeDestroyDumb(_dev: DrmDevice, f: DrmFile, arg: unknown): number {
  f.handleDelete((arg as U.drm_mode_destroy_dumb).handle, "DRM_IOCTL_MODE_DESTROY_DUMB");
  return 0;
}

const CORE_IOCTLS = new Map<number, CoreIoctl>([
  [U.DRM_IOCTL_VERSION & 0xff, { func: drmVersion }],
  [U.DRM_IOCTL_GET_CAP & 0xff, { func: drmGetCap }],
  [U.DRM_IOCTL_SET_CLIENT_CAP & 0xff, { func: drmSetClientCap }],
  [U.DRM_IOCTL_GEM_CLOSE & 0xff, { func: drmGemClose }],
  [U.DRM_IOCTL_PRIME_HANDLE_TO_FD & 0xff, { func: (dev, f, arg) => drmPrimeHandleToFd(dev, f, arg as U.drm_prime_handle) }],
  [U.DRM_IOCTL_PRIME_FD_TO_HANDLE & 0xff, { func: (dev, f, arg) => drmPrimeFdToHandle(dev, f, arg as U.drm_prime_handle) }],
  [U.DRM_IOCTL_MODE_CREATE_DUMB & 0xff, { func: drmModeCreateDumb }],
  [U.DRM_IOCTL_MODE_MAP_DUMB & 0xff, { func: drmModeMapDumb }],
  [U.DRM_IOCTL_MODE_DESTROY_DUMB & 0xff, { func: drmModeDestroyDumb }],
  ...[
    U.DRM_IOCTL_MODE_GETRESOURCES, U.DRM_IOCTL_MODE_GETCRTC, U.DRM_IOCTL_MODE_GETENCODER, U.DRM_IOCTL_MODE_GETCONNECTOR,
    U.DRM_IOCTL_MODE_GETPROPERTY, U.DRM_IOCTL_MODE_GETPROPBLOB, U.DRM_IOCTL_MODE_RMFB, U.DRM_IOCTL_MODE_GETPLANERESOURCES,
    U.DRM_IOCTL_MODE_GETPLANE, U.DRM_IOCTL_MODE_ADDFB2, U.DRM_IOCTL_MODE_OBJ_GETPROPERTIES, U.DRM_IOCTL_MODE_CREATEPROPBLOB,
    U.DRM_IOCTL_MODE_DESTROYPROPBLOB,
  ].map((r) => kmsIoctl(r & 0xff)),
  kmsIoctl(U.DRM_IOCTL_MODE_ATOMIC & 0xff, true),
]);
