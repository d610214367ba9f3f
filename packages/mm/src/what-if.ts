import { DMA_BIDIRECTIONAL, Kernel, dmaBufAttach, dmaBufDetach, dmaBufMapAttachment, dmaBufPut, dmaBufUnmapAttachment, isErrno, type BoardInput, type DmaBuf } from "@dmabuf/core";
import { deviceConstraints, layoutFor, type BufferLayout } from "./constraints.js";
import { deferredBufferExport, deferredBufferOf } from "./deferred-buffer.js";
import { MM, type MmOptions } from "./memory-manager.js";
import { PAGE_SIZE } from "./physical-memory.js";
import { explain, PlacementError, type PlacementRecord } from "./placement.js";
import mm from "./plugin.js";

/** One kind of buffer in a pipeline: its size (or picture) and the devices that will attach. */
export interface PipelineBuffer {
  readonly name: string;
  /** Bytes; or give `picture` and the size follows from every device's stride/height alignment. */
  readonly size?: number;
  readonly picture?: { readonly format: string; readonly width: number; readonly height: number };
  /** How many such buffers (a queue's count; default 1). */
  readonly count?: number;
  /** Device names, in attach order; all attach before the first map. */
  readonly devices: readonly string[];
}

export interface Pipeline {
  readonly buffers: readonly PipelineBuffer[];
}

/** The outcome for one buffer. */
export interface WhatIfBuffer {
  readonly name: string;
  readonly index: number;
  readonly size: number;
  readonly layout?: BufferLayout;
  readonly ok: boolean;
  /** The chosen backing, e.g. "cma:linux,cma pfn 0x50000+760". */
  readonly backing?: string;
  readonly errno?: string;
  /** The explanation: why this backing, or why none. */
  readonly why: string;
  readonly decision?: PlacementRecord;
}

/** CMA use once every buffer that could be placed is placed, in bytes. */
export interface WhatIfCma {
  readonly area: string;
  readonly size: number;
  readonly used: number;
  /** The largest contiguous buffer the area could still give (debugfs maxchunk). */
  readonly largestFree: number;
}

export interface WhatIfReport {
  readonly ok: boolean;
  readonly buffers: readonly WhatIfBuffer[];
  readonly cma: readonly WhatIfCma[];
  /** A human-readable summary, one line per buffer and per CMA area. */
  readonly text: string;
}

/**
 * What-if: boots `board` with mm alone, then for each pipeline buffer exports a deferred buffer,
 * attaches its devices and maps it once, as the real pipeline would at its first frame. Reports
 * which allocations succeed (and why, or why not), how much CMA is used and the largest free chunk
 * left. Nothing of the run survives: the kernel is shut down before returning.
 */
export async function whatIf(board: BoardInput, pipeline: Pipeline, options: MmOptions = {}): Promise<WhatIfReport> {
  const kernel = await Kernel.boot({ board, plugins: [mm(options)] });
  const m = kernel.resolve(MM);
  const held: DmaBuf[] = [];
  const buffers: WhatIfBuffer[] = [];
  try {
    for (const pb of pipeline.buffers) {
      const devices = pb.devices.map((n) => m.device(n));
      const layout = pb.picture && layoutFor(pb.picture.format, pb.picture.width, pb.picture.height, devices.map(deviceConstraints));
      const size = Math.ceil((pb.size ?? layout?.size ?? 0) / PAGE_SIZE) * PAGE_SIZE;
      for (let index = 0; index < (pb.count ?? 1); index++) {
        const base = { name: pb.name, index, size, ...(layout && { layout }) };
        const buf = deferredBufferExport(m, { size, expName: `what-if:${pb.name}`, ...(layout && { layout }) });
        held.push(buf);
        try {
          const attachments = devices.map((d) => dmaBufAttach(buf, d));
          const first = attachments[0];
          if (first) dmaBufUnmapAttachment(first, dmaBufMapAttachment(first, DMA_BIDIRECTIONAL), DMA_BIDIRECTIONAL);
          const rec = deferredBufferOf(buf)!.decisions.at(-1);
          const why = rec ? `${rec.backing} for ${rec.devices.map((d) => d.device).join(", ")}${rec.rejected.length ? ` (not ${rec.rejected.map((r) => `${r.backing}: ${r.reason}`).join("; ")})` : ""}` : "no device attached";
          buffers.push({ ...base, ok: true, ...(rec?.backing && { backing: rec.backing }), why, ...(rec && { decision: rec }) });
        } catch (e) {
          if (!isErrno(e)) throw e;
          const rec = e instanceof PlacementError ? e.record : undefined;
          buffers.push({ ...base, ok: false, errno: e.code, why: rec ? explain(rec) : e.message, ...(rec && { decision: rec }) });
        }
      }
    }
    const cma = m.cmaAreas.map((c) => ({ area: c.name, size: c.size, used: c.used * PAGE_SIZE, largestFree: c.maxchunk * PAGE_SIZE }));
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    const text = [
      ...buffers.map((b) => `${b.name}[${b.index}] ${b.size} bytes: ${b.ok ? "ok" : `FAILS ${b.errno}`}: ${b.why}`),
      ...cma.map((c) => `cma ${c.area}: ${mb(c.used)} of ${mb(c.size)} used, largest free chunk ${mb(c.largestFree)}`),
    ].join("\n");
    return { ok: buffers.every((b) => b.ok), buffers, cma, text: text + "\n" };
  } finally {
    // Release every buffer (detaching what it still has) before the kernel goes.
    for (const buf of held) {
      for (const a of [...buf.attachments]) dmaBufDetach(buf, a);
      dmaBufPut(buf);
    }
    kernel.shutdown();
  }
}
