import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MinHeap } from "../src/internal/min-heap.js";

describe("MinHeap (the virtual clock's timer queue, ordered like hrtimers: by expiry, then by arming order)", () => {
  it("pops in (at, seq) order under any interleaving of pushes and pops (property)", () => {
    type T = { at: number; seq: number };
    fc.assert(
      fc.property(fc.array(fc.option(fc.nat(20), { nil: undefined }), { maxLength: 300 }), (ops) => {
        const heap = new MinHeap<T>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
        const model: T[] = [];
        let seq = 0;
        for (const at of ops) {
          if (at !== undefined) {
            const t = { at, seq: seq++ };
            heap.push(t);
            model.push(t);
            model.sort((a, b) => a.at - b.at || a.seq - b.seq);
          } else expect(heap.pop()).toBe(model.shift());
          expect(heap.size).toBe(model.length);
          expect(heap.peek()).toBe(model[0]);
        }
      }),
      { numRuns: 200 },
    );
  });
});
