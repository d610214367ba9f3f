import { Errno, type Device } from "@dmabuf/core";
import { hex } from "./internal/format.js";
import { PAGE_SIZE } from "./physical-memory.js";

/**
 * What one device needs of a buffer's backing storage, derived from its struct device (the board's
 * devicetree): the model's answer to "which memory can this importer use?". Linux keeps these facts
 * scattered over dma_mask, dma_parms, the IOMMU link and driver code; placement reads them here.
 */
export interface DmaConstraints {
  readonly device: string;
  /**
   * The buffer must be one physically contiguous block (one DMA address per buffer, as
   * drm_gem_dma / vb2-dma-contig importers require): the device has no IOMMU and its driver does
   * not do scatter-gather DMA (board property `scatterGather: true` says it does).
   */
  readonly contiguous: boolean;
  /** The IOMMU the device sits behind: it reaches any page through its own IOVA space. */
  readonly iommu: string | undefined;
  /** The highest physical address the device reaches (Infinity behind an IOMMU): dma_capable(). */
  readonly dmaLimit: number;
  readonly dmaMaskBits: number;
  /** dma_get_max_seg_size(): the longest DMA segment the device takes. */
  readonly maxSegmentSize: number;
  /** dma_get_seg_boundary(): no segment may cross a (mask + 1) boundary. */
  readonly segmentBoundaryMask: number;
  /** Physical alignment of the buffer start the device needs, in bytes (property `dmaAlignment`). */
  readonly alignment: number;
  /** dev_is_dma_coherent(): a non-coherent device needs DMA_BUF_IOCTL_SYNC around CPU access. */
  readonly coherent: boolean;
  /** memory-region: the CMA area a contiguous device's memory must come from, if the board names one. */
  readonly memoryRegion: string | undefined;
  /** Line pitch alignment in bytes (property `strideAlign`, default 1). */
  readonly strideAlign: number;
  /** Height alignment in lines (property `heightAlign`, default 1; 16 for macroblock codecs). */
  readonly heightAlign: number;
}

const positiveInt = (v: unknown, fallback: number) => (typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : fallback);

/** Device descriptions are fixed at boot, so each device's constraints are derived once. */
const derived = new WeakMap<Device, DmaConstraints>();

/** The constraints of `dev`, as placement applies them. */
export function deviceConstraints(dev: Device): DmaConstraints {
  let c = derived.get(dev);
  if (!c) derived.set(dev, (c = derive(dev)));
  return c;
}

function derive(dev: Device): DmaConstraints {
  const p = dev.properties;
  const direct = dev.iommu === undefined;
  return {
    device: dev.name,
    contiguous: direct && p.scatterGather !== true,
    iommu: dev.iommu,
    dmaLimit: direct ? dev.dmaLimit : Infinity,
    dmaMaskBits: dev.dmaMaskBits,
    maxSegmentSize: Math.min(dev.maxSegmentSize, 0xffffffff) || 65536,
    segmentBoundaryMask: dev.segmentBoundaryMask,
    alignment: Math.max(PAGE_SIZE, positiveInt(p.dmaAlignment, PAGE_SIZE)),
    coherent: dev.coherent,
    memoryRegion: direct ? dev.memoryRegion : undefined,
    strideAlign: positiveInt(p.strideAlign, 1),
    heightAlign: positiveInt(p.heightAlign, 1),
  };
}

/** A short text of what the device needs, e.g. "contiguous (no IOMMU), below 0xffffffff". */
export function describeConstraints(c: DmaConstraints): string {
  const parts: string[] = [];
  if (c.iommu !== undefined) parts.push(`any pages (behind ${c.iommu})`);
  else parts.push(c.contiguous ? "contiguous (no IOMMU)" : "scatter-gather (no IOMMU)");
  if (Number.isFinite(c.dmaLimit)) parts.push(`below ${hex(c.dmaLimit + 1)} (${c.dmaMaskBits}-bit mask)`);
  if (c.iommu === undefined && !c.contiguous) parts.push(`max_segment ${hex(c.maxSegmentSize)}`);
  if (c.iommu === undefined && c.segmentBoundaryMask !== 0xffffffff) parts.push(`seg_boundary ${hex(c.segmentBoundaryMask)}`);
  if (c.alignment > PAGE_SIZE) parts.push(`align ${hex(c.alignment)}`);
  if (c.memoryRegion !== undefined) parts.push(`memory-region ${c.memoryRegion}`);
  if (!c.coherent) parts.push("non-coherent");
  if (c.strideAlign > 1 || c.heightAlign > 1) parts.push(`stride%${c.strideAlign} height%${c.heightAlign}`);
  return parts.join(", ");
}

