import { describe, expect, it } from "vitest";
import {
  Kernel, LeakError, O_RDONLY, O_RDWR, SgTable, assertNoLeaks, dmaBufAttach, dmaBufDetach, dmaBufExport, dmaBufPut, failOnLeaks,
  leakCheck, type DmaBufOps, leaksExpected} from "../src/index.js";

const boot = () => Kernel.boot({ board: { memory: { size: "16M" } } });

describe("leak checker: every live process, file and registered object, with its origin", () => {
  it("lists live processes and open files on demand, and nothing once every process has exited (do_exit closes all fds)", async () => {
    const k = await boot();
    const p = k.spawn("app");
    const fd = p.open("/sys/kernel/tracing/trace", O_RDONLY);
    p.dup(fd);
    const report = leakCheck(k);
    expect(report.counts).toEqual({ process: 1, file: 1 });
    expect(report.text).toContain("process: app[100], 2 open fd(s), 0 mapping(s) (created by kernel spawn(\"app\") at 0.000000s)");
    expect(report.text).toContain('file: /sys/kernel/tracing/trace (/sys/kernel/tracing/trace), 2 reference(s) (created by app[100] open("/sys/kernel/tracing/trace") = 0');
    p.exit(0);
    expect(leakCheck(k).leaks).toEqual([]);
    expect(() => assertNoLeaks(k)).not.toThrow();
  });

  it("fails a test whose kernel still holds a file after shutdown (a missing fput), naming the call that opened it", async () => {
    leaksExpected(); // this test leaves objects alive on purpose
    const k = await boot();
    const p = k.spawn("app");
    const fd = p.open("/sys/kernel/tracing/tracing_on");
    p.fds.lookup(fd)!.get(); // a kernel reference never put: the file outlives every fd
    let err: unknown;
    try {
      assertNoLeaks(k);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LeakError);
    expect((err as LeakError).report.counts).toEqual({ file: 1 });
    expect((err as LeakError).message).toMatch(/1 kernel object\(s\) leaked:\nfile: \/sys\/kernel\/tracing\/tracing_on .*1 reference\(s\) \(created by app\[100\] open\("\/sys\/kernel\/tracing\/tracing_on"\) = 0/);
  });

  it("records anon-inode files with the fd they were installed at (anon_inode_getfile + fd_install)", async () => {
    const k = await boot();
    const p = k.spawn("exporter");
    // the syscall context a driver ioctl runs in
    k.current = p;
    const file = k.anonFile("dmabuf", { name: "dma-buf" }, undefined, O_RDONLY);
    const fd = k.fdInstall(file, 0, "DMA_HEAP_IOCTL_ALLOC");
    k.current = undefined;
    expect(leakCheck(k).text).toContain(`file: anon_inode:dmabuf (dma-buf), 1 reference(s) (created by exporter[100] anon_inode_getfile("dmabuf") at 0.000000s, DMA_HEAP_IOCTL_ALLOC installed it as fd ${fd} of exporter[100])`);
    p.close(fd);
    expect(leakCheck(k).counts).toEqual({ process: 1 });
    assertNoLeaks(k);
  });

  it("lets subsystems register their objects and reports the ones never unregistered", async () => {
    leaksExpected(); // this test leaves objects alive on purpose
    const k = await boot();
    const attach = { dev: "vivid.0" };
    const fence = { seqno: 1 };
    k.objects.register("attachment", attach, () => `attachment of vivid.0`, "dma_buf_attach");
    k.objects.register("fence", fence, () => `fence seqno 1, unsignalled`, "sw_sync_create_fence");
    k.objects.unregister(attach);
    expect(leakCheck(k).counts).toEqual({ fence: 1 });
    expect(() => assertNoLeaks(k)).toThrow("fence: fence seqno 1, unsignalled (created by kernel sw_sync_create_fence at 0.000000s)");
  });

  it("lists dma-bufs never put and attachments never detached from dma-buf's own buffer list (dma_buf_release WARNs about the latter)", async () => {
    const k = await Kernel.boot({ board: { memory: { size: "16M" }, devices: [{ name: "cam0", compatible: "test,cam" }] } });
    const ops: DmaBufOps = { mapDmaBuf: () => new SgTable([]), unmapDmaBuf: () => {}, release: () => {} };
    const buf = dmaBufExport(k, { expName: "leaky_exporter", ops, size: 8192, flags: O_RDWR, priv: {} });
    const attach = dmaBufAttach(buf, k.devices[0]!);
    expect(leakCheck(k).text).toBe(
      "dma-buf: leaky_exporter ino 1 size 8192, 1 reference(s), 1 attachment(s) (created by kernel dma_buf_export at 0.000000s)\n" +
        "dma-buf attachment: cam0 attached to dma-buf ino 1 (leaky_exporter), 0 mapping(s) outstanding",
    );
    dmaBufDetach(buf, attach);
    expect(leakCheck(k).counts).toEqual({ "dma-buf": 1 });
    dmaBufPut(buf);
    assertNoLeaks(k);
  });

  it("failOnLeaks: after each test, shuts down every kernel the test booted and fails the test if anything survived", async () => {
    const hooks: (() => void)[] = [];
    const off = failOnLeaks((fn) => void hooks.push(fn));
    try {
      // a test that leaves processes and fds behind is fine: exit and shutdown release them
      const clean = await boot();
      clean.spawn("app").open("/sys/kernel/tracing/trace", O_RDONLY);
      hooks[0]!();
      expect(clean.tasks).toEqual([]);
      // a test whose kernel keeps a file reference fails
      const leaky = await boot();
      const p = leaky.spawn("app");
      p.fds.lookup(p.open("/sys/kernel/tracing/trace", O_RDONLY))!.get();
      expect(() => hooks[0]!()).toThrow(/1 kernel object\(s\) leaked:\nfile: \/sys\/kernel\/tracing\/trace/);
      // each kernel is checked once
      expect(() => hooks[0]!()).not.toThrow();
    } finally {
      off();
      leaksExpected(); // the leaky kernel above is left for the nested hook, on purpose
    }
  });
});
