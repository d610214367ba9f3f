import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  DmaFenceChain} from "../src/index.js";
import { ERRNO, Kernel, dmaFenceChainFindSeqno, dmaFenceChainInit, type DmaFence, type DmaFenceRef,
} from "../src/index.js";
import { below, mockFence, prng } from "./helpers/fences.js";

/** CHAIN_SZ of st-dma-fence-chain.c. */
const CHAIN_SZ = 4096;

let k: Kernel;
beforeEach(async () => {
  k = await Kernel.boot();
  k.trace.on = false;
});
afterEach(() => k.shutdown());

interface FenceChains {
  fences: DmaFence[];
  chains: DmaFenceChain[];
  tail: DmaFenceChain;
}

/** fence_chains_init(): mock fences (context 0) linked into chain nodes at seqno_fn(i), each with signalling enabled. */
function fenceChainsInit(kernel: Kernel, count: number, seqnoFn: (i: number) => number): FenceChains {
  const fences: DmaFence[] = [];
  const chains: DmaFenceChain[] = [];
  let tail: DmaFenceChain | null = null;
  for (let i = 0; i < count; i++) {
    fences.push(mockFence(kernel));
    const c: DmaFenceChain = dmaFenceChainInit(tail?.get() ?? null, fences[i]!.get(), seqnoFn(i));
    chains.push(c);
    tail = c;
    c.enableSwSignaling();
  }
  return { fences, chains, tail: tail! };
}

/** fence_chains_fini(): signals and puts every fence, then puts the chains; nothing may stay referenced. */
function fenceChainsFini(fc: FenceChains): void {
  for (const f of fc.fences) {
    f.signal();
    f.put();
  }
  for (const c of fc.chains) c.put();
  expect(fc.chains.every((c) => c.refcount === 0)).toBe(true);
  expect(fc.fences.every((f) => f.refcount === 0)).toBe(true);
}

const seqnoInc = (i: number) => i + 1;
const seqnoInc2 = (i: number) => 2 * i + 2;

function find(start: DmaFence, seqno: number): { err: number; fence: DmaFence | null } {
  const ref: DmaFenceRef = { fence: start.get() };
  const err = dmaFenceChainFindSeqno(ref, seqno);
  if (err) ref.fence?.put();
  return { err, fence: err ? null : ref.fence };
}

