import type { Kernel } from "@dmabuf/core";

const minors = new WeakMap<Kernel, number>();

/** drm_minor_alloc(): card minors in probe order, per kernel (card0, card1, ...). */
export function drmMinorAlloc(kernel: Kernel): number {
  const n = minors.get(kernel) ?? 0;
  minors.set(kernel, n + 1);
  return n;
}
