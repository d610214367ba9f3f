import type { Kernel } from "../kernel.js";
import type { Process } from "../process.js";

/**
 * Runs `fn` with `task` as `kernel.current`. A kernel path that sleeps loses `current` across its
 * awaits; it captures the task at entry and calls on through this, so that waits it starts later
 * are still the task's (interruptible by its signals, traced under its pid).
 */
export function callAs<T>(kernel: Kernel, task: Process | undefined, fn: () => T): T {
  const prev = kernel.current;
  kernel.current = task;
  try {
    return fn();
  } finally {
    kernel.current = prev;
  }
}
