import type { DependencyContainer } from "tsyringe";
import { PLATFORM_DRIVER, type DriverPlugin } from "@dmabuf/core";
import { VIVID_OPTIONS, VividDriver, type VividOptions } from "./vivid.js";

/**
 * The v4l2-sim plugin: registers the vivid camera driver ("sim,vivid"). Load it with mm:
 * `Kernel.boot({ plugins: [mm(), v4l2Sim()] })`.
 */
export default function v4l2Sim(options: VividOptions = {}): DriverPlugin {
  return {
    name: "v4l2-sim",
    register(c: DependencyContainer) {
      c.register(VIVID_OPTIONS, { useValue: options });
      c.registerSingleton(VividDriver);
      c.register(PLATFORM_DRIVER, { useToken: VividDriver });
    },
  };
}
