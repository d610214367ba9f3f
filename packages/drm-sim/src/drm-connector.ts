/** Encoders and connectors (drivers/gpu/drm/drm_encoder.c, drm_connector.c, drm_writeback.c). */
import type { DrmCrtc } from "./drm-crtc.js";
import type { DrmFramebuffer } from "./drm-framebuffer.js";
import type { DrmPropertyBlob } from "./drm-property.js";
import * as U from "./uapi.js";

/** struct drm_connector_state (the parts modelled); the writeback fields live for one commit. */
export interface ConnectorState {
  crtc: DrmCrtc | null;
  writebackFb: DrmFramebuffer | null;
  writebackOutFencePtr: Int32Array | null;
}

export class DrmEncoder {
  constructor(
    readonly id: number,
    readonly type: number,
    readonly possibleCrtcs: number,
  ) {}
}

export class DrmConnector {
  state: ConnectorState = { crtc: null, writebackFb: null, writebackOutFencePtr: null };
  constructor(
    readonly id: number,
    readonly type: number,
    readonly typeId: number,
    readonly encoder: DrmEncoder,
    readonly modes: readonly U.drm_mode_modeinfo[],
    readonly writebackFormats: DrmPropertyBlob | null,
  ) {}

  get isWriteback(): boolean {
    return this.type === U.DRM_MODE_CONNECTOR_WRITEBACK;
  }
}
