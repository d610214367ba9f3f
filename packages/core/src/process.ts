import { SimulationStalled } from "./clock.js";
import { Errno, check } from "./errno.js";
import { FdTable, NR_OPEN_MAX } from "./fd-table.js";
import {
  File, MAP_PRIVATE, MAP_SHARED, O_ACCMODE, O_CLOEXEC, O_RDONLY, O_WRONLY, POLLERR, POLLHUP, POLLIN,
  POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM, PROT_READ, PROT_WRITE, type PollTable,
} from "./file.js";
import type { Kernel } from "./kernel.js";
import { onSignal, sendSignal, signalPending } from "./signal.js";
import { TAINT_DIE } from "./taint.js";
import { VmArea } from "./vm-area.js";
import type { WaitQueue } from "./wait-queue.js";

export const PAGE_SIZE = 4096;
export const RLIMIT_NOFILE = 7;
/* fcntl commands */
export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_DUPFD_CLOEXEC = 1030;
/* signals whose default action terminates the process (asm-generic/signal.h numbers) */
export const SIGINT = 2;
export const SIGKILL = 9;
export const SIGTERM = 15;
const TERMINATING = new Set([SIGINT, SIGKILL, SIGTERM]);

/** struct pollfd: `revents` is written by poll(). */
export interface PollFd {
  fd: number;
  events: number;
  revents: number;
}

const DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
const dec = new TextDecoder();

/**
 * A userspace process: an fd table, mappings, and the POSIX calls a C program makes. Calls that can
 * block in Linux (ioctl, read, write, poll) return Promises and sleep in virtual time; the rest
 * return at once. Every failure throws an {@link Errno} and changes nothing.
 */
export class Process {
  readonly fds = new FdTable();
  private readonly vmas = new Map<number, VmArea>();
  private nextAddr = 0x7f00_0000_0000;
  exitCode: number | undefined;
  /** The signal that killed the process (WTERMSIG), if one did. */
  termSignal: number | undefined;

  constructor(
    readonly kernel: Kernel,
    readonly pid: number,
    readonly comm: string,
  ) {}

  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  /** Runs a syscall body with this process as `current` (for fd installation and tracing). */
  private sys<T>(call: string, body: () => T): T {
    if (this.exited) throw new Errno("ESRCH", call, `process ${this.comm}[${this.pid}] has exited`);
    const prev = this.kernel.current;
    this.kernel.current = this;
    try {
      return body();
    } finally {
      this.kernel.current = prev;
    }
  }

  /** open(2) */
  open(path: string, flags = 2): number {
    return this.sys("open", () => {
      const node = this.kernel.vfs.lookup(path, "open");
      const fd = this.fds.lowestFree(0, "open");
      const file = new File(node.fops, node.inode, flags & ~O_CLOEXEC, node.privateData);
      if (node.fops.open) driverCall(this, node.fops, "open", () => node.fops.open!(file, this.kernel));
      this.fds.install(fd, file, (flags & O_CLOEXEC) !== 0);
      this.kernel.objects.registerFile(file, `open("${path}") = ${fd}`);
      return fd;
    });
  }

  /** Installs a kernel-created file (anon inode) at the lowest free fd: fd_install(get_unused_fd_flags()). */
  installFile(file: File, flags: number, call: string): number {
    const fd = this.fds.lowestFree(0, call);
    this.fds.install(fd, file, (flags & O_CLOEXEC) !== 0);
    return fd;
  }

  /** close(2) */
  close(fd: number): void {
    this.sys("close", () => {
      this.fds.get(fd, "close");
      this.fds.remove(fd)!.put();
    });
  }

  /** dup(2): the lowest free fd, sharing the open file description; FD_CLOEXEC cleared. */
  dup(fd: number): number {
    return this.sys("dup", () => this.dupFrom(fd, 0, false, "dup"));
  }

  private dupFrom(fd: number, min: number, cloexec: boolean, call: string): number {
    const file = this.fds.get(fd, call);
    const nfd = this.fds.lowestFree(min, call);
    this.fds.install(nfd, file.get(), cloexec);
    return nfd;
  }

  /** dup2(2): `newfd` is closed first if open; equal fds return at once. */
  dup2(oldfd: number, newfd: number): number {
    return this.sys("dup2", () => {
      const file = this.fds.get(oldfd, "dup2");
      check(Number.isInteger(newfd) && newfd >= 0 && newfd < this.fds.limit, "EBADF", "dup2", `newfd ${newfd} is outside 0..RLIMIT_NOFILE-1 (${this.fds.limit - 1})`);
      if (oldfd === newfd) return newfd;
      file.get();
      this.fds.remove(newfd)?.put();
      this.fds.install(newfd, file, false);
      return newfd;
    });
  }

