import { describe, expect, it } from "vitest";
import {
  DMA_BUF_SET_NAME, DMA_TO_DEVICE, MAP_SHARED, O_NONBLOCK, O_RDONLY, PAGE_SIZE, PROT_READ, dmaBufAttach,
  dmaBufDetach, dmaBufMapAttachment, dmaBufPut, dmaBufUnmapAttachment, leakCheck, leaksExpected} from "../src/index.js";
import { PageExporter } from "./support/page-exporter.js";

describe("dma-buf debug views", () => {
  it("bufinfo is dma_buf_debug_show's text: newest buffer first, f_flags, f_mode, file_count, ino, name, attached devices, totals", async () => {
    const { k, exp, dev } = await PageExporter.boot();
    const p = k.spawn("app");
    const fd = await exp.alloc(p, 2 * PAGE_SIZE);
    await p.ioctl(fd, DMA_BUF_SET_NAME, "cam0-out");
    const b1 = await exp.import(p, fd);
    const a1 = dmaBufAttach(b1, dev("cam0"));
    const a2 = dmaBufAttach(b1, dev("enc0"));
    const b2 = exp.export(PAGE_SIZE, O_RDONLY | O_NONBLOCK);
    expect(await p.readFile("/sys/kernel/debug/dma_buf/bufinfo")).toBe(
      "\nDma-buf Objects:\n" +
        "size    \tflags   \tmode    \tcount   \texp_name\tino     \tname\n" +
        "00004096\t00000800\t00080001\t00000001\ttest_heap\t00000002\t<none>\n" +
        "\tAttached Devices:\n" +
        "Total 0 devices attached\n\n" +
        "00008192\t00000002\t00080003\t00000002\ttest_heap\t00000001\tcam0-out\n" +
        "\tAttached Devices:\n\tenc0\n\tcam0\n" +
        "Total 2 devices attached\n\n" +
        "\nTotal 2 objects, 12288 bytes\n",
    );
    dmaBufDetach(b1, a1);
    dmaBufDetach(b1, a2);
    dmaBufPut(b1);
    dmaBufPut(b2);
    p.close(fd);
    expect(await p.readFile("/sys/kernel/debug/dma_buf/bufinfo")).toBe(
      "\nDma-buf Objects:\nsize    \tflags   \tmode    \tcount   \texp_name\tino     \tname\n\nTotal 0 objects, 0 bytes\n",
    );
  });

  it("keeps one buffer list and one inode counter per kernel", async () => {
    const a = await PageExporter.boot();
    const b = await PageExporter.boot();
    const bufs = [a.exp.export(PAGE_SIZE), a.exp.export(PAGE_SIZE), b.exp.export(PAGE_SIZE)];
    expect(bufs.map((x) => x.ino)).toEqual([1, 2, 1]);
    expect(await a.k.spawn("cat").readFile("/sys/kernel/debug/dma_buf/bufinfo")).toContain("Total 2 objects, 8192 bytes");
    expect(await b.k.spawn("cat").readFile("/sys/kernel/debug/dma_buf/bufinfo")).toContain("Total 1 objects, 4096 bytes");
    bufs.forEach((x) => dmaBufPut(x));
  });

  it("lists a buffer a driver never put in the leak report, with the fd it was first installed at", async () => {
    leaksExpected(); // this test leaves objects alive on purpose
    const { k, exp, dev } = await PageExporter.boot();
    const p = k.spawn("app");
    const fd = await exp.alloc(p, PAGE_SIZE);
    await p.ioctl(fd, DMA_BUF_SET_NAME, "lost");
    const buf = await exp.import(p, fd);
    dmaBufAttach(buf, dev("cam0"));
    k.shutdown();
    const report = leakCheck(k);
    // the attachment was never detached either: both are reported (dma_buf_release would WARN)
    expect(report.counts).toEqual({ "dma-buf": 1, "dma-buf attachment": 1 });
    expect(report.text.split("\n")[0]).toMatch(/^dma-buf: test_heap ino 1 size 4096 name "lost", 1 reference\(s\), 1 attachment\(s\) \(created by app\[\d+\] dma_buf_export at 0\.000000s, dma_buf_fd installed it as fd 1 of app\[\d+\]\)$/);
  });

  it("fdinfo adds dma_buf_show_fdinfo's lines (size, count of references, exp_name, name once set)", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("app");
    const fd = await exp.alloc(p, 2 * PAGE_SIZE);
    const ino = p.fds.get(fd, "t").inode.ino;
    const info = () => p.readFile(`/proc/${p.pid}/fdinfo/${fd}`);
    expect(await info()).toMatch(new RegExp(`^pos:\\t0\\nflags:\\t02000002\\nmnt_id:\\t\\d+\\nino:\\t${ino}\\nsize:\\t8192\\ncount:\\t1\\nexp_name:\\ttest_heap\\n$`));
    const d = p.dup(fd);
    const m = p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd);
    await p.ioctl(fd, DMA_BUF_SET_NAME, "");
    expect(await info()).toMatch(/size:\t8192\ncount:\t3\nexp_name:\ttest_heap\nname:\t\n$/);
    await p.ioctl(d, DMA_BUF_SET_NAME, "frame7");
    expect(await info()).toMatch(/count:\t3\nexp_name:\ttest_heap\nname:\tframe7\n$/);
    expect(await p.readFile(`/proc/${p.pid}/maps`)).toContain(`/dmabuf:frame7`);
    p.munmap(m);
  });

  it("readlink of a dma-buf fd is dmabuffs_dname's /dmabuf:<name>", async () => {
    const { k, exp } = await PageExporter.boot();
    const p = k.spawn("app");
    const fd = await exp.alloc(p, PAGE_SIZE);
    expect(p.readlink(`/proc/${p.pid}/fd/${fd}`)).toBe("/dmabuf:");
    await p.ioctl(fd, DMA_BUF_SET_NAME, "scanout");
    expect(p.readlink(`/proc/self/fd/${fd}`)).toBe("/dmabuf:scanout");
  });

  it("emits the dma_buf tracepoints (include/trace/events/dma_buf.h) with their fields, from the calling task", async () => {
    const { k, exp, dev } = await PageExporter.boot();
    const p = k.spawn("app");
    const fd = await exp.alloc(p, PAGE_SIZE);
    const buf = await exp.import(p, fd);
    const a = dmaBufAttach(buf, dev("cam0"));
    const sgt = dmaBufMapAttachment(a, DMA_TO_DEVICE);
    dmaBufUnmapAttachment(a, sgt, DMA_TO_DEVICE);
    dmaBufDetach(buf, a);
    p.munmap(p.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, fd));
    dmaBufPut(buf);
    const ev = k.trace.events((r) => r.event.startsWith("dma_buf_"));
    expect(ev.map((r) => r.event)).toEqual([
      "dma_buf_export", "dma_buf_fd", "dma_buf_get", "dma_buf_dynamic_attach", "dma_buf_map_attachment",
      "dma_buf_unmap_attachment", "dma_buf_detach", "dma_buf_mmap_internal", "dma_buf_put",
    ]);
    const base = { exp_name: "test_heap", size: PAGE_SIZE, ino: 1 };
    expect(ev[0]!.args).toEqual(base);
    expect(ev[1]).toMatchObject({ comm: "app", pid: p.pid, args: { ...base, fd } });
    expect(ev[2]!.args).toEqual({ ...base, fd });
    expect(ev[3]!.args).toEqual({ ...base, attachment: a.id, is_dynamic: false, dev_name: "cam0" });
    expect(ev[4]!.args).toMatchObject({ dev_name: "cam0", dir: "DMA_TO_DEVICE" });
    expect(ev[6]!.args).toEqual(ev[3]!.args);
    expect(k.trace.ftrace()).toMatch(new RegExp(`app-${p.pid} +\\[000\\] \\.{5} +\\d+\\.\\d{6}: dma_buf_fd: exp_name=test_heap size=4096 ino=1 fd=${fd}\\n`));
  });
});
