/** Planes (drivers/gpu/drm/drm_plane.c): committed state and what the hardware scans out. */
import type { DmaFence } from "@dmabuf/core";
import type { DrmCrtc } from "./drm-crtc.js";
import type { DrmFramebuffer } from "./drm-framebuffer.js";
import type { DrmPropertyBlob } from "./drm-property.js";

/** struct drm_plane_state (the parts modelled): source in 16.16 fixed point, destination in pixels. */
export interface PlaneState {
  crtc: DrmCrtc | null;
  fb: DrmFramebuffer | null;
  crtcX: number;
  crtcY: number;
  crtcW: number;
  crtcH: number;
  srcX: number;
  srcY: number;
  srcW: number;
  srcH: number;
  fence: DmaFence | null;
}

export const emptyPlane = (): PlaneState => ({ crtc: null, fb: null, crtcX: 0, crtcY: 0, crtcW: 0, crtcH: 0, srcX: 0, srcY: 0, srcW: 0, srcH: 0, fence: null });

export class DrmPlane {
  state: PlaneState = emptyPlane();
  /** What the hardware scans out (programmed by the commit worker). */
  hw: PlaneState = emptyPlane();
  constructor(
    readonly id: number,
    readonly index: number,
    readonly type: number,
    readonly formats: readonly number[],
    readonly possibleCrtcs: number,
    readonly zpos: number,
    readonly inFormats: DrmPropertyBlob,
  ) {}
}