/** Port of drivers/dma-buf/st-dma-fence-chain.c (KUnit suite "dma-buf-fence-chain"). */
describe("st-dma-fence-chain", () => {
  it("sanitycheck: chain(NULL, f, 1) is created, signals with f and is released with it", () => {
    const f = mockFence(k);
    const chain = dmaFenceChainInit(null, f.get(), 1);
    chain.enableSwSignaling();
    f.signal();
    expect(chain.isSignaled()).toBe(true);
    chain.put();
    f.put();
    expect(chain.refcount + f.refcount).toBe(0);
  });

  it("find_seqno: every point is found from the tail and from itself; future points are -EINVAL", () => {
    const c = fenceChainsInit(k, 64, seqnoInc);
    const r0 = find(c.tail, 0);
    expect(r0.err).toBe(0);
    expect(r0.fence).toBe(c.tail);
    r0.fence!.put();
    for (let i = 0; i < 64; i++) {
      let r = find(c.tail, i + 1);
      expect(r.err).toBe(0);
      expect(r.fence).toBe(c.chains[i]);
      r.fence!.put();
      r = find(c.chains[i]!, i + 1);
      expect(r.err).toBe(0);
      expect(r.fence).toBe(c.chains[i]);
      r.fence!.put();
      expect(find(c.chains[i]!, i + 2).err).toBe(-ERRNO.EINVAL);
      r = find(c.chains[i]!, i);
      expect(r.err).toBe(0);
      if (i > 0) expect(r.fence).toBe(c.chains[i - 1]);
      r.fence?.put();
    }
    fenceChainsFini(c);
  });

  it("find_signaled: a point whose fence signalled is found as NULL or its own node", () => {
    const c = fenceChainsInit(k, 2, seqnoInc);
    c.fences[0]!.signal();
    const r = find(c.tail, 1);
    expect(r.err).toBe(0);
    expect(r.fence === null || r.fence === c.chains[0]).toBe(true);
    r.fence?.put();
    fenceChainsFini(c);
  });

  it("find_out_of_order: with only link 2 signalled, point 2 resolves to link 1 (link 2 is collected)", () => {
    const c = fenceChainsInit(k, 3, seqnoInc);
    c.fences[1]!.signal();
    const r = find(c.tail, 2);
    expect(r.err).toBe(0);
    expect(r.fence).toBe(c.chains[0]);
    r.fence!.put();
    fenceChainsFini(c);
  });

  it("find_gap: an odd point between even seqnos resolves to the node above it", () => {
    const c = fenceChainsInit(k, 64, seqnoInc2);
    for (let i = 0; i < 64; i++) {
      let r = find(c.tail, 2 * i + 1);
      expect(r.err).toBe(0);
      expect(r.fence).toBe(c.chains[i]);
      r.fence!.put();
      r = find(c.chains[i]!, 2 * i + 2);
      expect(r.fence).toBe(c.chains[i]);
      r.fence!.put();
    }
    fenceChainsFini(c);
  });

  it("find_race: actors finding random points while others signal random fences never get an error", async () => {
    const c = fenceChainsInit(k, CHAIN_SZ, seqnoInc);
    const rnd = prng(0xc4a1);
    let stop = false;
    let finds = 0;
    k.clock.addTimer(5_000_000, () => (stop = true), "kthread_stop");
    const actor = async () => {
      while (!stop) {
        const seqno = 1 + below(rnd, CHAIN_SZ);
        const r = find(c.tail, seqno);
        expect(r.err).toBe(0);
        finds++;
        if (r.fence) {
          // We can only find ourselves if we are on the fence we were looking for.
          if (r.fence.seqno === seqno) {
            const again = find(r.fence, seqno);
            expect(again.err).toBe(0);
            again.fence?.put();
          }
          r.fence.put();
        }
        c.fences[below(rnd, CHAIN_SZ - 1)]!.signal();
        await k.clock.sleep(1000 + below(rnd, 1000));
      }
    };
    await Promise.all([actor(), actor()]);
    expect(finds).toBeGreaterThan(1000);
    fenceChainsFini(c);
  });

  it("signal_forward: signalling in order completes each node, and not the next one", () => {
    const c = fenceChainsInit(k, 64, seqnoInc);
    for (let i = 0; i < 64; i++) {
      c.fences[i]!.signal();
      expect(c.chains[i]!.isSignaled()).toBe(true);
      if (i + 1 < 64) expect(c.chains[i + 1]!.isSignaled()).toBe(false);
    }
    fenceChainsFini(c);
  });

  it("signal_backward: a later node does not complete before the earlier fences; all do at the end", () => {
    const c = fenceChainsInit(k, 64, seqnoInc);
    for (let i = 63; i > 0; i--) {
      c.fences[i]!.signal();
      expect(c.chains[i]!.isSignaled()).toBe(false);
    }
    c.fences[0]!.signal();
    for (const chain of c.chains) expect(chain.isSignaled()).toBe(true);
    fenceChainsFini(c);
  });

  /** wait_forward / wait_backward / wait_random: an actor waits on the tail while the fences are signalled in some order. */
  async function waitTest(order: (n: number) => number[], size: number) {
    const c = fenceChainsInit(k, size, seqnoInc);
    let result: number | undefined;
    const waiter = c.tail.wait(false).then((r) => (result = r));
    await k.clock.sleep(1); // the waiter sleeps first, as the kthread does
    expect(result).toBeUndefined();
    for (const i of order(size)) {
      expect(result).toBeUndefined();
      c.fences[i]!.signal();
    }
    await waiter;
    expect(result).toBe(0);
    fenceChainsFini(c);
  }

  it("wait_forward: waiting on the tail returns 0 once all fences signal in order", async () => {
    await waitTest((n) => Array.from({ length: n }, (_, i) => i), CHAIN_SZ);
  });

  it("wait_backward: waiting on the tail returns 0 once all fences signal in reverse order", async () => {
    // O(n^2) callback re-arming, as in Linux (IGT skips it on slow machines): 1.6 s at CHAIN_SZ, so a quarter of it here.
    await waitTest((n) => Array.from({ length: n }, (_, i) => n - 1 - i), CHAIN_SZ / 4);
  });

  it("wait_random: waiting on the tail returns 0 for any (Fisher-Yates shuffled) signalling order", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), async (seed) => {
        const rnd = prng(seed);
        const shuffle = (n: number) => {
          const a = Array.from({ length: n }, (_, i) => i);
          for (let i = n - 1; i > 0; i--) {
            const j = below(rnd, i + 1);
            [a[i], a[j]] = [a[j]!, a[i]!];
          }
          return a;
        };
        await waitTest(shuffle, 256);
      }),
      { numRuns: 20 },
    );
  });
});

describe("dma_fence_chain", () => {
  it("a node reuses prev's context when its seqno is later, else starts a new context with seqno >= prev's", () => {
    const a = dmaFenceChainInit(null, mockFence(k), 5);
    const b = dmaFenceChainInit(a.get(), mockFence(k), 7);
    expect(b.context).toBe(a.context);
    expect(b.prevSeqno).toBe(5);
    const c = dmaFenceChainInit(b.get(), mockFence(k), 3);
    expect(c.context).not.toBe(b.context);
    expect(c.seqno).toBe(7);
    expect(c.prevSeqno).toBe(0);
    expect(c.driverName).toBe("dma_fence_chain");
    expect(c.timelineName).toBe("unbound");
    for (const n of [c, b, a]) n.put();
  });

  it("walking collects signalled links: prev pointers skip them and they are released", () => {
    const ch = fenceChainsInit(k, 4, seqnoInc);
    ch.fences[1]!.signal();
    ch.fences[2]!.signal();
    const r = find(ch.tail, 4);
    expect(r.fence).toBe(ch.tail);
    r.fence!.put();
    const walked = find(ch.tail, 1);
    expect(walked.fence).toBe(ch.chains[0]);
    walked.fence!.put();
    expect(ch.tail.prev).toBe(ch.chains[0]);
    fenceChainsFini(ch);
  });

  it("releasing a 100k-link chain does not overflow the stack (iterative dma_fence_chain_release)", () => {
    let tail: DmaFence | null = null;
    for (let i = 0; i < 100_000; i++) tail = dmaFenceChainInit(tail, mockFence(k), i + 1);
    expect(() => tail!.put()).not.toThrow();
  });
});
