import {
  _IOW, _IOWR, Errno, O_ACCMODE, O_CLOEXEC, PAGE_SIZE, SUBSYSTEM, SgTable, check, dmaBufAttach, dmaBufDetach,
  dmaBufExport, dmaBufFd, dmaBufGet, dmaBufMapAttachment, dmaBufPut, dmaBufUnmapAttachment, isValidDmaDirection,
  type DmaBuf, type DmaBufAttachment, type DmaBufOps, type DmaDataDirection, type DriverPlugin, type Kernel,
} from "@dmabuf/core";

/**
 * Fuzz fixtures for dma-buf, written on @dmabuf/core's public API only (until mm's dma-heaps land):
 *
 * - /dev/fuzz_heap: an exporter with DMA_HEAP_IOCTL_ALLOC's number, struct and checks
 *   (drivers/dma-buf/dma-heap.c dma_heap_ioctl_allocate), backed by a private page pool;
 * - /dev/fuzz_importer: a driver that imports dma-buf fds the way DRM PRIME or V4L2 DMABUF queues do
 *   (dma_buf_get, attach to a board device, map/unmap for DMA, detach, put), each import named by a
 *   handle; closing the file drops every import, as a driver's release does.
 */

/** struct dma_heap_allocation_data { __u64 len; __u32 fd; __u32 fd_flags; __u64 heap_flags; } */
export interface HeapAllocationData {
  len: number;
  fd: number;
  fd_flags: number;
  heap_flags: number;
}
export const DMA_HEAP_IOCTL_ALLOC = _IOWR("H", 0x0, 24);
const DMA_HEAP_VALID_FD_FLAGS = O_CLOEXEC | O_ACCMODE;

/** Importer ioctls: { fd, dev, handle } -> handle; { handle, dir }; { handle }. */
export const FUZZ_IMPORT = _IOWR("F", 0, 12);
export const FUZZ_MAP = _IOW("F", 1, 8);
export const FUZZ_UNMAP = _IOW("F", 2, 4);
export const FUZZ_DETACH = _IOW("F", 3, 4);
export interface ImportData {
  fd: number;
  dev: number;
  handle: number;
}

export const POOL_PAGES = 512;

/** The exporter: a page pool and the buffers carved from it. */
export class FuzzHeap {
  readonly memory = new SharedArrayBuffer(POOL_PAGES * PAGE_SIZE);
  readonly free: number[] = Array.from({ length: POOL_PAGES }, (_, i) => POOL_PAGES - 1 - i);
  /** release() calls per buffer inode: each must be exactly 1 once the buffer is gone. */
  readonly releases = new Map<number, number>();
  readonly ops: DmaBufOps = {
    mapDmaBuf: (a) => {
      const sgt = SgTable.fromRuns((a.dmabuf.priv as number[]).map((pfn) => ({ phys: pfn * PAGE_SIZE, length: PAGE_SIZE })));
      for (const s of sgt.sgl) [s.dmaAddress, s.dmaLength] = [s.phys, s.length];
      sgt.nents = sgt.sgl.length;
      return sgt;
    },
    unmapDmaBuf: (_a, sgt) => void (sgt.nents = 0),
    release: (buf) => {
      this.releases.set(buf.ino, (this.releases.get(buf.ino) ?? 0) + 1);
      this.free.push(...(buf.priv as number[]));
    },
    mmap: (buf, vma) => {
      const pfns = (buf.priv as number[]).slice(vma.pgoff, vma.pgoff + vma.length / PAGE_SIZE);
      vma.segments = pfns.map((pfn) => new Uint8Array(this.memory, pfn * PAGE_SIZE, PAGE_SIZE));
    },
  };

  constructor(readonly kernel: Kernel) {}

  /** dma_heap_ioctl_allocate() + dma_heap_buffer_alloc() */
  alloc(a: HeapAllocationData): number {
    const call = "DMA_HEAP_IOCTL_ALLOC";
    check(a && typeof a === "object" && Number.isInteger(a.len), "EFAULT", call, "argument is not a struct dma_heap_allocation_data");
    check(a.fd === 0, "EINVAL", call, "fd must be 0 on input");
    check((a.fd_flags & ~DMA_HEAP_VALID_FD_FLAGS) === 0, "EINVAL", call, `fd_flags 0x${a.fd_flags.toString(16)} has bits outside O_ACCMODE|O_CLOEXEC`);
    check(a.heap_flags === 0, "EINVAL", call, `heap_flags 0x${a.heap_flags.toString(16)}: no heap flags are defined`);
    const len = Math.ceil(a.len / PAGE_SIZE) * PAGE_SIZE;
    check(len > 0, "EINVAL", call, "len is 0 once page aligned");
    const n = len / PAGE_SIZE;
    check(this.free.length >= n, "ENOMEM", call, `${n} pages wanted, ${this.free.length} free`);
    // dma_buf_fd fails with EMFILE before anything is allocated here: reserve the fd first
    this.kernel.current!.fds.lowestFree(0, call);
    const pfns = this.free.splice(this.free.length - n, n);
    const buf = dmaBufExport(this.kernel, { expName: "fuzz_heap", ops: this.ops, size: len, flags: a.fd_flags & O_ACCMODE, priv: pfns });
    try {
      a.fd = dmaBufFd(buf, a.fd_flags);
    } catch (e) {
      dmaBufPut(buf); // the export reference: release returns the pages
      throw e;
    }
    return 0;
  }
}

