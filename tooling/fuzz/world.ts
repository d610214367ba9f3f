import type * as fc from "fast-check";
import { Errno, NR_OPEN_DEFAULT, TAINT_DIE, type DriverPlugin, type ErrnoCode, type File, type Kernel, type Process, type VmArea } from "@dmabuf/core";
import { KNOWN_DEVIATIONS, SYSCALL_ERRNOS } from "./errno-table.js";

/** An fd as the fuzzer's model expects it: which open file, how the process got it, FD_CLOEXEC. */
export interface FdEntry {
  file: File;
  origin: string;
  cloexec: boolean;
}

/** A mapping as the model expects it. */
export interface VmaEntry {
  vma: VmArea;
  origin: string;
}

/** A simulated process and the fuzzer's model of what it holds. */
export interface FuzzProc {
  readonly name: string;
  readonly proc: Process;
  readonly fds: Map<number, FdEntry>;
  readonly vmas: Map<number, VmaEntry>;
  /** RLIMIT_NOFILE as the model believes it. */
  limit: number;
  alive: boolean;
}

/** Chooses an fd: one the process holds (index into its fds, in order) or a raw number (often bad). */
export type FdChoice = { held: number } | { raw: number };

/**
 * A kind of program step. `args` generates its arguments as plain data (so fast-check can shrink
 * them); `run` performs it against the world through {@link FuzzWorld.call}, which logs it as one
 * line of the userspace program and checks its errno, and then updates the model.
 */
export interface FuzzCommand<A = unknown> {
  readonly name: string;
  /** Relative frequency (default 1). */
  readonly weight?: number;
  readonly args: fc.Arbitrary<A>;
  run(world: FuzzWorld, args: A): void | Promise<void>;
}

/** A property of the whole system checked after every step (or once at the end); throws on violation. */
export interface FuzzInvariant {
  readonly name: string;
  check(world: FuzzWorld): void;
}

/**
 * What a subsystem plugs into the fuzzer: kernel plugins to boot, files worth opening, its commands,
 * its invariants, errnos its ioctls may document, and references its kernel side holds on files.
 */
export interface FuzzPlugin {
  readonly name: string;
  /** Driver plugins to boot the kernel with. */
  kernelPlugins?(): DriverPlugin[];
  /** Paths the generic open/cat commands may pick. */
  readonly paths?: readonly string[];
  readonly commands?: readonly FuzzCommand<never>[];
  /** Checked after every step. */
  readonly invariants?: readonly FuzzInvariant[];
  /** Checked once every process has exited. */
  readonly final?: readonly FuzzInvariant[];
  /** Extra documented errnos, by syscall name ("ioctl") or a command's own name, with the source. */
  readonly errnos?: Readonly<Record<string, { man: string; errnos: readonly ErrnoCode[] }>>;
  /** The outcome of mmap(2) of one of this subsystem's files once the generic checks pass, if it can say. */
  predictMmap?(file: File, length: number, offset: number): Expect;
  /** The outcome of read(2) of one of this subsystem's files, when it is not plain success: `{ expect }` (undefined = not predicted). */
  predictRead?(file: File, count: number): { expect: Expect } | undefined;
  /** First calls of every new process (e.g. open the subsystem's device nodes), through `world.call`. */
  onSpawn?(world: FuzzWorld, p: FuzzProc): Promise<void>;
  /** References to `file` held by the kernel (not by fds or mappings), e.g. an exporter's own. */
  kernelRefs?(world: FuzzWorld, file: File): number;
  /** Attachments to dma-buf `file` held by this subsystem's importers (drivers that imported it). */
  attachments?(world: FuzzWorld, file: File): number;
}

/** A step's expected outcome: [] = must succeed; codes = must fail with one of them; undefined = not predicted. */
export type Expect = readonly ErrnoCode[] | undefined;

/** Why a program failed: the message holds the program as one call per line. */
export class FuzzFailure extends Error {
  constructor(
    readonly reason: string,
    readonly program: string,
  ) {
    super(`${reason}\n\nprogram:\n${program}`);
    this.name = "FuzzFailure";
  }
}

const fmtCode = (codes: readonly string[]) => (codes.length ? codes.join(" or ") : "success");

