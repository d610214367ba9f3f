import { Errno } from "./errno.js";
import type { File } from "./file.js";

/** RLIMIT_NOFILE's default soft limit on Linux. */
export const NR_OPEN_DEFAULT = 1024;
/** fs.nr_open: the largest RLIMIT_NOFILE a process may set. */
export const NR_OPEN_MAX = 1 << 20;

/**
 * A process's file descriptor table (struct fdtable): fd -> file, the close-on-exec bits, and the
 * lowest-free search POSIX requires. A two-level bitmap (words of 32 fds, plus one bit per full
 * word) keeps the search O(1) amortised even with tens of thousands of open fds.
 */
export class FdTable {
  private files: (File | undefined)[] = [];
  private cloexec = new Set<number>();
  private used = new Uint32Array(32);
  private full = new Uint32Array(1);
  private open = 0;
  /** files->next_fd: no fd below it is free. */
  private nextFd = 0;

  constructor(public limit = NR_OPEN_DEFAULT) {}

  get count(): number {
    return this.open;
  }

  /** The file behind `fd`, or EBADF. */
  get(fd: number, call: string): File {
    const f = Number.isInteger(fd) && fd >= 0 ? this.files[fd] : undefined;
    if (!f) throw new Errno("EBADF", call, `fd ${fd} is not open in this process`);
    return f;
  }

  lookup(fd: number): File | undefined {
    return Number.isInteger(fd) && fd >= 0 ? this.files[fd] : undefined;
  }

  isCloexec(fd: number): boolean {
    return this.cloexec.has(fd);
  }

  setCloexec(fd: number, on: boolean): void {
    if (on) this.cloexec.add(fd);
    else this.cloexec.delete(fd);
  }

  /**
   * get_unused_fd_flags(): the lowest free fd >= `min`, or EMFILE. Does not install anything.
   * Starts at `next_fd` (every fd below it is in use, fs/file.c alloc_fd) and skips full words
   * through the summary bitmap, so churn at the top of a large table stays O(1).
   */
  lowestFree(min: number, call: string): number {
    const words = this.used.length;
    let w = Math.max(min, this.nextFd) >>> 5;
    let fromBit = Math.max(min, this.nextFd) & 31;
    while (w < words) {
      const free = ~this.used[w]! & (-1 << fromBit);
      if (free) return this.within(w * 32 + ctz(free), call);
      // next word that is not full, from the summary
      w++;
      fromBit = 0;
      const s = w >>> 5;
      if (s >= this.full.length) break;
      const notFull = ~this.full[s]! & (-1 << (w & 31));
      w = notFull ? s * 32 + ctz(notFull) : (s + 1) * 32;
    }
    return this.within(Math.max(min, this.nextFd, words * 32), call);
  }

  private within(fd: number, call: string): number {
    if (fd >= this.limit) throw new Errno("EMFILE", call, `process has reached RLIMIT_NOFILE (${this.limit}) open files`);
    return fd;
  }

  /** fd_install(): puts `file` (whose reference the table now owns) at a free `fd`. */
  install(fd: number, file: File, cloexec: boolean): void {
    if (this.files[fd]) throw new Error(`fd_install over open fd ${fd}`);
    this.grow(fd);
    this.files[fd] = file;
    this.open++;
    if (fd === this.nextFd) this.nextFd++;
    this.setBit(fd, true);
    this.setCloexec(fd, cloexec);
  }

  /** Removes `fd` and returns its file; the caller drops the reference. */
  remove(fd: number): File | undefined {
    const f = this.lookup(fd);
    if (!f) return undefined;
    this.files[fd] = undefined;
    this.open--;
    if (fd < this.nextFd) this.nextFd = fd;
    this.setBit(fd, false);
    this.cloexec.delete(fd);
    return f;
  }

  /** Open fds in ascending order. */
  *entries(): IterableIterator<[number, File]> {
    for (let fd = 0; fd < this.files.length; fd++) {
      const f = this.files[fd];
      if (f) yield [fd, f];
    }
  }

  private grow(fd: number): void {
    const words = (fd >>> 5) + 1;
    if (words <= this.used.length) return;
    let n = this.used.length;
    while (n < words) n *= 2;
    const used = new Uint32Array(n);
    used.set(this.used);
    this.used = used;
    const full = new Uint32Array(Math.ceil(n / 32));
    full.set(this.full);
    this.full = full;
  }

  private setBit(fd: number, on: boolean): void {
    const w = fd >>> 5;
    const bit = 1 << (fd & 31);
    this.used[w] = on ? this.used[w]! | bit : this.used[w]! & ~bit;
    const sbit = 1 << (w & 31);
    const s = w >>> 5;
    this.full[s] = this.used[w] === 0xffffffff ? this.full[s]! | sbit : this.full[s]! & ~sbit;
  }
}

/** Count of trailing zero bits of a non-zero 32-bit word (__ffs). */
const ctz = (x: number) => 31 - Math.clz32(x & -x);
