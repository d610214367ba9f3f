import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection, type Device, type Tracer } from "@dmabuf/core";
import { hex } from "./internal/format.js";
import { PAGE_SIZE, type PhysicalMemory } from "./physical-memory.js";

/* include/linux/swiotlb.h */
export const IO_TLB_SHIFT = 11;
export const IO_TLB_SIZE = 1 << IO_TLB_SHIFT;
/** Slots per segment: the most one mapping can use. */
export const IO_TLB_SEGSIZE = 128;
/** Default pool: 64 MiB (IO_TLB_DEFAULT_SIZE). */
export const IO_TLB_DEFAULT_SIZE = 64 << 20;

/**
 * The software IO TLB (kernel/dma/swiotlb.c): a pool of low memory in 2 KiB slots that dma-direct
 * bounces through when a buffer lies beyond a device's DMA mask. Mapping copies the original into
 * the slots, unmapping (and sync_for_cpu) copies back for FROM_DEVICE/BIDIRECTIONAL; every bounce is
 * a counted copy. A mapping takes at most IO_TLB_SEGSIZE contiguous slots (256 KiB) inside one
 * segment; when no run is free the mapping fails ("swiotlb buffer is full").
 */
export class Swiotlb {
  readonly nslabs: number;
  /** Per slot: the original physical address it shadows (NaN when free). */
  private readonly orig: Float64Array;
  /** Per slot: slots in the mapping that starts here (0 elsewhere). */
  private readonly allocSlots: Uint16Array;
  private index = 0;
  used = 0;
  /** Mappings that bounced, and those that failed for lack of slots. */
  bounced = 0;
  full = 0;

  constructor(
    /** Physical start of the pool */
    readonly start: number,
    readonly size: number,
    private readonly mem: PhysicalMemory,
    private readonly trace?: Tracer,
    private readonly printk: (msg: string) => void = () => {},
  ) {
    this.nslabs = size >> IO_TLB_SHIFT;
    this.orig = new Float64Array(this.nslabs).fill(NaN);
    this.allocSlots = new Uint16Array(this.nslabs);
  }

  get end(): number {
    return this.start + this.size;
  }

  /** swiotlb_max_mapping_size() */
  get maxMappingSize(): number {
    return IO_TLB_SIZE * IO_TLB_SEGSIZE;
  }

  /** is_swiotlb_buffer() */
  owns(addr: number): boolean {
    return addr >= this.start && addr < this.end;
  }

  /**
   * swiotlb_map(): bounces [phys, phys+size) into free slots and returns the slot address the
   * device uses, or -1 (DMA_MAPPING_ERROR) when the pool is full or lies beyond the device's mask.
   */
  map(dev: Device, phys: number, size: number, skipCpuSync: boolean): number {
    const nslots = Math.ceil(size / IO_TLB_SIZE);
    const slot = nslots <= IO_TLB_SEGSIZE ? this.findSlots(nslots, size >= PAGE_SIZE ? PAGE_SIZE / IO_TLB_SIZE : 1) : -1;
    if (slot < 0) {
      this.full++;
      this.printk(`${dev.name}: swiotlb buffer is full (sz: ${size} bytes), total ${this.nslabs} (slots), used ${this.used} (slots)`);
      return -1;
    }
    const tlb = this.start + slot * IO_TLB_SIZE;
    if (tlb + size - 1 > dev.dmaLimit) {
      this.printk(`${dev.name}: swiotlb addr ${hex(tlb)}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit 0)`);
      return -1;
    }
    this.allocSlots[slot] = nslots;
    for (let i = 0; i < nslots; i++) this.orig[slot + i] = phys + i * IO_TLB_SIZE;
    this.used += nslots;
    this.bounced++;
    if (this.trace?.on) this.trace.emit("swiotlb_bounced", { dev_name: dev.name, dma_mask: dev.dmaMask.toString(16), dev_addr: phys.toString(16), size });
    // Always initialise the slots from the original, even for FROM_DEVICE: nothing stale may leak.
    if (!skipCpuSync) this.mem.copy(tlb, phys, size, "swiotlb");
    return tlb;
  }

  /** swiotlb_tbl_unmap_single(): copies back for FROM_DEVICE/BIDIRECTIONAL, frees the slots. */
  unmap(tlb: number, size: number, dir: DmaDataDirection, skipCpuSync: boolean): void {
    const slot = this.slotOf(tlb);
    if (!skipCpuSync && (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL)) this.mem.copy(this.orig[slot]!, tlb, size, "swiotlb");
    const n = this.allocSlots[slot]!;
    this.allocSlots[slot] = 0;
    this.orig.fill(NaN, slot, slot + n);
    this.used -= n;
  }

  /** swiotlb_sync_single_for_cpu() */
  syncForCpu(tlb: number, size: number, dir: DmaDataDirection): void {
    if (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL) this.mem.copy(this.orig[this.slotOf(tlb)]!, tlb, size, "swiotlb");
  }

  /** swiotlb_sync_single_for_device() */
  syncForDevice(tlb: number, size: number, dir: DmaDataDirection): void {
    if (dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL) this.mem.copy(tlb, this.orig[this.slotOf(tlb)]!, size, "swiotlb");
  }

  private slotOf(tlb: number): number {
    const slot = (tlb - this.start) / IO_TLB_SIZE;
    if (!Number.isInteger(slot) || Number.isNaN(this.orig[slot]!)) throw new Error(`swiotlb: ${hex(tlb)} is not a live bounce mapping`);
    return slot;
  }

  /** swiotlb_find_slots(): from a rotating index, `nslots` free slots inside one segment. */
  private findSlots(nslots: number, stride: number): number {
    const n = this.nslabs;
    let index = Math.ceil(this.index / stride) * stride;
    if (index >= n) index = 0;
    const wrap = index;
    do {
      if (index + nslots <= n && Math.floor(index / IO_TLB_SEGSIZE) === Math.floor((index + nslots - 1) / IO_TLB_SEGSIZE) && this.runFree(index, nslots)) {
        this.index = index + nslots >= n ? 0 : index + nslots;
        return index;
      }
      index += stride;
      if (index >= n) index = 0;
    } while (index !== wrap);
    return -1;
  }

  private runFree(at: number, n: number): boolean {
    for (let i = at; i < at + n; i++) if (!Number.isNaN(this.orig[i]!)) return false;
    return true;
  }
}
