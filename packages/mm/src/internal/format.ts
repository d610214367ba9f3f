/** Formatting shared by tracepoints and debug files. */

/** `0x1f000` (%lx). */
export const hex = (n: number | bigint) => "0x" + n.toString(16);

/** `0x0000000012345000` (%016llx), as the IOMMU tracepoints print addresses. */
export const hex16 = (n: number | bigint) => "0x" + n.toString(16).padStart(16, "0");

/**
 * arm64 vmemmap (0xfffffdffc0000000): struct page pointers as %p would print them (64-byte struct
 * page). Computed in two 32-bit halves: tracepoints are on hot paths and BigInt is slow.
 */
export function pagePtr(pfn: number): string {
  const low = 0xc0000000 + pfn * 64;
  const carry = Math.floor(low / 2 ** 32);
  const lo = low - carry * 2 ** 32;
  // 16-bit halves stay small integers, whose toString(16) is fast
  return "0x" + (0xfffffdff + carry).toString(16) + hex4(Math.floor(lo / 65536)) + hex4(lo & 0xffff);
}
const hex4 = (n: number) => (n + 0x10000).toString(16).slice(1);
