import { atLeast, copyBaseline, defineSuite, sabBaseline } from "@dmabuf/tooling/bench";
import { DEFAULT_BOARD, Kernel, MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, type Process } from "@dmabuf/core";
import mm, { DMA_HEAP_IOCTL_ALLOC } from "../src/index.js";

const NV12_1080P = (1920 * 1080 * 3) / 2;

async function heap(name: string, tracing = false) {
  const kernel = await Kernel.boot({ board: DEFAULT_BOARD, plugins: [mm()] });
  kernel.trace.on = tracing; // off: measure the allocator, not the trace ring (one case measures both)
  const p: Process = kernel.spawn("bench");
  return { kernel, p, heapFd: p.open(`/dev/dma_heap/${name}`, O_RDWR) };
}
type Heap = Awaited<ReturnType<typeof heap>>;

/** DMA_HEAP_IOCTL_ALLOC of a 1080p NV12 buffer, then close(): the buffer is freed again. */
async function allocClose({ p, heapFd }: Heap) {
  const data = { len: NV12_1080P, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
  await p.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, data);
  p.close(data.fd);
}

/** The same, with the buffer mapped writable each time: its pages must be zeroed at the next alloc. */
async function allocTouchClose({ p, heapFd }: Heap) {
  const data = { len: NV12_1080P, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
  await p.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, data);
  p.munmap(p.mmap(null, NV12_1080P, PROT_READ | PROT_WRITE, MAP_SHARED, data.fd, 0));
  p.close(data.fd);
}

const teardown = ({ kernel }: Heap) => kernel.shutdown();
const SAB = "new SharedArrayBuffer(1080p NV12)";
const SYS = "system heap: DMA_HEAP_IOCTL_ALLOC 1080p NV12 + close";
const SYS_TRACED = "system heap: DMA_HEAP_IOCTL_ALLOC 1080p NV12 + close, tracing on (~50 events)";
const SYS_DIRTY = "system heap: alloc 1080p + mmap + close (pages zeroed at every alloc)";
const CMA = "CMA heap: DMA_HEAP_IOCTL_ALLOC 1080p NV12 + close";

export default defineSuite({
  name: "mm-heap",
  cases: {
    "memcpy 1080p NV12 (Uint8Array.set)": copyBaseline(NV12_1080P),
    [SAB]: sabBaseline(NV12_1080P),
    [SYS]: { setup: () => heap("system"), fn: allocClose, teardown },
    [SYS_TRACED]: { setup: () => heap("system", true), fn: allocClose, teardown },
    [SYS_DIRTY]: { setup: () => heap("system"), fn: allocTouchClose, teardown },
    [CMA]: { setup: () => heap("linux,cma"), fn: allocClose, teardown },
  },
  goals: [
    atLeast("system-heap 1080p allocation is cheaper than new SharedArrayBuffer by", (m) => m[SAB] / m[SYS], 10, "x"),
    atLeast("CMA-heap 1080p allocation is cheaper than new SharedArrayBuffer by", (m) => m[SAB] / m[CMA], 10, "x"),
  ],
});
