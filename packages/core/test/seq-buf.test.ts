import { Buffer } from "node:buffer";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SeqBuf } from "../src/internal/seq-buf.js";

describe("SeqBuf (the seq_file output buffer bufinfo renders into)", () => {
  it("num() prints as seq_printf %08lu / %08lx: zero-padded to the width, never truncated", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.integer({ min: 0, max: 12 }), fc.constantFrom(10 as const, 16 as const), (n, width, radix) => {
        const text = new TextDecoder().decode(new SeqBuf().num(n, width, radix).bytes());
        expect(text).toBe(n.toString(radix).padStart(width, "0"));
      }),
      { numRuns: 300 },
    );
  });

  it("puts() appends UTF-8 exactly as TextEncoder encodes it (a DMA_BUF_SET_NAME name may be any bytes), across buffer growth", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }), fc.tuple(fc.string({ unit: "grapheme", minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 6000 })).map(([g, n]) => g.repeat(n))), { maxLength: 6 }), (parts) => {
        const s = new SeqBuf();
        for (const p of parts) s.puts(p);
        expect(Buffer.compare(s.bytes(), new TextEncoder().encode(parts.join("")))).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});
