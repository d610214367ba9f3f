import { describe, expect, it } from "vitest";
import * as fc from "fast-check";
import { DMA_BIDIRECTIONAL, DMA_TO_DEVICE, Errno, O_CLOEXEC, O_RDWR, SUBSYSTEM, type DriverPlugin, type FileOperations, type Kernel, leaksExpected } from "@dmabuf/core";
import { DRM_CLOEXEC, DRM_RDWR } from "@dmabuf/drm-sim";
import { V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_MMAP } from "@dmabuf/v4l2-sim";
import { FuzzFailure, dmaBufPlugin, drmPlugin, fuzzProperty, newStats, runProgram, syncPlugin, v4l2Plugin, type FuzzPlugin, type Step } from "../fuzz/index.js";

/** A fuzz plugin exposing one device node with the given (deliberately buggy) file operations. */
function device(path: string, fops: FileOperations): FuzzPlugin {
  const kernelPlugin = (): DriverPlugin => ({
    name: `dev${path.replace(/\//g, "-")}`,
    register: (c) => void c.register(SUBSYSTEM, { useValue: { name: path, init: (k: Kernel) => void k.vfs.create(path, fops) } }),
  });
  return { name: path, kernelPlugins: () => [kernelPlugin()], paths: [path] };
}

/** Runs the fuzzer expecting it to find the planted bug; returns the shrunk failure. */
async function findBug(plugin: FuzzPlugin): Promise<FuzzFailure> {
  const details = await fc.check(fuzzProperty({ plugins: [plugin] }), { seed: 1234, numRuns: 300 });
  expect(details.failed).toBe(true);
  expect(details.errorInstance).toBeInstanceOf(FuzzFailure);
  return details.errorInstance as FuzzFailure;
}

