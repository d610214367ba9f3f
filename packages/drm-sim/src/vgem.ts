/**
 * A vgem-like render-less GEM device (drivers/gpu/drm/vgem/): shmem-backed dumb buffers (pages
 * allocated on first use), PRIME export/import, and the fence ioctls of vgem_fence.c that attach
 * a READ or WRITE fence to a buffer's reservation object and signal it from userspace.
 */
import {
  DMA_RESV_USAGE_READ, DMA_RESV_USAGE_WRITE, DmaFence, NSEC_PER_SEC, check, dmaFenceContextAlloc, dmaResvUsageRw,
  type Device, type DmaFenceOps, type Kernel, type PlatformDriver, type Timer,
} from "@dmabuf/core";
import { DRIVER_GEM, DRIVER_RENDER, DrmDevice, type DrmDriver, type DrmFile, type DrmIoctlFunc } from "./drm-device.js";
import { DrmGemObject } from "./drm-gem.js";
import { drmMinorAlloc } from "./drm-minor.js";
import { shmemBacking } from "./internal/gem-memory.js";
import * as U from "./uapi.js";

/** VGEM_FENCE_TIMEOUT: an unsignalled fence signals itself after 10 s. */
export const VGEM_FENCE_TIMEOUT_NS = 10 * NSEC_PER_SEC;

const vgemFenceOps: DmaFenceOps = {
  getDriverName: () => "vgem",
  getTimelineName: () => "unbound",
};

/** struct vgem_fence: a fence on its own context, with the timer that force-signals it. */
class VgemFence extends DmaFence {
  timer: Timer | undefined;
  constructor(kernel: Kernel) {
    super(kernel, vgemFenceOps, dmaFenceContextAlloc(kernel, 1), 1);
    this.timer = kernel.clock.addTimer(VGEM_FENCE_TIMEOUT_NS, () => this.signal(), "vgem_fence_timeout");
  }

  override signal(): number {
    this.kernel.clock.cancelTimer(this.timer);
    return super.signal();
  }
}

/** vgem_file->fence_idr per open file: ids from 1; a signalled id stays allocated as NULL. */
const fenceIdrs = new WeakMap<DrmFile, Map<number, VgemFence | null>>();
const idrOf = (f: DrmFile) => {
  let m = fenceIdrs.get(f);
  if (!m) fenceIdrs.set(f, (m = new Map()));
  return m;
};

/** vgem_fence_attach_ioctl() */
async function fenceAttach(dev: DrmDevice, f: DrmFile, arg: unknown): Promise<number> {
  const a = arg as U.drm_vgem_fence_attach;
  const call = "DRM_IOCTL_VGEM_FENCE_ATTACH";
  check(!(a.flags & ~U.VGEM_FENCE_WRITE), "EINVAL", call, `flags 0x${a.flags.toString(16)} has bits other than VGEM_FENCE_WRITE`);
  check(!a.pad, "EINVAL", call, "pad must be 0");
  const obj = f.lookup(a.handle);
  check(obj, "ENOENT", call, `handle ${a.handle} does not exist`);
  obj.get();
  const fence = new VgemFence(dev.kernel);
  const write = (a.flags & U.VGEM_FENCE_WRITE) !== 0;
  try {
    // A conflicting unsignalled fence: any fence for a write, a write fence for a read.
    check(obj.resv.testSignaled(dmaResvUsageRw(write)), "EBUSY", call, `the buffer already has an unsignalled ${write ? "" : "write "}fence`);
    await obj.resv.lock(null);
    try {
      check(obj.resv.reserveFences(1) === 0, "ENOMEM", call, "cannot reserve a fence slot");
      obj.resv.addFence(fence, write ? DMA_RESV_USAGE_WRITE : DMA_RESV_USAGE_READ);
    } finally {
      obj.resv.unlock();
    }
    const idr = idrOf(f);
    let id = 1;
    while (idr.has(id)) id++;
    idr.set(id, fence);
    a.out_fence = id;
    return 0;
  } catch (e) {
    fence.signal();
    fence.put();
    throw e;
  } finally {
    obj.put();
  }
}

/** vgem_fence_signal_ioctl(): ETIMEDOUT when the timer had already signalled it. */
function fenceSignal(_dev: DrmDevice, f: DrmFile, arg: unknown): number {
  const a = arg as U.drm_vgem_fence_signal;
  const call = "DRM_IOCTL_VGEM_FENCE_SIGNAL";
  check(!a.flags, "EINVAL", call, "flags must be 0");
  const idr = idrOf(f);
  const fence = idr.get(a.fence);
  check(fence, "ENOENT", call, `fence ${a.fence} is unknown or already signalled`);
  idr.set(a.fence, null);
  const expired = fence.isSignaled();
  fence.signal();
  fence.put();
  check(!expired, "ETIMEDOUT", call, `fence ${a.fence} had already expired (signalled by its ${VGEM_FENCE_TIMEOUT_NS / NSEC_PER_SEC} s timer)`);
  return 0;
}

function vgemDriver(): DrmDriver {
  return {
    name: "vgem",
    desc: "Virtual GEM provider",
    date: "20120112",
    major: 1,
    minor: 0,
    patchlevel: 0,
    driverFeatures: DRIVER_GEM | DRIVER_RENDER,
    createObject: (dev, size) => new DrmGemObject(dev, size, () => shmemBacking(dev.kernel, size)),
    // vgem_prime_import_sg_table(): shmem objects take any page layout.
    prime: { importSgTable() {} },
    ioctls: new Map<number, DrmIoctlFunc>([
      [U.DRM_IOCTL_VGEM_FENCE_ATTACH, fenceAttach],
      [U.DRM_IOCTL_VGEM_FENCE_SIGNAL, fenceSignal],
    ]),
    // vgem_fence_close(): every outstanding fence of the file is signalled.
    postclose(_dev, f) {
      for (const fence of idrOf(f).values()) {
        fence?.signal();
        fence?.put();
      }
      fenceIdrs.delete(f);
    },
  };
}

/** The platform driver for compatible "sim,vgem". */
export function vgemPlatformDriver(): PlatformDriver {
  return {
    name: "vgem",
    compatible: ["sim,vgem"],
    probe(dev: Device, kernel: Kernel) {
      const drm = new DrmDevice(kernel, dev, vgemDriver(), drmMinorAlloc(kernel));
      drm.register();
      dev.driverData = drm;
    },
    remove(dev: Device) {
      (dev.driverData as DrmDevice).unregister();
    },
  };
}