/**
 * Bytes per pixel of the first plane and the size of the other planes relative to it, for the
 * fourccs the model's drivers use (include/uapi/drm/drm_fourcc.h and videodev2.h names).
 */
const FORMATS: Readonly<Record<string, { cpp: number; chroma: number }>> = {
  NV12: { cpp: 1, chroma: 0.5 },
  NV21: { cpp: 1, chroma: 0.5 },
  NV16: { cpp: 1, chroma: 1 },
  YUV420: { cpp: 1, chroma: 0.5 },
  YUYV: { cpp: 2, chroma: 0 },
  UYVY: { cpp: 2, chroma: 0 },
  GREY: { cpp: 1, chroma: 0 },
  RGB565: { cpp: 2, chroma: 0 },
  RGB888: { cpp: 3, chroma: 0 },
  XRGB8888: { cpp: 4, chroma: 0 },
  ARGB8888: { cpp: 4, chroma: 0 },
  XBGR8888: { cpp: 4, chroma: 0 },
};

/** A pixel buffer's layout: what a stride- or height-aligned importer checks. */
export interface BufferLayout {
  readonly format: string;
  readonly width: number;
  readonly height: number;
  /** bytesperline / pitch of the first plane */
  readonly stride: number;
  /** Lines allocated per plane-0 (height padded to every device's heightAlign). */
  readonly paddedHeight: number;
  /** Bytes needed: stride * paddedHeight for plane 0 plus the chroma planes. */
  readonly size: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (a: number, b: number) => (a / gcd(a, b)) * b;
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * The smallest layout of `format` at width x height that satisfies every device: the stride is
 * width * cpp rounded up to the lcm of the strideAligns, the height to the lcm of the heightAligns
 * (what anholt/linux#12 asks for: vertical padding a display or codec needs). EINVAL for an unknown
 * format or a non-positive size.
 */
export function layoutFor(format: string, width: number, height: number, devices: readonly DmaConstraints[]): BufferLayout {
  const f = FORMATS[format];
  if (!f) throw new Errno("EINVAL", "layoutFor", `unknown pixel format ${format} (known: ${Object.keys(FORMATS).join(", ")})`);
  if (!(Number.isSafeInteger(width) && width > 0 && Number.isSafeInteger(height) && height > 0)) throw new Errno("EINVAL", "layoutFor", `${width}x${height} is not a picture size`);
  const sa = devices.reduce((a, c) => lcm(a, c.strideAlign), 1);
  const ha = devices.reduce((a, c) => lcm(a, c.heightAlign), f.chroma === 0.5 ? 2 : 1);
  const stride = alignUp(width * f.cpp, sa);
  const paddedHeight = alignUp(height, ha);
  return { format, width, height, stride, paddedHeight, size: Math.ceil(stride * paddedHeight * (1 + f.chroma)) };
}

/** Why `layout` does not suit the device (stride or padded height), or undefined when it does. */
export function layoutMismatch(layout: BufferLayout, c: DmaConstraints): string | undefined {
  if (layout.stride % c.strideAlign !== 0) return `${c.device} needs the stride aligned to ${c.strideAlign} bytes, the buffer's is ${layout.stride}`;
  if (layout.paddedHeight % c.heightAlign !== 0) return `${c.device} needs the height padded to a multiple of ${c.heightAlign} lines, the buffer has ${layout.paddedHeight}`;
  return undefined;
}
