import type { VirtualClock } from "./clock.js";

/** Arguments of a tracepoint, printed `key=value` in ftrace order, as most TP_printk formats do. */
export type TraceArgs = Record<string, string | number | bigint | boolean>;

/** One recorded event. `dur` marks a slice (a span on a hardware timeline) rather than an instant. */
export interface TraceRecord {
  readonly ts: number;
  readonly event: string;
  readonly pid: number;
  readonly comm: string;
  readonly args: TraceArgs;
  /** Perfetto track for hardware timelines (e.g. "camera0", "fence:sw_sync:tl0"). */
  readonly track?: string;
  readonly dur?: number;
}

/** Who is running: the task name and pid ftrace prints. Interrupt context is `<idle>-0`. */
export interface TaskContext {
  readonly pid: number;
  readonly comm: string;
}
const IDLE: TaskContext = { pid: 0, comm: "<idle>" };

const fmtArgs = (a: TraceArgs) =>
  Object.entries(a)
    .map(([k, v]) => `${k}=${typeof v === "boolean" ? (v ? 1 : 0) : String(v)}`)
    .join(" ");

/**
 * The tracing ring buffer (kernel/trace). Events carry Linux's tracepoint names and fields, stamped
 * with virtual time; `ftrace()` renders /sys/kernel/tracing/trace and `chromeTrace()` a JSON file that
 * ui.perfetto.dev and chrome://tracing load.
 */
export class Tracer {
  private records: TraceRecord[] = [];
  private written = 0;
  /** `tracing_on`: when false, events are dropped at the source (cheap). */
  on = true;
  /** Ring-buffer capacity in events (buffer_size_kb's analogue); the oldest are overwritten. */
  capacity = 1 << 18;
  /** Returns the running task; the kernel points this at its `current`. */
  current: () => TaskContext = () => IDLE;

  constructor(private readonly clock: VirtualClock) {}

  /** Records tracepoint `event` (e.g. "dma_fence_signaled") with its fields. */
  emit(event: string, args: TraceArgs, task: TaskContext = this.current()): void {
    if (!this.on) return;
    this.push({ ts: this.clock.now(), event, pid: task.pid, comm: task.comm, args });
  }

  /** Records a span on a hardware timeline track, shown as a slice in Perfetto. */
  slice(track: string, event: string, startNs: number, durNs: number, args: TraceArgs = {}): void {
    if (!this.on) return;
    this.push({ ts: startNs, event, pid: 0, comm: "<idle>", args, track, dur: durNs });
  }

  private push(r: TraceRecord): void {
    this.written++;
    this.records.push(r);
    if (this.records.length > this.capacity * 2) this.records = this.records.slice(-this.capacity);
  }

  /** The events still in the buffer, oldest first. */
  events(filter?: string | ((r: TraceRecord) => boolean)): TraceRecord[] {
    const all = this.records.length > this.capacity ? this.records.slice(-this.capacity) : this.records;
    if (filter === undefined) return all;
    return all.filter(typeof filter === "string" ? (r) => r.event === filter : filter);
  }

  clear(): void {
    this.records = [];
    this.written = 0;
  }

  /** The text of /sys/kernel/tracing/trace (nop tracer, one CPU). */
  ftrace(): string {
    const ev = this.events((r) => r.dur === undefined);
    const lines = [
      "# tracer: nop",
      "#",
      `# entries-in-buffer/entries-written: ${ev.length}/${this.written}   #P:1`,
      "#",
      "#                                _-----=> irqs-off/BH-disabled",
      "#                               / _----=> need-resched",
      "#                              | / _---=> hardirq/softirq",
      "#                              || / _--=> preempt-depth",
      "#                              ||| / _-=> migrate-disable",
      "#                              |||| /     delay",
      "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
      "#              | |         |   |||||     |         |",
    ];
    for (const r of ev) {
      // trace_print_context(): "%16s-%-7d [%03d] " then the irq flags and "%5lu.%06lu: "
      const us = Math.floor(r.ts / 1000);
      const ts = `${String(Math.floor(us / 1e6)).padStart(5)}.${String(us % 1e6).padStart(6, "0")}`;
      lines.push(`${r.comm.padStart(16)}-${String(r.pid).padEnd(7)} [000] ..... ${ts}: ${r.event}: ${fmtArgs(r.args)}`);
    }
    return lines.join("\n") + "\n";
  }

  /**
   * Chrome trace-event JSON (the "JSON trace format" Perfetto imports): one process per task, one
   * thread per hardware track under a "hardware" process, instants for tracepoints, slices for spans.
   */
  chromeTrace(): { traceEvents: object[]; displayTimeUnit: string } {
    const out: object[] = [];
    const procs = new Map<number, string>();
    const tracks = new Map<string, number>();
    const HW_PID = 1 << 30;
    for (const r of this.events()) {
      const ts = r.ts / 1000;
      if (r.track !== undefined) {
        let tid = tracks.get(r.track);
        if (tid === undefined) {
          tid = tracks.size + 1;
          tracks.set(r.track, tid);
          out.push({ ph: "M", name: "thread_name", pid: HW_PID, tid, args: { name: r.track } });
        }
        out.push({ ph: "X", name: r.event, cat: r.event.split("_")[0], ts, dur: (r.dur ?? 0) / 1000, pid: HW_PID, tid, args: stringify(r.args) });
      } else {
        if (!procs.has(r.pid)) {
          procs.set(r.pid, r.comm);
          out.push({ ph: "M", name: "process_name", pid: r.pid, tid: r.pid, args: { name: `${r.comm}-${r.pid}` } });
        }
        out.push({ ph: "i", s: "t", name: r.event, cat: r.event.split("_")[0], ts, pid: r.pid, tid: r.pid, args: stringify(r.args) });
      }
    }
    if (tracks.size > 0) out.push({ ph: "M", name: "process_name", pid: HW_PID, tid: 0, args: { name: "hardware" } });
    return { traceEvents: out, displayTimeUnit: "ns" };
  }
}

const stringify = (a: TraceArgs) =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));
