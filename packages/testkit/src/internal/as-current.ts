import type { Kernel, Process } from "@dmabuf/core";

/**
 * Runs a kernel-side call (dma_buf_get and friends) as if `proc` were in a syscall, since fd
 * lookups read `kernel.current`. The kit uses it to look at a buffer from the driver's side.
 */
export function asCurrent<T>(kernel: Kernel, proc: Process, fn: () => T): T {
  const prev = kernel.current;
  kernel.current = proc;
  try {
    return fn();
  } finally {
    kernel.current = prev;
  }
}
