import { container as rootContainer, type DependencyContainer, type InjectionToken } from "tsyringe";
import { DEFAULT_BOARD, parseBoard, type BoardDescription, type BoardInput } from "./board.js";
import { VirtualClock } from "./clock.js";
import { Device, type PlatformDriver, type Subsystem } from "./device.js";
import { dmaBufInit } from "./dma-buf.js";
import { Errno, isErrno } from "./errno.js";
import { FaultInjection, type FaultPoint } from "./fault-inject.js";
import { File, O_CLOEXEC, type FileOperations } from "./file.js";
import { KernelObjects, notifyKernelBoot } from "./leak-check.js";
import { KERNEL, PLATFORM_DRIVER, PluginError, SUBSYSTEM, loadPlugin, type DriverPlugin } from "./plugin.js";
import { Process } from "./process.js";
import { swSyncInit } from "./sw-sync.js";
import { Tracer } from "./trace.js";
import { Vfs, seqFileOps, type VfsNode } from "./vfs.js";

/** A plugin given to boot: an instance, a package name, or a package name with options. */
export type PluginSpec = DriverPlugin | string | readonly [string, unknown];

export interface BootOptions {
  /** The board (object or JSON text); default: {@link DEFAULT_BOARD}. */
  board?: BoardInput | string;
  plugins?: readonly PluginSpec[];
  /** Pace virtual time against the wall clock (1 = real time); 0 or absent: as fast as possible. */
  realtime?: number;
}

/** What `kernel.current` is while no process runs a syscall: a kernel thread. */
const KTHREAD = { pid: 0, comm: "<idle>" };
const MNT_ID: Record<string, number> = { anon: 15, dev: 23, proc: 22, sys: 21 };

/**
 * The simulated kernel: one per board. Owns virtual time, tracing, the VFS, processes, the device
 * model and a child DI container in which plugins register, so two kernels never share state.
 */
export class Kernel {
  readonly clock = new VirtualClock();
  readonly trace = new Tracer(this.clock);
  readonly vfs = new Vfs();
  readonly devices: Device[];
  readonly container: DependencyContainer;
  /** Live kernel objects (processes, files, and what subsystems register), for leak checking. */
  readonly objects = new KernelObjects(() => this.current, () => this.clock.now());
  /** Fault points (fault-inject.ts), configured from the board's `faults` section and debugfs. */
  readonly faults: FaultInjection;
  /**
   * /proc/sys/kernel/tainted: a bit per TAINT_* flag. A fuzzer or test checks `tainted & (1 << TAINT_DIE)`
   * to find a contained driver crash, as syzkaller reads the console for "BUG:" lines.
   */
  tainted = 0;
  /** The process whose syscall is running (the model of `current`), if any. */
  current: Process | undefined;
  private readonly processes = new Map<number, Process>();
  private nextPid = 100;
  private readonly log: string[] = [];
  private bound: Device[] = [];
  private subsystems: Subsystem[] = [];
  private down = false;

  private constructor(readonly board: BoardDescription) {
    this.devices = board.devices.map((d) => new Device(d));
    this.container = rootContainer.createChildContainer();
    this.container.registerInstance(KERNEL, this);
    this.trace.current = () => this.current ?? KTHREAD;
    this.mountProcfs();
    dmaBufInit(this);
    this.vfs.createText("/sys/kernel/tracing/trace", () => this.trace.ftrace(), () => this.trace.clear());
    this.vfs.createText("/sys/kernel/tracing/tracing_on", () => (this.trace.on ? "1\n" : "0\n"), (t) => (this.trace.on = t.trim() !== "0"));
    swSyncInit(this);
    this.faults = new FaultInjection(this);
    this.vfs.createText("/proc/sys/kernel/tainted", () => `${this.tainted}\n`);
    for (const d of this.devices)
      this.vfs.createText(`/sys/bus/platform/devices/${d.name}/driver`, () => (d.driver ? d.driver.name + "\n" : ""));
  }

