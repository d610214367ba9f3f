import { DmaResv, PAGE_SIZE, SgTable } from "@dmabuf/core";
import type { DmaBuf, DmaBufAttachment } from "@dmabuf/core";
import type { DrmDevice } from "./drm-device.js";
import { SegmentedBytes } from "./internal/segmented-bytes.js";

/**
 * The memory behind a GEM object: its physical runs (what get_sg_table describes) and the CPU's
 * views of the same bytes (the vmap), in the same order. `release` gives the memory back.
 */
export interface GemBacking {
  readonly runs: readonly { readonly phys: number; readonly length: number }[];
  readonly segments: readonly Uint8Array[];
  release(): void;
}

/**
 * struct drm_gem_object (include/drm/drm_gem.h). Refcounted: every handle set together holds one
 * reference (drm_gem_object_handle_get), as do framebuffers, the exported dma-buf and mappings.
 * Memory is obtained on first use (`backing()`), as shmem objects fault their pages in; objects
 * that must be contiguous get it at creation from the driver's allocator.
 */
export class DrmGemObject {
  private refs = 1;
  /** obj->handle_count: handles in all files. */
  handleCount = 0;
  /** obj->dma_buf: the one dma-buf of this object (exported, or the one it was imported from). */
  dmaBuf: DmaBuf | undefined;
  /** obj->import_attach: set for objects imported through PRIME. */
  importAttach: DmaBufAttachment | undefined;
  /** The import's sg_table, mapped once at import and kept (drm_gem_prime_import_dev). */
  importSgt: SgTable | undefined;
  /** drm_vma_node: start page of the fake mmap offset, 0 until MAP_DUMB creates it. */
  vmaStart = 0;
  /** Files that hold a handle to the object, by handle count (drm_vma_node_allow/revoke). */
  readonly vmaAllowed = new Map<unknown, number>();
  /** obj->resv: its own, or for an import the dma-buf's (implicit fences shared with the exporter). */
  readonly resv: DmaResv;
  private readonly ownResv: boolean;
  private memory: GemBacking | undefined;
  private view: SegmentedBytes | undefined;

  constructor(
    readonly dev: DrmDevice,
    readonly size: number,
    private readonly allocate: (obj: DrmGemObject) => GemBacking,
    resv?: DmaResv,
  ) {
    this.ownResv = !resv;
    this.resv = resv ?? new DmaResv(dev.kernel);
    dev.objectCount++;
    dev.kernel.objects.register("drm_gem_object", this, () => `${dev.driver.name} size ${size}, ${this.refs} reference(s), ${this.handleCount} handle(s)`, `${dev.driver.name} GEM object`);
  }

  get refcount(): number {
    return this.refs;
  }

  /** drm_gem_object_get() */
  get(): this {
    if (this.refs <= 0) throw new Error(`drm_gem_object_get on freed ${this.dev.driver.name} object`);
    this.refs++;
    return this;
  }

  /** drm_gem_object_put(): the last reference frees the memory (or the import) and the object. */
  put(): void {
    if (this.refs <= 0) throw new Error(`drm_gem_object_put on freed ${this.dev.driver.name} object: refcount underflow`);
    if (--this.refs > 0) return;
    this.dev.removeMmapOffset(this);
    this.memory?.release();
    this.memory = undefined;
    this.view = undefined;
    if (this.ownResv) this.resv.fini();
    this.dev.objectCount--;
    this.dev.kernel.objects.unregister(this);
  }

  get freed(): boolean {
    return this.refs <= 0;
  }

  /** The object's memory, allocated on first use (drm_gem_get_pages / the DMA helper's buffer). */
  backing(): GemBacking {
    if (!this.memory) this.memory = this.allocate(this);
    return this.memory;
  }

  /** Allocates the memory now (objects that must not fail later, like the DMA helper's); returns this. */
  withBacking(): this {
    try {
      this.backing();
    } catch (e) {
      this.put();
      throw e;
    }
    return this;
  }

  /** A CPU view of the whole object (vmap). */
  bytes(): SegmentedBytes {
    return (this.view ??= new SegmentedBytes(this.backing().segments));
  }

  /** get_sg_table: a fresh, unmapped table of the object's physical runs. */
  sgTable(): SgTable {
    return SgTable.fromRuns(this.backing().runs);
  }

  /** drm_vma_node_offset_addr(): the fake offset userspace passes to mmap. */
  get mmapOffset(): number {
    return this.vmaStart * PAGE_SIZE;
  }
}

/** PAGE_ALIGN() */
export const pageAlign = (n: number) => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
