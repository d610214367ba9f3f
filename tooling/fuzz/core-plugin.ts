import * as fc from "fast-check";
import {
  F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, MAP_PRIVATE, MAP_SHARED, O_ACCMODE, O_CLOEXEC, O_RDONLY,
  O_RDWR, O_WRONLY, PAGE_SIZE, SEEK_CUR, SEEK_END, SEEK_SET, POLLIN, POLLNVAL, POLLOUT, POLLPRI, PROT_READ, PROT_WRITE, RLIMIT_NOFILE, leakCheck,
  type ErrnoCode, type PollFd,
} from "@dmabuf/core";
import { memDevices } from "./mem-device.js";
import type { Expect, FdChoice, FuzzCommand, FuzzPlugin, FuzzProc, FuzzWorld } from "./world.js";

/** Erases a command's argument type so commands of different shapes share one list. */
export function defineCommand<A>(c: FuzzCommand<A>): FuzzCommand<never> {
  return c as unknown as FuzzCommand<never>;
}

/** Mostly fds the process holds, sometimes any number (closed, negative, beyond the limit). */
export const fdChoice: fc.Arbitrary<FdChoice> = fc.oneof(
  { arbitrary: fc.record({ held: fc.nat(15) }), weight: 5 },
  { arbitrary: fc.record({ raw: fc.integer({ min: -1, max: 1100 }) }), weight: 1 },
);
const proc = fc.nat(7);
/** true about one time in six; shrinks to false. */
const rarely = fc.oneof({ arbitrary: fc.constant(false), weight: 5 }, { arbitrary: fc.constant(true), weight: 1 });

