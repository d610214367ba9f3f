/**
 * Reliability of the core: a process killed while it shares buffers (kill(2) with SIGKILL: do_exit()
 * drops its fds and mappings, the dma-buf lives on while another process holds it), a driver whose
 * file operation throws (contained like an oops in a syscall: the call fails with an errno, a BUG
 * line names the driver, the kernel stays consistent), and the fd isolation rule (fd numbers are
 * per process: another process's number is EBADF, as __fget() in the caller's files_struct gives).
 */
import { inject, injectable, type DependencyContainer } from "tsyringe";
import { describe, expect, it } from "vitest";
import {
  KERNEL, Kernel, MAP_SHARED, PAGE_SIZE, PLATFORM_DRIVER, PROT_READ, TAINT_DIE, PROT_WRITE, POLLIN, SIGKILL, SIGTERM, SW_SYNC_DEBUGFS_PATH, SW_SYNC_IOC_CREATE_FENCE, assertNoLeaks, dmaBufGet,
  leakCheck, type Device, type DriverPlugin, type PlatformDriver,
} from "../src/index.js";
import { PageExporter } from "./support/page-exporter.js";

describe("a process killed while it shares buffers (kill(2), kernel/signal.c + do_exit)", () => {
  it("SIGKILL closes the victim's fds and mappings; the buffer it passed lives on in the peer and is freed after the peer's close", async () => {
    const { k, exp } = await PageExporter.boot();
    const producer = k.spawn("producer");
    const consumer = k.spawn("consumer");
    const fd = await exp.alloc(producer, 2 * PAGE_SIZE);
    const map = producer.mmap(null, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    map.write(0, new Uint8Array([1, 2, 3, 4]));
    const [cfd] = producer.sendFds(consumer, [fd]);
    const ino = producer.fds.get(fd, "test").inode.ino;

    consumer.kill(producer.pid, SIGKILL);
    expect(producer.exited).toBe(true);
    expect(producer.termSignal).toBe(SIGKILL);
    expect(producer.exitCode).toBe(128 + SIGKILL);
    expect(k.trace.events("signal_generate").at(-1)!.args).toMatchObject({ sig: SIGKILL, comm: "producer", pid: producer.pid });
    expect(() => producer.open("/dev/test_heap")).toThrow(expect.objectContaining({ code: "ESRCH" }));
    expect(exp.released.get(ino)).toBeUndefined(); // still held by the consumer's fd
    const view = consumer.mmap(null, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, cfd!);
    expect(view.read(0, 4)).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(leakCheck(k).counts["process"]).toBe(1);

    consumer.munmap(view);
    consumer.close(cfd!);
    expect(exp.released.get(ino)).toBe(1);
    expect(exp.freePages).toBe(1024);
    assertNoLeaks(k);
  });

  it("kill(2) errors: ESRCH for no such pid, EINVAL for a bad or unmodelled signal; signal 0 only probes", async () => {
    const { k } = await PageExporter.boot();
    const a = k.spawn("a");
    const b = k.spawn("b");
    expect(() => a.kill(9999, SIGKILL)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    expect(() => a.kill(b.pid, -1)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => a.kill(b.pid, 10)).toThrow(expect.objectContaining({ code: "EINVAL", message: expect.stringMatching(/SIGUSR|not modelled|only SIGINT/) }));
    a.kill(b.pid, 0);
    expect(b.exited).toBe(false);
    a.kill(b.pid, SIGTERM);
    expect(b.termSignal).toBe(SIGTERM);
    expect(() => a.kill(b.pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    assertNoLeaks(k);
  });

  it("a process blocked in poll() on a fence that never signals is woken by the kill (EINTR) and its fds are gone", async () => {
    const { k } = await PageExporter.boot();
    const victim = k.spawn("victim");
    const killer = k.spawn("killer");
    const tl = victim.open(SW_SYNC_DEBUGFS_PATH);
    const data = { value: 1, name: "never", fence: -1 };
    await victim.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, data);
    const waiting = victim.poll([{ fd: data.fence, events: POLLIN, revents: 0 }], -1);
    k.clock.addTimer(1_000_000, () => killer.kill(victim.pid, SIGKILL), "kill");
    await expect(waiting).rejects.toMatchObject({ code: "EINTR" });
    expect(k.clock.now()).toBe(1_000_000);
    expect(victim.exited).toBe(true);
    expect(victim.fds.count).toBe(0);
    assertNoLeaks(k);
  });
});

/** A driver whose ioctl dereferences what it never set up: a bug the kernel must contain. */
@injectable()
class BuggyDriver implements PlatformDriver {
  readonly name = "buggy";
  readonly compatible = ["test,buggy"];
  constructor(@inject(KERNEL) readonly kernel: Kernel) {}
  probe(dev: Device): void {
    const state: { ring?: { head: number } } = {};
    this.kernel.vfs.create(`/dev/${dev.name}`, {
      name: "buggy",
      ioctl: (_f, req) => {
        if (req === 1) return state.ring!.head; // TypeError: the model's NULL dereference
        if (req === 2) throw new Error("firmware returned garbage");
        if (req === 3) return Promise.reject(new Error("async job failed badly"));
        if (req === 4) return dmaBufGet(this.kernel, 77).size; // an Errno from the kernel API passes through
        return 0;
      },
      read: () => {
        throw new RangeError("offset out of bounds");
      },
    });
  }
  remove(dev: Device): void {
    this.kernel.vfs.remove(`/dev/${dev.name}`);
  }
}

const buggy = (): DriverPlugin => ({
  name: "buggy",
  register(c: DependencyContainer) {
    c.registerSingleton(BuggyDriver);
    c.register(PLATFORM_DRIVER, { useToken: BuggyDriver });
  },
});

describe("a driver op that throws is contained (an oops in a syscall, not a crash of the model)", () => {
  it("TypeError/RangeError: EFAULT; any other exception (sync or async): EIO; a BUG line names the driver; Errnos pass through", async () => {
    const k = await Kernel.boot({ board: { memory: { size: "16M" }, devices: [{ name: "buggy0", compatible: "test,buggy" }] }, plugins: [buggy()] });
    const p = k.spawn("app");
    const fd = p.open("/dev/buggy0");
    await expect(p.ioctl(fd, 1)).rejects.toMatchObject({ code: "EFAULT", message: expect.stringMatching(/driver buggy crashed in its ioctl op: TypeError/) });
    await expect(p.ioctl(fd, 2)).rejects.toMatchObject({ code: "EIO", message: expect.stringMatching(/firmware returned garbage/) });
    await expect(p.ioctl(fd, 3)).rejects.toMatchObject({ code: "EIO", message: expect.stringMatching(/async job failed badly/) });
    await expect(p.ioctl(fd, 4)).rejects.toMatchObject({ code: "EBADF" });
    await expect(p.read(fd, 16)).rejects.toMatchObject({ code: "EFAULT" });
    const log = k.dmesg();
    expect(log).toContain("BUG: unable to handle page fault in buggy ioctl: TypeError");
    expect(log).toContain("kernel BUG in buggy ioctl: Error: firmware returned garbage");
    expect(log).toMatch(new RegExp(`CPU: 0 PID: ${p.pid} Comm: app Tainted: G +D \\(ioctl returns -EFAULT\\)`));
    expect(k.tainted & (1 << TAINT_DIE)).toBeTruthy();
    expect(await p.readFile("/proc/sys/kernel/tainted")).toBe(`${1 << TAINT_DIE}\n`);
    expect(k.trace.events("driver_op_oops").map((e) => e.args["error"])).toEqual(["TypeError", "Error", "Error", "RangeError"]);
    // The kernel is consistent: current is restored, the fd still works, the file's refcount is intact.
    expect(k.current).toBeUndefined();
    expect(await p.ioctl(fd, 0)).toBe(0);
    expect(p.fds.get(fd, "test").count).toBe(1);
    assertNoLeaks(k);
  });
});

describe("isolation: fds are per process (fs/file.c: an fd indexes the caller's own fd table)", () => {
  it("another process's fd number is EBADF in every call, and names the caller's own file when it has one", async () => {
    const { k, exp } = await PageExporter.boot();
    const a = k.spawn("a");
    const b = k.spawn("b");
    const secret = await exp.alloc(a, PAGE_SIZE);
    expect(b.fds.lookup(secret)).toBeUndefined();
    expect(() => b.dup(secret)).toThrow(expect.objectContaining({ code: "EBADF" }));
    expect(() => b.close(secret)).toThrow(expect.objectContaining({ code: "EBADF" }));
    expect(() => b.mmap(null, PAGE_SIZE, PROT_READ, MAP_SHARED, secret)).toThrow(expect.objectContaining({ code: "EBADF" }));
    await expect(b.ioctl(secret, 0)).rejects.toMatchObject({ code: "EBADF" });
    await expect(exp.import(b, secret)).rejects.toMatchObject({ code: "EBADF" }); // dma_buf_get() in b's context
    expect(() => b.sendFds(a, [secret])).toThrow(expect.objectContaining({ code: "EBADF" }));
    expect(() => b.readlink(`/proc/self/fd/${secret}`)).toThrow(expect.objectContaining({ code: "ENOENT" }));
    // b's own fd with the same number is b's file, not a's.
    const own = await exp.alloc(b, PAGE_SIZE);
    expect(own).toBe(secret);
    expect(b.fds.get(own, "t")).not.toBe(a.fds.get(secret, "t"));
    // Only SCM_RIGHTS gives b a's buffer.
    const [passed] = a.sendFds(b, [secret]);
    expect(b.fds.get(passed!, "t")).toBe(a.fds.get(secret, "t"));
    assertNoLeaks(k);
  });
});
