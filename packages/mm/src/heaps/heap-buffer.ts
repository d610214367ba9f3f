import { type DmaBuf, type DmaBufAttachment, type DmaBufOps, type DmaDataDirection, type Kernel, type SgTable, type VmArea } from "@dmabuf/core";
import type { MemoryManager } from "../memory-manager.js";
import { PAGE_SIZE } from "../physical-memory.js";
import { sgTableDup } from "../scatterlist.js";

/** One device's attachment to a heap buffer: its own copy of the table (dup_sg_table). */
interface HeapAttachment {
  readonly dev: DmaBufAttachment["dev"];
  readonly table: SgTable;
  mapped: boolean;
}

/**
 * The part system_heap.c and cma_heap.c share: a buffer described by a CPU-side sg_table whose
 * attachments each map their own copy with the DMA API, CPU access syncing every mapped
 * attachment, and mmap/vmap handing out views of the buffer's own pages.
 */
export class HeapBuffer {
  readonly attachments: HeapAttachment[] = [];

  constructor(
    readonly mm: MemoryManager,
    readonly len: number,
    /** The CPU side: one entry per chunk (system heap) or one for the whole (CMA heap). */
    readonly table: SgTable,
    /** Gives the memory back (__free_pages per chunk, or cma_release). */
    readonly free: () => void,
  ) {}

  /** Views of the buffer from page `pgoff` on, physically adjacent chunks merged into one view. */
  views(pgoff: number, length: number): Uint8Array[] {
    return tableViews(this.mm, this.table, pgoff, length);
  }
}

/** Views of the memory `table` describes from page `pgoff` on, physically adjacent entries merged into one view. */
export function tableViews(mm: MemoryManager, table: SgTable, pgoff: number, length: number): Uint8Array[] {
  const runs: { phys: number; length: number }[] = [];
  let skip = pgoff * PAGE_SIZE;
  let left = length;
  for (const s of table.sgl) {
    if (left <= 0) break;
    if (skip >= s.length) {
      skip -= s.length;
      continue;
    }
    const n = Math.min(s.length - skip, left);
    const last = runs[runs.length - 1];
    if (last && last.phys + last.length === s.phys + skip) last.length += n;
    else runs.push({ phys: s.phys + skip, length: n });
    left -= n;
    skip = 0;
  }
  const out: Uint8Array[] = [];
  for (const r of runs) mm.mem.views(r.phys, r.length, out);
  return out;
}

/** The dma_buf_ops of a heap buffer (system_heap_buf_ops / cma_heap_buf_ops). */
export function heapBufferOps(kernel: Kernel): DmaBufOps {
  const bufOf = (d: DmaBuf) => d.priv as HeapBuffer;
  return {
    attach(dmabuf, attach) {
      const b = bufOf(dmabuf);
      const a: HeapAttachment = { dev: attach.dev, table: sgTableDup(b.table), mapped: false };
      attach.priv = a;
      b.attachments.push(a);
    },
    detach(dmabuf, attach) {
      const b = bufOf(dmabuf);
      b.attachments.splice(b.attachments.indexOf(attach.priv as HeapAttachment), 1);
    },
    mapDmaBuf(attach, dir) {
      const a = attach.priv as HeapAttachment;
      bufOf(attach.dmabuf).mm.dmaMapSgtable(a.dev, a.table, dir);
      a.mapped = true;
      return a.table;
    },
    unmapDmaBuf(attach, sgt, dir) {
      const a = attach.priv as HeapAttachment;
      a.mapped = false;
      bufOf(attach.dmabuf).mm.dmaUnmapSgtable(a.dev, sgt, dir);
    },
    beginCpuAccess(dmabuf, dir: DmaDataDirection) {
      const b = bufOf(dmabuf);
      for (const a of b.attachments) if (a.mapped) b.mm.dmaSyncSgtableForCpu(a.dev, a.table, dir);
    },
    endCpuAccess(dmabuf, dir: DmaDataDirection) {
      const b = bufOf(dmabuf);
      for (const a of b.attachments) if (a.mapped) b.mm.dmaSyncSgtableForDevice(a.dev, a.table, dir);
    },
    mmap(dmabuf, vma: VmArea) {
      vma.segments = bufOf(dmabuf).views(vma.pgoff, vma.length);
    },
    vmap(dmabuf) {
      const b = bufOf(dmabuf);
      return { segments: b.views(0, b.len), isIomem: false };
    },
    release(dmabuf) {
      const b = bufOf(dmabuf);
      b.free();
      kernel.objects.unregister(b);
    },
  };
}