const names = (bits: [number, string][], v: number, none: string) => bits.filter(([b]) => v & b).map(([, n]) => n).join("|") || none;
export const oflags = (f: number) => {
  const rest = f & ~(O_ACCMODE | O_CLOEXEC);
  return [["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][f & O_ACCMODE]!, ...(f & O_CLOEXEC ? ["O_CLOEXEC"] : []), ...(rest ? [`0${rest.toString(8)}`] : [])].join("|");
};
export const protName = (p: number) => names([[PROT_READ, "PROT_READ"], [PROT_WRITE, "PROT_WRITE"]], p, "PROT_NONE");
export const mapName = (f: number) => names([[MAP_SHARED, "MAP_SHARED"], [MAP_PRIVATE, "MAP_PRIVATE"]], f, "0");
const FCNTL_NAMES: Record<number, string> = { [F_DUPFD]: "F_DUPFD", [F_DUPFD_CLOEXEC]: "F_DUPFD_CLOEXEC", [F_GETFD]: "F_GETFD", [F_SETFD]: "F_SETFD", [F_GETFL]: "F_GETFL" };

const EXISTING = ["/dev/zero", "/dev/null", "/proc/self/maps", "/proc/self/comm", "/sys/kernel/tracing/trace", "/sys/kernel/tracing/tracing_on"];
const MISSING: [string, ErrnoCode][] = [["/dev/nonexistent", "ENOENT"], ["/proc/99999/comm", "ENOENT"], ["/sys/kernel/tracing", "EISDIR"], ["/dev", "EISDIR"]];

/** EMFILE when the model has no free fd below the limit, else success. */
const needsFd = (w: FuzzWorld, p: FuzzProc, min = 0): Expect => (w.lowestFree(p, min) === undefined ? ["EMFILE"] : []);

const spawn = defineCommand({
  name: "spawn",
  weight: 1,
  args: fc.constant(null),
  async run(w) {
    if (w.procs.length < 8) await w.spawn();
  },
});

const open = defineCommand({
  name: "open",
  weight: 6,
  args: fc.record({ p: proc, path: fc.nat(31), missing: rarely, acc: fc.constantFrom(O_RDWR, O_RDONLY, O_WRONLY), cloexec: fc.boolean() }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const flags = a.acc | (a.cloexec ? O_CLOEXEC : 0);
    if (!a.missing) {
      const path = w.paths[a.path % w.paths.length]!;
      await w.open(p, path, flags, `open("${path}", ${oflags(flags)})`);
      return;
    }
    const [path, code] = MISSING[a.path % MISSING.length]!;
    await w.call(p, "open", `open("${path}", ${oflags(flags)})`, () => p.proc.open(path, flags), [code]);
  },
});

const close = defineCommand({
  name: "close",
  weight: 4,
  args: fc.record({ p: proc, fd: fdChoice }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fd(p, a.fd);
    if (await w.call(p, "close", `close(${fd})`, () => p.proc.close(fd), p.fds.has(fd) ? [] : ["EBADF"], () => "0")) p.fds.delete(fd);
  },
});

const dup = defineCommand({
  name: "dup",
  weight: 3,
  args: fc.record({ p: proc, fd: fdChoice }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fd(p, a.fd);
    const src = p.fds.get(fd);
    const want = w.lowestFree(p);
    const r = await w.call(p, "dup", `dup(${fd})`, () => p.proc.dup(fd), src ? needsFd(w, p) : ["EBADF"]);
    if (!r) return;
    const nfd = r.value;
    if (nfd !== want) w.fail(`dup returned ${nfd}; POSIX requires the lowest free fd, ${want}`);
    w.addFd(p, nfd, `dup(${fd})`, false, src!.file);
  },
});

const dup2 = defineCommand({
  name: "dup2",
  weight: 2,
  args: fc.record({ p: proc, old: fdChoice, new: fdChoice }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const [oldfd, newfd] = [w.fd(p, a.old), w.fd(p, a.new)];
    const src = p.fds.get(oldfd);
    const expect: ErrnoCode[] = !src || newfd < 0 || newfd >= p.limit ? ["EBADF"] : [];
    if (!(await w.call(p, "dup2", `dup2(${oldfd}, ${newfd})`, () => p.proc.dup2(oldfd, newfd), expect)) || oldfd === newfd) return;
    w.addFd(p, newfd, `dup2(${oldfd}, ${newfd})`, false, src!.file);
  },
});

const fcntl = defineCommand({
  name: "fcntl",
  weight: 2,
  args: fc.record({ p: proc, fd: fdChoice, cmd: fc.constantFrom(F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, 9999), arg: fc.integer({ min: -1, max: 40 }) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fd(p, a.fd);
    const e = p.fds.get(fd);
    const dupCmd = a.cmd === F_DUPFD || a.cmd === F_DUPFD_CLOEXEC;
    const expect: Expect = !e ? ["EBADF"] : a.cmd === 9999 ? ["EINVAL"] : dupCmd ? (a.arg < 0 || a.arg >= p.limit ? ["EINVAL"] : needsFd(w, p, a.arg)) : [];
    const want = dupCmd ? w.lowestFree(p, Math.max(0, a.arg)) : undefined;
    const res = await w.call(p, "fcntl", `fcntl(${fd}, ${FCNTL_NAMES[a.cmd] ?? a.cmd}, ${a.arg})`, () => p.proc.fcntl(fd, a.cmd, a.arg), expect);
    if (!res || !e) return;
    const r = res.value;
    if (dupCmd) {
      if (r !== want) w.fail(`fcntl(${FCNTL_NAMES[a.cmd]}, ${a.arg}) returned ${r}; expected the lowest free fd >= ${a.arg}, ${want}`);
      w.addFd(p, r, `fcntl(${fd}, ${FCNTL_NAMES[a.cmd]})`, a.cmd === F_DUPFD_CLOEXEC, e.file);
    } else if (a.cmd === F_GETFD && r !== (e.cloexec ? 1 : 0)) w.fail(`F_GETFD on fd ${fd} returned ${r}; FD_CLOEXEC is ${e.cloexec ? "set" : "clear"}`);
    else if (a.cmd === F_SETFD) e.cloexec = (a.arg & 1) !== 0;
  },
});

const setrlimit = defineCommand({
  name: "setrlimit",
  weight: 1,
  args: fc.record({ p: proc, limit: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constant(1024)) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    if (await w.call(p, "setrlimit", `setrlimit(RLIMIT_NOFILE, ${a.limit})`, () => p.proc.setrlimit(RLIMIT_NOFILE, a.limit), [], () => "0")) p.limit = a.limit;
  },
});

const sendFds = defineCommand({
  name: "sendmsg",
  weight: 3,
  args: fc.record({ p: proc, to: proc, fds: fc.array(fdChoice, { minLength: 1, maxLength: 3 }), cloexec: fc.boolean() }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const to = w.pickAny(a.to);
    const fds = a.fds.map((c) => w.fd(p, c));
    // the fds the receiver should get: the lowest free ones, in order
    const want: number[] = [];
    const taken = new Set(to.fds.keys());
    for (let i = 0; i < fds.length; i++) {
      let fd = 0;
      while (taken.has(fd)) fd++;
      taken.add(fd);
      want.push(fd);
    }
    const expect: ErrnoCode[] = [];
    if (fds.some((fd) => !p.fds.has(fd))) expect.push("EBADF");
    if (!to.alive) expect.push("ECONNREFUSED");
    if (!expect.length && want.some((fd) => fd >= to.limit)) expect.push("EMFILE");
    const files = fds.map((fd) => p.fds.get(fd)?.file);
    const res = await w.call(p, "sendmsg", `sendmsg(${to.name}, SCM_RIGHTS [${fds.join(", ")}]${a.cloexec ? ", MSG_CMSG_CLOEXEC" : ""})`, () => p.proc.sendFds(to.proc, fds, a.cloexec ? O_CLOEXEC : 0), expect, (r) => `0; ${to.name} receives [${r.join(", ")}]`);
    if (!res) return;
    const got = res.value;
    if (got.join() !== want.join()) w.fail(`${to.name} received fds [${got}]; expected the lowest free ones, [${want}]`);
    got.forEach((fd, i) => w.addFd(to, fd, `received from ${p.name} fd ${fds[i]}`, a.cloexec, files[i]));
  },
});

/** cat, ls and readlink of procfs/debugfs, checked against the model where it can say. */
const procfs = defineCommand({
  name: "procfs",
  weight: 3,
  args: fc.record({ p: proc, of: proc, what: fc.constantFrom("cat", "fdinfo", "maps", "ls-fd", "readlink"), path: fc.nat(31), fd: fdChoice }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const of = w.pickAny(a.of);
    const fd = w.fd(of, a.fd);
    const dir = of === p ? "/proc/self" : `/proc/${of.proc.pid}`;
    if (a.what === "ls-fd") {
      const r = await w.call(p, "opendir", `opendir("${dir}/fd")`, () => p.proc.readdir(`${dir}/fd`), of.alive ? [] : ["ENOENT"], (r) => `[${r.join(", ")}]`);
      const want = [...of.fds.keys()].sort((x, y) => x - y).join(", ");
      if (r && r.value.join(", ") !== want) w.fail(`${dir}/fd lists [${r.value.join(", ")}]; ${of.name} holds [${want}]`);
    } else if (a.what === "readlink") {
      const e = of.fds.get(fd);
      const r = await w.call(p, "readlink", `readlink("${dir}/fd/${fd}")`, () => p.proc.readlink(`${dir}/fd/${fd}`), of.alive && e ? [] : ["ENOENT"], (s) => `"${s}"`);
      if (r && r.value !== e!.file.inode.name) w.fail(`readlink of ${dir}/fd/${fd} gave "${r.value}"; the fd refers to ${e!.file.inode.name}`);
    } else {
      // cat of /dev/zero would read forever
      const catable = w.paths.filter((x) => x !== "/dev/zero").concat(MISSING.map(([m]) => m));
      const path = a.what === "fdinfo" ? `${dir}/fdinfo/${fd}` : a.what === "maps" ? `${dir}/maps` : catable[a.path % catable.length]!;
      const missing = MISSING.find(([m]) => m === path)?.[1];
      const gone = (a.what === "fdinfo" && !of.fds.has(fd)) || (a.what !== "cat" && !of.alive);
      // other subsystems' files may not be readable: their outcome is not predicted, only their errno checked
      const expect: Expect = missing ? [missing] : gone ? ["ENOENT"] : a.what !== "cat" || EXISTING.includes(path) ? needsFd(w, p) : undefined;
      await w.call(p, "cat", `cat("${path}")`, () => p.proc.readFile(path), expect, (t) => `${t.length} bytes`);
    }
  },
});

const read = defineCommand({
  name: "read",
  weight: 2,
  args: fc.record({ p: proc, fd: fdChoice, count: fc.constantFrom(0, 1, 64, 4096) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fd(p, a.fd);
    const f = p.fds.get(fd)?.file;
    const said = f && w.plugins.map((pl) => pl.predictRead?.(f, a.count)).find((x) => x !== undefined);
    const expect: Expect = !f || (f.flags & O_ACCMODE) === O_WRONLY ? ["EBADF"] : !f.ops.read ? ["EINVAL"] : said ? said.expect : [];
    await w.call(p, "read", `read(${fd}, buf, ${a.count})`, () => p.proc.read(fd, a.count), expect, (b) => String(b.length));
  },
});

const write = defineCommand({
  name: "write",
  weight: 1,
  args: fc.record({ p: proc, fd: fdChoice, text: fc.constantFrom("1\n", "0\n", "", "fuzz") }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fd(p, a.fd);
    const f = p.fds.get(fd)?.file;
    const expect: Expect = !f || (f.flags & O_ACCMODE) === O_RDONLY ? ["EBADF"] : !f.ops.write ? ["EINVAL"] : undefined;
    await w.call(p, "write", `write(${fd}, ${JSON.stringify(a.text)}, ${a.text.length})`, () => p.proc.write(fd, a.text), expect);
  },
});

const lseek = defineCommand({
  name: "lseek",
  weight: 1,
  args: fc.record({ p: proc, fd: fdChoice, off: fc.constantFrom(0, 1, -1, 4096), whence: fc.constantFrom(SEEK_SET, SEEK_CUR, SEEK_END, 7) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fd(p, a.fd);
    const f = p.fds.get(fd)?.file;
    const expect: Expect = !f ? ["EBADF"] : !f.ops.llseek ? ["ESPIPE"] : undefined;
    await w.call(p, "lseek", `lseek(${fd}, ${a.off}, ${["SEEK_SET", "SEEK_CUR", "SEEK_END"][a.whence] ?? a.whence})`, () => p.proc.lseek(fd, a.off, a.whence), expect);
  },
});

const ioctl = defineCommand({
  name: "ioctl",
  weight: 2,
  args: fc.record({ p: proc, fd: fdChoice, request: fc.oneof(fc.nat(), fc.constantFrom(0, 0xc0186200, 0xc0086201, 0x40086200)), arg: fc.constantFrom(undefined, null, {}) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fd(p, a.fd);
    const f = p.fds.get(fd)?.file;
    const expect: Expect = !f ? ["EBADF"] : !f.ops.ioctl ? ["ENOTTY"] : undefined;
    await w.call(p, "ioctl", `ioctl(${fd}, 0x${(a.request >>> 0).toString(16)}, ${a.arg === undefined ? "NULL" : JSON.stringify(a.arg)})`, () => p.proc.ioctl(fd, a.request, a.arg), expect);
  },
});

const mmap = defineCommand({
  name: "mmap",
  weight: 3,
  args: fc.record({ p: proc, fd: fdChoice, len: fc.constantFrom(4096, 8192, 5000, 0, -4096), prot: fc.nat(3), flags: fc.constantFrom(MAP_SHARED, MAP_PRIVATE, 0, 3), off: fc.constantFrom(0, 4096, 100) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const fd = w.fd(p, a.fd);
    const f = p.fds.get(fd)?.file;
    const acc = f ? f.flags & O_ACCMODE : O_RDWR;
    // every condition that applies; Linux checks them in an order the man page leaves open
    const errs: ErrnoCode[] = [];
    if (a.len <= 0 || a.off % PAGE_SIZE !== 0 || (a.flags !== MAP_SHARED && a.flags !== MAP_PRIVATE)) errs.push("EINVAL");
    if (!f) errs.push("EBADF");
    else if (!f.ops.mmap) errs.push("ENODEV");
    else if ((a.prot & PROT_READ && acc === O_WRONLY) || (a.prot & PROT_WRITE && a.flags === MAP_SHARED && acc === O_RDONLY)) errs.push("EACCES");
    // success is predictable for /dev/zero only; other files' mmap ops have their own limits
    const expect: Expect = errs.length ? errs : f?.inode.name === "/dev/zero" ? [] : w.plugins.map((pl) => f && pl.predictMmap?.(f, a.len, a.off)).find((x) => x !== undefined);
    const text = `mmap(NULL, ${a.len}, ${protName(a.prot)}, ${mapName(a.flags)}, ${fd}, ${a.off})`;
    const r = await w.call(p, "mmap", text, () => p.proc.mmap(null, a.len, a.prot, a.flags, fd, a.off), expect, (v) => `0x${v.start.toString(16)}`);
    if (r) p.vmas.set(r.value.start, { vma: r.value, origin: text });
  },
});

const munmap = defineCommand({
  name: "munmap",
  weight: 2,
  args: fc.record({ p: proc, which: fc.nat(7), bogus: rarely }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const vmas = [...p.vmas.values()];
    const v = a.bogus || !vmas.length ? undefined : vmas[a.which % vmas.length]!.vma;
    const addr = v ? v.start : 0x1000;
    await w.call(p, "munmap", `munmap(0x${addr.toString(16)}, ${v?.length ?? 4096})`, () => p.proc.munmap(addr, v?.length ?? 4096), [], () => "0");
    if (v) p.vmas.delete(v.start);
  },
});

const poll = defineCommand({
  name: "poll",
  weight: 2,
  args: fc.record({ p: proc, fds: fc.array(fdChoice, { minLength: 1, maxLength: 3 }), events: fc.constantFrom(POLLIN, POLLOUT, POLLIN | POLLOUT, POLLPRI, 0), timeout: fc.constantFrom(0, 1, 5) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (!p) return;
    const pfds: PollFd[] = a.fds.map((c) => ({ fd: w.fd(p, c), events: a.events, revents: 0 }));
    const text = `poll([${pfds.map((x) => `{${x.fd}, 0x${x.events.toString(16)}}`).join(", ")}], ${pfds.length}, ${a.timeout})`;
    const res = await w.call(p, "poll", text, () => p.proc.poll(pfds, a.timeout), [], (r) => `${r} [revents ${pfds.map((x) => `0x${x.revents.toString(16)}`).join(", ")}]`);
    if (!res) return;
    const n = res.value;
    for (const x of pfds) {
      const want = x.fd < 0 ? 0 : p.fds.has(x.fd) ? undefined : POLLNVAL;
      if (want !== undefined && x.revents !== want) w.fail(`poll gave revents 0x${x.revents.toString(16)} for fd ${x.fd}; poll(2) requires 0x${want.toString(16)}`);
    }
    if (n !== pfds.filter((x) => x.revents).length) w.fail(`poll returned ${n} but ${pfds.filter((x) => x.revents).length} entries have revents set`);
  },
});

const exit = defineCommand({
  name: "exit",
  weight: 1,
  args: fc.record({ p: proc, code: fc.nat(3) }),
  async run(w, a) {
    const p = w.pick(a.p);
    if (p) await w.exit(p, a.code);
  },
});

/** The userspace API of @dmabuf/core: fds, fd passing, procfs, mmap, poll, exit. */
export const corePlugin: FuzzPlugin = {
  name: "core",
  kernelPlugins: () => [memDevices()],
  paths: EXISTING,
  commands: [spawn, open, close, dup, dup2, fcntl, setrlimit, sendFds, procfs, read, write, lseek, ioctl, mmap, munmap, poll, exit],
  invariants: [
    {
      name: "every fd in a process is one it opened or received (fd table = model)",
      check(w: FuzzWorld) {
        for (const p of w.procs) {
          const real = [...p.proc.fds.entries()];
          if (real.length !== p.fds.size) w.fail(`${p.name} has fds [${real.map(([fd]) => fd)}]; it opened or received [${[...p.fds.keys()]}]`);
          for (const [fd, file] of real) {
            const e = p.fds.get(fd);
            if (!e) w.fail(`${p.name} has fd ${fd} (${file.inode.name}) that it never opened or received`);
            if (e.file !== file) w.fail(`${p.name} fd ${fd} refers to ${file.inode.name}; it got ${e.file.inode.name} by ${e.origin}`);
            if (p.proc.fds.isCloexec(fd) !== e.cloexec) w.fail(`${p.name} fd ${fd}: FD_CLOEXEC is ${!e.cloexec ? "set" : "clear"} in the kernel, ${e.cloexec ? "set" : "clear"} in the model`);
          }
        }
      },
    },
    {
      name: "every mapping is one the process made and has not unmapped",
      check(w: FuzzWorld) {
        for (const p of w.procs) {
          const real = p.proc.mappings().map((v) => v.start);
          const want = [...p.vmas.keys()];
          if (real.join() !== want.join() || p.proc.mappings().some((v) => v.unmapped)) w.fail(`${p.name} has mappings [${real.map((s) => s.toString(16))}]; expected [${want.map((s) => s.toString(16))}]`);
        }
      },
    },
    {
      name: "file refcounts equal the references held (fds + mappings + kernel)",
      check(w: FuzzWorld) {
        for (const f of w.files) {
          const want = w.expectedRefs(f);
          if (f.count !== want) w.fail(`${f.inode.name} (ino ${f.inode.ino}) has ${f.count} references; fds, mappings and the kernel hold ${want}`);
        }
        for (const r of w.kernel.objects.live("file"))
          if (!w.files.has(r.obj as never)) w.fail(`the kernel holds a file no process was given: ${r.describe()} (created by ${r.origin})`);
      },
    },
    {
      name: "the kernel's processes are the live ones",
      check(w: FuzzWorld) {
        const real = w.kernel.tasks.map((t) => t.pid).join();
        const want = w.live.map((p) => p.proc.pid).join();
        if (real !== want) w.fail(`kernel has processes [${real}]; live ones are [${want}]`);
      },
    },
  ],
  final: [
    {
      name: "after every process exits nothing is left (leak check)",
      check(w: FuzzWorld) {
        const r = leakCheck(w.kernel);
        if (r.leaks.length) w.fail(`left after every process exited:\n${r.text}`);
      },
    },
  ],
};
