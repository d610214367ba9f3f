/**
 * Linux errno values (include/uapi/asm-generic/errno-base.h, errno.h, include/linux/errno.h).
 * Syscalls and driver-face calls in this model throw an {@link Errno} instead of returning -1/-errno.
 */
export const ERRNO = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9,
  ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, EXDEV: 18,
  ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25, EFBIG: 27,
  ENOSPC: 28, ESPIPE: 29, EROFS: 30, EPIPE: 32, EDOM: 33, ERANGE: 34, EDEADLK: 35,
  ENAMETOOLONG: 36, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40, ENOMSG: 42, ENODATA: 61, ETIME: 62,
  EOVERFLOW: 75, EBADFD: 77, EOPNOTSUPP: 95, ENOBUFS: 105, ENOTCONN: 107, ETIMEDOUT: 110, ECONNREFUSED: 111, EALREADY: 114,
  EINPROGRESS: 115, ECANCELED: 125,
  /* kernel-internal codes that can still surface through driver-face calls */
  ERESTARTSYS: 512, ENOTSUPP: 524,
} as const;

export type ErrnoCode = keyof typeof ERRNO;

const NAMES = new Map<number, ErrnoCode>(Object.entries(ERRNO).map(([k, v]) => [v, k as ErrnoCode]));

/** The symbolic name of an errno number, e.g. `errnoName(22) === "EINVAL"`. */
export function errnoName(errno: number): ErrnoCode | undefined {
  return NAMES.get(Math.abs(errno));
}

/**
 * A failed call. `code` is the symbolic name, `errno` Linux's number, and the message says which
 * call failed and why, so that a user can fix the program without reading the model's source.
 */
export class Errno extends Error {
  readonly errno: number;
  constructor(
    readonly code: ErrnoCode,
    readonly call: string,
    readonly reason: string,
  ) {
    super(`${call}: ${code} (${reason})`);
    this.name = "Errno";
    this.errno = ERRNO[code];
  }
}

/**
 * Throws `Errno(code)` unless `cond` holds: the kernel's `if (!cond) return -ECODE;`. On hot paths
 * pass the reason as a function, so that its text is built only when the check fails.
 */
export function check(cond: unknown, code: ErrnoCode, call: string, reason: string | (() => string)): asserts cond {
  if (!cond) throw new Errno(code, call, typeof reason === "string" ? reason : reason());
}

/** True when `e` is an {@link Errno} with the given code. */
export function isErrno(e: unknown, code?: ErrnoCode): e is Errno {
  return e instanceof Errno && (code === undefined || e.code === code);
}
