import {
  Errno, O_RDWR, dmaBufExport, dmaBufMoveNotify, type Device, type DmaBuf, type DmaBufAttachment, type DmaBufOps,
  type DmaDataDirection, type DmaResv, type SgTable, type VmArea,
} from "@dmabuf/core";
import { deviceConstraints, layoutMismatch, type BufferLayout, type DmaConstraints } from "./constraints.js";
import { tableViews } from "./heaps/heap-buffer.js";
import type { MemoryManager } from "./memory-manager.js";
import { PAGE_SIZE } from "./physical-memory.js";
import { PlacementError, explain, type Backing, type PlacementRecord, type PlacementTrigger, type Rejection } from "./placement.js";
import { sgTableDup } from "./scatterlist.js";

/** What a driver (or the deferred heap) gives {@link deferredBufferExport}. */
export interface DeferredExportInfo {
  /** Bytes; rounded up to whole pages. */
  readonly size: number;
  /** exp_name in bufinfo and traces (default "deferred"). */
  readonly expName?: string;
  /** dma-buf file flags (default O_RDWR). */
  readonly flags?: number;
  /** The picture layout, when the buffer holds one: attaching devices are checked against it. */
  readonly layout?: BufferLayout;
  /**
   * A dynamic exporter (pin/unpin ops): dynamic importers may attach without pinning, are told of
   * moves through move_notify, and may pin. Note that in the 6.x framework a static importer of a
   * dynamic exporter is mapped (and pinned) at attach, so its placement is decided then.
   */
  readonly dynamic?: boolean;
  /** A reservation object to share (e.g. a GEM object's), else the buffer gets its own. */
  readonly resv?: DmaResv;
}

/** The bytes a migration copies are counted under this kind in mm's CopyCounter. */
export const MIGRATION_COPY = "dmabuf_migration";

/**
 * A dma-buf whose backing storage is chosen late: at the first device map (or CPU mapping), knowing
 * every attached device, and moved when a later attach needs other memory and nothing holds the
 * current pages. The exporter side of the seed's "deferred allocation" flow; every decision is
 * explained (see {@link Placement}).
 */
export class DeferredBuffer {
  /** The storage, once placed. */
  backing: Backing | undefined;
  /** Live device mappings (map_dma_buf calls not yet unmapped), each with its own table. */
  readonly live = new Map<SgTable, Device>();
  /** Live CPU mappings (mmap areas and vmap). */
  cpuMaps = 0;
  /** pin() calls not yet unpinned (dynamic exporter only). */
  pins = 0;
  /** This buffer's decisions, oldest first. */
  readonly decisions: PlacementRecord[] = [];
  /** @internal set right after export */
  dmabuf!: DmaBuf;

  constructor(
    readonly mm: MemoryManager,
    readonly size: number,
    readonly layout: BufferLayout | undefined,
    readonly dynamic: boolean,
  ) {}

  /** Constraints of the attached devices (each device once, in attach order), plus `extra`. */
  constraints(extra?: DmaConstraints): DmaConstraints[] {
    const seen = new Set<Device>();
    const out: DmaConstraints[] = [];
    for (let i = this.dmabuf.attachments.length - 1; i >= 0; i--) {
      const a = this.dmabuf.attachments[i]!;
      if (seen.has(a.dev)) continue;
      seen.add(a.dev);
      if (a.dev.name !== extra?.device) out.push(deviceConstraints(a.dev));
    }
    if (extra) out.push(extra);
    return out;
  }

  /** Why the backing cannot move now, or undefined when it can. */
  moveBlocker(): string | undefined {
    const why: string[] = [];
    if (this.pins) why.push(`it is pinned (${this.pins} pin${this.pins > 1 ? "s" : ""})`);
    if (this.live.size) why.push(`it is mapped by ${[...new Set([...this.live.values()].map((d) => d.name))].join(", ")}`);
    if (this.cpuMaps) why.push("the CPU has it mapped (mmap/vmap)");
    return why.length ? why.join(" and ") : undefined;
  }

  /** Logs a decision for this buffer. */
  log(r: { trigger: PlacementTrigger; devices: DmaConstraints[]; outcome: PlacementRecord["outcome"]; rejected: Rejection[]; newcomer?: string; from?: string; errno?: PlacementRecord["errno"]; copied?: number }): PlacementRecord {
    const rec = this.mm.placement.log(Object.assign(r, { ino: this.dmabuf.ino, expName: this.dmabuf.expName, size: this.size, backing: this.backing?.label }));
    this.decisions.push(rec);
    return rec;
  }

