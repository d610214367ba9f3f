import { SUBSYSTEM, type DriverPlugin, type FileOperations, type Kernel } from "@dmabuf/core";

/**
 * /dev/zero and /dev/null as drivers/char/mem.c gives them, so that core-only fuzz programs have a
 * mappable file (mmap_zero: fresh zeroed memory) and a file with no mmap (/dev/null: ENODEV).
 * A fixture of the fuzzer, not part of the model.
 */
const zeroFops: FileOperations = {
  name: "mem",
  read: (_f, count) => new Uint8Array(Math.min(count, 4096)),
  write: (_f, data) => data.length,
  mmap: (_f, vma) => void (vma.segments = [new Uint8Array(vma.length)]),
};

const nullFops: FileOperations = {
  name: "mem",
  read: () => new Uint8Array(0),
  write: (_f, data) => data.length,
};

export const memDevices = (): DriverPlugin => ({
  name: "fuzz-mem",
  register: (c) =>
    void c.register(SUBSYSTEM, {
      useValue: {
        name: "mem",
        init(k: Kernel) {
          k.vfs.create("/dev/zero", zeroFops, undefined, "1:5");
          k.vfs.create("/dev/null", nullFops, undefined, "1:3");
        },
        exit(k: Kernel) {
          k.vfs.remove("/dev/zero");
          k.vfs.remove("/dev/null");
        },
      },
    }),
});
