import type { Device, Kernel, PlatformDriver } from "@dmabuf/core";
import { IspDevice } from "./isp-device.js";

/** The devicetree `compatible` this driver binds. */
export const ISP_COMPATIBLE = "example,isp";

/** The platform driver: one ISP video node per matching board device. */
export class IspDriver implements PlatformDriver {
  readonly name = "example-isp";
  readonly compatible = [ISP_COMPATIBLE];

  probe(dev: Device, kernel: Kernel): void {
    const isp = new IspDevice(kernel, dev, `example-isp-${dev.name}`);
    const path = isp.register();
    dev.driverData = isp;
    kernel.printk(`example-isp ${dev.name}: registered ${path}`);
  }

  remove(dev: Device): void {
    (dev.driverData as IspDevice).unregister();
  }
}
