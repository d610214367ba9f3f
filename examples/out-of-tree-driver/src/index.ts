/**
 * @example/out-of-tree-isp: a third-party driver plugin. Default export: the plugin factory
 * (`Kernel.boot({ plugins: [mm(), v4l2Sim(), isp()] })`); it binds board devices whose compatible
 * is "example,isp" and gives each a /dev/videoN mem2mem node (YUYV in, NV12 out).
 */
import { PLATFORM_DRIVER, type DriverPlugin } from "@dmabuf/core";
import type { DependencyContainer } from "tsyringe";
import { IspDriver } from "./isp-driver.js";

export { ISP_COMPATIBLE, IspDriver } from "./isp-driver.js";
export { ISP_MAX_HEIGHT, ISP_MAX_WIDTH, ISP_MIN_HEIGHT, ISP_MIN_WIDTH, ISP_NS_PER_PIXEL, IspDevice } from "./isp-device.js";
export { nv12Size, yuyvToNv12, type ConvertLayout } from "./yuyv-to-nv12.js";

export default function isp(): DriverPlugin {
  return {
    name: "example-isp",
    register(container: DependencyContainer) {
      container.register(PLATFORM_DRIVER, { useValue: new IspDriver() });
    },
  };
}