  /** First placement: backing for every attached device. Throws a PlacementError (ENOMEM, EINVAL). */
  place(trigger: PlacementTrigger, call: string): Backing {
    const devices = this.constraints();
    const r = this.mm.placement.choose(this.size, devices);
    if (!r.backing) {
      const rec = this.log({ trigger, devices, outcome: "failed", rejected: r.rejected, errno: r.errno! });
      throw new PlacementError(r.errno!, call, explain(rec), rec);
    }
    this.backing = r.backing;
    this.log({ trigger, devices, outcome: "placed", rejected: r.rejected });
    return r.backing;
  }

  /**
   * A late attach: keep the backing if it suits the newcomer, else move it (allocate the new
   * storage first, copy, then free the old: a failure changes nothing) unless something holds it
   * (EBUSY). Dynamic importers hear of a move through move_notify.
   */
  admit(dev: Device): void {
    const call = "dma_buf_attach";
    const c = deviceConstraints(dev);
    const mismatch = this.layout && layoutMismatch(this.layout, c);
    if (mismatch) {
      const rec = this.log({ trigger: "attach", devices: this.constraints(c), outcome: "failed", rejected: [{ backing: "layout", reason: mismatch }], newcomer: c.device, errno: "EINVAL" });
      throw new PlacementError("EINVAL", call, explain(rec), rec);
    }
    const old = this.backing;
    if (!old) return;
    const devices = this.constraints(c);
    const bad = this.mm.placement.unmet(old, c);
    if (bad === undefined) {
      this.log({ trigger: "attach", devices, outcome: "kept", rejected: [], newcomer: c.device });
      return;
    }
    const blocker = this.moveBlocker();
    if (blocker) {
      const rec = this.log({ trigger: "attach", devices, outcome: "failed", rejected: [{ backing: old.label, reason: bad }, { backing: "migration", reason: `cannot move: ${blocker}` }], newcomer: c.device, from: old.label, errno: "EBUSY" });
      throw new PlacementError("EBUSY", call, explain(rec), rec);
    }
    const r = this.mm.placement.choose(this.size, devices);
    const rejected = [{ backing: old.label, reason: bad }, ...r.rejected];
    if (!r.backing) {
      const rec = this.log({ trigger: "attach", devices, outcome: "failed", rejected, newcomer: c.device, from: old.label, errno: r.errno! });
      throw new PlacementError(r.errno!, call, explain(rec), rec);
    }
    copyTable(this.mm, old.table, r.backing.table, this.size);
    this.backing = r.backing;
    old.free();
    this.log({ trigger: "attach", devices, outcome: "migrated", rejected, newcomer: c.device, from: old.label, copied: this.size });
    if (this.dynamic) dmaBufMoveNotify(this.dmabuf);
  }

  private backed(trigger: PlacementTrigger, call: string): Backing {
    return this.backing ?? this.place(trigger, call);
  }

  /** map_dma_buf: place on first use, then a fresh table mapped for the device. */
  map(attach: DmaBufAttachment, dir: DmaDataDirection): SgTable {
    const sgt = sgTableDup(this.backed("map", "dma_buf_map_attachment").table);
    this.mm.dmaMapSgtable(attach.dev, sgt, dir);
    this.live.set(sgt, attach.dev);
    return sgt;
  }

  unmap(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection): void {
    this.mm.dmaUnmapSgtable(attach.dev, sgt, dir);
    this.live.delete(sgt);
  }

  mmap(vma: VmArea): void {
    vma.segments = tableViews(this.mm, this.backed("mmap", "mmap").table, vma.pgoff, vma.length);
    this.cpuMaps++;
    const prev = vma.onClose;
    vma.onClose = () => {
      prev?.();
      this.cpuMaps--;
    };
  }

  vmap(): Uint8Array[] {
    const segments = tableViews(this.mm, this.backed("vmap", "dma_buf_vmap").table, 0, this.size);
    this.cpuMaps++;
    return segments;
  }
}

