import type { Device, Kernel, PlatformDriver } from "@dmabuf/core";
import { JpegM2mDevice, type CodecRole, type JpegM2mOptions } from "./jpeg-m2m.js";

/**
 * The platform driver of one codec role (module_platform_driver with an of_match_table): binds
 * "sim,jpeg-enc" or "sim,jpeg-dec" devices, registers their /dev/videoN node at probe and keeps the
 * JpegM2mDevice as driver data (dev_get_drvdata), where its constraints can be read.
 */
export class JpegDriver implements PlatformDriver {
  readonly name: string;
  readonly compatible: readonly string[];

  constructor(
    readonly role: CodecRole,
    private readonly options: JpegM2mOptions,
  ) {
    this.name = role === "encoder" ? "sim-jpeg-enc" : "sim-jpeg-dec";
    this.compatible = [role === "encoder" ? "sim,jpeg-enc" : "sim,jpeg-dec"];
  }

  probe(dev: Device, kernel: Kernel): void {
    const device = new JpegM2mDevice(kernel, dev, this.role, this.options);
    const path = device.vdev.register();
    dev.driverData = device;
    kernel.printk(`${this.name} ${dev.name}: Device '${device.vdev.name}' registered as ${path}`);
  }

  remove(dev: Device): void {
    const device = dev.driverData as JpegM2mDevice;
    device.vdev.unregister();
    dev.driverData = undefined;
  }
}
