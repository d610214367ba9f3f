import { DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT, DmaFence, warn, type DmaFenceCb, type DmaFenceOps } from "./dma-fence.js";
import { DmaFenceChain } from "./dma-fence-chain.js";

/*
 * dma_fence_array (drivers/dma-buf/dma-fence-array.c): one fence standing for several, signalled
 * when all of them (or, 6.x `signal_on_any`, the first of them) have signalled.
 */

/** Error placeholder until the array signals (dma_fence_array's PENDING_ERROR). */
const PENDING_ERROR = 1;

const arrayOps: DmaFenceOps = {
  getDriverName: () => "dma_fence_array",
  getTimelineName: () => "unbound",
  enableSignaling(fence) {
    const array = fence as DmaFenceArray;
    for (const child of array.fences) {
      // Each armed callback holds a reference to the array (dma_fence_array_cb_func puts it).
      const cb: DmaFenceCb = {};
      array.get();
      if (child.addCallback(cb, (f) => array.childSignaled(f)) !== 0) {
        // Already signalled: count it down now; the last one means the array has signalled.
        array.setPendingError(child.error);
        array.put();
        if (--array.numPending === 0) {
          array.clearPendingError();
          return false;
        }
      }
    }
    return true;
  },
  signaled(fence) {
    const array = fence as DmaFenceArray;
    let pending = array.numPending;
    if (array.flags & (1 << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT)) {
      if (pending > 0) return false;
    } else if (!array.fences.some((f) => f.isSignaled() && --pending === 0)) return false;
    array.clearPendingError();
    return true;
  },
  release(fence) {
    for (const f of (fence as DmaFenceArray).fences) f.put();
  },
  setDeadline(fence, deadlineNs) {
    for (const f of (fence as DmaFenceArray).fences) f.setDeadline(deadlineNs);
  },
};

/** struct dma_fence_array */
export class DmaFenceArray extends DmaFence {
  /** Children still to signal before the array does (1 with signal_on_any). */
  numPending: number;

  /** Use {@link dmaFenceArrayCreate}. */
  constructor(
    readonly fences: readonly DmaFence[],
    context: number,
    seqno: number,
    readonly signalOnAny: boolean,
  ) {
    super(fences[0]!.kernel, arrayOps, context, seqno);
    this.numPending = signalOnAny ? 1 : fences.length;
    this.error = PENDING_ERROR;
  }

  /** dma_fence_array_set_pending_error(): the first child error sticks. */
  setPendingError(error: number): void {
    if (error && this.error === PENDING_ERROR) this.error = error;
  }

  /** dma_fence_array_clear_pending_error(): no child failed. */
  clearPendingError(): void {
    if (this.error === PENDING_ERROR) this.error = 0;
  }

  /** dma_fence_array_cb_func(): a child signalled. */
  childSignaled(child: DmaFence): void {
    this.setPendingError(child.error);
    if (--this.numPending === 0) {
      this.clearPendingError();
      this.signal();
    }
    this.put();
  }
}

/** dma_fence_is_array() */
export function dmaFenceIsArray(fence: DmaFence | null | undefined): fence is DmaFenceArray {
  return fence instanceof DmaFenceArray;
}

/** dma_fence_is_container(): arrays and chains, which resv objects and arrays must not hold. */
export function dmaFenceIsContainer(fence: DmaFence): boolean {
  return fence instanceof DmaFenceArray || fence instanceof DmaFenceChain;
}

/**
 * dma_fence_array_create(num_fences, fences, context, seqno, signal_on_any) (6.x signature). Takes
 * over the caller's references to `fences` (they are put when the array is released). Returns
 * null, with a WARN, for an empty list. Arrays must not contain containers (WARN).
 */
export function dmaFenceArrayCreate(fences: DmaFence[], context: number, seqno: number, signalOnAny = false): DmaFenceArray | null {
  if (fences.length === 0) return null;
  for (const f of fences)
    if (dmaFenceIsContainer(f)) warn(f.kernel, "drivers/dma-buf/dma-fence-array.c dma_fence_array_create", "WARN_ON(dma_fence_is_container(fences[i]))");
  return new DmaFenceArray(fences, context, seqno, signalOnAny);
}

/** dma_fence_array_first(): the first child, the fence itself if it is no array, or null. */
export function dmaFenceArrayFirst(head: DmaFence | null): DmaFence | null {
  if (!head) return null;
  return head instanceof DmaFenceArray ? head.fences[0]! : head;
}

/** dma_fence_array_next(): the child at `index`, or null past the end (or for a non-array). */
export function dmaFenceArrayNext(head: DmaFence | null, index: number): DmaFence | null {
  if (!(head instanceof DmaFenceArray)) return null;
  return head.fences[index] ?? null;
}

/** dma_fence_match_context(): true if `fence` (or every child of an array) is on `context`. */
export function dmaFenceMatchContext(fence: DmaFence, context: number): boolean {
  if (!(fence instanceof DmaFenceArray)) return fence.context === context;
  return fence.fences.every((f) => f.context === context);
}
