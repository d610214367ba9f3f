/**
 * The dma-buf importer suites: a static importer (dma_buf_attach + map at import, as V4L2 DMABUF
 * QBUF and DRM PRIME import do) and a dynamic importer (dma_buf_dynamic_attach with a move_notify
 * that drops its mappings), after Documentation/driver-api/dma-buf.rst and drivers/dma-buf/dma-buf.c.
 */
import {
  O_RDWR, callAs, dmaBufAttach, dmaBufAttachmentIsDynamic, dmaBufDetach, dmaBufExport, dmaBufFd, dmaBufGet,
  dmaBufMapAttachment, dmaBufMoveNotify, dmaBufPut, dmaBufUnmapAttachment, leakCheck, type DmaBuf, type DmaBufAttachment,
  type DmaBufOps, type SgTable,
} from "@dmabuf/core";
import { sgTableDup } from "@dmabuf/mm";
import { heapAlloc } from "./internal/v4l2-util.js";
import {
  expectEqual, expectErrno, expectTrue, type CheckContext, type ConformanceCheck, type ConformanceSuite, type ConformanceTarget,
} from "./conformance.js";

/** An importing device under test: how to make it import a dma-buf fd, and how to let it go. */
export interface ImporterTarget<H = unknown> extends ConformanceTarget {
  /** The board device name that attaches (e.g. "vivid.0", "vkms.0"); default: whichever device attaches. */
  readonly importerDevice?: string;
  /** Size of the dma-bufs the kit offers; default 4 MiB. */
  readonly bufferSize?: number;
  /** Heap the kit allocates from; default "/dev/dma_heap/system". */
  readonly heap?: string;
  /** Imports `dmabufFd` through the device's UAPI (QBUF of V4L2_MEMORY_DMABUF, PRIME_FD_TO_HANDLE). */
  importBuffer(ctx: CheckContext, dmabufFd: number): Promise<H>;
  /** Makes the device drop the import (REQBUFS(0), GEM_CLOSE). */
  releaseBuffer(ctx: CheckContext, handle: H): Promise<void>;
  /** Dynamic importers: makes the device use the buffer again (its next DMA must map afresh). */
  useBuffer?(ctx: CheckContext, handle: H): Promise<void>;
}

const sizeOf = (t: ImporterTarget) => t.bufferSize ?? 4 << 20;

async function offer(ctx: CheckContext, target: ImporterTarget): Promise<{ fd: number; buf: DmaBuf }> {
  const fd = await heapAlloc(ctx.proc, target.heap ?? "/dev/dma_heap/system", sizeOf(target));
  return { fd, buf: peek(ctx, fd) };
}

/** The kernel object behind `fd`, without keeping a reference (the check's fd keeps it alive). */
function peek(ctx: CheckContext, fd: number): DmaBuf {
  const buf = callAs(ctx.kernel, ctx.proc, () => dmaBufGet(ctx.kernel, fd));
  dmaBufPut(buf);
  return buf;
}

const attachmentsOf = (buf: DmaBuf, dev: string | undefined) => buf.attachments.filter((a) => dev === undefined || a.dev.name === dev);

const staticChecks = (dynamic: boolean): ConformanceCheck<ImporterTarget>[] => [
  {
    name: "import attaches and maps",
    cite: dynamic
      ? "dma-buf.c dma_buf_dynamic_attach(): a dynamic importer attaches with importer_ops whose move_notify is set"
      : "dma-buf.c dma_buf_attach()/dma_buf_map_attachment(): a static importer attaches its device and maps the buffer when it imports (drm_gem_prime_import_dev, __prepare_dmabuf)",
    async run(ctx, target) {
      const { fd, buf } = dynamic ? await offerDynamic(ctx, target) : await offer(ctx, target);
      const h = await target.importBuffer(ctx, fd);
      const atts = attachmentsOf(buf, target.importerDevice);
      expectEqual(atts.length, 1, `attachments of ${target.importerDevice ?? "the device"}`);
      if (dynamic) expectTrue(dmaBufAttachmentIsDynamic(atts[0]!) && typeof atts[0]!.importerOps?.moveNotify === "function", "the attachment is dynamic (importer_ops with move_notify)");
      else expectTrue(atts[0]!.mappings.length > 0 || atts[0]!.sgt !== undefined, "the static importer mapped the buffer at import");
      await target.releaseBuffer(ctx, h);
      expectEqual(attachmentsOf(buf, target.importerDevice).length, 0, "attachments after the device released the import");
    },
  },
  {
    name: "importer holds its own reference",
    cite: "dma-buf.c dma_buf_get()/dma_buf_put(): the importer keeps the buffer after userspace closes its fd, and drops it on release",
    async run(ctx, target) {
      const { fd, buf } = dynamic ? await offerDynamic(ctx, target) : await offer(ctx, target);
      const h = await target.importBuffer(ctx, fd);
      ctx.proc.close(fd);
      expectTrue(!buf.released, "the buffer lives while the device uses it");
      await target.releaseBuffer(ctx, h);
      expectTrue(buf.released, "the buffer is released once the device lets it go and no fd remains");
    },
  },
  {
    name: "import rejects bad fds",
    cite: "dma-buf.c dma_buf_get(): EBADF for a closed fd, EINVAL for a file that is not a dma-buf; nothing stays attached",
    async run(ctx, target) {
      const notDmaBuf = ctx.proc.open(target.device, O_RDWR);
      await expectErrno(target.importBuffer(ctx, 999), ["EBADF", "EINVAL"], "import of a closed fd");
      await expectErrno(target.importBuffer(ctx, notDmaBuf), "EINVAL", "import of a non-dma-buf fd");
      const attachments = leakCheck(ctx.kernel).counts["attachment"] ?? 0;
      expectEqual(attachments, 0, "attachments after failed imports");
    },
  },
];

