import { describe, expect, it } from "vitest";
import { inject, injectable, type DependencyContainer } from "tsyringe";
import type { Device} from "../src/index.js";
import {
  BoardError, Errno, Kernel, KERNEL, PLATFORM_DRIVER, PluginError, SUBSYSTEM, type DriverPlugin,
  type FileOperations, type PlatformDriver,
} from "../src/index.js";

// A driver defined entirely through the public API, registered with explicit injection tokens
// (the model of module_platform_driver + of_match_table; drivers/base/platform.c).
@injectable()
class EchoDriver implements PlatformDriver {
  readonly name = "echo";
  readonly compatible = ["test,echo"];
  probed: string[] = [];
  constructor(@inject(KERNEL) readonly kernel: Kernel) {}
  probe(dev: Device): void {
    this.probed.push(dev.name);
    const fops: FileOperations = { name: "echo", ioctl: (_f, req) => req & 0xff };
    this.kernel.vfs.create(`/dev/${dev.name}`, fops);
  }
  remove(dev: Device): void {
    this.kernel.vfs.remove(`/dev/${dev.name}`);
  }
}

const echoPlugin = (): DriverPlugin => ({
  name: "echo",
  register(c: DependencyContainer) {
    c.registerSingleton(EchoDriver);
    c.register(PLATFORM_DRIVER, { useToken: EchoDriver });
  },
});

const board = { memory: { size: "64M" }, devices: [{ name: "echo0", compatible: "test,echo" }, { name: "other0", compatible: "test,other" }] };

describe("plugin registry and driver model", () => {
  it("binds a device to the driver whose compatible matches and calls probe (platform_match by of_match_table)", async () => {
    const k = await Kernel.boot({ board, plugins: [echoPlugin()] });
    const drv = k.resolve(EchoDriver);
    expect(drv.probed).toEqual(["echo0"]);
    expect(k.devices.find((d) => d.name === "echo0")!.driver).toBe(drv);
    const p = k.spawn("app");
    const fd = p.open("/dev/echo0");
    expect(await p.ioctl(fd, 0x1234)).toBe(0x34);
    expect(k.dmesg()).toContain(`platform other0: no driver matches compatible "test,other"`);
    k.shutdown();
    expect(k.vfs.exists("/dev/echo0")).toBe(false);
  });

  it("gives each kernel its own container: two kernels never share driver state", async () => {
    const a = await Kernel.boot({ board, plugins: [echoPlugin()] });
    const b = await Kernel.boot({ board, plugins: [echoPlugin()] });
    expect(a.resolve(EchoDriver)).not.toBe(b.resolve(EchoDriver));
    expect(a.resolve(KERNEL)).toBe(a);
  });

  it("runs subsystem init before probe and exit after remove (initcall ordering)", async () => {
    const order: string[] = [];
    const plugin: DriverPlugin = {
      name: "order",
      register(c) {
        c.register(SUBSYSTEM, { useValue: { name: "late", level: 6, init: () => order.push("init6"), exit: () => order.push("exit6") } });
        c.register(SUBSYSTEM, { useValue: { name: "early", level: 1, init: () => order.push("init1") } });
        c.register(PLATFORM_DRIVER, { useValue: { name: "o", compatible: ["test,echo"], probe: () => void order.push("probe"), remove: () => void order.push("remove") } });
      },
    };
    const k = await Kernel.boot({ board, plugins: [plugin] });
    k.shutdown();
    expect(order).toEqual(["init1", "init6", "probe", "remove", "exit6"]);
  });

  it("logs a failed probe as Linux does and leaves the device unbound (really_probe)", async () => {
    const plugin: DriverPlugin = {
      name: "bad",
      register(c) {
        c.register(PLATFORM_DRIVER, { useValue: { name: "bad", compatible: ["test,echo"], probe: () => { throw new Errno("ENOMEM", "probe", "no memory"); } } });
      },
    };
    const k = await Kernel.boot({ board, plugins: [plugin] });
    expect(k.devices[0]!.driver).toBeUndefined();
    expect(k.dmesg()).toMatch(/bad echo0: probe with driver bad failed with error -12/);
  });

  it("rejects two drivers claiming one device, a plugin listed twice, and packages that are not plugins", async () => {
    const twin = (name: string): DriverPlugin => ({ name, register: (c) => c.register(PLATFORM_DRIVER, { useValue: { name, compatible: ["test,echo"], probe() {} } }) });
    await expect(Kernel.boot({ board, plugins: [twin("a"), twin("b")] })).rejects.toThrow(/drivers "a" and "b" both claim compatible "test,echo"/);
    await expect(Kernel.boot({ board, plugins: [twin("a"), twin("a")] })).rejects.toThrow(PluginError);
    await expect(Kernel.boot({ board, plugins: ["@dmabuf/no-such-plugin"] })).rejects.toThrow(/package not found; install it/);
    await expect(Kernel.boot({ board, plugins: ["zod"] })).rejects.toThrow(/is not a driver plugin/);
    // the same errors when the board file names the plugin
    await expect(Kernel.boot({ board: { ...board, plugins: ["@dmabuf/no-such-plugin"] } })).rejects.toThrow(/plugin "@dmabuf\/no-such-plugin": package not found/);
  });
});

describe("board validation", () => {
  it("names the bad field and says what is wrong", async () => {
    const bad = { memory: { size: "12Q" }, iommus: [], devices: [{ name: "cam", compatible: "x", iommu: "iommu9", dmaMask: 99 }] };
    const err = await Kernel.boot({ board: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BoardError);
    const msg = (err as BoardError).message;
    expect(msg).toContain('memory.0.size: "12Q" is not a size');
    expect(msg).toMatch(/devices\.0\.dmaMask: .*64/);
    // cross-references are checked once every field parses (zod refines after the shape)
    const dangling = { memory: { size: "64M" }, devices: [{ name: "cam", compatible: "x", iommu: "iommu9" }] };
    await expect(Kernel.boot({ board: dangling })).rejects.toThrow('devices.0.iommu: no IOMMU named "iommu9" (board has: none)');
  });

  it("rejects unknown keys, unaligned sizes, duplicate names and invalid JSON", async () => {
    await expect(Kernel.boot({ board: { memory: { size: "64M" }, devize: [] } as never })).rejects.toThrow(/devize/);
    await expect(Kernel.boot({ board: { memory: { size: 5000 } } })).rejects.toThrow(/memory.0.size: memory size must be a multiple of the 4096-byte page size/);
    await expect(Kernel.boot({ board: { memory: { size: "64M" }, devices: [{ name: "a", compatible: "x" }, { name: "a", compatible: "y" }] } })).rejects.toThrow(/devices.1.name: duplicate name "a"/);
    await expect(Kernel.boot({ board: "{ nope" })).rejects.toThrow(/not valid JSON/);
  });
});
