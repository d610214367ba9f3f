/**
 * PRIME (drivers/gpu/drm/drm_prime.c, 6.x): GEM objects exported as dma-bufs and dma-bufs imported
 * as GEM objects, with Linux's rules:
 * - a GEM object has at most one dma-buf (`obj.dmaBuf`); exporting it again, or re-exporting an
 *   imported object, gives that same dma-buf;
 * - each file caches dma-buf <-> handle, so importing the same dma-buf again gives the same handle;
 * - importing a dma-buf this device exported gives back the original GEM object, without an
 *   attachment (self-import);
 * - other imports attach, map once (DMA_BIDIRECTIONAL) and keep the mapping until the object dies.
 */
import {
  DMA_BIDIRECTIONAL, DMA_NONE, O_ACCMODE, PAGE_SIZE, check, dmaBufAttach, dmaBufDetach, dmaBufExport, dmaBufFd, dmaBufGet,
  dmaBufMapAttachment, dmaBufPut, dmaBufUnmapAttachment, dmaBufVmap, dmaBufVunmap, getDmaBuf,
  type DmaBuf, type DmaBufAttachment, type DmaBufOps, type SgTable,
} from "@dmabuf/core";
import { MM } from "@dmabuf/mm";
import { sliceSegments, type DrmDevice, type DrmFile } from "./drm-device.js";
import { DrmGemObject } from "./drm-gem.js";
import * as U from "./uapi.js";

/** What a driver tells PRIME about importing (struct drm_driver's gem_prime_import_sg_table). */
export interface DrmPrimeOps {
  /**
   * @importSgTable: checks that the device can use the mapped table `sgt` of an attachment
   * (e.g. one DMA-contiguous range for a device without IOMMU) and throws EINVAL otherwise.
   * Called once per import, after the mapping. Optional: without it imports give EINVAL.
   */
  importSgTable?(dev: DrmDevice, attach: DmaBufAttachment, sgt: SgTable): void;
}

const objOf = (buf: DmaBuf) => buf.priv as DrmGemObject;

/** drm_gem_prime_dmabuf_ops: the exporter side of every DRM device in the model. */
export const drmGemPrimeDmabufOps: DmaBufOps = {
  cacheSgtMapping: true,
  // drm_gem_map_attach(): pins the pages (allocates them for objects that had none yet).
  attach(buf) {
    objOf(buf).backing();
  },
  // drm_gem_map_dma_buf(): get_sg_table + dma_map_sgtable for the importer's device.
  mapDmaBuf(attach, dir) {
    check(dir !== DMA_NONE, "EINVAL", "drm_gem_map_dma_buf", "DMA_NONE is not a direction");
    const obj = objOf(attach.dmabuf);
    const sgt = obj.sgTable();
    obj.dev.kernel.resolve(MM).dma.dmaMapSgtable(attach.dev, sgt, dir);
    return sgt;
  },
  unmapDmaBuf(attach, sgt, dir) {
    objOf(attach.dmabuf).dev.kernel.resolve(MM).dma.dmaUnmapSgtable(attach.dev, sgt, dir);
  },
  // drm_gem_dmabuf_release(): the dma-buf's reference on the object.
  release(buf) {
    objOf(buf).put();
  },
  // drm_gem_prime_mmap(): the object's own pages.
  mmap(buf, vma) {
    const obj = objOf(buf);
    vma.segments = sliceSegments(obj.backing().segments, vma.pgoff * PAGE_SIZE, vma.length);
  },
  vmap(buf) {
    return { segments: objOf(buf).backing().segments, isIomem: false };
  },
};

/** drm_prime_get_contiguous_size(): length of the leading DMA-contiguous run of a mapped table. */
export function drmPrimeGetContiguousSize(sgt: SgTable): number {
  const segs = sgt.dmaSegments();
  let size = 0;
  let expected = segs[0]?.dmaAddress ?? 0;
  for (const s of segs) {
    if (!s.dmaLength || s.dmaAddress !== expected) break;
    expected += s.dmaLength;
    size += s.dmaLength;
  }
  return size;
}

/** drm_prime_add_buf_handle(): the cache entry holds its own dma-buf reference. */
function addBufHandle(f: DrmFile, buf: DmaBuf, handle: number): void {
  getDmaBuf(buf);
  f.primeByBuf.set(buf, handle);
  f.primeByHandle.set(handle, buf);
}