/** Copies `len` bytes between two tables' memory, counted as one migration copy. */
function copyTable(mm: MemoryManager, from: SgTable, to: SgTable, len: number): void {
  const src = tableViews(mm, from, 0, len);
  const dst = tableViews(mm, to, 0, len);
  let i = 0;
  let si = 0;
  let j = 0;
  let dj = 0;
  while (i < src.length && j < dst.length) {
    const n = Math.min(src[i]!.length - si, dst[j]!.length - dj);
    dst[j]!.set(src[i]!.subarray(si, si + n), dj);
    si += n;
    dj += n;
    if (si === src[i]!.length) [i, si] = [i + 1, 0];
    if (dj === dst[j]!.length) [j, dj] = [j + 1, 0];
  }
  mm.copies.record(MIGRATION_COPY, len);
}

const bufOf = (d: DmaBuf) => d.priv as DeferredBuffer;

/** The dma_buf_ops of a deferred buffer (a static exporter, like the heaps). */
const STATIC_OPS: DmaBufOps = {
  attach: (dmabuf, attach) => bufOf(dmabuf).admit(attach.dev),
  mapDmaBuf: (attach, dir) => bufOf(attach.dmabuf).map(attach, dir),
  unmapDmaBuf: (attach, sgt, dir) => bufOf(attach.dmabuf).unmap(attach, sgt, dir),
  beginCpuAccess(dmabuf, dir) {
    const b = bufOf(dmabuf);
    for (const [sgt, dev] of b.live) b.mm.dmaSyncSgtableForCpu(dev, sgt, dir);
  },
  endCpuAccess(dmabuf, dir) {
    const b = bufOf(dmabuf);
    for (const [sgt, dev] of b.live) b.mm.dmaSyncSgtableForDevice(dev, sgt, dir);
  },
  mmap: (dmabuf, vma) => bufOf(dmabuf).mmap(vma),
  vmap: (dmabuf) => ({ segments: bufOf(dmabuf).vmap(), isIomem: false }),
  vunmap: (dmabuf) => void bufOf(dmabuf).cpuMaps--,
  release(dmabuf) {
    const b = bufOf(dmabuf);
    b.backing?.free();
    b.backing = undefined;
    b.mm.kernel.objects.unregister(b);
  },
};

/** The same with pin/unpin: a dynamic exporter (a pinned buffer never moves). */
const DYNAMIC_OPS: DmaBufOps = {
  ...STATIC_OPS,
  pin: (attach) => void bufOf(attach.dmabuf).pins++,
  unpin: (attach) => void bufOf(attach.dmabuf).pins--,
};

/**
 * Exports a deferred buffer: no memory is taken until the first map, mmap or vmap; then backing
 * that satisfies every attached device is chosen (see docs/placement.md). The caller holds the
 * export reference, as with dmaBufExport(). EINVAL for a size that is not a positive byte count or
 * smaller than `layout` needs. A model extension: Linux exporters allocate up front.
 */
export function deferredBufferExport(mm: MemoryManager, info: DeferredExportInfo): DmaBuf {
  const call = "deferredBufferExport";
  if (!(Number.isSafeInteger(info.size) && info.size > 0)) throw new Errno("EINVAL", call, `size ${info.size} is not a positive byte count`);
  const len = Math.ceil(info.size / PAGE_SIZE) * PAGE_SIZE;
  if (info.layout && info.layout.size > len) throw new Errno("EINVAL", call, `a ${info.layout.format} ${info.layout.width}x${info.layout.height} layout needs ${info.layout.size} bytes, the buffer has ${len}`);
  const b = new DeferredBuffer(mm, len, info.layout, info.dynamic ?? false);
  b.dmabuf = dmaBufExport(mm.kernel, {
    expName: info.expName ?? "deferred",
    ops: b.dynamic ? DYNAMIC_OPS : STATIC_OPS,
    size: len,
    flags: info.flags ?? O_RDWR,
    priv: b,
    ...(info.resv && { resv: info.resv }),
  });
  mm.kernel.objects.register("deferred buffer", b, () => `${len} bytes, ${b.backing?.label ?? "not placed yet"}`, call);
  return b.dmabuf;
}

/** The deferred buffer behind `buf`, or undefined for another exporter's buffer. */
export function deferredBufferOf(buf: DmaBuf): DeferredBuffer | undefined {
  return buf.priv instanceof DeferredBuffer ? buf.priv : undefined;
}
