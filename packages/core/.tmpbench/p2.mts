import "reflect-metadata";
import { Kernel, O_CLOEXEC, O_RDWR, SgTable, dmaBufExport, dmaBufFd, type DmaBufOps } from "../src/index.ts";
const ops: DmaBufOps = { mapDmaBuf: () => { const s = SgTable.fromRuns([{ phys: 0, length: 4096 }]); s.nents = 1; return s; }, unmapDmaBuf: () => {}, release: () => {} };
const kernel = await Kernel.boot({ board: { memory: { size: "64M" }, devices: [{ name: "enc0", compatible: "t,e" }] } });
kernel.trace.on = false;
const p = kernel.spawn("app"); kernel.current = p; const priv = {};
for (let i = 0; i < 3_000_000; i++) p.close(dmaBufFd(dmaBufExport(kernel, { expName: "b", ops, size: 4096, flags: O_RDWR, priv }), O_CLOEXEC));
