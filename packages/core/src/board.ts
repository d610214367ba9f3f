import { z } from "zod";
import { faultsSchema } from "./fault-inject.js";

/**
 * The board description: a devicetree-like JSON of the simulated SoC. Sizes and addresses are
 * numbers or strings ("256M", "0x80000000", "4KiB"); devices are matched to drivers by `compatible`.
 */

const SUFFIX: Record<string, number> = { "": 1, K: 1 << 10, KB: 1 << 10, KIB: 1 << 10, M: 1 << 20, MB: 1 << 20, MIB: 1 << 20, G: 2 ** 30, GB: 2 ** 30, GIB: 2 ** 30 };

/** Parses "256M", "0x1000", "4KiB" or a number into bytes; undefined when it is not a size. */
export function parseSize(v: string | number): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  const m = /^\s*(0x[0-9a-f]+|\d+)\s*([kmg](?:i?b)?)?\s*$/i.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]) * SUFFIX[(m[2] ?? "").toUpperCase()]!;
  return Number.isSafeInteger(n) ? n : undefined;
}

const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not a size or address (use a number, "0x1000", "64K", "256M" or "1G")` });
    return z.NEVER;
  }
  return n;
});

const PAGE = 4096;
const pageAligned = (what: string) => size.refine((n) => n % PAGE === 0, { message: `${what} must be a multiple of the 4096-byte page size` });

const memoryBank = z.strictObject({ base: pageAligned("memory base").default(0x4000_0000), size: pageAligned("memory size").refine((n) => n > 0, "memory size must be > 0") });

const reservedMemory = z.strictObject({
  name: z.string().min(1),
  compatible: z.literal("shared-dma-pool").default("shared-dma-pool"),
  size: pageAligned("reserved-memory size").refine((n) => n > 0, "size must be > 0"),
  base: pageAligned("reserved-memory base").optional(),
  alignment: size.default(PAGE),
  /** `reusable` makes a CMA area (movable pages lent to the page allocator); otherwise a plain carve-out. */
  reusable: z.boolean().default(true),
  /** `linux,cma-default`: the area dev_get_cma_area() returns for devices with no memory-region. */
  default: z.boolean().default(false),
});

const iommu = z.strictObject({
  name: z.string().min(1),
  compatible: z.string().default("sim,iommu"),
  /** Page sizes the IOMMU's page tables support (pgsize_bitmap). */
  pageSizes: z.array(size).default([PAGE, 2 << 20, 1 << 30]),
  /** Width of the IOVA space in bits. */
  iovaBits: z.number().int().min(32).max(48).default(32),
});

const device = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, "device names are letters, digits, '_', '.', '-'"),
  compatible: z.union([z.string(), z.array(z.string()).min(1)]).transform((c) => (typeof c === "string" ? [c] : c)),
  /** DMA_BIT_MASK(n): the device can address physical (or IOVA) addresses below 2^n. */
  dmaMask: z.number().int().min(24).max(64).default(32),
  coherent: z.boolean().default(true),
  /** The IOMMU the device sits behind (iommus = <&name>); absent: dma-direct. */
  iommu: z.string().optional(),
  /** memory-region = <&name>: the CMA area used for this device's contiguous allocations. */
  memoryRegion: z.string().optional(),
  maxSegmentSize: size.default(65536),
  segmentBoundaryMask: size.default(0xffffffff),
  properties: z.record(z.string(), z.unknown()).default({}),
});

export const boardSchema = z
  .strictObject({
    model: z.string().default("dmabuf-sim,generic"),
    /** Driver plugin packages to load by name (dynamic import), optionally with options: ["pkg", {...}]. */
    plugins: z.array(z.union([z.string().min(1), z.tuple([z.string().min(1), z.unknown()])])).default([]),
    /** One bank or a list of banks (a single object is read as a one-bank list). */
    memory: z.preprocess((m) => (Array.isArray(m) || m === undefined ? m : [m]), z.array(memoryBank).min(1)),
    reservedMemory: z.array(reservedMemory).default([]),
    iommus: z.array(iommu).default([]),
    devices: z.array(device).default([]),
    /** Fault injection per fault point (see fault-inject.ts): e.g. { fail_page_alloc: { probability: 100, interval: 3 } }. */
    faults: faultsSchema.default({}),
  })
  .superRefine((b, ctx) => {
    // zod runs refinements even after field errors; cross-checks need the fields to have parsed.
    if (!Array.isArray(b.memory) || !Array.isArray(b.devices) || !Array.isArray(b.iommus) || !Array.isArray(b.reservedMemory)) return;
    const unique = (list: { name: string }[], key: string) => {
      const seen = new Set<string>();
      list.forEach((x, i) => {
        if (seen.has(x.name)) ctx.addIssue({ code: "custom", path: [key, i, "name"], message: `duplicate name "${x.name}"` });
        seen.add(x.name);
      });
    };
    unique(b.devices, "devices");
    unique(b.iommus, "iommus");
    unique(b.reservedMemory, "reservedMemory");
    const iommus = b.iommus.map((i) => i.name);
    const regions = b.reservedMemory.map((r) => r.name);
    b.devices.forEach((d, i) => {
      if (d.iommu !== undefined && !iommus.includes(d.iommu))
        ctx.addIssue({ code: "custom", path: ["devices", i, "iommu"], message: `no IOMMU named "${d.iommu}" (board has: ${iommus.join(", ") || "none"})` });
      if (d.memoryRegion !== undefined && !regions.includes(d.memoryRegion))
        ctx.addIssue({ code: "custom", path: ["devices", i, "memoryRegion"], message: `no reserved-memory region named "${d.memoryRegion}" (board has: ${regions.join(", ") || "none"})` });
    });
    const total = b.memory.reduce((s, m) => s + m.size, 0);
    const reserved = b.reservedMemory.reduce((s, r) => s + r.size, 0);
    if (reserved >= total) ctx.addIssue({ code: "custom", path: ["reservedMemory"], message: `reserved memory (${reserved} bytes) must be smaller than RAM (${total} bytes)` });
    b.reservedMemory.forEach((r, i) => {
      if (r.base === undefined) return;
      if (!b.memory.some((m) => r.base! >= m.base && r.base! + r.size <= m.base + m.size))
        ctx.addIssue({ code: "custom", path: ["reservedMemory", i, "base"], message: `region 0x${r.base.toString(16)}+0x${r.size.toString(16)} is not inside any memory bank` });
    });
  });

export type BoardDescription = z.output<typeof boardSchema>;
export type BoardInput = z.input<typeof boardSchema>;
export type DeviceDescription = BoardDescription["devices"][number];

/** A board file that fails validation: the message names each bad field and what is wrong. */
export class BoardError extends Error {
  constructor(readonly problems: string[], source = "board") {
    super(`invalid ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "BoardError";
  }
}

