import type { Tracer } from "@dmabuf/core";

/**
 * Accounts every byte the model copies (page migration, swiotlb bounce, the cache model of
 * non-coherent devices, split rows). Zero copy is then a measured fact: a pipeline that never
 * bounces or migrates leaves `bytes` at 0. Each copy is also traced as `mm_model_copy`.
 */
export class CopyCounter {
  /** Number of copies and bytes copied, in total and per kind. */
  count = 0;
  bytes = 0;
  readonly byKind = new Map<string, { count: number; bytes: number }>();

  constructor(private readonly trace?: Tracer) {}

  record(kind: string, bytes: number): void {
    this.count++;
    this.bytes += bytes;
    const k = this.byKind.get(kind);
    if (k) {
      k.count++;
      k.bytes += bytes;
    } else this.byKind.set(kind, { count: 1, bytes });
    if (this.trace?.on) this.trace.emit("mm_model_copy", { kind, bytes });
  }

  /** Copies and bytes of one kind (zeros when none happened). */
  of(kind: string): { count: number; bytes: number } {
    return this.byKind.get(kind) ?? { count: 0, bytes: 0 };
  }
}
