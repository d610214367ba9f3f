import { describe, expect, it } from "vitest";
import { VirtualClock, NSEC_PER_MSEC } from "../src/index.js";

describe("VirtualClock.hold", () => {
  it("keeps virtual time still while real-time device work is in flight, then resumes", async () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    // Device work that takes real time (e.g. a JPEG job in libuv's thread pool).
    const work = new Promise<void>((resolve) => setTimeout(resolve, 20)).then(() => seen.push(clock.now()));
    clock.hold(work);
    await clock.sleep(10 * NSEC_PER_MSEC); // an actor blocks; a timer is pending at 10 ms
    expect(seen).toEqual([0]); // the work finished before time moved
    expect(clock.now()).toBe(10 * NSEC_PER_MSEC);
  });

  it("releases the hold when the work fails", async () => {
    const clock = new VirtualClock();
    const failed = clock.hold(Promise.reject(new Error("job failed")));
    await expect(failed).rejects.toThrow("job failed");
    await clock.sleep(1);
    expect(clock.now()).toBe(1);
  });
});
