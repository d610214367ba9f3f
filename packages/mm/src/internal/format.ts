/** Formatting shared by tracepoints and debug files. */

/** `0x1f000` (%lx). */
export const hex = (n: number | bigint) => "0x" + n.toString(16);

/** `0x0000000012345000` (%016llx), as the IOMMU tracepoints print addresses. */
export const hex16 = (n: number | bigint) => "0x" + n.toString(16).padStart(16, "0");

/** arm64 vmemmap: struct page pointers as %p would print them (64-byte struct page). */
const VMEMMAP_START = 0xfffffdffc0000000n;
export const pagePtr = (pfn: number) => hex(VMEMMAP_START + BigInt(pfn) * 64n);
