/**
 * A small exporter for the dma-buf tests, written only against @dmabuf/core's public API (no mm):
 * pages come from a SharedArrayBuffer it owns, buffers are lists of page frames (scattered once
 * pages have been freed and reused), and /dev/test_heap hands them to userspace the way a dma-heap
 * does. A second ioctl imports an fd the way a driver does (dma_buf_get in the caller's context).
 */
import {
  _IOWR, Errno, Kernel, O_ACCMODE, O_CLOEXEC, O_RDWR, PAGE_SIZE, SgTable, check,
  dmaBufExport, dmaBufFd, dmaBufGet, dmaBufPut, type Device, type DmaBuf, type DmaBufAttachment, type DmaBufOps,
  type DmaDataDirection, type IosysMap, type Process,
} from "../../src/index.js";

/** The test heap's ALLOC ioctl: struct { len, fd, fd_flags } as DMA_HEAP_IOCTL_ALLOC. */
export const TEST_HEAP_ALLOC = _IOWR("H", 0, 24);
/** Imports { fd } and writes back { handle } as a driver's import ioctl (e.g. PRIME_FD_TO_HANDLE). */
export const TEST_HEAP_IMPORT = _IOWR("H", 1, 8);

export interface ExporterOptions {
  /** Pool size in pages. */
  pages?: number;
  /** Implement pin/unpin (a dynamic exporter). */
  dynamic?: boolean;
  /** Set cacheSgtMapping. */
  cacheSgt?: boolean;
  /** Back buffers only at first map/mmap/vmap (deferred allocation). */
  deferred?: boolean;
  /** Device names whose attach is refused with EBUSY. */
  refuse?: string[];
  mmap?: boolean;
  vmap?: boolean;
  expName?: string;
}

/** The exporter's private object for one buffer (dmabuf.priv). */
export interface TestBuffer {
  readonly size: number;
  /** Page frame numbers, or undefined until backed. */
  pfns: number[] | undefined;
}

export class PageExporter {
  readonly memory: SharedArrayBuffer;
  private readonly free: number[];
  /** Every op call, as "op:device:dir" strings, in order. */
  readonly calls: string[] = [];
  /** How many times release ran, per buffer inode. */
  readonly released = new Map<number, number>();
  /** Imported buffers by handle: the driver references the test holds. */
  readonly imports = new Map<number, DmaBuf>();
  /** Makes the next mapDmaBuf fail with this result (an Errno, or null for "no table"). */
  failNextMap: Errno | null | undefined;
  readonly ops: DmaBufOps;
  private nextHandle = 1;

  constructor(
    readonly kernel: Kernel,
    readonly opts: ExporterOptions = {},
  ) {
    const pages = opts.pages ?? 1024;
    this.memory = new SharedArrayBuffer(pages * PAGE_SIZE);
    this.free = Array.from({ length: pages }, (_, i) => pages - 1 - i);
    this.ops = this.buildOps();
    kernel.vfs.create("/dev/test_heap", {
      name: "test_heap",
      ioctl: (_file, req, arg) => {
        if (req === TEST_HEAP_ALLOC) {
          const a = arg as { len: number; fd: number; fd_flags: number };
          check((a.fd_flags & ~(O_ACCMODE | O_CLOEXEC)) === 0, "EINVAL", "TEST_HEAP_ALLOC", "bad fd_flags");
          const buf = this.export(a.len, a.fd_flags);
          try {
            a.fd = dmaBufFd(buf, a.fd_flags);
          } catch (e) {
            dmaBufPut(buf); // dma_buf_fd failed: the export reference is still ours
            throw e;
          }
          return 0;
        }
        if (req === TEST_HEAP_IMPORT) {
          const a = arg as { fd: number; handle: number };
          const buf = dmaBufGet(kernel, a.fd);
          a.handle = this.nextHandle++;
          this.imports.set(a.handle, buf);
          return 0;
        }
        throw new Errno("ENOTTY", "ioctl", "unknown test_heap ioctl");
      },
    });
  }

  static async boot(opts: ExporterOptions = {}): Promise<{ k: Kernel; exp: PageExporter; dev: (name: string) => Device }> {
    const k = await Kernel.boot({
      board: {
        memory: { size: "16M" },
        devices: [
          { name: "cam0", compatible: "test,cam" },
          { name: "enc0", compatible: "test,enc" },
          { name: "disp0", compatible: "test,disp" },
        ],
      },
    });
    const exp = new PageExporter(k, opts);
    return { k, exp, dev: (name) => k.devices.find((d) => d.name === name)! };
  }

  /** dma_buf_export() of a new buffer, with the export reference held by the caller. */
  export(size: number, flags = O_RDWR): DmaBuf {
    check(size > 0 && size % PAGE_SIZE === 0, "EINVAL", "test export", `size ${size} is not a positive page multiple`);
    const priv: TestBuffer = { size, pfns: undefined };
    if (!this.opts.deferred) this.back(priv);
    try {
      return dmaBufExport(this.kernel, { expName: this.opts.expName ?? "test_heap", ops: this.ops, size, flags, priv });
    } catch (e) {
      this.unback(priv);
      throw e;
    }
  }

