import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Errno, File, Kernel, NR_OPEN_DEFAULT, O_CLOEXEC, O_RDONLY, F_GETFD, F_SETFD, F_DUPFD, F_DUPFD_CLOEXEC, RLIMIT_NOFILE } from "../src/index.js";
import { FdTable } from "../src/fd-table.js";

const boot = () => Kernel.boot({ board: { memory: { size: "16M" } } });
const TRACE = "/sys/kernel/tracing/trace";

describe("fd table (fs/file.c semantics)", () => {
  it("allocates the lowest free fd, as POSIX requires of open(2) and dup(2)", async () => {
    const p = (await boot()).spawn("t");
    expect([p.open(TRACE), p.open(TRACE), p.open(TRACE)]).toEqual([0, 1, 2]);
    p.close(1);
    expect(p.dup(0)).toBe(1);
    expect(p.open(TRACE)).toBe(3);
  });

  it("dup and dup2 share one open file description: the file refcount counts them (file_count)", async () => {
    const p = (await boot()).spawn("t");
    const fd = p.open(TRACE);
    const f = p.fds.get(fd, "t");
    const d = p.dup(fd);
    expect(p.dup2(fd, 9)).toBe(9);
    expect(f.count).toBe(3);
    p.close(fd);
    p.close(d);
    expect(f.count).toBe(1);
    expect(f.released).toBe(false);
    p.close(9);
    expect(f.released).toBe(true);
  });

  it("dup2(fd, fd) returns fd and dup2 onto an open fd closes it first (dup2(2))", async () => {
    const p = (await boot()).spawn("t");
    const a = p.open(TRACE);
    const b = p.open(TRACE);
    const fb = p.fds.get(b, "t");
    expect(p.dup2(a, a)).toBe(a);
    expect(p.dup2(a, b)).toBe(b);
    expect(fb.released).toBe(true);
    expect(p.fds.get(b, "t")).toBe(p.fds.get(a, "t"));
  });

  it("gives EBADF for closed, negative and never-opened fds, and for dup2 beyond RLIMIT_NOFILE", async () => {
    const p = (await boot()).spawn("t");
    const fd = p.open(TRACE);
    p.close(fd);
    for (const call of [() => p.close(fd), () => p.dup(fd), () => p.dup(-1), () => p.lseek(77, 0, 0)]) expect(call).toThrow(expect.objectContaining({ code: "EBADF", errno: 9 }));
    const g = p.open(TRACE);
    expect(() => p.dup2(g, NR_OPEN_DEFAULT)).toThrow(expect.objectContaining({ code: "EBADF" }));
    await expect(p.ioctl(55, 0)).rejects.toMatchObject({ code: "EBADF" });
  });

  it("fails with EMFILE at RLIMIT_NOFILE and installs nothing", async () => {
    const p = (await boot()).spawn("t");
    p.setrlimit(RLIMIT_NOFILE, 4);
    for (let i = 0; i < 4; i++) p.open(TRACE);
    expect(() => p.open(TRACE)).toThrow(expect.objectContaining({ code: "EMFILE", errno: 24 }));
    expect(() => p.dup(0)).toThrow(expect.objectContaining({ code: "EMFILE" }));
    expect(p.fds.count).toBe(4);
    expect(p.fds.get(0, "t").count).toBe(1);
  });

  it("records O_CLOEXEC per fd (FD_CLOEXEC) and clears it on dup; F_DUPFD_CLOEXEC sets it", async () => {
    const p = (await boot()).spawn("t");
    const fd = p.open(TRACE, O_RDONLY | O_CLOEXEC);
    expect(p.fcntl(fd, F_GETFD)).toBe(1);
    expect(p.fcntl(p.dup(fd), F_GETFD)).toBe(0);
    expect(p.fcntl(fd, F_DUPFD, 10)).toBe(10);
    expect(p.fcntl(p.fcntl(fd, F_DUPFD_CLOEXEC, 10), F_GETFD)).toBe(1);
    p.fcntl(fd, F_SETFD, 0);
    expect(p.fcntl(fd, F_GETFD)).toBe(0);
  });

  it("passes fds between processes (SCM_RIGHTS): the receiver gets its own lowest free fds for the same file", async () => {
    const k = await boot();
    const a = k.spawn("a");
    const b = k.spawn("b");
    b.open(TRACE);
    const fd = a.open(TRACE);
    const [got] = a.sendFds(b, [fd]);
    expect(got).toBe(1);
    expect(b.fds.get(1, "t")).toBe(a.fds.get(fd, "t"));
    a.exit();
    expect(b.fds.get(1, "t").released).toBe(false);
    expect(() => a.open(TRACE)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });

  it("passing fds is all-or-nothing when the receiver hits EMFILE", async () => {
    const k = await boot();
    const a = k.spawn("a");
    const b = k.spawn("b");
    b.setrlimit(RLIMIT_NOFILE, 1);
    const fds = [a.open(TRACE), a.open(TRACE)];
    expect(() => a.sendFds(b, fds)).toThrow(expect.objectContaining({ code: "EMFILE" }));
    expect(b.fds.count).toBe(0);
    expect(fds.map((fd) => a.fds.get(fd, "t").count)).toEqual([1, 1]);
  });

  it("exit closes every fd and releases files no one else holds", async () => {
    const k = await boot();
    const p = k.spawn("t");
    const files = [p.open(TRACE), p.open(TRACE)].map((fd) => p.fds.get(fd, "t"));
    p.exit(0);
    expect(files.every((f) => f.released)).toBe(true);
    expect(k.tasks).not.toContain(p);
  });

  it("matches a reference model of lowest-free allocation under random open/close/dup/dup2 (property)", async () => {
    const k = await boot();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant({ op: "open" as const }), fc.record({ op: fc.constantFrom("close" as const, "dup" as const), i: fc.nat(40) }), fc.record({ op: fc.constant("dup2" as const), i: fc.nat(40), to: fc.nat(70) })), { maxLength: 120 }),
        async (ops) => {
          const p = k.spawn("prop");
          const model = new Set<number>();
          const lowest = () => { let i = 0; while (model.has(i)) i++; return i; };
          for (const o of ops) {
            const open = [...model].sort((x, y) => x - y);
            const pick = open.length ? open[("i" in o ? o.i : 0) % open.length]! : 999;
            try {
              if (o.op === "open") expect(p.open(TRACE)).toBe(lowest());
              else if (o.op === "dup") expect(p.dup(pick)).toBe(lowest());
              else if (o.op === "close") { p.close(pick); model.delete(pick); continue; }
              else if (o.op === "dup2") { expect(p.dup2(pick, o.to)).toBe(o.to); model.add(o.to); continue; }
              model.add(lowest());
            } catch (e) {
              expect(e).toBeInstanceOf(Errno);
              expect(open.length).toBe(0);
            }
          }
          expect([...p.fds.entries()].map(([fd]) => fd)).toEqual([...model].sort((x, y) => x - y));
          p.exit();
        },
      ),
      { numRuns: 150 },
    );
  });

  it("finds the lowest free fd >= min (alloc_fd/find_next_fd) in large tables with full 1,024-fd blocks (property, all bitmap levels)", () => {
    const file = new File({ name: "model" }, { ino: 1, name: "model" }, O_RDONLY);
    fc.assert(
      fc.property(
        fc.nat(5000),
        fc.array(fc.oneof(fc.record({ op: fc.constant("alloc" as const), min: fc.nat(6000) }), fc.record({ op: fc.constant("free" as const), fd: fc.nat(6000) })), { maxLength: 200 }),
        (prefill, ops) => {
          const t = new FdTable(1 << 20);
          const open = new Set<number>();
          const lowest = (min: number) => {
            let fd = min;
            while (open.has(fd)) fd++;
            return fd;
          };
          for (let fd = 0; fd < prefill; fd++) {
            t.install(fd, file, false);
            open.add(fd);
          }
          for (const o of ops) {
            if (o.op === "alloc") {
              const fd = t.lowestFree(o.min, "test");
              expect(fd).toBe(lowest(o.min));
              t.install(fd, file, false);
              open.add(fd);
            } else {
              expect(t.remove(o.fd) !== undefined).toBe(open.delete(o.fd));
            }
          }
          expect(t.count).toBe(open.size);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("keeps lowest-free correct past 65,536 fds", async () => {
    const p = (await boot()).spawn("big");
    p.setrlimit(RLIMIT_NOFILE, 70_000);
    const fd = p.open(TRACE);
    for (let i = 1; i < 66_000; i++) p.dup(fd);
    p.close(40_000);
    p.close(65_537);
    expect(p.dup(fd)).toBe(40_000);
    expect(p.dup(fd)).toBe(65_537);
    expect(p.dup(fd)).toBe(66_000);
  });
});