/** The kernel under test, the processes, the model of what each holds, and the program so far. */
export class FuzzWorld {
  readonly procs: FuzzProc[] = [];
  readonly lines: string[] = [];
  /** Every file the model has seen, to check that dropped ones are released. */
  readonly files = new Set<File>();
  /** Known deviations hit, by description. */
  readonly deviations = new Map<string, number>();
  /** Outcomes of the calls made, by call (an ioctl by its request) and result ("0" or the errno): the run's coverage. */
  readonly outcomes = new Map<string, Map<string, number>>();
  /** Per-plugin state. */
  private readonly state = new Map<string, unknown>();
  steps = 0;

  constructor(
    readonly kernel: Kernel,
    readonly plugins: readonly FuzzPlugin[],
  ) {}

  /** Per-plugin state, made on first use. */
  data<T>(plugin: string, init: () => T): T {
    if (!this.state.has(plugin)) this.state.set(plugin, init());
    return this.state.get(plugin) as T;
  }

  get paths(): string[] {
    return this.plugins.flatMap((p) => p.paths ?? []);
  }

  get live(): FuzzProc[] {
    return this.procs.filter((p) => p.alive);
  }

  async spawn(): Promise<FuzzProc> {
    const name = `p${this.procs.length}`;
    const p: FuzzProc = { name, proc: this.kernel.spawn(name), fds: new Map(), vmas: new Map(), limit: NR_OPEN_DEFAULT, alive: true };
    this.procs.push(p);
    this.log(`${name} = spawn("${name}"); // pid ${p.proc.pid}`);
    for (const pl of this.plugins) await pl.onSpawn?.(this, p);
    return p;
  }

  /** A live process chosen by `n`, or undefined when none is alive. */
  pick(n: number): FuzzProc | undefined {
    const live = this.live;
    return live.length ? live[n % live.length] : undefined;
  }

  /** Any process (live or exited) chosen by `n`. */
  pickAny(n: number): FuzzProc {
    return this.procs[n % this.procs.length]!;
  }

  fd(p: FuzzProc, c: FdChoice): number {
    if ("raw" in c) return c.raw;
    const fds = [...p.fds.keys()].sort((a, b) => a - b);
    return fds.length ? fds[c.held % fds.length]! : 3 + c.held;
  }

  /** The lowest fd >= `min` free in the model, or undefined when that is at or above the limit. */
  lowestFree(p: FuzzProc, min = 0): number | undefined {
    let fd = min;
    while (p.fds.has(fd)) fd++;
    return fd < p.limit ? fd : undefined;
  }

  log(line: string): void {
    this.lines.push(line);
  }

  program(): string {
    return this.lines.map((l) => `  ${l}`).join("\n");
  }

  fail(reason: string): never {
    throw new FuzzFailure(reason, this.program());
  }

