import type { DmaFence} from "./dma-fence.js";
import { dmaFenceAllocatePrivateStub, dmaFenceContextAlloc } from "./dma-fence.js";
import { dmaFenceArrayCreate, dmaFenceArrayFirst, dmaFenceArrayNext } from "./dma-fence-array.js";
import { dmaFenceChainContained, dmaFenceChainWalk } from "./dma-fence-chain.js";

/*
 * dma_fence_unwrap (drivers/dma-buf/dma-fence-unwrap.c): flattening chains and arrays into their
 * leaf fences, and merging several fences into one (what SYNC_IOC_MERGE does).
 */

/**
 * dma_fence_unwrap_for_each(): every leaf of `head`: chains are walked newest to oldest (through
 * dma_fence_chain_walk, so signalled links may already be collected), arrays expanded. Leaves are
 * borrowed: get() one to keep it.
 */
export function* dmaFenceUnwrap(head: DmaFence): Generator<DmaFence, void, undefined> {
  let chain: DmaFence | null = head.get();
  try {
    while (chain) {
      const array = dmaFenceChainContained(chain);
      for (let i = 0, f = dmaFenceArrayFirst(array); f; f = dmaFenceArrayNext(array, ++i)) yield f;
      chain = dmaFenceChainWalk(chain);
    }
  } finally {
    chain?.put();
  }
}

/**
 * dma_fence_dedup_array(): sorts by context (ascending) and, within a context, latest seqno first,
 * then keeps only the latest fence of each context, putting the others. Returns the new count (0
 * for an empty array, as fixed by commit 77a9298741f8).
 */
export function dmaFenceDedupArray(fences: DmaFence[]): number {
  if (fences.length === 0) return 0;
  fences.sort((a, b) => (a.context !== b.context ? (a.context < b.context ? -1 : 1) : a.isLater(b) ? -1 : b.isLater(a) ? 1 : 0));
  let j = 0;
  for (let i = 1; i < fences.length; i++) {
    if (fences[i]!.context === fences[j]!.context) fences[i]!.put();
    else fences[++j] = fences[i]!;
  }
  fences.length = j + 1;
  return j + 1;
}

/**
 * dma_fence_unwrap_merge(): one fence that signals when all of `fences` have. Signalled leaves are
 * dropped (they only contribute their latest timestamp), the latest per context is kept. Returns a
 * new reference: a private signalled stub when nothing is pending, the single pending leaf, or a
 * new dma_fence_array (new context, seqno 1). The inputs' references stay with the caller.
 */
export function dmaFenceUnwrapMerge(...fences: DmaFence[]): DmaFence {
  const kernel = fences[0]!.kernel;
  let timestamp = 0;
  const pending: DmaFence[] = [];
  for (const head of fences)
    for (const f of dmaFenceUnwrap(head)) {
      if (!f.isSignaled()) pending.push(f.get());
      else timestamp = Math.max(timestamp, f.timestampNs);
    }
  if (pending.length === 0) return dmaFenceAllocatePrivateStub(kernel, timestamp);
  if (pending.length === 1) return pending[0]!;
  if (dmaFenceDedupArray(pending) === 1) return pending[0]!;
  return dmaFenceArrayCreate(pending, dmaFenceContextAlloc(kernel, 1), 1)!;
}
