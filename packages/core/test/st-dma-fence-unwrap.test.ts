import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DmaFenceArray, Kernel, dmaFenceArrayCreate, dmaFenceChainInit, dmaFenceContextAlloc, dmaFenceDedupArray,
  dmaFenceGetStub, dmaFenceUnwrap, dmaFenceUnwrapMerge, type DmaFence,
} from "../src/index.js";
import { mockFence } from "./helpers/fences.js";

let k: Kernel;
beforeEach(async () => {
  k = await Kernel.boot();
});
afterEach(() => k.shutdown());

/** __mock_fence(ctx, seqno) with signalling enabled, as every unwrap test leaf. */
const leaf = (ctx: number, seqno: number) => {
  const f = mockFence(k, ctx, seqno);
  f.enableSwSignaling();
  return f;
};
/** mock_fence(): a leaf on a new context at seqno 1. */
const fresh = () => leaf(dmaFenceContextAlloc(k, 1), 1);
/** mock_array(): takes the references it is given. */
const array = (...fs: DmaFence[]) => dmaFenceArrayCreate(fs, dmaFenceContextAlloc(k, 1), 1)!;
/** mock_chain(prev, f): chain_init(prev, f, 1), taking both references. */
const chain = (prev: DmaFence | null, f: DmaFence) => dmaFenceChainInit(prev, f, 1);
const leaves = (f: DmaFence) => [...dmaFenceUnwrap(f)];

/** Port of drivers/dma-buf/st-dma-fence-unwrap.c (KUnit suite "dma-buf-fence-unwrap"). */
describe("st-dma-fence-unwrap", () => {
  it("sanitycheck: array(f) inside chain(NULL, array); putting the chain frees everything", () => {
    const f = fresh();
    const a = array(f.get());
    const c = chain(null, a);
    expect(leaves(c)).toEqual([f]);
    f.put();
    c.put();
    expect([f.refcount, a.refcount, c.refcount]).toEqual([0, 0, 0]);
  });

  it("unwrap_array: iterating array(f1, f2) yields exactly f1 and f2", () => {
    const [f1, f2] = [fresh(), fresh()];
    const a = array(f1.get(), f2.get());
    expect(leaves(a)).toEqual([f1, f2]);
    a.put();
    f1.put();
    f2.put();
  });

  it("unwrap_chain: chain(prev=f1, fence=f2) yields exactly {f1, f2} (f2 first)", () => {
    const [f1, f2] = [fresh(), fresh()];
    const c = chain(f1.get(), f2.get());
    expect(leaves(c)).toEqual([f2, f1]);
    c.put();
    f1.put();
    f2.put();
  });

  it("unwrap_chain_array: chain(NULL, array(f1, f2)) yields exactly {f1, f2}", () => {
    const [f1, f2] = [fresh(), fresh()];
    const c = chain(null, array(f1.get(), f2.get()));
    expect(new Set(leaves(c))).toEqual(new Set([f1, f2]));
    expect(leaves(c)).toHaveLength(2);
    c.put();
    f1.put();
    f2.put();
  });

  it("unwrap_merge: merge(f1, f2) of two contexts unwraps to exactly {f1, f2}", () => {
    const [f1, f2] = [fresh(), fresh()];
    const m = dmaFenceUnwrapMerge(f1, f2);
    expect(m).toBeInstanceOf(DmaFenceArray);
    expect(leaves(m)).toEqual([f1, f2]);
    m.put();
    f1.put();
    f2.put();
  });

  it("unwrap_merge_duplicate: merge(f1, f1) is f1, seen once", () => {
    const f1 = fresh();
    const m = dmaFenceUnwrapMerge(f1, f1);
    expect(m).toBe(f1);
    expect(leaves(m)).toEqual([f1]);
    m.put();
    expect(f1.refcount).toBe(1);
    f1.put();
  });

  it("unwrap_merge_seqno: merge((ctx1,1), (ctx1,2), (ctx0,1)) yields f3 then f2 (older point of ctx1 dropped)", () => {
    const ctx0 = dmaFenceContextAlloc(k, 1);
    const ctx1 = dmaFenceContextAlloc(k, 1);
    const [f1, f2, f3] = [leaf(ctx1, 1), leaf(ctx1, 2), leaf(ctx0, 1)];
    const m = dmaFenceUnwrapMerge(f1, f2, f3);
    expect(leaves(m)).toEqual([f3, f2]);
    for (const f of [m, f1, f2, f3]) f.put();
    expect(f1.refcount).toBe(0);
  });

  it("unwrap_merge_order: merge(array(f1, f2), chain(chain(NULL, f1), f2)) yields f1 then f2, once each", () => {
    const [f1, f2] = [fresh(), fresh()];
    const a1 = array(f1.get(), f2.get());
    const c2 = chain(chain(null, f1.get()), f2.get());
    const m = dmaFenceUnwrapMerge(a1, c2);
    expect(leaves(m)).toEqual([f1, f2]);
    for (const f of [m, a1, c2, f1, f2]) f.put();
  });

  it("unwrap_merge_complex: merge(merge(f1, f2), array(f2, f1), stub) yields exactly {f1, f2}", () => {
    const [f1, f2] = [fresh(), fresh()];
    const f3 = dmaFenceUnwrapMerge(f1, f2);
    const f4 = array(f2.get(), f1.get());
    const stub = dmaFenceGetStub(k);
    const f5 = dmaFenceUnwrapMerge(f3, f4, stub);
    expect(leaves(f5)).toEqual([f1, f2]);
    for (const f of [f5, f4, f3, stub, f1, f2]) f.put();
    expect(f1.refcount + f2.refcount).toBe(0);
  });

  it("unwrap_merge_complex_seqno: merge(array((c0,2), (c1,1)), array((c0,1), (c1,2))) yields f1 then f4", () => {
    const ctx0 = dmaFenceContextAlloc(k, 1);
    const ctx1 = dmaFenceContextAlloc(k, 1);
    const [f1, f2, f3, f4] = [leaf(ctx0, 2), leaf(ctx1, 1), leaf(ctx0, 1), leaf(ctx1, 2)];
    const f5 = array(f1.get(), f2.get());
    const f6 = array(f3.get(), f4.get());
    const f7 = dmaFenceUnwrapMerge(f5, f6);
    expect(leaves(f7)).toEqual([f1, f4]);
    for (const f of [f7, f5, f6, f1, f2, f3, f4]) f.put();
  });

  it("test_dedup_empty (proposed 2026-06): dma_fence_dedup_array of nothing is 0", () => {
    expect(dmaFenceDedupArray([])).toBe(0);
  });
});

