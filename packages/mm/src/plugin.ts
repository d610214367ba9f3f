import { SUBSYSTEM, type DriverPlugin, type Kernel, type Subsystem } from "@dmabuf/core";
import { MM, MemoryManager, type MmOptions } from "./memory-manager.js";

/**
 * The mm plugin: `Kernel.boot({ plugins: [mm()] })`. Registers a core_initcall-level subsystem that
 * builds the {@link MemoryManager} from the board before any driver probes, and the manager itself
 * under {@link MM}. Each kernel gets its own manager.
 */
export default function mm(options: MmOptions = {}): DriverPlugin {
  return {
    name: "mm",
    register(container) {
      let manager: MemoryManager | undefined;
      const subsystem: Subsystem = {
        name: "mm",
        level: 1,
        init(kernel: Kernel) {
          manager = new MemoryManager(kernel, options);
        },
        exit() {
          manager?.teardown();
        },
      };
      container.register(SUBSYSTEM, { useValue: subsystem });
      container.register(MM, {
        useFactory: () => {
          if (!manager) throw new Error("mm: the memory manager is resolved before boot ran the mm subsystem's init");
          return manager;
        },
      });
    },
  };
}
