import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERRNO, Kernel, POLLIN, leakCheck } from "../src/index.js";
import { createFence, fileInfo, syncFenceMerge, timelineCreate, timelineInc } from "./helpers/sync.js";

/*
 * Random programs over sw_sync and sync_file (drivers/dma-buf/sw_sync.c, sync_file.c,
 * dma-fence-unwrap.c) checked step by step against a reference model: which points each sync_file
 * holds (a merge keeps the pending points only, the latest per timeline, ordered by context; nothing
 * pending leaves one signalled stub), and the status each leaf reports.
 */

type Cmd =
  | { op: "timeline" }
  | { op: "fence"; tl: number; value: number }
  | { op: "inc"; tl: number; by: number }
  | { op: "merge"; a: number; b: number }
  | { op: "closeTimeline"; tl: number }
  | { op: "closeFence"; sf: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: fc.constant({ op: "timeline" as const }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("fence" as const), tl: fc.nat(3), value: fc.integer({ min: 0, max: 12 }) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant("inc" as const), tl: fc.nat(3), by: fc.integer({ min: 0, max: 5 }) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant("merge" as const), a: fc.nat(7), b: fc.nat(7) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant("closeTimeline" as const), tl: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("closeFence" as const), sf: fc.nat(7) }), weight: 1 },
);
/** Programs start with a few timelines so that most commands have something to act on. */
const program = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.array(cmd, { minLength: 1, maxLength: 25, size: "max" }))
  .map(([n, rest]) => [...Array.from({ length: n }, (): Cmd => ({ op: "timeline" })), ...rest]);

/** A point on timeline `tl` (index in creation order, so context order), or the signalled stub. */
type Leaf = { tl: number; value: number } | "stub";
interface ModelTimeline {
  fd: number;
  value: number;
  open: boolean;
  /** Points still pending when the timeline was closed: they signalled with -ENOENT. */
  failed: Set<number>;
}

describe("sw_sync + sync_file against a reference model (property)", () => {
  it("every sync_file reports the leaves, statuses and readiness the model predicts, and nothing leaks", async () => {
    const stats = { merges: 0, arrays: 0, errors: 0 };
    await fc.assert(
      fc.asyncProperty(program, async (cmds) => {
        const k = await Kernel.boot();
        const p = k.spawn("model");
        const tls: ModelTimeline[] = [];
        const files: { fd: number; leaves: Leaf[] }[] = [];
        const signalled = (l: Leaf) => l === "stub" || tls[l.tl]!.value >= l.value || tls[l.tl]!.failed.has(l.value);
        const status = (l: Leaf) => (l === "stub" ? 1 : tls[l.tl]!.failed.has(l.value) ? -ERRNO.ENOENT : signalled(l) ? 1 : 0);

        for (const c of cmds) {
          switch (c.op) {
            case "timeline":
              tls.push({ fd: timelineCreate(p), value: 0, open: true, failed: new Set() });
              break;
            case "fence": {
              const tl = tls[c.tl % tls.length];
              if (!tl?.open) break;
              files.push({ fd: await createFence(p, tl.fd, c.value), leaves: [{ tl: c.tl % tls.length, value: c.value }] });
              break;
            }
            case "inc": {
              const tl = tls[c.tl % tls.length];
              if (!tl?.open) break;
              await timelineInc(p, tl.fd, c.by);
              tl.value += c.by;
              break;
            }
            case "merge": {
              const [a, b] = [files[c.a % files.length], files[c.b % files.length]];
              if (!a || !b) break;
              const pending = [...a.leaves, ...b.leaves].filter((l) => !signalled(l)) as { tl: number; value: number }[];
              const latest = new Map<number, number>();
              for (const l of pending) latest.set(l.tl, Math.max(latest.get(l.tl) ?? 0, l.value));
              const leaves: Leaf[] = latest.size === 0 ? ["stub"] : pending.length === 1 ? pending : [...latest].sort((x, y) => x[0] - y[0]).map(([tl, value]) => ({ tl, value }));
              files.push({ fd: await syncFenceMerge(p, a.fd, b.fd), leaves });
              break;
            }
            case "closeTimeline": {
              const tl = tls[c.tl % tls.length];
              if (!tl?.open) break;
              p.close(tl.fd);
              tl.open = false;
              for (const f of files) for (const l of f.leaves) if (l !== "stub" && tls[l.tl] === tl && l.value > tl.value) tl.failed.add(l.value);
              break;
            }
            case "closeFence": {
              const i = c.sf % files.length;
              if (!files[i]) break;
              p.close(files[i]!.fd);
              files.splice(i, 1);
              break;
            }
          }
          for (const f of files) {
            const info = await fileInfo(p, f.fd);
            expect(info.sync_fence_info.map((i) => i.status)).toEqual(f.leaves.map(status));
            expect(info.sync_fence_info.map((i) => i.driver_name)).toEqual(f.leaves.map((l) => (l === "stub" ? "stub" : "sw_sync")));
            const pfd = [{ fd: f.fd, events: POLLIN, revents: 0 }];
            expect(await p.poll(pfd, 0)).toBe(f.leaves.every(signalled) ? 1 : 0);
          }
        }
        stats.merges += cmds.filter((c) => c.op === "merge").length;
        stats.arrays += files.filter((f) => f.leaves.length > 1).length;
        stats.errors += tls.filter((t) => t.failed.size).length;
        p.exit(0);
        expect(leakCheck(k).leaks).toEqual([]);
        k.shutdown();
      }),
      { numRuns: 60, seed: 0x5f5f },
    );
    // The programs reached the interesting states: multi-leaf merges and timelines closed with points pending.
    expect(stats.arrays).toBeGreaterThan(5);
    expect(stats.errors).toBeGreaterThan(5);
  });
});
