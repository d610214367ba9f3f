import { Errno, SgTable, type ErrnoCode } from "@dmabuf/core";
import type { Cma } from "./cma.js";
import { describeConstraints, type DmaConstraints } from "./constraints.js";
import { CMA_ALIGNMENT, getOrder } from "./dma-mapping.js";
import { allocLargestAvailable, SYSTEM_HEAP_ORDERS } from "./heaps/system-heap.js";
import { hex } from "./internal/format.js";
import type { MemoryManager } from "./memory-manager.js";
import { PAGE_SIZE } from "./physical-memory.js";

/** What made the exporter decide: the first device map, a CPU mapping, or a late attach. */
export type PlacementTrigger = "map" | "mmap" | "vmap" | "attach";
/**
 * placed: first backing chosen; kept: a late attach is satisfied by the current backing;
 * migrated: the backing moved for a late attach; failed: no backing satisfies everyone (errno set).
 */
export type PlacementOutcome = "placed" | "kept" | "migrated" | "failed";

/** A backing that was considered and not used, and why. */
export interface Rejection {
  readonly backing: string;
  readonly reason: string;
}

/** One CMA area's state after a decision, in pages (debugfs cma/<name>/used and maxchunk). */
export interface CmaUsage {
  readonly area: string;
  readonly count: number;
  readonly used: number;
  /** The largest free run: the biggest contiguous buffer the area can still give. */
  readonly maxchunk: number;
}

/** The explanation of one placement decision: its inputs, what was chosen, what was not and why. */
export interface PlacementRecord {
  readonly seq: number;
  /** Virtual time of the decision (ns). */
  readonly timeNs: number;
  readonly ino: number;
  readonly expName: string;
  readonly size: number;
  readonly trigger: PlacementTrigger;
  /** The attached devices' constraints: the inputs of the decision. */
  readonly devices: readonly DmaConstraints[];
  /** The device whose attach triggered a kept/migrated/failed decision. */
  readonly newcomer?: string;
  readonly outcome: PlacementOutcome;
  /** The backing in use after the decision (none after a failed first placement). */
  readonly backing?: string;
  /** The backing before a migration (or the one kept by a failed move). */
  readonly from?: string;
  readonly rejected: readonly Rejection[];
  readonly errno?: ErrnoCode;
  /** Bytes a migration copied (counted by mm's CopyCounter as "dmabuf_migration"). */
  readonly copied?: number;
  /** After a failure: every CMA area's use and largest free chunk (empty for other outcomes). */
  readonly cma: readonly CmaUsage[];
}

/** An Errno whose explanation is also available as a structured record. */
export class PlacementError extends Errno {
  constructor(
    code: ErrnoCode,
    call: string,
    reason: string,
    readonly record: PlacementRecord,
  ) {
    super(code, call, reason);
    this.name = "PlacementError";
  }
}

/** Where a deferred buffer's pages live: one CMA range, or scattered buddy pages. */
export class Backing {
  private merged: { phys: number; length: number }[] | undefined;

  constructor(
    /** e.g. "cma:linux,cma pfn 0x50000+256" or "system pages, 3 chunks" */
    readonly label: string,
    /** The CPU side: one entry per physically separate piece. */
    readonly table: SgTable,
    private readonly release: () => void,
    readonly cma?: Cma,
  ) {}

  free(): void {
    this.release();
  }

  /** Physically adjacent entries merged: what a device sees as contiguous (computed once: the table never changes). */
  runs(): readonly { readonly phys: number; readonly length: number }[] {
    if (this.merged) return this.merged;
    const out: { phys: number; length: number }[] = [];
    for (const s of this.table.sgl) {
      const last = out[out.length - 1];
      if (last && last.phys + last.length === s.phys) last.length += s.length;
      else out.push({ phys: s.phys, length: s.length });
    }
    return (this.merged = out);
  }

