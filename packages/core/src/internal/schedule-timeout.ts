import type { Timer, VirtualClock } from "../clock.js";
import { onSignal } from "../signal.js";
import type { TaskContext } from "../trace.js";

/** MAX_SCHEDULE_TIMEOUT: wait without a timeout. Timeouts in this model are nanoseconds of virtual time (the kernel's jiffies). */
export const MAX_SCHEDULE_TIMEOUT = Number.MAX_SAFE_INTEGER;

/**
 * One schedule_timeout() sleep of `task`: `arm(wake)` hooks the wake-up source (a fence callback, a
 * wait queue) and returns its unhook. Resolves with the time left (0 on expiry) when woken, when
 * `timeout` ns of virtual time pass, or, for an interruptible sleep, when a signal arrives.
 */
export function scheduleTimeout(
  clock: VirtualClock,
  task: TaskContext | undefined,
  intr: boolean,
  timeout: number,
  arm: (wake: () => void) => () => void,
): Promise<number> {
  const deadline = timeout >= MAX_SCHEDULE_TIMEOUT ? Infinity : clock.now() + timeout;
  return clock.block(
    new Promise<number>((resolve) => {
      let done = false;
      let unarm = () => {};
      let unsig = () => {};
      let timer: Timer | undefined;
      const wake = () => {
        if (done) return;
        done = true;
        unarm();
        unsig();
        clock.cancelTimer(timer);
        resolve(deadline === Infinity ? MAX_SCHEDULE_TIMEOUT : Math.max(0, deadline - clock.now()));
      };
      unarm = arm(wake);
      if (intr) unsig = onSignal(task, wake);
      if (deadline !== Infinity && !done) timer = clock.addTimer(timeout, wake, "schedule_timeout");
    }),
  );
}
