/**
 * The model-based fuzzer (@dmabuf/tooling/fuzz) with the mm plugin: multi-process programs that
 * allocate from the dma-heaps with good and bad arguments, mmap, pass, close and exit, checked after
 * every step against DMA_HEAP_IOCTL_ALLOC's errno rules and page accounting: every page is either
 * free or held by a live heap buffer, and all of them are free again once every process has exited.
 */
import * as fc from "fast-check";
import { O_CLOEXEC, O_RDONLY, O_RDWR } from "@dmabuf/core";
import { defineCommand, fdChoice, fuzzProperty, newStats, oflags, type Expect, type FuzzPlugin, type FuzzWorld } from "@dmabuf/tooling/fuzz";
import { describe, expect, it } from "vitest";
import mm, { DMA_HEAP_IOCTL_ALLOC, MM, type MemoryManager } from "../src/index.js";
import type { HeapBuffer } from "../src/heaps/heap-buffer.js";

const HEAPS = ["/dev/dma_heap/system", "/dev/dma_heap/linux,cma"];
const LENS = [0, 1, 4096, 65536 + 4096, 3110400, 16 << 20, 300 << 20, 2 ** 31];

/** Successful allocations over the run, to show the success path is exercised. */
let allocated = 0;

const manager = (w: FuzzWorld): MemoryManager => w.kernel.resolve(MM);

/** Pages held by live heap buffers, from the kernel's object registry. */
function heldPages(w: FuzzWorld): number {
  let n = 0;
  for (const r of w.kernel.objects.live()) if (r.kind === "dma-heap buffer") n += (r.obj as HeapBuffer).len / 4096;
  return n;
}

const heapAlloc = defineCommand({
  name: "DMA_HEAP_IOCTL_ALLOC",
  weight: 4,
  args: fc.record({
    p: fc.nat(7),
    fd: fdChoice,
    /** Open a heap first (most of the time) instead of using an fd the process holds. */
    open: fc.oneof({ arbitrary: fc.constantFrom(0, 1), weight: 3 }, { arbitrary: fc.constant(-1), weight: 1 }),
    len: fc.constantFrom(...LENS),
    fdFlags: fc.constantFrom(O_RDWR | O_CLOEXEC, O_RDONLY, O_RDWR, 0x40),
    heapFlags: fc.constantFrom(0, 0, 0, 1),
    fdIn: fc.constantFrom(0, 0, 0, 3),
  }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    let fd = w.fd(p, a.fd);
    if (a.open >= 0) {
      const path = HEAPS[a.open]!;
      const o = await w.call(p, "open", `open("${path}", O_RDWR)`, () => p.proc.open(path, O_RDWR), w.lowestFree(p) === undefined ? ["EMFILE"] : []);
      if (!o) return;
      w.addFd(p, o.value, `open("${path}")`, false);
      fd = o.value;
    }
    const file = p.fds.get(fd)?.file;
    const isHeap = file !== undefined && HEAPS.includes(file.inode.name);
    const badArgs = a.fdIn !== 0 || a.fdFlags === 0x40 || a.heapFlags !== 0 || a.len === 0;
    // ENOMEM is possible for any size once memory is used up, so success is predicted for none.
    const expect: Expect = !file ? ["EBADF"] : !isHeap ? undefined : badArgs ? ["EINVAL"] : w.lowestFree(p) === undefined ? ["EMFILE", "ENOMEM"] : undefined;
    const data = { len: a.len, fd: a.fdIn, fd_flags: a.fdFlags, heap_flags: a.heapFlags };
    const text = `ioctl(${fd}, DMA_HEAP_IOCTL_ALLOC, { len: ${a.len}, fd: ${a.fdIn}, fd_flags: ${oflags(a.fdFlags)}${a.fdFlags === 0x40 ? "|0x40" : ""}, heap_flags: ${a.heapFlags} })`;
    const r = await w.call(p, "ioctl", text, () => p.proc.ioctl(fd, DMA_HEAP_IOCTL_ALLOC, data), expect, () => `0, fd = ${data.fd}`);
    if (r && isHeap) {
      allocated++;
      w.addFd(p, data.fd, text, (a.fdFlags & O_CLOEXEC) !== 0);
    }
  },
});

const mmFuzzPlugin: FuzzPlugin = {
  name: "mm",
  kernelPlugins: () => [mm()],
  paths: [...HEAPS, "/proc/buddyinfo", "/proc/meminfo", "/sys/kernel/debug/cma/linux,cma/bitmap"],
  commands: [heapAlloc],
  errnos: { ioctl: { man: "dma-heap UAPI (drivers/dma-buf/dma-heap.c)", errnos: ["ENOMEM", "EMFILE", "EINTR"] } },
  invariants: [
    {
      name: "every managed page is free or held by a live heap buffer",
      check(w) {
        const m = manager(w);
        if (m.pages.nrFree + heldPages(w) !== m.pages.managedPages)
          w.fail(`page accounting: ${m.pages.nrFree} free + ${heldPages(w)} in heap buffers != ${m.pages.managedPages} managed pages`);
      },
    },
  ],
  final: [
    {
      name: "every page is free again and the free lists are as at boot",
      check(w) {
        const m = manager(w);
        if (m.pages.nrFree !== m.pages.managedPages) w.fail(`${m.pages.managedPages - m.pages.nrFree} pages still allocated after every process exited`);
        if (m.defaultCma!.used !== 0) w.fail(`CMA still has ${m.defaultCma!.used} pages in use`);
      },
    },
  ],
};

describe("fuzzing the dma-heaps with the mm plugin (@dmabuf/tooling/fuzz)", () => {
  it("runs a seeded batch of multi-process programs without breaking an invariant or an errno rule", async () => {
    const stats = newStats();
    await fc.assert(fuzzProperty({ plugins: [mmFuzzPlugin] }, stats), { seed: 0xd4a, numRuns: 150 });
    expect(stats.programs).toBe(150);
    expect(allocated).toBeGreaterThan(50);
  });
});