  /** The last byte's physical address plus one. */
  get end(): number {
    let end = 0;
    for (const r of this.runs()) end = Math.max(end, r.phys + r.length);
    return end;
  }
}

/** The most placement decisions the debugfs file keeps (the oldest go first). */
export const PLACEMENT_LOG_SIZE = 256;

const crosses = (phys: number, len: number, mask: number) => Math.floor(phys / (mask + 1)) !== Math.floor((phys + len - 1) / (mask + 1));
const mib = (pages: number) => `${((pages * PAGE_SIZE) / 2 ** 20).toFixed(pages * PAGE_SIZE >= 2 ** 20 ? 0 : 2)} MiB`;

/** A candidate backing that passed the static checks; `alloc` returns it or why it failed. */
export interface Candidate {
  readonly label: string;
  alloc(): Backing | string;
}

/** The static phase's result: candidates in order of preference, and what was ruled out. */
export interface Plan {
  readonly candidates: readonly Candidate[];
  readonly rejected: readonly Rejection[];
}

const NO_CMA: readonly CmaUsage[] = Object.freeze([]);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Plans kept (one per size and device set); the cache is dropped when it fills. */
const PLAN_CACHE_SIZE = 64;

/**
 * The placement engine and its log: picks backing that satisfies every attached device (a CMA
 * area, scattered system pages, or pages below a DMA limit), checks an existing backing against a
 * newcomer, and records every decision as a {@link PlacementRecord}, a line of
 * /sys/kernel/debug/dma_buf/placement and a `dma_buf_placement` trace event.
 */
export class Placement {
  private readonly ring: PlacementRecord[] = [];
  private seq = 0;
  private readonly plans = new Map<string, Plan>();

  constructor(private readonly mm: MemoryManager) {}

  /** Recent decisions, oldest first (at most PLACEMENT_LOG_SIZE). */
  get records(): PlacementRecord[] {
    const at = this.seq % PLACEMENT_LOG_SIZE;
    return this.seq <= PLACEMENT_LOG_SIZE ? [...this.ring] : [...this.ring.slice(at), ...this.ring.slice(0, at)];
  }

  /** Why `backing` does not suit the device, or undefined when it does. */
  unmet(backing: Backing, c: DmaConstraints): string | undefined {
    if (c.iommu !== undefined) return undefined;
    const runs = backing.runs();
    if (c.contiguous && runs.length > 1) return `${c.device} needs physically contiguous memory (no IOMMU) but the buffer is in ${runs.length} pieces`;
    if (c.contiguous && c.memoryRegion !== undefined && backing.cma?.name !== c.memoryRegion) return `${c.device} needs memory from its memory-region ${c.memoryRegion}`;
    const top = backing.end - 1;
    if (top > c.dmaLimit) return `${c.device} reaches only below ${hex(c.dmaLimit + 1)} (${c.dmaMaskBits}-bit DMA mask, no IOMMU) but the buffer ends at ${hex(top + 1)}`;
    // dma-direct maps entry by entry: each is one DMA segment. A contiguous device uses the one run
    // whatever its max_segment_size says (CONFIG_DMA_API_DEBUG only warns), but never across a boundary.
    for (const s of c.contiguous ? runs : backing.table.sgl) {
      if (!c.contiguous && s.length > c.maxSegmentSize) return `${c.device} takes DMA segments of at most ${hex(c.maxSegmentSize)} bytes, the buffer has one of ${hex(s.length)}`;
      if (crosses(s.phys, s.length, c.segmentBoundaryMask)) return `${c.device} cannot cross a ${hex(c.segmentBoundaryMask + 1)} boundary, the segment at ${hex(s.phys)} does`;
    }
    if (runs[0]!.phys % c.alignment !== 0) return `${c.device} needs the buffer aligned to ${hex(c.alignment)}, it starts at ${hex(runs[0]!.phys)}`;
    return undefined;
  }

