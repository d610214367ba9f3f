/**
 * The fence services KMS uses, in one place: explicit fences in (IN_FENCE_FD) and out
 * (OUT_FENCE_PTR, WRITEBACK_OUT_FENCE_PTR), implicit fences of a framebuffer's buffers, and waiting
 * from a kernel worker (a callback, not a blocked actor: a commit worker waiting on a fence that is
 * never signalled must not keep virtual time going).
 */
import {
  DMA_RESV_USAGE_WRITE, DmaFence, O_CLOEXEC, dmaFenceContextAlloc, syncFileCreate, syncFileGetFence,
  type DmaFenceOps, type Kernel,
} from "@dmabuf/core";
import type { DrmFramebuffer } from "../drm-framebuffer.js";
import type { DrmCrtc } from "../drm-crtc.js";

/** sync_file_get_fence(): a reference to the fence behind sync_file `fd`, or null. */
export const syncFileFence = (kernel: Kernel, fd: number): DmaFence | null => syncFileGetFence(kernel, fd);

/** Per-CRTC fence ops: the core calls the name ops from the fence constructor, so they close over the CRTC. */
const crtcOps = new WeakMap<DrmCrtc, DmaFenceOps>();

/** drm_crtc_create_fence(): the next fence on the CRTC's timeline (signalled when its flip completes). */
export function createOutFence(crtc: DrmCrtc): DmaFence {
  const kernel = crtc.kms.dev.kernel;
  let ops = crtcOps.get(crtc);
  if (!ops) {
    const driver = crtc.kms.dev.driver.name;
    const timeline = `CRTC:${crtc.id}`;
    crtcOps.set(crtc, (ops = { getDriverName: () => driver, getTimelineName: () => timeline }));
    crtc.fenceContext = dmaFenceContextAlloc(kernel, 1);
  }
  return new DmaFence(kernel, ops, crtc.fenceContext, ++crtc.fenceSeqno);
}

/** A sync_file for `fence`, installed (O_CLOEXEC) in the current process: the fd an out-fence pointer receives. */
export function installSyncFile(kernel: Kernel, fence: DmaFence, call: string): number {
  const sf = syncFileCreate(fence);
  try {
    return kernel.fdInstall(sf.file, O_CLOEXEC, call);
  } catch (e) {
    sf.file.put();
    throw e;
  }
}

/** Resolves once `fence` has signalled (a dma_fence callback). */
export function whenSignaled(fence: DmaFence): Promise<void> {
  return new Promise<void>((resolve) => {
    if (fence.addCallback({}, () => resolve()) < 0) resolve();
  });
}

/**
 * drm_gem_plane_helper_prepare_fb(): without an explicit IN_FENCE_FD, a plane waits for the write
 * fences in its buffers' reservation objects (implicit sync). Returns references.
 */
export function fbImplicitFences(fb: DrmFramebuffer): DmaFence[] {
  const out: DmaFence[] = [];
  for (const obj of new Set(fb.objs)) out.push(...obj.resv.getFences(DMA_RESV_USAGE_WRITE));
  return out;
}