/** DRM_IOCTL_PRIME_HANDLE_TO_FD (drm_prime_handle_to_fd_ioctl -> drm_gem_prime_handle_to_fd). */
export function drmPrimeHandleToFd(dev: DrmDevice, f: DrmFile, args: U.drm_prime_handle): number {
  const call = "DRM_IOCTL_PRIME_HANDLE_TO_FD";
  check(!(args.flags & ~(U.DRM_CLOEXEC | U.DRM_RDWR)), "EINVAL", call, `flags 0x${(args.flags >>> 0).toString(16)} has bits other than DRM_CLOEXEC|DRM_RDWR`);
  // get_unused_fd_flags() comes first: EMFILE before any lookup.
  dev.kernel.current?.fds.lowestFree(0, call);
  const obj = f.lookup(args.handle);
  check(obj, "ENOENT", call, `handle ${args.handle} does not exist in this file`);
  let buf = f.primeByHandle.get(args.handle);
  if (buf) getDmaBuf(buf);
  else {
    if (obj.dmaBuf) {
      // re-export of an exported or imported object: its one dma-buf
      buf = obj.dmaBuf;
      getDmaBuf(buf);
    } else {
      // export_and_register_object(): the dma-buf holds the object and shares its reservation
      // object (exp_info.resv = obj->resv); obj->dma_buf holds the dma-buf.
      buf = dmaBufExport(dev.kernel, { expName: dev.driver.name, ops: drmGemPrimeDmabufOps, size: obj.size, flags: args.flags & O_ACCMODE, priv: obj, resv: obj.resv });
      obj.get();
      obj.dmaBuf = buf;
      getDmaBuf(buf);
    }
    addBufHandle(f, buf, args.handle);
  }
  try {
    args.fd = dmaBufFd(buf, args.flags & U.DRM_CLOEXEC);
  } catch (e) {
    dmaBufPut(buf);
    throw e;
  }
  return 0;
}

/** DRM_IOCTL_PRIME_FD_TO_HANDLE (drm_gem_prime_fd_to_handle). */
export function drmPrimeFdToHandle(dev: DrmDevice, f: DrmFile, args: U.drm_prime_handle): number {
  const buf = dmaBufGet(dev.kernel, args.fd);
  try {
    const cached = f.primeByBuf.get(buf);
    if (cached !== undefined) {
      args.handle = cached;
      return 0;
    }
    const obj = primeImport(dev, buf);
    if (!obj.dmaBuf) {
      obj.dmaBuf = buf;
      getDmaBuf(buf);
    }
    const handle = f.handleCreate(obj);
    obj.put();
    addBufHandle(f, buf, handle);
    args.handle = handle;
    return 0;
  } finally {
    dmaBufPut(buf);
  }
}

/** drm_gem_prime_import_dev(): self-import shortcut, else attach + map once + the driver's check. */
function primeImport(dev: DrmDevice, buf: DmaBuf): DrmGemObject {
  const call = "DRM_IOCTL_PRIME_FD_TO_HANDLE";
  if (buf.ops === drmGemPrimeDmabufOps && objOf(buf).dev === dev) return objOf(buf).get();
  const importSgTable = dev.driver.prime.importSgTable;
  check(importSgTable, "EINVAL", call, `${dev.driver.name} cannot import foreign buffers`);
  const attach = dmaBufAttach(buf, dev.device);
  getDmaBuf(buf);
  let sgt: SgTable | undefined;
  try {
    sgt = dmaBufMapAttachment(attach, DMA_BIDIRECTIONAL);
    importSgTable(dev, attach, sgt);
    const map = dmaBufVmap(buf);
    const mapped = sgt;
    const obj = new DrmGemObject(dev, buf.size, () => ({
      runs: mapped.sgl.map((s) => ({ phys: s.phys, length: s.length })),
      segments: map.segments,
      // drm_prime_gem_destroy(): unmap, detach, drop the import's dma-buf reference.
      release: () => {
        dmaBufVunmap(buf, map);
        dmaBufUnmapAttachment(attach, mapped, DMA_BIDIRECTIONAL);
        dmaBufDetach(buf, attach);
        dmaBufPut(buf);
      },
    }), buf.resv);
    obj.importAttach = attach;
    obj.importSgt = sgt;
    obj.backing();
    return obj;
  } catch (e) {
    if (sgt) dmaBufUnmapAttachment(attach, sgt, DMA_BIDIRECTIONAL);
    dmaBufDetach(buf, attach);
    dmaBufPut(buf);
    throw e;
  }
}