  /** fcntl(2) for F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL. */
  fcntl(fd: number, cmd: number, arg = 0): number {
    return this.sys("fcntl", () => {
      const file = this.fds.get(fd, "fcntl");
      switch (cmd) {
        case F_DUPFD:
        case F_DUPFD_CLOEXEC:
          check(arg >= 0 && arg < this.fds.limit, "EINVAL", "fcntl", `F_DUPFD minimum ${arg} is outside 0..RLIMIT_NOFILE-1`);
          return this.dupFrom(fd, arg, cmd === F_DUPFD_CLOEXEC, "fcntl");
        case F_GETFD:
          return this.fds.isCloexec(fd) ? 1 : 0;
        case F_SETFD:
          this.fds.setCloexec(fd, (arg & 1) !== 0);
          return 0;
        case F_GETFL:
          return file.flags;
        default:
          throw new Errno("EINVAL", "fcntl", `unsupported command ${cmd}`);
      }
    });
  }

  /** setrlimit(RLIMIT_NOFILE): lowering it below open fds is allowed, as on Linux. */
  setrlimit(resource: number, limit: number): void {
    this.sys("setrlimit", () => {
      check(resource === RLIMIT_NOFILE, "EINVAL", "setrlimit", `only RLIMIT_NOFILE (${RLIMIT_NOFILE}) is modelled`);
      check(Number.isInteger(limit) && limit >= 0, "EINVAL", "setrlimit", `limit ${limit} is not a count`);
      check(limit <= NR_OPEN_MAX, "EPERM", "setrlimit", `limit ${limit} exceeds fs.nr_open (${NR_OPEN_MAX})`);
      this.fds.limit = limit;
    });
  }