  /**
   * Chooses and allocates backing of `size` bytes for the devices `cs`: statically possible
   * candidates in order of preference, each tried until one allocates. Returns the backing, or the
   * errno (EINVAL when no kind of memory could ever satisfy the devices together, ENOMEM when the
   * memory that could is not free) with every rejection and its reason.
   */
  choose(size: number, cs: readonly DmaConstraints[]): { backing?: Backing; errno?: ErrnoCode; rejected: Rejection[] } {
    const { candidates, rejected: ruledOut } = this.plan(size, cs);
    const rejected = [...ruledOut];
    for (const cand of candidates) {
      const r = cand.alloc();
      if (typeof r !== "string") {
        const bad = cs.map((c) => this.unmet(r, c)).find((x) => x !== undefined);
        if (bad === undefined) return { backing: r, rejected };
        r.free();
        rejected.push({ backing: cand.label, reason: `the range it gave does not suit: ${bad}` });
      } else rejected.push({ backing: cand.label, reason: r });
    }
    return { errno: candidates.length ? "ENOMEM" : "EINVAL", rejected };
  }

  /**
   * The static phase of {@link choose}: which kinds of memory could satisfy everyone on this board,
   * in order of preference, and which cannot and why. Allocates nothing.
   */
  plan(size: number, cs: readonly DmaConstraints[]): Plan {
    // The plan depends only on the size, the devices and the board, so it is computed once per set.
    let key = String(size);
    for (const c of cs) key += "|" + c.device;
    let p = this.plans.get(key);
    if (!p) {
      if (this.plans.size >= PLAN_CACHE_SIZE) this.plans.clear();
      const rejected: Rejection[] = [];
      p = { candidates: this.candidates(size, cs, rejected), rejected };
      this.plans.set(key, p);
    }
    return p;
  }

  private candidates(size: number, cs: readonly DmaConstraints[], rejected: Rejection[]): Candidate[] {
    const mm = this.mm;
    const contig = cs.filter((c) => c.contiguous);
    const direct = cs.filter((c) => c.iommu === undefined);
    const limiter = direct.reduce<DmaConstraints | undefined>((a, c) => (a === undefined || c.dmaLimit < a.dmaLimit ? c : a), undefined);
    const limit = limiter?.dmaLimit ?? Infinity;
    const align = Math.max(PAGE_SIZE, ...direct.map((c) => c.alignment));
    const names = (list: readonly DmaConstraints[]) => list.map((c) => c.device).join(", ");
    const out: Candidate[] = [];

    // Scattered pages: every direct-mapped device must take scatter-gather.
    const pagesLabel = Number.isFinite(limit) && mm.mem.banks.some((b) => b.base + b.size - 1 > limit) ? `pages below ${hex(limit + 1)}` : "system pages";
    let pages: Candidate | undefined;
    if (contig.length) rejected.push({ backing: pagesLabel, reason: `${names(contig)} need${contig.length > 1 ? "" : "s"} physically contiguous memory (no IOMMU)` });
    else {
      const sg = direct;
      const capPages = Math.min(...sg.map((c) => Math.min(c.maxSegmentSize, c.segmentBoundaryMask + 1) / PAGE_SIZE));
      const maxOrder = Math.min(SYSTEM_HEAP_ORDERS[0], Math.floor(Math.log2(capPages)));
      if (maxOrder < 0) rejected.push({ backing: pagesLabel, reason: `${names(sg)} take DMA segments smaller than a page` });
      else if (align > PAGE_SIZE) rejected.push({ backing: pagesLabel, reason: `${names(direct.filter((c) => c.alignment > PAGE_SIZE))} need the start aligned to ${hex(align)}; scattered pages start on any page` });
      else if (Number.isFinite(limit) && !mm.pages.zones.some((z) => z.endPfn * PAGE_SIZE - 1 <= limit)) rejected.push({ backing: pagesLabel, reason: `no RAM zone lies below ${hex(limit + 1)}, which ${limiter!.device} reaches` });
      else pages = { label: pagesLabel, alloc: () => this.allocPages(size, maxOrder, Number.isFinite(limit) ? limit : undefined) };
    }
    if (pages) out.push(pages);

    // One contiguous CMA range: the contiguous devices' memory-region, else the default area.
    const regions = [...new Set(contig.flatMap((c) => (c.memoryRegion !== undefined ? [c.memoryRegion] : [])))];
    if (regions.length > 1) {
      const by = regions.map((r) => `${names(contig.filter((c) => c.memoryRegion === r))} need memory-region ${r}`);
      rejected.push({ backing: "cma", reason: `${by.join(", ")}: one buffer cannot lie in ${regions.length} areas` });
      return out;
    }
    const area = regions.length ? mm.cma(regions[0]!) : mm.defaultCma;
    if (!area) {
      rejected.push({ backing: "cma", reason: "the board has no default CMA area (linux,cma-default)" });
      return out;
    }
    const label = `cma:${area.name}`;
    const count = size / PAGE_SIZE;
    const tooWide = contig.find((c) => size > c.segmentBoundaryMask + 1);
    if (count > area.count) rejected.push({ backing: label, reason: `${size} bytes exceed the whole area (${area.count} pages)` });
    else if (area.base > limit) rejected.push({ backing: label, reason: `the area at ${hex(area.base)} lies above ${hex(limit + 1)}, which ${limiter!.device} reaches (${limiter!.dmaMaskBits}-bit DMA mask, no IOMMU)` });
    else if (tooWide) rejected.push({ backing: label, reason: `${tooWide.device} cannot cross a ${hex(tooWide.segmentBoundaryMask + 1)} boundary and the buffer (${hex(size)}) is larger` });
    else {
      const alignOrder = Math.max(Math.min(getOrder(size), CMA_ALIGNMENT), Math.log2(align / PAGE_SIZE));
      out.push({ label, alloc: () => this.allocCma(area, count, Math.ceil(alignOrder)) });
    }
    return out;
  }