  /**
   * Boots a kernel: validates the board, registers the plugins, runs subsystem init and binds every
   * device to the driver whose `compatible` matches. Board and plugin errors throw with a message
   * naming what is wrong; a driver whose probe fails leaves its device unbound and says so in dmesg.
   */
  static async boot(opts: BootOptions = {}): Promise<Kernel> {
    const k = new Kernel(parseBoard(opts.board ?? DEFAULT_BOARD));
    if (opts.realtime) k.clock.realtime = opts.realtime;
    const names = new Set<string>();
    // Plugins named by the board (by package name) load first, then the application's.
    for (const spec of [...k.board.plugins, ...(opts.plugins ?? [])]) {
      const plugin = typeof spec === "string" ? await loadPlugin(spec) : Array.isArray(spec) ? await loadPlugin(spec[0] as string, spec[1]) : (spec as DriverPlugin);
      if (names.has(plugin.name)) throw new PluginError(`plugin "${plugin.name}" is listed twice; list each plugin once`);
      names.add(plugin.name);
      try {
        plugin.register(k.container);
      } catch (e) {
        throw new PluginError(`plugin "${plugin.name}": register() failed: ${(e as Error).message}`);
      }
    }
    k.subsystems = k.resolveAll(SUBSYSTEM).sort((a, b) => (a.level ?? 4) - (b.level ?? 4));
    for (const s of k.subsystems) s.init(k);
    await k.bindDrivers(k.resolveAll(PLATFORM_DRIVER));
    k.printk(`Booted ${k.board.model}: ${k.bound.length}/${k.devices.length} devices bound`);
    // The board's faults are armed once boot is done: they target the programs run on the board.
    for (const [point, attr] of Object.entries(k.board.faults)) if (attr) k.faults.configure(point as FaultPoint, attr);
    notifyKernelBoot(k);
    return k;
  }

  /** Resolves a service a plugin registered (e.g. the memory manager). */
  resolve<T>(token: InjectionToken<T>): T {
    return this.container.resolve(token);
  }

  resolveAll<T>(token: InjectionToken<T>): T[] {
    return this.container.isRegistered(token, true) ? this.container.resolveAll(token) : [];
  }

  private async bindDrivers(drivers: PlatformDriver[]): Promise<void> {
    for (const dev of this.devices) {
      // devicetree matching: the device's first compatible that any driver lists wins.
      let match: PlatformDriver[] = [];
      for (const c of dev.compatible) {
        match = drivers.filter((d) => d.compatible.includes(c));
        if (match.length) break;
      }
      if (match.length === 0) {
        this.printk(`platform ${dev.name}: no driver matches compatible "${dev.compatible.join('", "')}"; device left unbound`);
        continue;
      }
      if (match.length > 1)
        throw new PluginError(`device ${dev.name}: drivers ${match.map((d) => `"${d.name}"`).join(" and ")} both claim compatible "${dev.compatible.find((c) => match[0]!.compatible.includes(c))}"; load only one of them`);
      const drv = match[0]!;
      try {
        await drv.probe(dev, this);
        dev.driver = drv;
        this.bound.push(dev);
      } catch (e) {
        if (!isErrno(e)) throw e;
        this.printk(`${drv.name} ${dev.name}: probe with driver ${drv.name} failed with error -${e.errno} (${e.message})`);
      }
    }
  }

  /** Spawns a userspace process with an empty fd table. */
  spawn(comm: string): Process {
    if (this.down) throw new Error("spawn: the kernel has been shut down");
    const p = new Process(this, this.nextPid++, comm);
    this.processes.set(p.pid, p);
    this.objects.register("process", p, () => `${comm}[${p.pid}], ${p.fds.count} open fd(s), ${p.mappings().length} mapping(s)`, `spawn("${comm}")`);
    this.trace.emit("sched_process_fork", { comm, pid: p.pid });
    return p;
  }

  /** Live processes in pid order. */
  get tasks(): Process[] {
    return [...this.processes.values()];
  }

  /** @internal Process.exit's last step. */
  reap(p: Process): void {
    this.processes.delete(p.pid);
    this.objects.unregister(p);
  }

  /** Creates a file on an anonymous inode (anon_inode_getfile), e.g. for a dma-buf or sync_file. */
  anonFile(name: string, fops: FileOperations, privateData: unknown, flags: number): File {
    const file = new File(fops, { ino: this.vfs.nextIno(), name: `anon_inode:${name}` }, flags & ~O_CLOEXEC, privateData);
    this.objects.registerFile(file, `anon_inode_getfile("${name}")`);
    return file;
  }

