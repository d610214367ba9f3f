import type { VirtualClock } from "./clock.js";
import { Errno } from "./errno.js";

/**
 * A wait queue (include/linux/wait.h): sleepers block until a waker calls `wake()` and their
 * condition holds. Sleeping goes through the virtual clock, so time advances while everyone sleeps.
 */
export class WaitQueue {
  /** Created at the first sleeper: most queues (one per dma_resv lock, say) never have one. */
  private waiters: Set<() => void> | undefined;

  /** Wakes every sleeper; each re-checks its condition (wake_up_all). */
  wake(): void {
    if (!this.waiters?.size) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  get sleepers(): number {
    return this.waiters?.size ?? 0;
  }

  /** One-shot registration used by poll(): `fn` runs at the next wake. */
  subscribe(fn: () => void): () => void {
    const ws = (this.waiters ??= new Set());
    ws.add(fn);
    return () => ws.delete(fn);
  }

  /**
   * wait_event_timeout(): resolves true once `cond()` holds, false when `timeoutNs` of virtual time
   * pass first (undefined = wait forever). A condition already true returns without sleeping.
   */
  waitEvent(clock: VirtualClock, cond: () => boolean, timeoutNs?: number): Promise<boolean> {
    // Not async (one promise less per wait); a throwing condition still rejects, as before.
    try {
      if (cond()) return Promise.resolve(true);
    } catch (e) {
      return Promise.reject(e);
    }
    if (timeoutNs === 0) return Promise.resolve(false);
    return clock.block(
      new Promise<boolean>((resolve) => {
        const ws = (this.waiters ??= new Set());
        // w.check is assigned, not declared: a declared arrow is named, which under keepNames (tsx
        // runs the CLI and the benches) costs a defineProperty per wait.
        const w: { check?: () => void } = {};
        const timer =
          timeoutNs === undefined
            ? undefined
            : clock.addTimer(timeoutNs, () => {
                ws.delete(w.check!);
                resolve(cond());
              }, "wait_event_timeout");
        w.check = () => {
          if (cond()) {
            clock.cancelTimer(timer);
            resolve(true);
          } else ws.add(w.check!);
        };
        ws.add(w.check);
      }),
    );
  }
}

/** `wait_event_timeout` that fails with ETIMEDOUT instead of returning false. */
export async function waitOrTimeout(wq: WaitQueue, clock: VirtualClock, cond: () => boolean, timeoutNs: number | undefined, call: string): Promise<void> {
  if (!(await wq.waitEvent(clock, cond, timeoutNs))) throw new Errno("ETIMEDOUT", call, `condition not met within ${timeoutNs} ns of virtual time`);
}
