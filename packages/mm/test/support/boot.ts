import { Kernel, dmaBufVmap, dmaBufVunmap, type BoardInput, type DmaBuf } from "@dmabuf/core";
import mm, { MM, type MemoryManager, type MmOptions } from "../../src/index.js";

/** A small board: 64 MiB of RAM at 1 GiB, a 16 MiB default CMA area, one IOMMU, a few devices. */
export const SMALL_BOARD: BoardInput = {
  memory: [{ base: "0x40000000", size: "64M" }],
  reservedMemory: [{ name: "linux,cma", size: "16M", default: true }],
  iommus: [{ name: "iommu0", pageSizes: ["4K", "2M", "1G"], iovaBits: 32 }],
  devices: [
    { name: "cam0", compatible: "test,cam", dmaMask: 32, iommu: "iommu0", maxSegmentSize: "4G" },
    { name: "enc0", compatible: "test,enc", dmaMask: 32, iommu: "iommu0" },
    { name: "disp0", compatible: "test,disp", dmaMask: 32, maxSegmentSize: "4G" },
    { name: "nc0", compatible: "test,nc", dmaMask: 32, coherent: false, maxSegmentSize: "4G" },
    { name: "ncmmu0", compatible: "test,nc", dmaMask: 32, coherent: false, iommu: "iommu0", maxSegmentSize: "4G" },
  ],
};

/** RAM below and above 4 GiB, with a 32-bit device that has no IOMMU: the swiotlb case. */
export const HIGHMEM_BOARD: BoardInput = {
  memory: [{ base: "0x40000000", size: "64M" }, { base: "0x100000000", size: "64M" }],
  reservedMemory: [{ name: "linux,cma", size: "16M", default: true }],
  iommus: [{ name: "iommu0", iovaBits: 32 }],
  devices: [
    { name: "dev32", compatible: "test,dev", dmaMask: 32, maxSegmentSize: "4G" },
    { name: "dev64", compatible: "test,dev", dmaMask: 64, maxSegmentSize: "4G" },
    { name: "mmu32", compatible: "test,dev", dmaMask: 32, iommu: "iommu0", maxSegmentSize: "4G" },
  ],
};

export async function bootMm(board: BoardInput = SMALL_BOARD, options: MmOptions = {}): Promise<{ k: Kernel; m: MemoryManager }> {
  const k = await Kernel.boot({ board, plugins: [mm(options)] });
  return { k, m: k.resolve(MM) };
}

/** Free page frames per zone and order, the allocator's complete free state. */
export function freeState(m: MemoryManager): string {
  return m.pages.buddyinfo() + `free=${m.pages.nrFree} cma=${m.pages.nrFreeCma} ` + m.cmaAreas.map((c) => c.bitmapText()).join("|");
}

/** Fills a Uint8Array with a byte pattern derived from `seed`. */
export function pattern(len: number, seed: number): Uint8Array {
  const a = new Uint8Array(len);
  for (let i = 0; i < len; i++) a[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return a;
}

/** Byte equality without vitest's slow deep-equal on large typed arrays. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** The buffer's bytes, gathered through a kernel mapping (vmap), which is dropped again. */
export function readAll(buf: DmaBuf): Uint8Array {
  const map = dmaBufVmap(buf);
  const out = new Uint8Array(buf.size);
  let off = 0;
  for (const s of map.segments) {
    out.set(s, off);
    off += s.length;
  }
  dmaBufVunmap(buf, map);
  return out;
}
