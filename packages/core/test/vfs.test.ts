import { describe, expect, it } from "vitest";
import { Kernel, O_CLOEXEC, O_RDONLY, O_WRONLY, SEEK_SET, seqFileOps } from "../src/index.js";

const boot = () => Kernel.boot({ board: { memory: { size: "16M" } } });

describe("VFS-lite: device nodes, procfs, debugfs, sysfs", () => {
  it("gives ENOENT for missing paths, EISDIR for directories and ENOTDIR for files (path_openat)", async () => {
    const p = (await boot()).spawn("t");
    expect(() => p.open("/dev/nope")).toThrow(expect.objectContaining({ code: "ENOENT", errno: 2 }));
    expect(() => p.open("/sys/kernel/tracing")).toThrow(expect.objectContaining({ code: "EISDIR" }));
    expect(() => p.readdir("/sys/kernel/tracing/trace")).toThrow(expect.objectContaining({ code: "ENOTDIR" }));
    expect(() => p.readdir("/nope")).toThrow(expect.objectContaining({ code: "ENOENT" }));
    expect(p.readdir("/sys/kernel/tracing")).toEqual(["trace", "tracing_on"]);
  });

  it("gives ENOTTY for ioctls a file does not implement and ESPIPE for unseekable files", async () => {
    const k = await boot();
    k.vfs.create("/dev/null0", { name: "null" });
    const p = k.spawn("t");
    const fd = p.open("/dev/null0");
    await expect(p.ioctl(fd, 0x1234)).rejects.toMatchObject({ code: "ENOTTY", errno: 25 });
    expect(() => p.lseek(fd, 0, SEEK_SET)).toThrow(expect.objectContaining({ code: "ESPIPE" }));
    expect(() => p.mmap(null, 4096, 3, 1, fd, 0)).toThrow(expect.objectContaining({ code: "ENODEV" }));
    await expect(p.read(fd)).rejects.toMatchObject({ code: "EINVAL" });
  });

  it("checks read/write access against the open mode (EBADF, as vfs_read/vfs_write)", async () => {
    const p = (await boot()).spawn("t");
    const w = p.open("/sys/kernel/tracing/tracing_on", O_WRONLY);
    await expect(p.read(w)).rejects.toMatchObject({ code: "EBADF" });
    const r = p.open("/sys/kernel/tracing/tracing_on", O_RDONLY);
    await expect(p.write(r, "0")).rejects.toMatchObject({ code: "EBADF" });
  });

  it("reads a seq_file in pieces and seeks in it", async () => {
    const k = await boot();
    k.vfs.create("/sys/kernel/debug/hello", seqFileOps("hello", () => "hello world\n"));
    const p = k.spawn("t");
    const fd = p.open("/sys/kernel/debug/hello");
    const dec = new TextDecoder();
    expect(dec.decode(await p.read(fd, 5))).toBe("hello");
    expect(dec.decode(await p.read(fd, 100))).toBe(" world\n");
    expect((await p.read(fd, 100)).length).toBe(0);
    p.lseek(fd, 6, SEEK_SET);
    expect(dec.decode(await p.read(fd, 5))).toBe("world");
  });

  it("shows /proc/<pid>/fd, fdinfo (pos, flags in octal with O_CLOEXEC, mnt_id, ino) and readlink (fs/proc/fd.c)", async () => {
    const k = await boot();
    const p = k.spawn("app");
    const fd = p.open("/sys/kernel/tracing/trace", O_RDONLY | O_CLOEXEC);
    const ino = p.fds.get(fd, "t").inode.ino;
    expect(p.readdir(`/proc/${p.pid}/fd`)).toEqual(["0"]);
    expect(p.readdir("/proc")).toEqual([String(p.pid)]);
    expect(await p.readFile(`/proc/${p.pid}/fdinfo/${fd}`)).toBe(`pos:\t0\nflags:\t02000000\nmnt_id:\t21\nino:\t${ino}\n`);
    expect(p.readlink(`/proc/self/fd/${fd}`)).toBe("/sys/kernel/tracing/trace");
    expect(await p.readFile("/proc/self/comm")).toBe("app\n");
    expect(() => p.open(`/proc/${p.pid}/fdinfo/42`)).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });

  it("lists bound devices under /sys/bus/platform/devices", async () => {
    const k = await Kernel.boot({ board: { memory: { size: "16M" }, devices: [{ name: "cam0", compatible: "x,y" }] } });
    const p = k.spawn("t");
    expect(p.readdir("/sys/bus/platform/devices")).toEqual(["cam0"]);
    expect(await p.readFile("/sys/bus/platform/devices/cam0/driver")).toBe("");
  });
});