  /** Allocates a buffer in process `p` through /dev/test_heap; returns the fd. */
  async alloc(p: Process, len: number, fdFlags = O_RDWR | O_CLOEXEC): Promise<number> {
    const heap = p.open("/dev/test_heap");
    try {
      const arg = { len, fd: 0, fd_flags: fdFlags };
      await p.ioctl(heap, TEST_HEAP_ALLOC, arg);
      return arg.fd;
    } finally {
      p.close(heap);
    }
  }

  /** Imports fd `fd` of process `p` as a driver would; the returned buffer carries a new reference. */
  async import(p: Process, fd: number): Promise<DmaBuf> {
    const heap = p.open("/dev/test_heap");
    try {
      const arg = { fd, handle: 0 };
      await p.ioctl(heap, TEST_HEAP_IMPORT, arg);
      return this.imports.get(arg.handle)!;
    } finally {
      p.close(heap);
    }
  }

  get freePages(): number {
    return this.free.length;
  }

  /** The bytes of a buffer, page by page, as the exporter sees them (no copy). */
  pageView(buf: DmaBuf, page: number): Uint8Array {
    const pfn = (buf.priv as TestBuffer).pfns![page]!;
    return new Uint8Array(this.memory, pfn * PAGE_SIZE, PAGE_SIZE);
  }

  private back(priv: TestBuffer): void {
    if (priv.pfns) return;
    const n = priv.size / PAGE_SIZE;
    check(this.free.length >= n, "ENOMEM", "test_heap", `${n} pages wanted, ${this.free.length} free`);
    priv.pfns = this.free.splice(this.free.length - n, n).reverse();
    for (const pfn of priv.pfns) new Uint8Array(this.memory, pfn * PAGE_SIZE, PAGE_SIZE).fill(0);
  }

  private unback(priv: TestBuffer): void {
    if (priv.pfns) this.free.push(...priv.pfns.reverse());
    priv.pfns = undefined;
  }

  /** Physically contiguous runs of a buffer's pages. */
  private runs(priv: TestBuffer): { phys: number; length: number }[] {
    const runs: { phys: number; length: number }[] = [];
    for (const pfn of priv.pfns!) {
      const last = runs[runs.length - 1];
      if (last && last.phys + last.length === pfn * PAGE_SIZE) last.length += PAGE_SIZE;
      else runs.push({ phys: pfn * PAGE_SIZE, length: PAGE_SIZE });
    }
    return runs;
  }

  private segments(priv: TestBuffer, firstPage: number, pages: number): Uint8Array[] {
    return priv.pfns!.slice(firstPage, firstPage + pages).map((pfn) => new Uint8Array(this.memory, pfn * PAGE_SIZE, PAGE_SIZE));
  }

  private log(op: string, who: DmaBufAttachment | DmaBuf, dir?: DmaDataDirection): void {
    const name = "dev" in who ? `:${who.dev.name}` : `:ino${who.ino}`;
    this.calls.push(op + name + (dir === undefined ? "" : `:${dir}`));
  }

  private buildOps(): DmaBufOps {
    const o = this.opts;
    const ops: DmaBufOps = {
      cacheSgtMapping: o.cacheSgt ?? false,
      attach: (_buf, a) => {
        if (o.refuse?.includes(a.dev.name)) throw new Errno("EBUSY", "test_heap attach", `${a.dev.name} cannot reach this memory`);
        this.log("attach", a);
        a.priv = { exporter: "test" };
      },
      detach: (_buf, a) => this.log("detach", a),
      mapDmaBuf: (a, dir) => {
        this.log("map", a, dir);
        if (this.failNextMap !== undefined) {
          const f = this.failNextMap;
          this.failNextMap = undefined;
          if (f === null) return null;
          throw f;
        }
        const priv = a.dmabuf.priv as TestBuffer;
        this.back(priv); // just-in-time backing: every attached device is known now
        const sgt = SgTable.fromRuns(this.runs(priv));
        // identity "IOMMU": the device sees physical addresses
        for (const s of sgt.sgl) {
          s.dmaAddress = s.phys;
          s.dmaLength = s.length;
        }
        sgt.nents = sgt.sgl.length;
        return sgt;
      },
      unmapDmaBuf: (a, sgt, dir) => {
        this.log("unmap", a, dir);
        sgt.nents = 0;
      },
      release: (buf) => {
        this.log("release", buf);
        this.released.set(buf.ino, (this.released.get(buf.ino) ?? 0) + 1);
        this.unback(buf.priv as TestBuffer);
      },
      beginCpuAccess: (buf, dir) => this.log("begin_cpu", buf, dir),
      endCpuAccess: (buf, dir) => this.log("end_cpu", buf, dir),
    };
    if (o.dynamic) {
      ops.pin = (a) => this.log("pin", a);
      ops.unpin = (a) => this.log("unpin", a);
    }
    if (o.mmap ?? true)
      ops.mmap = (buf, vma) => {
        const priv = buf.priv as TestBuffer;
        this.back(priv);
        vma.segments = this.segments(priv, vma.pgoff, vma.length / PAGE_SIZE);
        this.log("mmap", buf);
      };
    if (o.vmap ?? true) {
      ops.vmap = (buf): IosysMap => {
        const priv = buf.priv as TestBuffer;
        this.back(priv);
        this.log("vmap", buf);
        return { segments: this.segments(priv, 0, priv.size / PAGE_SIZE), isIomem: false };
      };
      ops.vunmap = (buf) => this.log("vunmap", buf);
    }
    return ops;
  }
}
