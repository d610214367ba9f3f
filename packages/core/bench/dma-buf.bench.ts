import { below, copyBaseline, defineSuite } from "@dmabuf/tooling/bench";
import {
  DMA_TO_DEVICE, Kernel, O_CLOEXEC, O_RDWR, SgTable, dmaBufAttach, dmaBufDetach, dmaBufExport, dmaBufFd, dmaBufGet,
  dmaBufMapAttachment, dmaBufPut, dmaBufUnmapAttachment, type DmaBufOps,
} from "@dmabuf/core";

const NV12_1080P = (1920 * 1080 * 3) / 2;
const XRGB_2160P = 3840 * 2160 * 4;

// A minimal exporter: each buffer is one physically contiguous region it already owns, so its map is
// one sg entry. What is measured is the framework's own cost; per-page work belongs to mm's benches.
const ops: DmaBufOps = {
  mapDmaBuf: (attach) => {
    const { phys, size } = attach.dmabuf.priv as { phys: number; size: number };
    const sgt = SgTable.fromRuns([{ phys, length: size }]);
    sgt.sgl[0]!.dmaAddress = phys;
    sgt.sgl[0]!.dmaLength = size;
    sgt.nents = 1;
    return sgt;
  },
  unmapDmaBuf: (_attach, sgt) => void (sgt.nents = 0),
  release: () => {},
};

/** A kernel whose current task is a process, as while a driver's ioctl runs on its behalf. */
async function shareSetup(size: number) {
  const kernel = await Kernel.boot({ board: { memory: { size: "64M" }, devices: [{ name: "enc0", compatible: "test,enc" }] } });
  kernel.trace.on = false; // measure the framework, not the ring buffer
  const p = kernel.spawn("app");
  kernel.current = p;
  return { kernel, p, dev: kernel.devices[0]!, priv: { phys: 0x4000_0000, size } };
}
type Share = Awaited<ReturnType<typeof shareSetup>>;

/** export, fd, get, attach, map, unmap, detach, put, then close the fd (the buffer is released). */
const shareCycle = ({ kernel, p, dev, priv }: Share) => {
  const exported = dmaBufExport(kernel, { expName: "bench", ops, size: priv.size, flags: O_RDWR, priv });
  const fd = dmaBufFd(exported, O_CLOEXEC);
  const buf = dmaBufGet(kernel, fd);
  const attach = dmaBufAttach(buf, dev);
  const sgt = dmaBufMapAttachment(attach, DMA_TO_DEVICE);
  dmaBufUnmapAttachment(attach, sgt, DMA_TO_DEVICE);
  dmaBufDetach(buf, attach);
  dmaBufPut(buf);
  p.close(fd); // the last reference: the buffer is released
};
const teardown = ({ kernel }: Share) => {
  kernel.current = undefined;
  kernel.shutdown();
};

const COPY = "memcpy 1080p NV12 (Uint8Array.set)";
const SMALL = "share cycle, 4 KiB buffer";
const LARGE = "share cycle, 2160p XRGB8888 buffer";

export default defineSuite({
  name: "core-dma-buf",
  cases: {
    [COPY]: copyBaseline(NV12_1080P),
    [SMALL]: { setup: () => shareSetup(4096), fn: shareCycle, teardown },
    [LARGE]: { setup: () => shareSetup(XRGB_2160P), fn: shareCycle, teardown },
  },
  goals: [
    below("share cycle < 1% of 1080p copy (2160p buffer vs memcpy of a 1080p NV12 frame)", (m) => (100 * m[LARGE]) / m[COPY], 1, "%"),
    below("4 KiB vs 2160p within 10% (sharing cost independent of size)", (m) => (100 * Math.abs(m[LARGE] - m[SMALL])) / m[SMALL], 10, "% apart"),
  ],
});