  /** ioctl(2): `arg` is the struct, read and written in place. ENOTTY when the file has no ioctls. */
  ioctl(fd: number, request: number, arg?: unknown): Promise<number> {
    // Not async: a driver's Promise is passed on as it is, a number wrapped once (the hottest syscall).
    try {
      return Promise.resolve(
        this.sys("ioctl", () => {
          const file = this.fds.get(fd, "ioctl");
          if (!file.ops.ioctl) throw new Errno("ENOTTY", "ioctl", `${file.inode.name} (${file.ops.name}) has no ioctls`);
          return driverCall(this, file.ops, "ioctl", () => file.ops.ioctl!(file, request >>> 0, arg));
        }),
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** read(2): at most `count` bytes from the file position. */
  async read(fd: number, count = 65536): Promise<Uint8Array> {
    const file = this.sys("read", () => this.fds.get(fd, "read"));
    check((file.flags & O_ACCMODE) !== O_WRONLY, "EBADF", "read", `fd ${fd} was opened write-only`);
    if (!file.ops.read) throw new Errno("EINVAL", "read", `${file.inode.name} is not readable`);
    const data = await driverCall(this, file.ops, "read", () => file.ops.read!(file, count, file.pos));
    file.pos += data.length;
    return data;
  }

  /** write(2) */
  async write(fd: number, data: Uint8Array | string): Promise<number> {
    const file = this.sys("write", () => this.fds.get(fd, "write"));
    check((file.flags & O_ACCMODE) !== O_RDONLY, "EBADF", "write", `fd ${fd} was opened read-only`);
    if (!file.ops.write) throw new Errno("EINVAL", "write", `${file.inode.name} is not writable`);
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const n = driverCall(this, file.ops, "write", () => file.ops.write!(file, bytes, file.pos));
    file.pos += n;
    return n;
  }

  /** lseek(2). ESPIPE when the file cannot seek. */
  lseek(fd: number, offset: number, whence: number): number {
    return this.sys("lseek", () => {
      const file = this.fds.get(fd, "lseek");
      if (!file.ops.llseek) throw new Errno("ESPIPE", "lseek", `${file.inode.name} (${file.ops.name}) is not seekable`);
      file.pos = driverCall(this, file.ops, "llseek", () => file.ops.llseek!(file, offset, whence));
      return file.pos;
    });
  }

  /**
   * mmap(2) of a file: `addr` is a hint and ignored, as with addr=NULL. Returns the mapping, whose
   * memory is the file's own (no copy). The mapping holds a file reference until munmap or exit.
   */
  mmap(_addr: number | null, length: number, prot: number, flags: number, fd: number, offset = 0): VmArea {
    return this.sys("mmap", () => {
      check(Number.isInteger(length) && length > 0, "EINVAL", "mmap", `length ${length} must be > 0`);
      check(offset % PAGE_SIZE === 0 && offset >= 0, "EINVAL", "mmap", `offset ${offset} is not page aligned`);
      const type = flags & 3;
      check(type === MAP_SHARED || type === MAP_PRIVATE, "EINVAL", "mmap", "flags must contain MAP_SHARED or MAP_PRIVATE");
      const file = this.fds.get(fd, "mmap");
      if (!file.ops.mmap) throw new Errno("ENODEV", "mmap", `${file.inode.name} (${file.ops.name}) does not support mmap`);
      const acc = file.flags & O_ACCMODE;
      check(!(prot & PROT_READ) || acc !== O_WRONLY, "EACCES", "mmap", `PROT_READ on fd ${fd} opened write-only`);
      check(!(prot & PROT_WRITE) || type !== MAP_SHARED || acc !== O_RDONLY, "EACCES", "mmap", `PROT_WRITE|MAP_SHARED on fd ${fd} opened read-only`);
      const len = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
      const vma = new VmArea(file.get(), this.nextAddr, len, offset / PAGE_SIZE, prot, flags);
      try {
        driverCall(this, file.ops, "mmap", () => file.ops.mmap!(file, vma));
        vma.seal();
      } catch (e) {
        vma.file.put(); // the op may have retargeted the vma (vma_set_file)
        throw e;
      }
      this.nextAddr += len + PAGE_SIZE;
      this.vmas.set(vma.start, vma);
      return vma;
    });
  }

  /** munmap(2) of a whole mapping (by object or start address). Unknown ranges are a no-op, as on Linux. */
  munmap(vma: VmArea | number, _length?: number): void {
    this.sys("munmap", () => {
      const start = typeof vma === "number" ? vma : vma.start;
      const v = this.vmas.get(start);
      if (!v) return;
      this.vmas.delete(start);
      v.close();
    });
  }

  /** The process's mappings, ascending. */
  mappings(): VmArea[] {
    return [...this.vmas.values()];
  }

  /**
   * poll(2): fills `revents`, returns how many fds are ready. Sleeps up to `timeoutMs` of virtual
   * time (negative: forever) until a file's wait queue wakes it.
   */
  async poll(fds: PollFd[], timeoutMs = -1): Promise<number> {
    const queues: WaitQueue[] = [];
    const table: PollTable = { wait: (q) => void queues.push(q), events: 0 };
    const scan = () =>
      this.sys("poll", () => {
        let n = 0;
        for (const p of fds) {
          const file = this.fds.lookup(p.fd);
          if (p.fd < 0) p.revents = 0;
          else if (!file) p.revents = POLLNVAL;
          else {
            table.events = p.events | POLLERR | POLLHUP;
            p.revents = (file.ops.poll ? driverCall(this, file.ops, "poll", () => file.ops.poll!(file, table)) : DEFAULT_POLLMASK) & table.events;
          }
          if (p.revents) n++;
        }
        return n;
      });
    let n = scan();
    if (n > 0 || timeoutMs === 0) return n;
    const clock = this.kernel.clock;
    const deadline = timeoutMs < 0 ? Infinity : clock.now() + timeoutMs * 1e6;
    while (n === 0 && clock.now() < deadline) {
      // do_poll(): a pending signal ends the sleep (-ERESTARTNOHAND, EINTR in userspace).
      if (signalPending(this)) throw new Errno("EINTR", "poll", "interrupted by a signal");
      const woken = new Promise<void>((resolve) => {
        const unsub = queues.map((q) => q.subscribe(() => done()));
        const unsig = onSignal(this, () => done());
        const timer = deadline === Infinity ? undefined : clock.addTimer(deadline - clock.now(), () => done(), "poll timeout");
        const done = () => {
          unsub.forEach((u) => u());
          unsig();
          clock.cancelTimer(timer);
          resolve();
        };
      });
      queues.length = 0;
      await clock.block(woken);
      n = this.exited ? 0 : scan();
    }
    return n;
  }

  /**
   * Sends fds to another process over a Unix socket (SCM_RIGHTS): the receiver gets new fds (lowest
   * free) for the same open files. All or nothing: EMFILE in the receiver installs none.
   */
  sendFds(to: Process, fds: number[], flags = 0): number[] {
    return this.sys("sendmsg", () => {
      const files = fds.map((fd) => this.fds.get(fd, "sendmsg"));
      if (to.exited) throw new Errno("ECONNREFUSED", "sendmsg", `peer ${to.comm}[${to.pid}] has exited`);
      const got: number[] = [];
      try {
        for (const f of files) {
          const nfd = to.fds.lowestFree(0, "recvmsg");
          to.fds.install(nfd, f.get(), (flags & O_CLOEXEC) !== 0);
          got.push(nfd);
        }
      } catch (e) {
        for (const nfd of got) to.fds.remove(nfd)!.put();
        throw e;
      }
      return got;
    });
  }

  /** Reads a whole file as text (open + read to EOF + close), like `cat`. */
  async readFile(path: string): Promise<string> {
    const fd = this.open(path, O_RDONLY);
    try {
      const parts: string[] = [];
      for (;;) {
        const b = await this.read(fd, 1 << 20);
        if (b.length === 0) break;
        parts.push(dec.decode(b));
      }
      return parts.join("");
    } finally {
      this.close(fd);
    }
  }

  /** Writes text to a file, like `echo text > path`. */
  async writeFile(path: string, text: string): Promise<void> {
    const fd = this.open(path, O_WRONLY);
    try {
      await this.write(fd, text);
    } finally {
      this.close(fd);
    }
  }

  /** The names in a directory (opendir/readdir). */
  readdir(path: string): string[] {
    return this.sys("readdir", () => this.kernel.vfs.readdir(path.replace(/^\/proc\/self(?=\/|$)/, `/proc/${this.pid}`)));
  }

  /** readlink(2) of /proc/<pid>/fd/<n>: what the fd refers to. */
  readlink(path: string): string {
    return this.sys("readlink", () => this.kernel.procReadlink(path.replace(/^\/proc\/self(?=\/|$)/, `/proc/${this.pid}`)));
  }

  /**
   * kill(2): sends `sig` to process `pid`. Signal 0 only checks that it exists (ESRCH if not).
   * SIGINT, SIGTERM and SIGKILL take their default action: the target's interruptible sleeps end
   * (signal_wake_up) and it exits as do_exit() would, closing its fds and unmapping everything;
   * objects it shared stay alive while others hold them. Other signals: EINVAL (not modelled).
   */
  kill(pid: number, sig: number): void {
    const target = this.sys("kill", () => {
      check(Number.isInteger(sig) && sig >= 0 && sig <= 64, "EINVAL", "kill", `${sig} is not a signal number`);
      const t = this.kernel.tasks.find((p) => p.pid === pid);
      if (!t) throw new Errno("ESRCH", "kill", `no process with pid ${pid}`);
      check(sig === 0 || TERMINATING.has(sig), "EINVAL", "kill", `signal ${sig}: only SIGINT, SIGKILL and SIGTERM (default action: terminate) are modelled`);
      this.kernel.trace.emit("signal_generate", { sig, errno: 0, code: 0, comm: t.comm, pid: t.pid, grp: 1, res: 0 });
      return t;
    });
    if (sig !== 0) target.die(sig);
  }

  /** The default action of a terminating signal: wake the task's sleeps, then do_exit(). */
  private die(sig: number): void {
    sendSignal(this);
    this.termSignal = sig;
    this.exit(128 + sig);
  }

  /** exit(2): unmaps everything and closes every fd; the process is gone. */
  exit(code = 0): void {
    if (this.exited) return;
    this.sys("exit", () => {
      for (const v of this.vmas.values()) v.close();
      this.vmas.clear();
      for (const [fd] of [...this.fds.entries()]) this.fds.remove(fd)!.put();
      this.kernel.trace.emit("sched_process_exit", { comm: this.comm, pid: this.pid, prio: 120 });
    });
    this.exitCode = code;
    this.kernel.reap(this);
  }
}

/**
 * Runs a driver's file operation for a syscall. An op that throws something other than an Errno
 * (a bug in the driver: a TypeError is the model's NULL dereference) is contained as the kernel
 * contains an oops in a syscall: a BUG line naming the driver in dmesg, and the call fails with
 * EFAULT (bad memory access) or EIO (anything else). The model's hang detector passes through.
 */
function driverCall<T>(p: Process, ops: { readonly name: string }, op: string, fn: () => T): T {
  try {
    const r = fn();
    return (r instanceof Promise ? r.catch((e: unknown) => Promise.reject(contain(p, ops, op, e))) : r) as T;
  } catch (e) {
    throw contain(p, ops, op, e);
  }
}

/**
 * driverCall's oops handling, at module level: a closure made per call would cost a defineProperty
 * per syscall under tsx and the bench runner (esbuild's keepNames names every const arrow).
 */
function contain(p: Process, ops: { readonly name: string }, op: string, e: unknown): unknown {
  if (e instanceof Errno || e instanceof SimulationStalled) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const fault = err instanceof TypeError || err instanceof RangeError;
  const k = p.kernel;
  k.addTaint(TAINT_DIE);
  k.printk(`${fault ? "BUG: unable to handle page fault" : "kernel BUG"} in ${ops.name} ${op}: ${err.name}: ${err.message}`);
  k.printk(`CPU: 0 PID: ${p.pid} Comm: ${p.comm} Tainted: G      D (${op} returns -${fault ? "EFAULT" : "EIO"})`);
  k.trace.emit("driver_op_oops", { driver: ops.name, op, comm: p.comm, pid: p.pid, error: err.name });
  return new Errno(fault ? "EFAULT" : "EIO", op, `driver ${ops.name} crashed in its ${op} op: ${err.name}: ${err.message} (see dmesg)`);
}
