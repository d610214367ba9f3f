import { DMA_BIDIRECTIONAL, dmaBufAttach, dmaBufBeginCpuAccess, dmaBufEndCpuAccess, dmaBufDetach, dmaBufMapAttachment, dmaBufPut, dmaBufUnmapAttachment, dmaBufVmap, dmaBufVunmap, isErrno, type DmaBufAttachment, type IosysMap, type SgTable } from "@dmabuf/core";
import fc from "fast-check";
import { expect, test } from "vitest";
import { MIGRATION_COPY, deferredBufferExport, deferredBufferOf, deviceConstraints } from "../src/index.js";
import { SMALL_BOARD, bootMm, freeState, pattern, readAll, sameBytes } from "./support/boot.js";

const DEVICES = ["cam0", "enc0", "disp0", "nc0", "ncmmu0"] as const;
type Cmd = { op: "attach"; dev: number } | { op: "detach" | "map" | "unmap"; i: number } | { op: "vmap" | "vunmap" };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ op: fc.constant("attach" as const), dev: fc.nat(DEVICES.length - 1) }),
  fc.record({ op: fc.constantFrom("detach" as const, "map" as const, "unmap" as const), i: fc.nat(5) }),
  fc.record({ op: fc.constantFrom("vmap" as const, "vunmap" as const) }),
);

// Invariants of the seed's deferred-allocation flow under any call sequence: the backing always
// satisfies every attached device; a refused call (EBUSY/ENOMEM/EINVAL) changes nothing; a move
// keeps the bytes; and releasing the buffer gives every page back.
test("any attach/detach/map/unmap/vmap sequence: backing suits every attached device, failures change nothing, bytes survive moves, nothing leaks", async () => {
  const { m } = await bootMm(SMALL_BOARD);
  // A lone free page on the buddy list, so system-pages backings are physically scattered.
  const first = m.pages.allocPages(0);
  m.pages.allocPages(0);
  m.pages.freePages(first, 0);
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(65536, (1 << 20) + 4096), fc.array(cmd, { maxLength: 24 }), async (size, cmds) => {
      const initial = freeState(m);
      const buf = deferredBufferExport(m, { size });
      const b = deferredBufferOf(buf)!;
      const attaches: DmaBufAttachment[] = [];
      const maps: [DmaBufAttachment, SgTable][] = [];
      const vmaps: IosysMap[] = [];
      const content = pattern(buf.size, size & 0xff);
      let filled = false;
      // CPU access under begin/end_cpu_access, as DMA_BUF_IOCTL_SYNC brackets it (nc0 is not coherent).
      const read = async () => {
        await dmaBufBeginCpuAccess(buf, DMA_BIDIRECTIONAL);
        const out = readAll(buf);
        await dmaBufEndCpuAccess(buf, DMA_BIDIRECTIONAL);
        return out;
      };
      for (const c of cmds) {
        const before = { backing: b.backing?.label, n: buf.attachments.length, free: freeState(m) };
        try {
          if (c.op === "attach") attaches.push(dmaBufAttach(buf, m.device(DEVICES[c.dev]!)));
          else if (c.op === "vmap") vmaps.push(dmaBufVmap(buf));
          else if (c.op === "vunmap") {
            if (vmaps.length) dmaBufVunmap(buf, vmaps.pop()!);
          } else if (c.op === "map") {
            const a = attaches[c.i % Math.max(1, attaches.length)];
            if (a) maps.push([a, dmaBufMapAttachment(a, DMA_BIDIRECTIONAL)]);
          } else if (c.op === "unmap") {
            const [mp] = maps.splice(c.i % Math.max(1, maps.length), 1);
            if (mp) dmaBufUnmapAttachment(mp[0], mp[1], DMA_BIDIRECTIONAL);
          } else if (c.op === "detach") {
            const a = attaches[c.i % Math.max(1, attaches.length)];
            if (a && !maps.some(([x]) => x === a)) {
              dmaBufDetach(buf, a);
              attaches.splice(attaches.indexOf(a), 1);
            }
          }
        } catch (e) {
          if (!isErrno(e) || !["EBUSY", "ENOMEM", "EINVAL"].includes(e.code)) throw e;
          expect({ backing: b.backing?.label, n: buf.attachments.length, free: freeState(m) }).toEqual(before);
        }
        if (b.backing) {
          for (const a of buf.attachments) expect(m.placement.unmet(b.backing, deviceConstraints(a.dev))).toBeUndefined();
          if (!filled && !vmaps.length) {
            await dmaBufBeginCpuAccess(buf, DMA_BIDIRECTIONAL);
            const map = dmaBufVmap(buf);
            let off = 0;
            for (const s of map.segments) {
              s.set(content.subarray(off, off + s.length));
              off += s.length;
            }
            dmaBufVunmap(buf, map);
            await dmaBufEndCpuAccess(buf, DMA_BIDIRECTIONAL);
            filled = true;
          }
          if (filled) expect(sameBytes(await read(), content)).toBe(true);
        }
      }
      for (const [a, sgt] of maps) dmaBufUnmapAttachment(a, sgt, DMA_BIDIRECTIONAL);
      for (const v of vmaps) dmaBufVunmap(buf, v);
      for (const a of attaches) dmaBufDetach(buf, a);
      dmaBufPut(buf);
      expect(freeState(m)).toBe(initial);
    }),
    {
      numRuns: 150,
      // Run first: placed on scattered pages, kept for enc0, EBUSY for disp0 while cam0 maps, then migrated.
      examples: [
        [
          (1 << 20) + 4096,
          [
            { op: "attach", dev: 0 },
            { op: "map", i: 0 },
            { op: "unmap", i: 0 },
            { op: "attach", dev: 1 },
            { op: "map", i: 0 },
            { op: "attach", dev: 2 },
            { op: "unmap", i: 0 },
            { op: "attach", dev: 2 },
          ],
        ],
      ],
    },
  );
  // The sequences did exercise moves and refusals, not just first placements.
  const outcomes = new Set(m.placement.records.map((r) => r.outcome + (r.errno ?? "")));
  expect(m.copies.of(MIGRATION_COPY).count).toBeGreaterThan(0);
  expect([...outcomes]).toEqual(expect.arrayContaining(["placed", "kept", "migrated", "failedEBUSY"]));
});
