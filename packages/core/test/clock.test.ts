import { describe, expect, it } from "vitest";
import { Kernel, NSEC_PER_MSEC, POLLIN, SimulationStalled, VirtualClock, WaitQueue, type FileOperations } from "../src/index.js";

describe("virtual clock", () => {
  it("fires timers in time order, ties in creation order, and advances time only to them", () => {
    const c = new VirtualClock();
    const seen: string[] = [];
    c.addTimer(20, () => seen.push("b@" + c.now()));
    c.addTimer(10, () => seen.push("a@" + c.now()));
    c.addTimer(20, () => seen.push("c@" + c.now()));
    const t = c.addTimer(15, () => seen.push("cancelled"));
    c.cancelTimer(t);
    c.advance(25);
    expect(seen).toEqual(["a@10", "b@20", "c@20"]);
    expect(c.now()).toBe(25);
  });

  it("advances only while every actor is blocked: sleeps of two actors interleave in virtual time", async () => {
    const c = new VirtualClock();
    const log: string[] = [];
    const actor = async (name: string, periodNs: number) => {
      for (let i = 0; i < 3; i++) {
        await c.sleep(periodNs);
        log.push(`${name}${i}@${c.now()}`);
      }
    };
    await Promise.all([actor("a", 10), actor("b", 15)]);
    expect(log).toEqual(["a0@10", "b0@15", "a1@20", "b1@30", "a2@30", "b2@45"]);
  });

  it("reports a stall instead of hanging when every actor waits and no timer is pending", async () => {
    const c = new VirtualClock();
    const wq = new WaitQueue();
    await expect(wq.waitEvent(c, () => false)).rejects.toBeInstanceOf(SimulationStalled);
  });

  it("wait_event_timeout returns false after the timeout in virtual time, true when woken", async () => {
    const c = new VirtualClock();
    const wq = new WaitQueue();
    expect(await wq.waitEvent(c, () => false, 5 * NSEC_PER_MSEC)).toBe(false);
    expect(c.now()).toBe(5 * NSEC_PER_MSEC);
    let ready = false;
    c.addTimer(1000, () => { ready = true; wq.wake(); });
    expect(await wq.waitEvent(c, () => ready, 5 * NSEC_PER_MSEC)).toBe(true);
    expect(c.now()).toBe(5 * NSEC_PER_MSEC + 1000);
  });
});

/** A device that becomes readable every `periodMs` (a frame source): poll(2) sleeps on its wait queue. */
function tickDevice(k: Kernel, periodMs: number): void {
  const wq = new WaitQueue();
  let frames = 0;
  const tick = () => {
    frames++;
    k.trace.emit("tick_frame", { frame: frames });
    wq.wake();
    k.clock.addTimer(periodMs * NSEC_PER_MSEC, tick, "tick");
  };
  k.clock.addTimer(periodMs * NSEC_PER_MSEC, tick, "tick");
  const fops: FileOperations = {
    name: "tick",
    open: (f) => void (f.privateData = { seen: 0 }),
    poll: (f, table) => {
      table.wait(wq);
      return (f.privateData as { seen: number }).seen < frames ? POLLIN : 0;
    },
    read: (f) => {
      const st = f.privateData as { seen: number };
      st.seen = frames;
      return new Uint8Array([frames]);
    },
  };
  k.vfs.create("/dev/tick", fops);
}

async function program(): Promise<string> {
  const k = await Kernel.boot({ board: { memory: { size: "16M" } } });
  tickDevice(k, 16);
  const run = async (name: string, timeoutMs: number) => {
    const p = k.spawn(name);
    const fd = p.open("/dev/tick");
    for (let i = 0; i < 4; i++) {
      const pfd = [{ fd, events: POLLIN, revents: 0 }];
      const n = await p.poll(pfd, timeoutMs);
      k.trace.emit("app_wakeup", { n, revents: pfd[0]!.revents }, p);
      if (n) await p.read(fd);
    }
    p.exit();
  };
  await Promise.all([run("fast", 100), run("impatient", 10)]);
  return k.trace.ftrace();
}

describe("determinism and poll(2) in virtual time", () => {
  it("poll sleeps until the device wakes it or the timeout passes, in virtual time", async () => {
    const trace = await program();
    expect(trace).toContain("            fast-100     [000] .....     0.016000: app_wakeup: n=1 revents=1\n");
    expect(trace).toContain("       impatient-101     [000] .....     0.010000: app_wakeup: n=0 revents=0\n");
    expect(trace).toContain("          <idle>-0       [000] .....     0.016000: tick_frame: frame=1\n");
  });

  it("the same program twice gives byte-identical traces", async () => {
    const [a, b] = [await program(), await program()];
    expect(a).toBe(b);
    expect(a.split("\n").length).toBeGreaterThan(15);
  });
});
