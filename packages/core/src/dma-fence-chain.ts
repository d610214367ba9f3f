import { DmaFence, dmaFenceContextAlloc, seqnoIsLater, warn, type DmaFenceCb, type DmaFenceOps } from "./dma-fence.js";
import { ERRNO } from "./errno.js";

/*
 * dma_fence_chain (drivers/dma-buf/dma-fence-chain.c): the nodes of a timeline (a DRM syncobj
 * timeline, say). Each node holds a fence for one point and a link to the previous node; a node
 * signals when its own fence and every earlier one have signalled. Walking the chain unlinks
 * signalled links (garbage collection), so chains do not grow without bound.
 */

const chainOps: DmaFenceOps = {
  use64bitSeqno: true,
  getDriverName: () => "dma_fence_chain",
  getTimelineName: () => "unbound",
  enableSignaling: (fence) => (fence as DmaFenceChain).armNext(),
  signaled(fence) {
    for (const link of dmaFenceChainForEach(fence)) if (!dmaFenceChainContained(link).isSignaled()) return false;
    return true;
  },
  release(fence) {
    // Unlink predecessors we hold the last reference to iteratively: a long chain must not recurse.
    const chain = fence as DmaFenceChain;
    let prev = chain.prev;
    while (prev instanceof DmaFenceChain && prev.refcount === 1) {
      chain.prev = prev.prev;
      prev.prev = null;
      prev.put();
      prev = chain.prev;
    }
    prev?.put();
    chain.fence.put();
  },
  setDeadline(fence, deadlineNs) {
    for (const link of dmaFenceChainForEach(fence)) dmaFenceChainContained(link).setDeadline(deadlineNs);
  },
};

/** struct dma_fence_chain */
export class DmaFenceChain extends DmaFence {
  private readonly cb: DmaFenceCb = {};

  /** Use {@link dmaFenceChainInit}. */
  constructor(
    /** The previous node (or plain fence); replaced by garbage collection as links signal. */
    public prev: DmaFence | null,
    /** The seqno of the previous node when it shares this context, else 0. */
    readonly prevSeqno: number,
    /** The fence this node stands for (dma_fence_chain_contained()). */
    readonly fence: DmaFence,
    context: number,
    seqno: number,
  ) {
    super(fence.kernel, chainOps, context, seqno);
  }

  /**
   * dma_fence_chain_enable_signaling(): arms a callback on the first unsignalled fence of the walk;
   * false when every fence has signalled. The armed callback holds a reference to this node.
   */
  armNext(): boolean {
    this.get();
    for (const link of dmaFenceChainForEach(this)) {
      const f = dmaFenceChainContained(link).get();
      if (f.addCallback(this.cb, (done) => this.linkSignaled(done)) === 0) return true;
      f.put();
    }
    this.put();
    return false;
  }

  /** dma_fence_chain_cb() + dma_fence_chain_irq_work(): re-arm on the next pending fence, or signal. */
  private linkSignaled(f: DmaFence): void {
    f.put();
    if (!this.armNext()) this.signal();
    this.put();
  }
}

/** dma_fence_is_chain() */
export function dmaFenceIsChain(fence: DmaFence | null | undefined): fence is DmaFenceChain {
  return fence instanceof DmaFenceChain;
}

/** dma_fence_chain_contained(): the fence inside a chain node, or `fence` itself. */
export function dmaFenceChainContained(fence: DmaFence): DmaFence {
  return fence instanceof DmaFenceChain ? fence.fence : fence;
}

/**
 * dma_fence_chain_init() (with dma_fence_chain_alloc()): a node for `fence` at `seqno` after `prev`.
 * Takes over the caller's references to `prev` and `fence`. The node reuses prev's context when
 * prev is a chain node with a lower seqno; otherwise it starts a new context (and its seqno is
 * raised to prev's, so seqnos never go backwards).
 */
export function dmaFenceChainInit(prev: DmaFence | null, fence: DmaFence, seqno: number): DmaFenceChain {
  let context: number;
  let prevSeqno = 0;
  if (prev instanceof DmaFenceChain && seqnoIsLater(seqno, prev.seqno, prev.ops.use64bitSeqno)) {
    context = prev.context;
    prevSeqno = prev.seqno;
  } else {
    context = dmaFenceContextAlloc(fence.kernel, 1);
    if (prev instanceof DmaFenceChain) seqno = Math.max(prev.seqno, seqno);
  }
  if (fence instanceof DmaFenceChain)
    warn(fence.kernel, "drivers/dma-buf/dma-fence-chain.c dma_fence_chain_init", "WARN_ON(dma_fence_is_chain(fence)): chains link through prev, not through the contained fence");
  return new DmaFenceChain(prev, prevSeqno, fence, context, seqno);
}

/**
 * dma_fence_chain_walk(): the next (older) node after `fence`, with a reference; drops the
 * reference to `fence`. Unlinks signalled predecessors on the way. Null at the end or for a non-chain.
 */
export function dmaFenceChainWalk(fence: DmaFence): DmaFence | null {
  if (!(fence instanceof DmaFenceChain)) {
    fence.put();
    return null;
  }
  let prev: DmaFence | null;
  while ((prev = fence.prev?.get() ?? null)) {
    let replacement: DmaFence | null;
    if (prev instanceof DmaFenceChain) {
      if (!prev.fence.isSignaled()) break;
      replacement = prev.prev?.get() ?? null;
    } else {
      if (!prev.isSignaled()) break;
      replacement = null;
    }
    // cmpxchg(&chain->prev, prev, replacement) always succeeds here: there is one CPU.
    fence.prev = replacement;
    prev.put(); // the link's reference
    prev.put(); // ours
  }
  fence.put();
  return prev;
}

/**
 * dma_fence_chain_for_each(): `head`, then each older node. The yielded node is only borrowed: take
 * a reference (get()) to keep it past the loop step.
 */
export function* dmaFenceChainForEach(head: DmaFence): Generator<DmaFence, void, undefined> {
  let iter: DmaFence | null = head.get();
  try {
    while (iter) {
      yield iter;
      iter = dmaFenceChainWalk(iter);
    }
  } finally {
    iter?.put();
  }
}

/** A `struct dma_fence **` for calls that replace the caller's fence reference. */
export interface DmaFenceRef {
  fence: DmaFence | null;
}

/**
 * dma_fence_chain_find_seqno(): replaces `pfence.fence` (a chain node, whose reference is consumed)
 * by the node that signals point `seqno`, with a reference. The result is null when everything up
 * to that point has signalled and been collected. Returns 0; -EINVAL when `pfence.fence` is no chain
 * node or `seqno` is in its future. seqno 0 is a no-op.
 */
export function dmaFenceChainFindSeqno(pfence: DmaFenceRef, seqno: number): number {
  if (!seqno) return 0;
  const chain = pfence.fence;
  if (!(chain instanceof DmaFenceChain) || chain.seqno < seqno) return -ERRNO.EINVAL;
  let iter: DmaFence | null = chain.get();
  while (iter) {
    if (iter.context !== chain.context || !(iter instanceof DmaFenceChain) || iter.prevSeqno < seqno) break;
    iter = dmaFenceChainWalk(iter);
  }
  pfence.fence = iter;
  chain.put();
  return 0;
}
