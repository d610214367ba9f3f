import type { TaskContext } from "./trace.js";

/**
 * Pending signals of tasks: the part of kernel/signal.c that interruptible sleeps observe
 * (signal_pending(), signal_wake_up()). A task is a Process; kernel threads (`undefined`) never
 * receive signals. Interruptible waits (dma_fence_wait(intr=true), dma_resv_lock_interruptible, ...)
 * return -ERESTARTSYS / -EINTR once a signal is pending, as on Linux.
 */
const pending = new WeakSet<TaskContext>();
const sleepers = new WeakMap<TaskContext, Set<() => void>>();

/** signal_pending(task) */
export function signalPending(task: TaskContext | undefined): boolean {
  return task !== undefined && pending.has(task);
}

/** Delivers a signal to `task` (kill(2) as seen by the kernel): marks it pending and wakes its interruptible sleeps. */
export function sendSignal(task: TaskContext): void {
  pending.add(task);
  const s = sleepers.get(task);
  if (!s) return;
  sleepers.delete(task);
  for (const wake of s) wake();
}

/** The task handled its signals (the handler ran): nothing is pending any more. */
export function flushSignals(task: TaskContext): void {
  pending.delete(task);
}

/** @internal Registers an interruptible sleeper of `task`; returns the unregister function. */
export function onSignal(task: TaskContext | undefined, wake: () => void): () => void {
  if (task === undefined) return () => {};
  let s = sleepers.get(task);
  if (!s) sleepers.set(task, (s = new Set()));
  s.add(wake);
  return () => s.delete(wake);
}