  /**
   * Performs one call as process `p`: `text` is how it prints ("open(\"/dev/zero\", O_RDWR)"),
   * `syscall` names its errno table. Checks that a failure is an Errno that Linux documents for the
   * call and that the outcome is the one expected. Returns `{ value }`, or undefined when it failed.
   */
  async call<T>(p: FuzzProc, syscall: string, text: string, fn: () => T | Promise<T>, expect: Expect, show: (r: T) => string = String): Promise<{ value: T } | undefined> {
    this.steps++;
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      if (!(e instanceof Errno)) {
        this.log(`[${p.name}] ${text} = <threw ${(e as Error)?.name ?? typeof e}>`);
        this.fail(`${syscall} threw a non-errno exception (a model bug: a failing call must give an errno): ${(e as Error)?.stack ?? String(e)}`);
      }
      this.log(`[${p.name}] ${text} = -1 ${e.code} (${e.reason})`);
      this.count(syscall, text, e.code);
      // a driver op that crashed is contained as an oops (EFAULT/EIO + taint D): still a model bug
      if (this.kernel.tainted & (1 << TAINT_DIE)) this.fail(`${syscall} oopsed in a driver op (kernel tainted D): ${e.reason}`);
      const deviation = KNOWN_DEVIATIONS.find((d) => d.syscall === syscall && d.code === e.code);
      if (deviation) this.deviations.set(deviation.why, (this.deviations.get(deviation.why) ?? 0) + 1);
      else {
        const allowed = this.allowedErrnos(syscall);
        if (!allowed.errnos.includes(e.code)) this.fail(`${syscall} failed with ${e.code}, which ${allowed.man} does not document for it (documented: ${allowed.errnos.join(", ")})`);
      }
      if (expect && !expect.includes(e.code) && !deviation) this.fail(`${syscall} failed with ${e.code}; expected ${fmtCode(expect)}`);
      return undefined;
    }
    this.log(`[${p.name}] ${text} = ${show(result)}`);
    this.count(syscall, text, "0");
    if (expect && expect.length) this.fail(`${syscall} succeeded; expected ${fmtCode(expect)}`);
    return { value: result };
  }

  private count(syscall: string, text: string, outcome: string): void {
    const name = syscall === "ioctl" ? (/^ioctl\(-?\d+, ([A-Z_][A-Z0-9_]*)/.exec(text)?.[1] ?? "ioctl (other requests)") : syscall;
    const byResult = this.outcomes.get(name) ?? this.outcomes.set(name, new Map()).get(name)!;
    byResult.set(outcome, (byResult.get(outcome) ?? 0) + 1);
  }

  private allowedErrnos(syscall: string): { man: string; errnos: readonly ErrnoCode[] } {
    const base = SYSCALL_ERRNOS[syscall] ?? { man: "(no table)", errnos: [] };
    const extra = this.plugins.map((pl) => pl.errnos?.[syscall]).filter((x) => x !== undefined);
    return { man: [base.man, ...extra.map((x) => x.man)].join(", "), errnos: [...base.errnos, ...extra.flatMap((x) => x.errnos)] };
  }

  /** Records that `p` now holds `fd` (as the kernel's table says) with the given origin. */
  addFd(p: FuzzProc, fd: number, origin: string, cloexec: boolean, file?: File): void {
    const real = p.proc.fds.lookup(fd);
    if (!real) this.fail(`${p.name}: fd ${fd} was returned but is not in the process's fd table`);
    if (file && real !== file) this.fail(`${p.name}: fd ${fd} refers to ${real.inode.name}, expected ${file.inode.name} (${origin})`);
    this.files.add(real);
    p.fds.set(fd, { file: real, origin, cloexec });
  }

  /** References the model expects on `file`: fds and mappings of live processes, plus kernel-held ones. */
  expectedRefs(file: File): number {
    let n = this.userRefs(file);
    for (const pl of this.plugins) n += pl.kernelRefs?.(this, file) ?? 0;
    return n;
  }

  /** References on `file` held by live processes' fds and mappings. */
  userRefs(file: File): number {
    let n = 0;
    for (const p of this.live) {
      for (const e of p.fds.values()) if (e.file === file) n++;
      for (const v of p.vmas.values()) if (v.vma.file === file) n++;
    }
    return n;
  }

  /**
   * An fd of `p` whose file satisfies `kind` (chosen by `n`). When `p` has none: with `misuse`, the
   * generic choice `{ held: n }` (a wrong or closed fd); without, undefined (the step is skipped).
   */
  fdOf(p: FuzzProc, n: number, kind: (f: File) => boolean, misuse: boolean): number | undefined {
    const fds = [...p.fds].filter(([, e]) => kind(e.file)).map(([fd]) => fd).sort((a, b) => a - b);
    return fds.length ? fds[n % fds.length]! : misuse ? this.fd(p, { held: n }) : undefined;
  }

  /** open(2) of a path that must open, recorded in the model; the fd, or undefined on EMFILE. */
  async open(p: FuzzProc, path: string, flags: number, text: string): Promise<number | undefined> {
    const want = this.lowestFree(p);
    const r = await this.call(p, "open", text, () => p.proc.open(path, flags), want === undefined ? ["EMFILE"] : []);
    if (!r) return undefined;
    if (r.value !== want) this.fail(`open returned fd ${r.value}; POSIX requires the lowest free fd, ${want}`);
    const file = p.proc.fds.lookup(r.value);
    if (file && this.files.has(file)) this.fail(`open returned fd ${r.value} sharing an existing open file description`);
    this.addFd(p, r.value, `open("${path}")`, (flags & 0o2000000) !== 0);
    return r.value;
  }

  /** exit(2): the model drops everything the process held. */
  async exit(p: FuzzProc, code: number): Promise<void> {
    await this.call(p, "exit", `exit(${code})`, () => p.proc.exit(code), [], () => "(no return)");
    p.alive = false;
    p.fds.clear();
    p.vmas.clear();
  }
}
