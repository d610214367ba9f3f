import type { ErrnoCode } from "@dmabuf/core";

/**
 * The errnos Linux documents for each call the fuzzer makes (ERRORS sections of the man pages,
 * man-pages 6.x). A failing call whose errno is not listed here is a finding: either the model
 * returns the wrong code or the table misses a documented one (then cite where it is documented).
 * Subsystems add codes for their own ioctls through FuzzPlugin.errnos; ioctl(2) itself says
 * "device-specific ioctls may return other errors".
 */
export const SYSCALL_ERRNOS: Record<string, { man: string; errnos: readonly ErrnoCode[] }> = {
  open: {
    man: "open(2)",
    errnos: ["EACCES", "EBUSY", "EEXIST", "EFAULT", "EFBIG", "EINTR", "EINVAL", "EISDIR", "ELOOP", "EMFILE", "ENAMETOOLONG", "ENFILE", "ENODEV", "ENOENT", "ENOMEM", "ENOSPC", "ENOTDIR", "ENXIO", "EOPNOTSUPP", "EOVERFLOW", "EPERM", "EROFS", "EAGAIN"],
  },
  exit: { man: "_exit(2)", errnos: [] },
  close: { man: "close(2)", errnos: ["EBADF", "EINTR", "EIO", "ENOSPC"] },
  dup: { man: "dup(2)", errnos: ["EBADF", "EMFILE"] },
  dup2: { man: "dup(2)", errnos: ["EBADF", "EBUSY", "EINTR", "EMFILE"] },
  fcntl: { man: "fcntl(2)", errnos: ["EACCES", "EAGAIN", "EBADF", "EBUSY", "EDEADLK", "EFAULT", "EINTR", "EINVAL", "EMFILE", "ENOTDIR", "EPERM"] },
  setrlimit: { man: "getrlimit(2)", errnos: ["EFAULT", "EINVAL", "EPERM"] },
  ioctl: { man: "ioctl(2)", errnos: ["EBADF", "EFAULT", "EINVAL", "ENOTTY"] },
  read: { man: "read(2)", errnos: ["EAGAIN", "EBADF", "EFAULT", "EINTR", "EINVAL", "EIO", "EISDIR"] },
  write: { man: "write(2)", errnos: ["EAGAIN", "EBADF", "EFAULT", "EFBIG", "EINTR", "EINVAL", "EIO", "ENOSPC", "EPERM", "EPIPE"] },
  lseek: { man: "lseek(2)", errnos: ["EBADF", "EINVAL", "ENXIO", "EOVERFLOW", "ESPIPE"] },
  // cat(1) of a file: open(2) + read(2) + close(2)
  cat: { man: "open(2), read(2), close(2)", errnos: ["EACCES", "EBADF", "EINTR", "EINVAL", "EIO", "EISDIR", "EMFILE", "ENFILE", "ENOENT", "ENOMEM", "ENOTDIR", "ENXIO"] },
  opendir: { man: "opendir(3)", errnos: ["EACCES", "EBADF", "EMFILE", "ENFILE", "ENOENT", "ENOMEM", "ENOTDIR"] },
  readlink: { man: "readlink(2)", errnos: ["EACCES", "EBADF", "EFAULT", "EINVAL", "EIO", "ELOOP", "ENAMETOOLONG", "ENOENT", "ENOMEM", "ENOTDIR"] },
  mmap: { man: "mmap(2)", errnos: ["EACCES", "EAGAIN", "EBADF", "EEXIST", "EINVAL", "ENFILE", "ENODEV", "ENOMEM", "EOVERFLOW", "EPERM"] },
  munmap: { man: "munmap(2)", errnos: ["EINVAL"] },
  poll: { man: "poll(2)", errnos: ["EFAULT", "EINTR", "EINVAL", "ENOMEM"] },
  // SCM_RIGHTS over a connected AF_UNIX socket: sendmsg(2) plus unix(7) (ETOOMANYREFS; ECONNREFUSED
  // when the peer is gone, as unix_dgram_sendmsg gives for a dead peer).
  sendmsg: { man: "sendmsg(2), unix(7)", errnos: ["EACCES", "EAGAIN", "EBADF", "ECONNREFUSED", "EINTR", "EINVAL", "ENOBUFS", "ENOMEM", "ENOTCONN", "EPIPE"] },
};

/**
 * Errnos of the DRM ioctls the fuzzer makes, beyond ioctl(2)'s EBADF/EFAULT/EINVAL/ENOTTY:
 * drm_ioctl.c (EACCES for DRM_MASTER ioctls; EOPNOTSUPP for KMS ioctls on a driver without
 * DRIVER_MODESET), drm_gem.c (ENOENT: drm_gem_object_lookup of an unknown handle in MAP_DUMB),
 * drm_prime.c (EMFILE: get_unused_fd_flags in PRIME_HANDLE_TO_FD; ENOENT: unknown handle),
 * drm_dumb_buffers.c and the GEM helpers (ENOMEM), drm_framebuffer.c (ENOENT: unknown handle or fb;
 * ERANGE: framebuffer_check's 32-bit overflow checks), drm_gem_mmap (EACCES: no handle in this file).
 */
export const DRM_IOCTL_ERRNOS = { man: "drm_ioctl.c, drm_gem.c, drm_prime.c, drm_dumb_buffers.c, drm_framebuffer.c", errnos: ["EACCES", "EOPNOTSUPP", "ENOENT", "EMFILE", "ENOMEM", "ERANGE"] } as const satisfies { man: string; errnos: readonly ErrnoCode[] };

/**
 * Errnos of the V4L2 streaming ioctls the fuzzer makes, beyond ioctl(2)'s, as
 * Documentation/userspace-api/media/v4l/ documents them: vidioc-reqbufs.rst (EINVAL; EBUSY in
 * videobuf2: another file handle owns the queue, or it streams), vidioc-querybuf.rst (EINVAL),
 * vidioc-qbuf.rst (EAGAIN, EINVAL, EIO, EPIPE; ENOMEM), vidioc-streamon.rst (EINVAL, EPIPE),
 * vidioc-expbuf.rst (EINVAL; EMFILE from the new fd), and the common EBUSY of vb2_queue_is_busy.
 */
export const V4L2_IOCTL_ERRNOS = { man: "V4L2 spec: vidioc-reqbufs.rst, vidioc-querybuf.rst, vidioc-qbuf.rst, vidioc-streamon.rst, vidioc-expbuf.rst", errnos: ["EBUSY", "ENOMEM", "EMFILE", "EAGAIN", "EIO", "EPIPE"] } as const satisfies { man: string; errnos: readonly ErrnoCode[] };

/**
 * Places where the model knowingly differs from Linux. The fuzzer counts and prints them instead of
 * failing, so that they stay visible until fixed.
 */
export const KNOWN_DEVIATIONS: readonly { syscall: string; code: ErrnoCode; why: string }[] = [
  {
    syscall: "sendmsg",
    code: "EMFILE",
    why: "unix(7): SCM_RIGHTS fds that would exceed the receiver's RLIMIT_NOFILE are closed and recvmsg reports MSG_CTRUNC; the model's sendFds fails the whole transfer with EMFILE instead",
  },
];
