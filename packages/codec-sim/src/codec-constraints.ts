import type { Device } from "@dmabuf/core";

/**
 * What the codec needs of the raw buffers it reads or writes, from the board's device properties:
 * the placement logic (constraint-aware allocation) and applications read these to allocate
 * buffers the codec can import, as they would read a driver's TRY_FMT answer.
 */
export interface CodecConstraints {
  /** Coded width is a multiple of this (the 16x16 JPEG MCU of 4:2:0). */
  readonly widthAlign: number;
  /** Coded height (buffer lines) is a multiple of this: board property `heightAlign`, default 16. */
  readonly heightAlign: number;
  /** bytesperline is a multiple of this: board property `strideAlign`, default 64. */
  readonly strideAlign: number;
  readonly minWidth: number;
  readonly minHeight: number;
  readonly maxWidth: number;
  readonly maxHeight: number;
}

const prop = (dev: Device, name: string, def: number): number => {
  const v = dev.properties[name];
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : def;
};

/** The constraints of a codec device as its board description states them. */
export function codecConstraints(dev: Device): CodecConstraints {
  return {
    widthAlign: 16,
    heightAlign: prop(dev, "heightAlign", 16),
    strideAlign: prop(dev, "strideAlign", 64),
    minWidth: 16,
    minHeight: 16,
    maxWidth: 8192,
    maxHeight: 8192,
  };
}

/** ALIGN(x, a) for any positive a. */
export const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;
