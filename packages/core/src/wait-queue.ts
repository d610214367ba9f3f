import type { VirtualClock } from "./clock.js";
import { Errno } from "./errno.js";

/**
 * A wait queue (include/linux/wait.h): sleepers block until a waker calls `wake()` and their
 * condition holds. Sleeping goes through the virtual clock, so time advances while everyone sleeps.
 */
export class WaitQueue {
  private waiters = new Set<() => void>();

  /** Wakes every sleeper; each re-checks its condition (wake_up_all). */
  wake(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  get sleepers(): number {
    return this.waiters.size;
  }

  /** One-shot registration used by poll(): `fn` runs at the next wake. */
  subscribe(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  /**
   * wait_event_timeout(): resolves true once `cond()` holds, false when `timeoutNs` of virtual time
   * pass first (undefined = wait forever). A condition already true returns without sleeping.
   */
  async waitEvent(clock: VirtualClock, cond: () => boolean, timeoutNs?: number): Promise<boolean> {
    if (cond()) return true;
    if (timeoutNs === 0) return false;
    return clock.block(
      new Promise<boolean>((resolve) => {
        const timer =
          timeoutNs === undefined
            ? undefined
            : clock.addTimer(timeoutNs, () => {
                this.waiters.delete(check);
                resolve(cond());
              }, "wait_event_timeout");
        const check = () => {
          if (cond()) {
            clock.cancelTimer(timer);
            resolve(true);
          } else this.waiters.add(check);
        };
        this.waiters.add(check);
      }),
    );
  }
}

/** `wait_event_timeout` that fails with ETIMEDOUT instead of returning false. */
export async function waitOrTimeout(wq: WaitQueue, clock: VirtualClock, cond: () => boolean, timeoutNs: number | undefined, call: string): Promise<void> {
  if (!(await wq.waitEvent(clock, cond, timeoutNs))) throw new Errno("ETIMEDOUT", call, `condition not met within ${timeoutNs} ns of virtual time`);
}