  /** Installs `file` in the current process (fd_install + get_unused_fd_flags). */
  fdInstall(file: File, flags: number, call: string): number {
    if (!this.current) throw new Errno("EBADF", call, "no current process: fds can only be created from a process's syscall");
    const fd = this.current.installFile(file, flags, call);
    const p = this.current;
    this.objects.note(file, () => `${call} installed it as fd ${fd} of ${p.comm}[${p.pid}]`);
    return fd;
  }

  /** add_taint(): marks the kernel as tainted by `bit` (TAINT_DIE, TAINT_WARN, ... from taint.ts). */
  addTaint(bit: number): void {
    this.tainted |= 2 ** bit;
  }

  /** printk(): a line in the kernel log, stamped with virtual time. */
  printk(msg: string): void {
    this.log.push(`[${(this.clock.now() / 1e9).toFixed(6).padStart(12)}] ${msg}`);
  }

  /** The kernel log, as `dmesg` prints it. */
  dmesg(): string {
    return this.log.join("\n") + (this.log.length ? "\n" : "");
  }

  /** Exits every process, removes every driver (reverse bind order) and stops the subsystems. */
  shutdown(): void {
    if (this.down) return;
    for (const p of this.tasks) p.exit(0);
    for (const dev of [...this.bound].reverse()) {
      dev.driver?.remove?.(dev, this);
      dev.driver = undefined as unknown as PlatformDriver;
    }
    this.bound = [];
    for (const s of [...this.subsystems].reverse()) s.exit?.(this);
    this.down = true;
  }

  /** readlink(/proc/<pid>/fd/<n>) */
  procReadlink(path: string): string {
    const m = /^\/proc\/(\d+)\/fd\/(\d+)$/.exec(path);
    const p = m ? this.processes.get(Number(m[1])) : undefined;
    const f = p?.fds.lookup(Number(m![2]));
    if (!f) throw new Errno("ENOENT", "readlink", `no such file or directory: ${path}`);
    return f.inode.name;
  }

  private mountProcfs(): void {
    const fdinfo = (p: Process, fd: number): string => {
      const f = p.fds.get(fd, "open");
      const flags = f.flags | (p.fds.isCloexec(fd) ? O_CLOEXEC : 0);
      const mnt = f.inode.name.startsWith("anon_inode:") ? MNT_ID.anon : f.inode.name.startsWith("/dev/") ? MNT_ID.dev : f.inode.name.startsWith("/proc/") ? MNT_ID.proc : MNT_ID.sys;
      return `pos:\t${f.pos}\nflags:\t0${flags.toString(8)}\nmnt_id:\t${mnt}\nino:\t${f.inode.ino}\n` + (f.ops.showFdinfo?.(f) ?? "");
    };
    const text = (path: string, show: () => string): VfsNode => ({ path, fops: seqFileOps(path, show), inode: { ino: 1, name: path } });
    const resolve = (path: string) => {
      const self = this.current ? path.replace(/^\/proc\/self(?=\/|$)/, `/proc/${this.current.pid}`) : path;
      const m = /^\/proc\/(\d+)(?:\/(.*))?$/.exec(self);
      return m ? { p: this.processes.get(Number(m[1])), rest: m[2] ?? "" } : { p: undefined, rest: "" };
    };
    this.vfs.mount("/proc", {
      lookup: (path) => {
        const { p, rest } = resolve(path);
        if (!p) return undefined;
        if (rest === "comm") return text(path, () => p.comm + "\n");
        if (rest === "maps")
          return text(path, () => p.mappings().map((v) => `${hex(v.start)}-${hex(v.start + v.length)} ${v.prot & 1 ? "r" : "-"}${v.prot & 2 ? "w" : "-"}-s ${hex(v.pgoff * 4096).padStart(8, "0")} 00:0f ${v.file.inode.ino}                  ${v.file.inode.name.replace(/^anon_inode:/, "/")}\n`).join(""));
        const m = /^fdinfo\/(\d+)$/.exec(rest);
        if (m && p.fds.lookup(Number(m[1]))) return text(path, () => fdinfo(p, Number(m[1])));
        return undefined;
      },
      readdir: (path) => {
        if (path === "/proc") return this.tasks.map((t) => String(t.pid));
        const { p, rest } = resolve(path);
        if (!p) return undefined;
        if (rest === "") return ["comm", "fd", "fdinfo", "maps"];
        if (rest === "fd" || rest === "fdinfo") return [...p.fds.entries()].map(([fd]) => String(fd));
        return undefined;
      },
    });
  }
}

const hex = (n: number) => n.toString(16).padStart(12, "0");