/** Validates a board description (an object or JSON text) and fills in the defaults. */
export function parseBoard(input: BoardInput | string, source = "board"): BoardDescription {
  let raw: unknown = input;
  if (typeof input === "string") {
    try {
      raw = JSON.parse(input);
    } catch (e) {
      throw new BoardError([`not valid JSON: ${(e as Error).message}`], source);
    }
  }
  const r = boardSchema.safeParse(raw);
  if (r.success) return r.data;
  throw new BoardError(
    r.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`),
    source,
  );
}

/**
 * The default board: 1 GiB of RAM from 0x40000000, a 256 MiB default CMA area, one IOMMU shared by
 * the camera and the codecs, and a display controller with no IOMMU (it needs contiguous memory).
 */
export const DEFAULT_BOARD: BoardInput = {
  model: "dmabuf-sim,soc-demo",
  memory: [{ base: "0x40000000", size: "1G" }],
  reservedMemory: [{ name: "linux,cma", size: "256M", reusable: true, default: true }],
  iommus: [{ name: "iommu0", pageSizes: ["4K", "2M", "1G"], iovaBits: 32 }],
  devices: [
    { name: "vivid.0", compatible: ["sim,vivid"], dmaMask: 32, iommu: "iommu0" },
    { name: "jpeg-enc.0", compatible: ["sim,jpeg-enc"], dmaMask: 32, iommu: "iommu0", properties: { heightAlign: 16, strideAlign: 64 } },
    { name: "jpeg-dec.0", compatible: ["sim,jpeg-dec"], dmaMask: 32, iommu: "iommu0", properties: { heightAlign: 16, strideAlign: 64 } },
    { name: "vkms.0", compatible: ["sim,vkms"], dmaMask: 32, maxSegmentSize: 0xffffffff },
    { name: "vgem.0", compatible: ["sim,vgem"], dmaMask: 64 },
  ],
};