/** One import: the buffer reference, the attachment, and the outstanding mappings. */
export interface FuzzImport {
  readonly buf: DmaBuf;
  readonly attach: DmaBufAttachment;
  readonly maps: { sgt: SgTable; dir: DmaDataDirection }[];
}

/** The importer's per-open-file state: its imports by handle. */
export class FuzzImporter {
  readonly imports = new Map<number, FuzzImport>();
  private next = 1;

  constructor(readonly kernel: Kernel) {}

  ioctl(request: number, arg: unknown): number {
    switch (request) {
      case FUZZ_IMPORT: {
        const a = arg as ImportData;
        check(a && typeof a === "object", "EFAULT", "FUZZ_IMPORT", "argument is not a struct");
        const dev = this.kernel.devices[a.dev];
        check(dev, "EINVAL", "FUZZ_IMPORT", `no device ${a.dev}`);
        const buf = dmaBufGet(this.kernel, a.fd);
        let attach: DmaBufAttachment;
        try {
          attach = dmaBufAttach(buf, dev);
        } catch (e) {
          dmaBufPut(buf);
          throw e;
        }
        a.handle = this.next++;
        this.imports.set(a.handle, { buf, attach, maps: [] });
        return 0;
      }
      case FUZZ_MAP: {
        const a = arg as { handle: number; dir: number };
        const imp = this.get(a?.handle, "FUZZ_MAP");
        check(isValidDmaDirection(a.dir), "EINVAL", "FUZZ_MAP", `direction ${a.dir} is not a valid DMA direction`);
        imp.maps.push({ sgt: dmaBufMapAttachment(imp.attach, a.dir), dir: a.dir });
        return 0;
      }
      case FUZZ_UNMAP: {
        const imp = this.get((arg as { handle: number })?.handle, "FUZZ_UNMAP");
        const m = imp.maps[imp.maps.length - 1];
        check(m, "EINVAL", "FUZZ_UNMAP", "nothing mapped through this import");
        dmaBufUnmapAttachment(imp.attach, m.sgt, m.dir);
        imp.maps.pop();
        return 0;
      }
      case FUZZ_DETACH: {
        const handle = (arg as { handle: number })?.handle;
        const imp = this.get(handle, "FUZZ_DETACH");
        // dma_buf_detach fails with EBUSY while mapped: the driver keeps the import then
        dmaBufDetach(imp.buf, imp.attach);
        this.imports.delete(handle);
        dmaBufPut(imp.buf);
        return 0;
      }
      default:
        throw new Errno("ENOTTY", "ioctl", `unknown fuzz_importer ioctl 0x${request.toString(16)}`);
    }
  }

  /** The driver's release: unmap, detach and put every import. */
  release(): void {
    for (const imp of this.imports.values()) {
      for (const m of imp.maps.reverse()) dmaBufUnmapAttachment(imp.attach, m.sgt, m.dir);
      dmaBufDetach(imp.buf, imp.attach);
      dmaBufPut(imp.buf);
    }
    this.imports.clear();
  }

  private get(handle: number, call: string): FuzzImport {
    const imp = this.imports.get(handle);
    if (!imp) throw new Errno("EINVAL", call, `no import with handle ${handle}`);
    return imp;
  }
}

/** Per-kernel fixture state, for the fuzz plugin's invariants. */
export const fixtures = new WeakMap<Kernel, { heap: FuzzHeap; importers: Set<FuzzImporter> }>();

export const dmaBufFixtures = (): DriverPlugin => ({
  name: "fuzz-dma-buf",
  register: (c) =>
    void c.register(SUBSYSTEM, {
      useValue: {
        name: "fuzz-dma-buf",
        init(k: Kernel) {
          const heap = new FuzzHeap(k);
          const importers = new Set<FuzzImporter>();
          fixtures.set(k, { heap, importers });
          k.vfs.create("/dev/fuzz_heap", {
            name: "fuzz_heap",
            ioctl(_f, req, arg) {
              if (req !== DMA_HEAP_IOCTL_ALLOC) throw new Errno("ENOTTY", "ioctl", `unknown dma-heap ioctl 0x${req.toString(16)}`);
              return heap.alloc(arg as HeapAllocationData);
            },
          });
          k.vfs.create("/dev/fuzz_importer", {
            name: "fuzz_importer",
            open(file) {
              const imp = new FuzzImporter(k);
              importers.add(imp);
              file.privateData = imp;
            },
            release(file) {
              const imp = file.privateData as FuzzImporter;
              imp.release();
              importers.delete(imp);
            },
            ioctl: (file, req, arg) => (file.privateData as FuzzImporter).ioctl(req, arg),
          });
        },
        exit(k: Kernel) {
          k.vfs.remove("/dev/fuzz_heap");
          k.vfs.remove("/dev/fuzz_importer");
        },
      },
    }),
});
