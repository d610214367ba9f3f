import type { DeviceDescription } from "./board.js";
import type { Kernel } from "./kernel.js";

/**
 * struct device for a platform device described by the board. Carries the DMA constraints the
 * DMA mapping layer and the placement logic read (dma_mask, dma_parms, coherency, IOMMU link).
 */
export class Device {
  readonly name: string;
  readonly compatible: readonly string[];
  /** DMA_BIT_MASK(dmaMaskBits). */
  readonly dmaMaskBits: number;
  /** The highest bus address the device can reach (Infinity when the mask covers all of it). */
  readonly dmaLimit: number;
  readonly coherent: boolean;
  /** Name of the IOMMU the device is behind, if any (dev->iommu). */
  readonly iommu?: string;
  /** memory-region: the CMA area for dev_get_cma_area(), if the board names one. */
  readonly memoryRegion?: string;
  /** dma_parms: dma_get_max_seg_size() and dma_get_seg_boundary(). */
  readonly maxSegmentSize: number;
  readonly segmentBoundaryMask: number;
  /** Driver-specific properties from the board (of_property_read_*). */
  readonly properties: Readonly<Record<string, unknown>>;
  /** The bound driver, once probe succeeded. */
  driver?: PlatformDriver;
  /** dev_get_drvdata(): whatever the driver stored at probe. */
  driverData: unknown;

  constructor(desc: DeviceDescription) {
    this.name = desc.name;
    this.compatible = desc.compatible;
    this.dmaMaskBits = desc.dmaMask;
    this.dmaLimit = desc.dmaMask >= 53 ? Infinity : 2 ** desc.dmaMask - 1;
    this.coherent = desc.coherent;
    if (desc.iommu !== undefined) this.iommu = desc.iommu;
    if (desc.memoryRegion !== undefined) this.memoryRegion = desc.memoryRegion;
    this.maxSegmentSize = desc.maxSegmentSize;
    this.segmentBoundaryMask = desc.segmentBoundaryMask;
    this.properties = desc.properties;
  }

  /** dma_mask as Linux prints it (0x00000000ffffffff). */
  get dmaMask(): bigint {
    return (1n << BigInt(this.dmaMaskBits)) - 1n;
  }

  /** dev_name() */
  toString(): string {
    return this.name;
  }
}

/**
 * struct platform_driver with its of_match_table. The driver core calls `probe` for each board
 * device whose `compatible` list names one of `compatible`, and `remove` at unbind or shutdown.
 */
export interface PlatformDriver {
  readonly name: string;
  /** of_device_id compatibles this driver binds to. */
  readonly compatible: readonly string[];
  /**
   * @probe: set up the device (allocate state, register device nodes). Throwing fails the bind:
   * the device stays unbound and the kernel log says why, as "probe of X failed with error -N".
   */
  probe(dev: Device, kernel: Kernel): void | Promise<void>;
  /** @remove: undo probe in reverse order. Optional. */
  remove?(dev: Device, kernel: Kernel): void;
}

/**
 * A kernel subsystem a plugin brings (the model of an initcall): `init` runs at boot before any
 * driver probes, in ascending `level`; `exit` runs at shutdown after every driver is removed.
 */
export interface Subsystem {
  readonly name: string;
  /** Lower runs first: core_initcall 1, subsys_initcall 4 (default), device_initcall 6. */
  readonly level?: number;
  init(kernel: Kernel): void;
  exit?(kernel: Kernel): void;
}
