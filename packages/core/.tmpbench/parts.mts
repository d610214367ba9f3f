import "reflect-metadata";
import { DMA_TO_DEVICE, Kernel, O_CLOEXEC, O_RDWR, SgTable, dmaBufAttach, dmaBufDetach, dmaBufExport, dmaBufFd, dmaBufGet, dmaBufMapAttachment, dmaBufPut, dmaBufUnmapAttachment, type DmaBufOps } from "../src/index.ts";
const ops: DmaBufOps = { mapDmaBuf: () => { const s = SgTable.fromRuns([{ phys: 0, length: 4096 }]); s.nents = 1; return s; }, unmapDmaBuf: () => {}, release: () => {} };
const kernel = await Kernel.boot({ board: { memory: { size: "64M" }, devices: [{ name: "enc0", compatible: "t,e" }] } });
kernel.trace.on = false;
const p = kernel.spawn("app"); kernel.current = p; const dev = kernel.devices[0]!; const priv = {};
const time = (name: string, fn: () => void) => {
  let best = Infinity;
  for (let r = 0; r < 15; r++) { const t0 = process.cpuUsage(); for (let i = 0; i < 100_000; i++) fn(); const u = process.cpuUsage(t0); best = Math.min(best, (u.user + u.system) * 1e3 / 100_000); }
  console.log(name.padEnd(28), best.toFixed(0), "ns");
};
time("export+put", () => dmaBufPut(dmaBufExport(kernel, { expName: "b", ops, size: 4096, flags: O_RDWR, priv })));
time("export+fd+close", () => p.close(dmaBufFd(dmaBufExport(kernel, { expName: "b", ops, size: 4096, flags: O_RDWR, priv }), O_CLOEXEC)));
const buf = dmaBufExport(kernel, { expName: "b", ops, size: 4096, flags: O_RDWR, priv });
const fd = dmaBufFd(buf, O_CLOEXEC);
time("get+put", () => dmaBufPut(dmaBufGet(kernel, fd)));
time("attach+detach", () => dmaBufDetach(buf, dmaBufAttach(buf, dev)));
const a = dmaBufAttach(buf, dev);
time("map+unmap", () => dmaBufUnmapAttachment(a, dmaBufMapAttachment(a, DMA_TO_DEVICE), DMA_TO_DEVICE));
const f = buf.file;
time("fdInstall+close (get)", () => { f.get(); p.close(kernel.fdInstall(f, O_CLOEXEC, "x")); });
time("installFile+remove (get)", () => { f.get(); const n = p.installFile(f, O_CLOEXEC, "x"); p.fds.remove(n)!.put(); });
time("installFile+remove nocloexec", () => { f.get(); const n = p.installFile(f, 0, "x"); p.fds.remove(n)!.put(); });
time("note only", () => kernel.objects.note(f, `x installed it as fd 3 of ${p.comm}[${p.pid}]`));
time("dup+close", () => p.close(p.dup(fd)));
