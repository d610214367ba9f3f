import { Errno } from "./errno.js";
import type { File } from "./file.js";

/** RLIMIT_NOFILE's default soft limit on Linux. */
export const NR_OPEN_DEFAULT = 1024;
/** fs.nr_open: the largest RLIMIT_NOFILE a process may set. */
export const NR_OPEN_MAX = 1 << 20;

/**
 * A process's file descriptor table (struct fdtable): fd -> file, the close-on-exec bits, and the
 * lowest-free search POSIX requires. A three-level bitmap keeps that search a few word operations
 * at any table size: `levels[0]` has a bit per fd (open_fds), each higher level a bit per word of
 * the level below that is full (full_fds_bits, and one more level above it).
 */
export class FdTable {
  private files: (File | undefined)[] = [];
  /** close_on_exec bits, one per fd like the first level. */
  private cloexec = new Uint32Array(32);
  private levels = [new Uint32Array(32), new Uint32Array(1), new Uint32Array(1)];
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
    return Number.isInteger(fd) && fd >= 0 && ((this.cloexec[fd >>> 5] ?? 0) & (1 << (fd & 31))) !== 0;
  }

  setCloexec(fd: number, on: boolean): void {
    this.grow(fd);
    const w = fd >>> 5;
    this.cloexec[w] = on ? this.cloexec[w]! | (1 << (fd & 31)) : this.cloexec[w]! & ~(1 << (fd & 31));
  }

  /**
   * get_unused_fd_flags(): the lowest free fd >= `min`, or EMFILE. Does not install anything.
   * Starts at `next_fd` (every fd below it is in use, fs/file.c alloc_fd) and finds the first clear
   * bit through the levels (find_next_fd), so churn anywhere in a large table stays O(1).
   */
  lowestFree(min: number, call: string): number {
    return this.within(this.nextClear(0, Math.max(min, this.nextFd)), call);
  }

  /** The first clear bit at or after `i` in `levels[level]`; past the end counts as clear (the table grows). */
  private nextClear(level: number, i: number): number {
    const bm = this.levels[level]!;
    let w = i >>> 5;
    if (w >= bm.length) return i;
    const free = ~bm[w]! & (-1 << (i & 31));
    if (free) return w * 32 + ctz(free);
    // the rest of word w is full: the next word that is not, from the level above (the top one is short: scanned)
    if (level + 1 < this.levels.length) w = this.nextClear(level + 1, w + 1);
    else do w++; while (w < bm.length && bm[w] === 0xffffffff);
    return w < bm.length ? w * 32 + ctz(~bm[w]!) : bm.length * 32;
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
    this.setCloexec(fd, false);
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
    if (words <= this.levels[0]!.length) return;
    let n = this.levels[0]!.length;
    while (n < words) n *= 2;
    const cloexec = new Uint32Array(n);
    cloexec.set(this.cloexec);
    this.cloexec = cloexec;
    this.levels = this.levels.map((old) => {
      const bm = new Uint32Array(n);
      bm.set(old);
      n = Math.ceil(n / 32);
      return bm;
    });
  }

  /** Sets or clears fd's bit, and each level's bit for a word that became full or stopped being full. */
  private setBit(fd: number, on: boolean): void {
    let i = fd;
    for (const bm of this.levels) {
      const w = i >>> 5;
      const was = bm[w] === 0xffffffff;
      bm[w] = on ? bm[w]! | (1 << (i & 31)) : bm[w]! & ~(1 << (i & 31));
      if ((bm[w] === 0xffffffff) === was) return;
      i = w;
    }
  }
}

/** Count of trailing zero bits of a non-zero 32-bit word (__ffs). */
const ctz = (x: number) => 31 - Math.clz32(x & -x);
