import type { DeviceBufferAccess } from "../src/index.js";

/** A DeviceBufferAccess over plain memory, for testing the codec core on its own. */
export function heapAccess(mem: Uint8Array): DeviceBufferAccess {
  return {
    size: mem.length,
    readRows: (l) => (y) => mem.subarray(l.offset + y * l.stride, l.offset + y * l.stride + l.rowBytes),
    writeRows: (l, fill) => {
      for (let y = 0; y < l.rows; y++) fill(mem.subarray(l.offset + y * l.stride, l.offset + y * l.stride + l.rowBytes), y);
    },
    read: (offset, dst) => dst.set(mem.subarray(offset, offset + dst.length)),
    write: (offset, src) => mem.set(src, offset),
  };
}

/** An NV12 picture with eight colour bars over the top half and a textured ramp below. */
export function nv12Pattern(width: number, height: number, bytesperline: number, bufferHeight: number, seed = 0): Uint8Array {
  const mem = new Uint8Array(bytesperline * bufferHeight * 1.5);
  // BT.601 limited-range YCbCr of white, yellow, cyan, green, magenta, red, blue, black.
  const bars = [[235, 128, 128], [210, 16, 146], [170, 166, 16], [145, 54, 34], [106, 202, 222], [81, 90, 240], [41, 240, 110], [16, 128, 128]];
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const bar = bars[Math.floor((x * 8) / width)];
      const top = y < height / 2;
      mem[y * bytesperline + x] = top ? bar[0] : 16 + ((x + seed + ((x ^ y) & 15)) % 219);
      if ((x & 1) === 0 && (y & 1) === 0) {
        const c = bytesperline * bufferHeight + (y >> 1) * bytesperline + x;
        mem[c] = top ? bar[1] : 128;
        mem[c + 1] = top ? bar[2] : 128;
      }
    }
  return mem;
}