describe("dma_fence_unwrap_merge", () => {
  it("drops signalled leaves; all signalled gives a private stub with the latest timestamp", () => {
    const [f1, f2] = [fresh(), fresh()];
    k.clock.advance(100);
    f1.signal();
    k.clock.advance(100);
    f2.signal();
    const m = dmaFenceUnwrapMerge(f1, f2);
    expect(m.isSignaled()).toBe(true);
    expect(m.timestampNs).toBe(200);
    expect(m.driverName).toBe("stub");
    const f3 = fresh();
    expect(dmaFenceUnwrapMerge(f1, f3, f2)).toBe(f3);
    for (const f of [m, f1, f2, f3, f3]) f.put();
  });

  it("merging any set of timeline points keeps exactly the latest pending point per context (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.boolean()), { minLength: 1, maxLength: 12 }), (pts) => {
        const base = dmaFenceContextAlloc(k, 4);
        const fences = pts.map(([c, s, done]) => {
          const f = leaf(base + c, s);
          if (done) f.signal();
          return f;
        });
        const m = dmaFenceUnwrapMerge(...fences);
        const got = leaves(m).map((f) => [f.context, f.seqno]);
        const want = new Map<number, number>();
        for (const f of fences) if (!f.signaledFlag) want.set(f.context, Math.max(want.get(f.context) ?? 0, f.seqno));
        if (want.size === 0) expect(m.isSignaled() && m.driverName === "stub").toBe(true);
        else expect(got).toEqual([...want].sort((a, b) => a[0] - b[0]));
        m.put();
        for (const f of fences) f.put();
        expect(fences.every((f) => f.refcount === 0)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
