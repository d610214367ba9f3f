import {
  _IOC_DIR, _IOC_NR, _IOC_SIZE, _IOWR, Errno, IOC_READ, IOC_WRITE, O_ACCMODE, O_CLOEXEC, check, dmaBufFd, dmaBufPut,
  type DmaBuf, type Kernel,
} from "@dmabuf/core";
import { PAGE_SIZE } from "../physical-memory.js";

/** struct dma_heap_allocation_data (include/uapi/linux/dma-heap.h), 24 bytes. */
export interface DmaHeapAllocationData {
  /** size of the allocation in bytes (__u64) */
  len: number | bigint;
  /** written by the kernel: the new dma-buf fd; must be 0 on input (__u32) */
  fd: number;
  /** O_CLOEXEC and O_ACCMODE bits for the new fd (__u32) */
  fd_flags: number;
  /** heap-specific flags; none are defined (__u64) */
  heap_flags: number | bigint;
}

export const DMA_HEAP_IOC_MAGIC = "H";
export const DMA_HEAP_IOCTL_ALLOC = _IOWR(DMA_HEAP_IOC_MAGIC, 0x0, 24);
export const DMA_HEAP_VALID_FD_FLAGS = O_CLOEXEC | O_ACCMODE;
export const DMA_HEAP_VALID_HEAP_FLAGS = 0n;

/** struct dma_heap_ops */
export interface DmaHeapOps {
  /**
   * @allocate: called from DMA_HEAP_IOCTL_ALLOC with a page-aligned, non-zero `len` and checked
   * flags. Mandatory. Returns an exported dma-buf holding the caller's reference, or throws
   * (ENOMEM when memory runs out, EINTR when a fatal signal is pending), leaving nothing allocated.
   */
  allocate(heap: DmaHeap, len: number, fdFlags: number, heapFlags: bigint): DmaBuf;
}

/** struct dma_heap: a named allocator exposed as /dev/dma_heap/<name>. */
export class DmaHeap {
  constructor(
    readonly name: string,
    readonly ops: DmaHeapOps,
    /** dma_heap_get_drvdata() */
    readonly priv: unknown,
  ) {}
}

/** Field layout of struct dma_heap_allocation_data: [name, offset, size]. */
const FIELDS = [["len", 0, 8], ["fd", 8, 4], ["fd_flags", 12, 4], ["heap_flags", 16, 8]] as const;
const KSIZE = 24;
const MAX_HEAPS = 128;

/** Per-kernel heap registry (the heap_list and the dma_heap minors). */
const registries = new WeakMap<Kernel, Map<string, DmaHeap>>();

/**
 * dma_heap_add(): registers a heap and creates /dev/dma_heap/<name>. EINVAL for an empty name,
 * missing allocate op or a name already taken; EINVAL past the 128 minors (xa_alloc's limit).
 */
export function dmaHeapAdd(kernel: Kernel, name: string, ops: DmaHeapOps, priv?: unknown): DmaHeap {
  check(typeof name === "string" && name !== "", "EINVAL", "dma_heap_add", "missing heap name");
  check(typeof ops?.allocate === "function", "EINVAL", "dma_heap_add", `heap ${name}: missing allocate op`);
  let heaps = registries.get(kernel);
  if (!heaps) registries.set(kernel, (heaps = new Map()));
  check(!heaps.has(name), "EINVAL", "dma_heap_add", `Already registered heap named ${name}`);
  check(heaps.size < MAX_HEAPS, "EINVAL", "dma_heap_add", "Unable to get minor number for heap");
  const heap = new DmaHeap(name, ops, priv);
  kernel.vfs.create(`/dev/dma_heap/${name}`, { name: "dma_heap", ioctl: (file, req, arg) => dmaHeapIoctl(file.privateData as DmaHeap, req, arg) }, heap, `dma_heap/${name}`);
  heaps.set(name, heap);
  return heap;
}

/** Unregisters a heap (module exit); its live buffers stay valid until released. */
export function dmaHeapRemove(kernel: Kernel, heap: DmaHeap): void {
  registries.get(kernel)?.delete(heap.name);
  kernel.vfs.remove(`/dev/dma_heap/${heap.name}`);
}