describe("model-based fuzzer over core's userspace API", () => {
  it("runs a seeded batch of multi-process programs (open/close/dup/dup2/fcntl/SCM_RIGHTS/procfs/ioctl/mmap/poll/exit) without breaking an invariant", async () => {
    const stats = newStats();
    await fc.assert(fuzzProperty({}, stats), { seed: 0x5eed, numRuns: 300 });
    expect(stats.programs).toBe(300);
    expect(stats.steps).toBeGreaterThan(300 * 10);
  });

  it("runs a seeded batch with dma-buf plugged in (mm's system and CMA heaps, a fixture heap): allocation, fd passing, import/attach/map/unmap/detach by another process, DMA_BUF_IOCTL_SYNC/SET_NAME, mmap, exit with buffers still attached", async () => {
    const stats = newStats();
    await fc.assert(fuzzProperty({ plugins: [dmaBufPlugin] }, stats), { seed: 0xd3ab, numRuns: 100 });
    expect(stats.programs).toBe(100);
    expect(stats.steps).toBeGreaterThan(100 * 10);
  });

  it("runs a seeded batch with sw_sync/sync_file plugged in, predicting every fence's status from the timelines (sw_sync.c, sync_file.c, dma_fence_unwrap_merge)", async () => {
    const stats = newStats();
    await fc.assert(fuzzProperty({ plugins: [syncPlugin] }, stats), { seed: 0x5f1e, numRuns: 200 });
    expect(stats.programs).toBe(200);
    expect(stats.steps).toBeGreaterThan(200 * 10);
  });

  it("runs a seeded batch with V4L2 plugged in (vivid and the JPEG mem2mem nodes): REQBUFS, QUERYBUF, QBUF (MMAP/DMABUF), DQBUF, STREAMON/OFF, EXPBUF, against a vb2 buffer-state model (videobuf2-core.c)", async () => {
    const stats = newStats();
    await fc.assert(fuzzProperty({ plugins: [dmaBufPlugin, v4l2Plugin] }, stats), { seed: 2, numRuns: 60 });
    expect(stats.programs).toBe(60);
    // the streaming sessions reach vb2's completion path: frames and codec results are dequeued, and
    // mmap reads of buffers a device wrote are not mistaken for lost CPU stores
    expect(stats.outcomes.get("VIDIOC_DQBUF")?.get("0")).toBeGreaterThan(0);
    expect(stats.outcomes.get("VIDIOC_DQBUF")?.get("EAGAIN")).toBeGreaterThan(0);
  });

  it("replays the program the fuzzer shrank to when it found VIDIOC_EXPBUF leaking its buffer on EMFILE (vb2_core_expbuf must dma_buf_put it)", async () => {
    const steps: Step[] = [
      ["setrlimit", { p: 0, limit: 0 }],
      ["VIDIOC_REQBUFS", { p: 0, v: 0, count: 1, memory: V4L2_MEMORY_MMAP, type: V4L2_BUF_TYPE_VIDEO_CAPTURE }],
      ["VIDIOC_EXPBUF", { p: 0, v: 0, index: 0, flags: O_RDWR | O_CLOEXEC }],
    ];
    const stats = newStats();
    await runProgram(steps, { plugins: [dmaBufPlugin, v4l2Plugin] }, stats);
    expect(stats.steps).toBe(17); // 2 processes x 6 opens at spawn (3 heaps/importer, 3 video nodes), the 3 calls, 2 exits
  });

  it("replays the 30-minute run's finding: a caching exporter (GEM's PRIME ops) keeps the first map's direction until detach, so another direction is EBUSY (dma_buf_map_attachment); the fuzzer's model had expected success", async () => {
    const map = (dir: number): Step => ["FUZZ_MAP", { p: 0, imp: 0, h: { nth: 0 }, misuse: false, dir }];
    const steps: Step[] = [
      ["DRM_IOCTL_MODE_CREATE_DUMB", { p: 0, c: 0, width: 64, height: 48, overflow: false, bpp: 32 }],
      ["DRM_IOCTL_PRIME_HANDLE_TO_FD", { p: 0, c: 0, h: { nth: 0 }, flags: DRM_CLOEXEC | DRM_RDWR }],
      ["FUZZ_IMPORT", { p: 0, imp: 0, buf: { held: 0 }, bufNth: 0, misuse: false, dev: 0 }],
      map(DMA_TO_DEVICE),
      ["FUZZ_UNMAP", { p: 0, imp: 0, h: { nth: 0 }, misuse: false }],
      map(DMA_BIDIRECTIONAL),
      map(DMA_TO_DEVICE),
    ];
    const stats = newStats();
    await runProgram(steps, { plugins: [dmaBufPlugin, drmPlugin] }, stats);
    expect(Object.fromEntries(stats.outcomes.get("FUZZ_MAP")!)).toEqual({ "0": 2, EBUSY: 1 });
  });

  it("finds a missing fput (refcount above the references held) and shrinks it to a two-call program", async () => {
    leaksExpected(); // this test leaves objects alive on purpose
    // the classic driver bug: an ioctl takes a file reference (get_file) and never drops it
    const bug = await findBug(device("/dev/leaky", { name: "leaky", ioctl: (file) => (file.get(), 0) }));
    expect(bug.reason).toContain("file refcounts equal the references held");
    expect(bug.reason).toMatch(/\/dev\/leaky \(ino \d+\) has 2 references; fds, mappings and the kernel hold 1/);
    expect(bug.program).toBe(
      [
        '  p0 = spawn("p0"); // pid 100',
        '  p1 = spawn("p1"); // pid 101',
        '  [p0] open("/dev/leaky", O_RDWR) = 0',
        "  [p0] ioctl(0, 0x0, NULL) = 0",
      ].join("\n"),
    );
  });

  it("flags an errno that the man page does not document for the call (read(2) never gives ENOSPC)", async () => {
    const bug = await findBug(device("/dev/odd", { name: "odd", read: () => { throw new Errno("ENOSPC", "read", "full"); } }));
    expect(bug.reason).toContain("read failed with ENOSPC, which read(2) does not document for it");
    expect(bug.program).toMatch(/\[p0\] open\("\/dev\/odd", O_RDWR\) = 0\n {2}\[p0\] read\(0, buf, 0\) = -1 ENOSPC \(full\)$/);
  });

  it("flags a kernel object still alive after every process exited, naming the call that made it (leak check)", async () => {
    leaksExpected(); // this test leaves objects alive on purpose
    const plugin = device("/dev/hoard", {
      name: "hoard",
      open: (file, kernel) => kernel.objects.register("hoard-buffer", { file }, () => "a buffer made at open and never freed", "open"),
    });
    const bug = await findBug(plugin);
    expect(bug.reason).toContain("after every process exits nothing is left (leak check)");
    expect(bug.reason).toContain("hoard-buffer: a buffer made at open and never freed (created by p0[100] open at 0.000000s)");
    expect(bug.program).toContain('[p0] open("/dev/hoard", O_RDWR) = 0');
  });

  it("flags a call that throws something other than an errno (a failing call must fail cleanly)", async () => {
    const bug = await findBug(device("/dev/crash", { name: "crash", mmap: () => { throw new TypeError("cannot read properties of undefined"); } }));
    // the kernel contains the crash as an oops (EFAULT, taint D); the fuzzer still reports it
    expect(bug.reason).toContain("mmap oopsed in a driver op (kernel tainted D)");
    expect(bug.program).toMatch(/\[p\d\] mmap\(NULL, 4096, PROT_NONE, MAP_SHARED, \d+, 0\) = -1 EFAULT \(driver crash crashed in its mmap op: TypeError: cannot read properties of undefined \(see dmesg\)\)$/);
  });
});
