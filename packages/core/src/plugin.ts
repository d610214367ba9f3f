import type { DependencyContainer, InjectionToken } from "tsyringe";
import type { PlatformDriver, Subsystem } from "./device.js";
import type { Kernel } from "./kernel.js";

/**
 * Injection tokens. A plugin binds its drivers under PLATFORM_DRIVER and its subsystems under
 * SUBSYSTEM; anything may inject KERNEL. `Symbol.for` keeps tokens equal across package copies.
 */
export const KERNEL: InjectionToken<Kernel> = Symbol.for("@dmabuf/core/Kernel");
export const PLATFORM_DRIVER: InjectionToken<PlatformDriver> = Symbol.for("@dmabuf/core/PlatformDriver");
export const SUBSYSTEM: InjectionToken<Subsystem> = Symbol.for("@dmabuf/core/Subsystem");

/**
 * What a driver package default-exports a factory for: `(options?) => DriverPlugin`.
 * `register` runs once per kernel, on that kernel's own child container.
 */
export interface DriverPlugin {
  readonly name: string;
  register(container: DependencyContainer): void;
}

export type DriverPluginFactory<O = unknown> = (options?: O) => DriverPlugin;

export function isDriverPlugin(x: unknown): x is DriverPlugin {
  return typeof x === "object" && x !== null && typeof (x as DriverPlugin).name === "string" && typeof (x as DriverPlugin).register === "function";
}

/** A plugin that fails to load or register; the message says what to do. */
export class PluginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PluginError";
  }
}

/**
 * Resolves a plugin given by package name (optionally "pkg?json-options") through dynamic import:
 * the package's default export must be a DriverPlugin factory.
 */
export async function loadPlugin(spec: string, options?: unknown): Promise<DriverPlugin> {
  let mod: { default?: unknown };
  try {
    mod = (await import(spec)) as { default?: unknown };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND")
      throw new PluginError(`plugin "${spec}": package not found; install it (pnpm add ${spec}) or fix the name in the board or app config`);
    throw new PluginError(`plugin "${spec}": failed to load: ${(e as Error).message}`);
  }
  const factory = mod.default;
  if (typeof factory !== "function")
    throw new PluginError(`plugin "${spec}": is not a driver plugin: its default export must be a factory (options) => ({ name, register(container) })`);
  const plugin: unknown = factory(options);
  if (!isDriverPlugin(plugin))
    throw new PluginError(`plugin "${spec}": its default export returned ${JSON.stringify(plugin)?.slice(0, 60)}, not { name, register(container) }`);
  return plugin;
}