/**
 * dma_heap_ioctl() (drivers/dma-buf/dma-heap.c): the command is picked by _IOC_NR alone (>= 1:
 * EINVAL); the user struct may be smaller (older) or larger (newer) than the kernel's: the kernel
 * reads min(sizes) bytes, zero-fills the rest, ignores extra input, and copies back the user's size.
 */
function dmaHeapIoctl(heap: DmaHeap, ucmd: number, arg: unknown): number {
  const call = "DMA_HEAP_IOCTL_ALLOC";
  // Hot path: plain ifs, so that no message is built unless the call fails.
  if (_IOC_NR(ucmd) >= 1) throw new Errno("EINVAL", "dma_heap_ioctl", `command nr ${_IOC_NR(ucmd)} is not DMA_HEAP_IOCTL_ALLOC (the only one)`);
  const kdir = _IOC_DIR(DMA_HEAP_IOCTL_ALLOC);
  const udir = _IOC_DIR(ucmd);
  const usize = _IOC_SIZE(ucmd);
  const inSize = udir & kdir & IOC_WRITE ? usize : 0;
  const outSize = udir & kdir & IOC_READ ? usize : 0;
  const user = arg as Record<string, unknown> | null | undefined;
  if ((inSize || outSize) && (user === null || typeof user !== "object")) throw new Errno("EFAULT", call, "arg is not a struct dma_heap_allocation_data");
  // copy_from_user of in_size bytes, zero-extended to the kernel's struct
  const field = (i: number) => (FIELDS[i]![1] + FIELDS[i]![2] <= Math.min(inSize, KSIZE) ? user![FIELDS[i]![0]] : 0);
  const fd = u32(field(1), call, "fd");
  const fdFlags = u32(field(2), call, "fd_flags");
  const heapFlags = u64(field(3), call, "heap_flags");
  if (fd !== 0) throw new Errno("EINVAL", call, `fd must be 0 on input (is ${fd})`);
  if (fdFlags & ~DMA_HEAP_VALID_FD_FLAGS) throw new Errno("EINVAL", call, `fd_flags 0x${fdFlags.toString(16)} has bits other than O_CLOEXEC|O_ACCMODE`);
  if (heapFlags & ~DMA_HEAP_VALID_HEAP_FLAGS) throw new Errno("EINVAL", call, `heap_flags 0x${heapFlags.toString(16)}: no heap flags are defined`);
  const len = pageAlign(field(0), call);
  const buf = heap.ops.allocate(heap, len, fdFlags, heapFlags);
  let newFd: number;
  try {
    newFd = dmaBufFd(buf, fdFlags);
  } catch (e) {
    dmaBufPut(buf);
    throw e;
  }
  // copy_to_user of out_size bytes: only fields inside it reach the user struct
  if (8 + 4 <= Math.min(outSize, KSIZE)) (user as { fd: number }).fd = newFd;
  return 0;
}

/** A __u64 field: numbers stay numbers on the common path; bigints are taken modulo 2^64. */
function u64(v: unknown, call: string, field: string): bigint {
  if (v === undefined || v === 0) return 0n;
  if (typeof v === "bigint") return BigInt.asUintN(64, v);
  if (typeof v === "number" && Number.isInteger(v)) return BigInt.asUintN(64, BigInt(v));
  throw new Errno("EFAULT", call, `${field} is not an integer`);
}

/** A __u32 field. */
function u32(v: unknown, call: string, field: string): number {
  if (typeof v === "number" && v >>> 0 === v) return v;
  return Number(BigInt.asUintN(32, u64(v, call, field)));
}

/**
 * dma_heap_buffer_alloc()'s PAGE_ALIGN(len): the largest lengths wrap to 0, which is EINVAL, as is
 * 0 itself; what is left but beyond any heap is ENOMEM.
 */
function pageAlign(v: unknown, call: string): number {
  if (typeof v === "number" && Number.isSafeInteger(v) && v > 0) return Math.ceil(v / PAGE_SIZE) * PAGE_SIZE;
  const len = (u64(v, call, "len") + BigInt(PAGE_SIZE - 1)) & ~BigInt(PAGE_SIZE - 1) & 0xffff_ffff_ffff_ffffn;
  if (len === 0n) throw new Errno("EINVAL", call, `len ${String(v)} page-aligns to 0`);
  if (len > BigInt(Number.MAX_SAFE_INTEGER)) throw new Errno("ENOMEM", call, `len ${len} exceeds any heap`);
  return Number(len);
}
