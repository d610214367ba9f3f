/**
 * @dmabuf/tooling/fuzz: a model-based fuzzer over the userspace API of the model. Random programs of
 * several processes run against a booted kernel; after every step the invariants of every plugged-in
 * subsystem are checked; a failing program shrinks and prints as a userspace program.
 *
 * A subsystem plugs in with a {@link FuzzPlugin}: its kernel plugins, paths worth opening, commands
 * (built with {@link defineCommand}), invariants, and the errnos its ioctls document.
 */
export { FuzzFailure, FuzzWorld, type Expect, type FdChoice, type FdEntry, type FuzzCommand, type FuzzInvariant, type FuzzPlugin, type FuzzProc, type VmaEntry } from "./world.js";
export { corePlugin, defineCommand, fdChoice, mapName, oflags, protName } from "./core-plugin.js";
export { DRM_IOCTL_ERRNOS, KNOWN_DEVIATIONS, SYSCALL_ERRNOS, V4L2_IOCTL_ERRNOS } from "./errno-table.js";
export { fuzzProperty, newStats, programArbitrary, runProgram, type FuzzOptions, type FuzzStats, type Step } from "./fuzz.js";
export { memDevices } from "./mem-device.js";
export { dmaBufPlugin } from "./dmabuf-plugin.js";
export { DMA_HEAP_IOCTL_ALLOC, FUZZ_DETACH, FUZZ_IMPORT, FUZZ_MAP, FUZZ_UNMAP, dmaBufFixtures } from "./dmabuf-fixture.js";
export { syncPlugin } from "./sync-plugin.js";
export { v4l2Plugin } from "./v4l2-plugin.js";
export { drmPlugin } from "./drm-plugin.js";
