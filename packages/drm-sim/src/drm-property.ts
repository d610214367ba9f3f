/** Properties and property blobs (drivers/gpu/drm/drm_property.c). */
import type { DrmFile } from "./drm-device.js";
import * as U from "./uapi.js";

export const INT_MAX = 0x7fffffff;
export const U32_MAX = 0xffffffff;

/** struct drm_property */
export class DrmProperty {
  constructor(
    readonly id: number,
    readonly name: string,
    readonly flags: number,
    readonly values: readonly bigint[] = [],
    readonly enums: readonly U.drm_mode_property_enum[] = [],
  ) {}

  /** drm_property_type_is(prop, DRM_MODE_PROP_OBJECT) and friends. */
  is(type: number): boolean {
    return (this.flags & (type & U.DRM_MODE_PROP_EXTENDED_TYPE ? U.DRM_MODE_PROP_EXTENDED_TYPE : type)) === type;
  }
}

/** struct drm_property_blob: immutable bytes with an id, owned by a file (or the driver when null). */
export class DrmPropertyBlob {
  refs = 1;
  constructor(
    readonly id: number,
    readonly data: Uint8Array,
    public owner: DrmFile | null,
  ) {}
}

/** Names of the standard properties (drm_mode_create_standard_properties and friends). */
export const P = {
  type: "type", FB_ID: "FB_ID", IN_FENCE_FD: "IN_FENCE_FD", CRTC_ID: "CRTC_ID", CRTC_X: "CRTC_X", CRTC_Y: "CRTC_Y", CRTC_W: "CRTC_W", CRTC_H: "CRTC_H",
  SRC_X: "SRC_X", SRC_Y: "SRC_Y", SRC_W: "SRC_W", SRC_H: "SRC_H", zpos: "zpos", IN_FORMATS: "IN_FORMATS", ACTIVE: "ACTIVE", MODE_ID: "MODE_ID",
  OUT_FENCE_PTR: "OUT_FENCE_PTR", WRITEBACK_FB_ID: "WRITEBACK_FB_ID", WRITEBACK_OUT_FENCE_PTR: "WRITEBACK_OUT_FENCE_PTR", WRITEBACK_PIXEL_FORMATS: "WRITEBACK_PIXEL_FORMATS",
} as const;
export type PropName = (typeof P)[keyof typeof P];