  private allocCma(area: Cma, count: number, align: number): Backing | string {
    let pfn: number;
    try {
      pfn = area.alloc(count, align);
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      // A failed cma_alloc() leaves the bitmap as it was: these are the figures it failed against.
      const maxchunk = area.maxchunk;
      return `no free range of ${count} pages aligned to 2^${align} pages (largest free chunk ${maxchunk} pages = ${mib(maxchunk)}, ${area.available} of ${area.count} pages free)`;
    }
    this.mm.mem.zero(pfn * PAGE_SIZE, count * PAGE_SIZE);
    // sg_alloc_table_from_pages() over contiguous pages: one entry
    const table = SgTable.fromRuns([{ phys: pfn * PAGE_SIZE, length: count * PAGE_SIZE }]);
    return new Backing(`cma:${area.name} pfn ${hex(pfn)}+${count}`, table, () => void area.release(pfn, count), area);
  }

  /** The system heap's allocation (orders 8, 4, 0), capped at `maxOrder` and below `limit`. */
  private allocPages(size: number, maxOrder: number, limit: number | undefined): Backing | string {
    const chunks: { pfn: number; order: number }[] = [];
    const freeAll = () => chunks.forEach((c) => this.mm.pages.freePages(c.pfn, c.order));
    let remaining = size;
    while (remaining > 0) {
      const c = allocLargestAvailable(this.mm, remaining, maxOrder, limit);
      if (!c) {
        freeAll();
        return `no free page${limit !== undefined ? ` below ${hex(limit + 1)}` : ""} for the last ${remaining} of ${size} bytes`;
      }
      chunks.push(c);
      remaining -= PAGE_SIZE << c.order;
      maxOrder = c.order;
    }
    const table = SgTable.fromRuns(chunks.map((c) => ({ phys: c.pfn * PAGE_SIZE, length: PAGE_SIZE << c.order })));
    const where = limit !== undefined ? ` below ${hex(limit + 1)}` : "";
    return new Backing(`pages${where}, ${chunks.length} chunk${chunks.length > 1 ? "s" : ""} from pfn ${hex(chunks[0]!.pfn)}`, table, freeAll);
  }