/* ---- the kit's dynamic exporter: a heap buffer re-exported with pin/unpin, which the kit "moves" ---- */

interface Wrapped {
  inner: DmaBuf;
  pins: number;
  /** Every table the importer holds right now, per attachment. */
  live: Map<DmaBufAttachment, Set<SgTable>>;
}

const innerAttachments = new WeakMap<DmaBufAttachment, DmaBufAttachment>();
const innerTables = new WeakMap<SgTable, SgTable>();

const dynamicOps: DmaBufOps = {
  attach(dmabuf, attach) {
    const w = dmabuf.priv as Wrapped;
    innerAttachments.set(attach, dmaBufAttach(w.inner, attach.dev));
    w.live.set(attach, new Set());
  },
  detach(dmabuf, attach) {
    const w = dmabuf.priv as Wrapped;
    dmaBufDetach(w.inner, innerAttachments.get(attach)!);
    w.live.delete(attach);
  },
  pin(attach) {
    (attach.dmabuf.priv as Wrapped).pins++;
  },
  unpin(attach) {
    (attach.dmabuf.priv as Wrapped).pins--;
  },
  // Each mapping gets its own table object (a copy of the heap's), so a stale one is recognisable.
  mapDmaBuf(attach, dir) {
    const sgt = dmaBufMapAttachment(innerAttachments.get(attach)!, dir);
    const mine = sgTableDup(sgt);
    innerTables.set(mine, sgt);
    (attach.dmabuf.priv as Wrapped).live.get(attach)!.add(mine);
    return mine;
  },
  unmapDmaBuf(attach, sgt, dir) {
    (attach.dmabuf.priv as Wrapped).live.get(attach)?.delete(sgt);
    dmaBufUnmapAttachment(innerAttachments.get(attach)!, innerTables.get(sgt)!, dir);
  },
  release(dmabuf) {
    dmaBufPut((dmabuf.priv as Wrapped).inner);
  },
};

async function offerDynamic(ctx: CheckContext, target: ImporterTarget): Promise<{ fd: number; buf: DmaBuf }> {
  const heapFd = await heapAlloc(ctx.proc, target.heap ?? "/dev/dma_heap/system", sizeOf(target));
  const inner = callAs(ctx.kernel, ctx.proc, () => dmaBufGet(ctx.kernel, heapFd));
  ctx.proc.close(heapFd);
  const w: Wrapped = { inner, pins: 0, live: new Map() };
  const buf = dmaBufExport(ctx.kernel, { expName: "testkit-dynamic", ops: dynamicOps, size: inner.size, flags: O_RDWR, priv: w });
  const fd = callAs(ctx.kernel, ctx.proc, () => dmaBufFd(buf, O_RDWR));
  return { fd, buf };
}

const dynamicChecks: ConformanceCheck<ImporterTarget>[] = [
  {
    name: "move_notify drops mappings",
    cite: "dma-buf.c dma_buf_move_notify() and dma_buf_attach_ops.move_notify: after a move the importer must not use its old mapping; its next use maps again",
    async run(ctx, target) {
      const { fd, buf } = await offerDynamic(ctx, target);
      const h = await target.importBuffer(ctx, fd);
      const w = buf.priv as Wrapped;
      const attach = attachmentsOf(buf, target.importerDevice)[0];
      expectTrue(attach, `${target.importerDevice ?? "the device"} attached`);
      // A pinned attachment may keep its mapping (the exporter cannot move it); only an unpinned one is tested.
      // Core pins a dynamic buffer for each mapping (dma_buf_pin_on_map without CONFIG_DMABUF_MOVE_NOTIFY): not the importer's pin.
      const mapped = () => [...w.live.values()].reduce((n, s) => n + s.size, 0);
      if (w.pins - mapped() === 0) {
        if (w.live.get(attach)!.size === 0) await target.useBuffer?.(ctx, h);
        const before = new Set(w.live.get(attach));
        dmaBufMoveNotify(buf);
        await target.useBuffer?.(ctx, h);
        const stale = [...w.live.get(attach)!].filter((s) => before.has(s));
        expectEqual(stale.length, 0, "mappings from before move_notify still held by the importer");
      }
      await target.releaseBuffer(ctx, h);
      expectEqual(w.pins, 0, "pins left after release");
    },
  },
];

export const staticImporterSuite: ConformanceSuite<ImporterTarget> = { name: "dma-buf static importer", checks: staticChecks(false) };
export const dynamicImporterSuite: ConformanceSuite<ImporterTarget> = { name: "dma-buf dynamic importer", checks: [...staticChecks(true), ...dynamicChecks] };
