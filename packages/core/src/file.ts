import type { Kernel } from "./kernel.js";
import type { Process } from "./process.js";
import type { VmArea } from "./vm-area.js";
import type { WaitQueue } from "./wait-queue.js";

/* fcntl.h open flags (octal, as in include/uapi/asm-generic/fcntl.h) */
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_ACCMODE = 0o3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const FD_CLOEXEC = 1;

/* poll.h events */
export const POLLIN = 0x001;
export const POLLPRI = 0x002;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;
export const POLLRDNORM = 0x040;
export const POLLWRNORM = 0x100;

/* lseek whence */
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

/* mman.h */
export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;

/** What `poll` hands a file's `poll` op: register the wait queues that will signal readiness. */
export interface PollTable {
  wait(queue: WaitQueue): void;
  /** poll_requested_events(): the events the caller asked for, plus POLLERR | POLLHUP. */
  events: number;
}

/**
 * struct file_operations: what a driver (or the VFS itself) implements for files it creates.
 * Every op is optional; a missing op gives the errno the VFS gives for it.
 */
export interface FileOperations {
  /** Names the owner in messages ("dma-buf", "drm", "v4l2"). */
  readonly name: string;
  /**
   * @open: called by `open(2)` on a device node to set up `file.privateData`.
   * Throwing an Errno fails the open and leaves no fd.
   */
  open?(file: File, kernel: Kernel): void;
  /**
   * @release: called once, when the last reference to the file goes (last close, last munmap,
   * process exit). Must drop everything the file holds. Never fails.
   */
  release?(file: File): void;
  /** @read: returns at most `count` bytes at `pos` (advance is done by the VFS). Missing: EINVAL. */
  read?(file: File, count: number, pos: number): Uint8Array | Promise<Uint8Array>;
  /** @write: consumes bytes, returns how many. Missing: EINVAL. */
  write?(file: File, data: Uint8Array, pos: number): number;
  /** @llseek: returns the new position. Missing: ESPIPE. */
  llseek?(file: File, offset: number, whence: number): number;
  /**
   * @ioctl: unlocked_ioctl. `arg` is the user struct, read and written in place as copy_from_user
   * and copy_to_user would. May return a Promise when the call blocks. Missing or unknown: ENOTTY.
   */
  ioctl?(file: File, request: number, arg: unknown): number | Promise<number>;
  /** @poll: returns the ready mask now and registers the wait queues that will change it. */
  poll?(file: File, table: PollTable): number;
  /** @mmap: fills `vma.segments` with views of the memory to map. Missing: ENODEV. */
  mmap?(file: File, vma: VmArea): void;
  /** @showFdinfo: extra lines of /proc/<pid>/fdinfo/<fd>, each ending in "\n". */
  showFdinfo?(file: File): string;
}

/** The inode behind a file: a number (what `ino:` shows) and a path-like name for readlink. */
export interface Inode {
  readonly ino: number;
  readonly name: string;
  readonly rdev?: string;
}

/**
 * struct file: one open file description. Shared by dup'd and passed fds (and by mmaps), freed and
 * released when the last reference drops.
 */
export class File {
  private refs = 1;
  pos = 0;
  privateData: unknown;

  constructor(
    readonly ops: FileOperations,
    readonly inode: Inode,
    public flags: number,
    privateData?: unknown,
  ) {
    this.privateData = privateData;
  }

  /** file_count(): references held by fds, mappings and kernel users. */
  get count(): number {
    return this.refs;
  }

  /** get_file() */
  get(): this {
    if (this.refs <= 0) throw new Error(`get_file on released ${this.ops.name} file (ino ${this.inode.ino})`);
    this.refs++;
    return this;
  }

  /** fput(): the last put runs `release`. Returns true when the file was released. */
  put(): boolean {
    if (this.refs <= 0) throw new Error(`fput on released ${this.ops.name} file (ino ${this.inode.ino}): refcount underflow`);
    if (--this.refs > 0) return false;
    this.ops.release?.(this);
    return true;
  }

  get released(): boolean {
    return this.refs <= 0;
  }
}

/** Helper for drivers: the typed private data of a file they created. */
export function filePrivate<T>(file: File): T {
  return file.privateData as T;
}

export type { Process };