  /** Logs a decision: keeps the record, emits the trace event, returns the record. */
  log(r: Omit<PlacementRecord, "seq" | "timeNs" | "cma">): PlacementRecord {
    const k = this.mm.kernel;
    // Built field by field: object spread costs microseconds here, more than the rest of a decision.
    const rec: Mutable<PlacementRecord> = { seq: ++this.seq, timeNs: k.clock.now(), ino: r.ino, expName: r.expName, size: r.size, trigger: r.trigger, devices: r.devices, outcome: r.outcome, rejected: r.rejected, cma: this.cmaUsage(r) };
    if (r.newcomer !== undefined) rec.newcomer = r.newcomer;
    if (r.backing !== undefined) rec.backing = r.backing;
    if (r.from !== undefined) rec.from = r.from;
    if (r.errno !== undefined) rec.errno = r.errno;
    if (r.copied !== undefined) rec.copied = r.copied;
    this.ring[(rec.seq - 1) % PLACEMENT_LOG_SIZE] = rec;
    if (k.trace.on)
      k.trace.emit("dma_buf_placement", {
        exp_name: rec.expName,
        size: rec.size,
        ino: rec.ino,
        trigger: rec.trigger,
        outcome: rec.outcome,
        backing: rec.backing ?? "none",
        devices: rec.devices.map((d) => d.device).join(","),
        errno: rec.errno ?? "",
      });
    return rec;
  }

  /**
   * After a failure, every CMA area's use and largest free chunk: the figures that explain it.
   * Successful decisions skip the bitmap scans, which would add about 5% to a CMA first map.
   */
  private cmaUsage(r: Omit<PlacementRecord, "seq" | "timeNs" | "cma">): readonly CmaUsage[] {
    if (r.outcome !== "failed") return NO_CMA;
    return this.mm.cmaAreas.map((c) => ({ area: c.name, count: c.count, used: c.used, maxchunk: c.maxchunk }));
  }

  /** /sys/kernel/debug/dma_buf/placement: one line per decision, oldest first. */
  show(): string {
    return "# seq time_ns ino exp_name size trigger outcome backing | devices | rejected | cma\n" + this.records.map((r) => placementLine(r) + "\n").join("");
  }
}

/** A decision as one line: what the debugfs file shows. */
export function placementLine(r: PlacementRecord): string {
  const head = [r.seq, r.timeNs, r.ino, r.expName, r.size, r.trigger, r.outcome + (r.errno ? `(${r.errno})` : ""), r.backing ?? "none"].join(" ");
  const moved = r.from !== undefined ? ` from ${r.from}` : "";
  const copied = r.copied !== undefined ? ` copied ${r.copied}` : "";
  const devices = r.devices.map((d) => `${d.device}${d.device === r.newcomer ? "*" : ""} [${describeConstraints(d)}]`).join("; ");
  const rejected = r.rejected.length ? r.rejected.map((x) => `${x.backing}: ${x.reason}`).join("; ") : "-";
  const cma = r.cma.map((c) => `${c.area} used ${c.used}/${c.count} maxchunk ${c.maxchunk}`).join("; ") || "-";
  return `${head}${moved}${copied} | ${devices} | ${rejected} | ${cma}`;
}

/** The explanation as errno text: the devices, then each rejected backing with its reason. */
export function explain(r: PlacementRecord): string {
  const devs = r.devices.map((d) => d.device).join(", ");
  const why = r.rejected.map((x) => `${x.backing}: ${x.reason}`).join("; ");
  return `no backing of ${r.size} bytes satisfies ${devs}: ${why}`;
}
