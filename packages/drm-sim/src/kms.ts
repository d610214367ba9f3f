/**
 * KMS (drivers/gpu/drm/drm_mode_config.c, drm_mode_object.c, drm_framebuffer.c): the
 * mode objects of one device in one id space, their properties and blobs, framebuffers (ADDFB2,
 * RMFB) and the GET ioctls; atomic commits are in drm-atomic.ts, vblank in drm-crtc.ts.
 * One {@link KmsDevice} per DRIVER_MODESET device.
 */
import { Errno, check } from "@dmabuf/core";
import { WRITEBACK_FORMATS } from "./composer.js";
import { DrmAtomic } from "./drm-atomic.js";
import { DrmConnector, DrmEncoder } from "./drm-connector.js";
import { DrmCrtc, type PendingFlip } from "./drm-crtc.js";
import type { DrmDevice, DrmFile } from "./drm-device.js";
import { DrmFramebuffer, framebufferCheck, type FbLimits } from "./drm-framebuffer.js";
import { DrmPlane, emptyPlane } from "./drm-plane.js";
import { DrmProperty, DrmPropertyBlob, INT_MAX, P, U32_MAX, type PropName } from "./drm-property.js";
import * as U from "./uapi.js";

/** What a driver declares about its display pipeline. */
export interface KmsConfig {
  readonly minWidth: number;
  readonly maxWidth: number;
  readonly minHeight: number;
  readonly maxHeight: number;
  /** Modes of the (virtual) connector; the one with DRM_MODE_TYPE_PREFERRED is preferred. */
  readonly modes: readonly U.drm_mode_modeinfo[];
  /** Formats the primary and overlay planes scan out. */
  readonly formats: readonly number[];
  readonly overlayPlanes: number;
  readonly writeback: boolean;
}

/** Anything with an id in the device's mode object idr. */
export type ModeObject = DrmCrtc | DrmPlane | DrmConnector | DrmEncoder | DrmFramebuffer | DrmProperty | DrmPropertyBlob;

/** struct drm_mode_fb_cmd2 as drm_ioctl()'s zero-filled kernel copy starts out. */
const ZERO_FB_CMD2: U.drm_mode_fb_cmd2 = { width: 0, height: 0, pixel_format: 0, flags: 0, handles: [], pitches: [], offsets: [] };

/**
 * The KMS side of one DRM device: mode objects in one id space (from 1), properties, blobs,
 * framebuffers, atomic commits and per-CRTC vblank.
 */
export class KmsDevice implements FbLimits {
  readonly objects = new Map<number, ModeObject>();
  readonly planes: DrmPlane[] = [];
  readonly crtcs: DrmCrtc[] = [];
  readonly encoders: DrmEncoder[] = [];
  readonly connectors: DrmConnector[] = [];
  readonly fbs = new Set<DrmFramebuffer>();
  private readonly props = new Map<PropName, DrmProperty>();
  private readonly atomicProps = new WeakMap<ModeObject, Map<number, DrmProperty>>();
  private nextId = 1;
  private readonly atomicIoctl = new DrmAtomic(this);
  readonly minWidth: number;
  readonly maxWidth: number;
  readonly minHeight: number;
  readonly maxHeight: number;

  constructor(
    readonly dev: DrmDevice,
    readonly config: KmsConfig,
  ) {
    ({ minWidth: this.minWidth, maxWidth: this.maxWidth, minHeight: this.minHeight, maxHeight: this.maxHeight } = config);
    const range = (name: PropName, min: bigint, max: bigint, flags = 0) => this.addProp(name, U.DRM_MODE_PROP_RANGE | flags, [min, max]);
    const signed = (name: PropName, min: bigint, max: bigint, flags = 0) => this.addProp(name, U.DRM_MODE_PROP_SIGNED_RANGE | flags, [BigInt.asUintN(64, min), BigInt.asUintN(64, max)]);
    const object = (name: PropName, type: number, flags = 0) => this.addProp(name, U.DRM_MODE_PROP_OBJECT | flags, [BigInt(type)]);
    const blob = (name: PropName, flags = 0) => this.addProp(name, U.DRM_MODE_PROP_BLOB | flags);
    const A = U.DRM_MODE_PROP_ATOMIC;
    this.addProp(P.type, U.DRM_MODE_PROP_ENUM | U.DRM_MODE_PROP_IMMUTABLE, [0n, 1n, 2n], [
      { value: 0n, name: "Overlay" }, { value: 1n, name: "Primary" }, { value: 2n, name: "Cursor" },
    ]);
    object(P.FB_ID, U.DRM_MODE_OBJECT_FB, A);
    signed(P.IN_FENCE_FD, -1n, BigInt(INT_MAX), A);
    object(P.CRTC_ID, U.DRM_MODE_OBJECT_CRTC, A);
    signed(P.CRTC_X, BigInt(-INT_MAX - 1), BigInt(INT_MAX), A);
    signed(P.CRTC_Y, BigInt(-INT_MAX - 1), BigInt(INT_MAX), A);
    range(P.CRTC_W, 0n, BigInt(INT_MAX), A);
    range(P.CRTC_H, 0n, BigInt(INT_MAX), A);
    range(P.SRC_X, 0n, BigInt(U32_MAX), A);
    range(P.SRC_Y, 0n, BigInt(U32_MAX), A);
    range(P.SRC_W, 0n, BigInt(U32_MAX), A);
    range(P.SRC_H, 0n, BigInt(U32_MAX), A);
    range(P.zpos, 0n, BigInt(config.overlayPlanes), U.DRM_MODE_PROP_IMMUTABLE);
    blob(P.IN_FORMATS, U.DRM_MODE_PROP_IMMUTABLE);
    range(P.ACTIVE, 0n, 1n, A);
    blob(P.MODE_ID, A);
    range(P.OUT_FENCE_PTR, 0n, (1n << 64n) - 1n, A);
    if (config.writeback) {
      object(P.WRITEBACK_FB_ID, U.DRM_MODE_OBJECT_FB, A);
      range(P.WRITEBACK_OUT_FENCE_PTR, 0n, (1n << 64n) - 1n, A);
      blob(P.WRITEBACK_PIXEL_FORMATS, U.DRM_MODE_PROP_IMMUTABLE | A);
    }
    const formatsBlob = (formats: readonly number[]) => this.createBlob(Uint8Array.from(new Uint8Array(Uint32Array.from(formats).buffer)), null);
    // One CRTC, its primary plane, overlays, one encoder and the virtual connector (vkms_output_init).
    const crtc = this.add((id) => new DrmCrtc(this, id, 0));
    this.crtcs.push(crtc);
    const inFormats = formatsBlob(config.formats);
    const plane = (type: number, zpos: number) => {
      const p = this.add((id) => new DrmPlane(id, this.planes.length, type, config.formats, 1, zpos, inFormats));
      this.planes.push(p);
      return p;
    };
    crtc.primary = plane(U.DRM_PLANE_TYPE_PRIMARY, 0);
    for (let i = 1; i <= config.overlayPlanes; i++) plane(U.DRM_PLANE_TYPE_OVERLAY, i);
    const enc = this.add((id) => new DrmEncoder(id, U.DRM_MODE_ENCODER_VIRTUAL, 1));
    this.encoders.push(enc);
    this.connectors.push(this.add((id) => new DrmConnector(id, U.DRM_MODE_CONNECTOR_VIRTUAL, 1, enc, config.modes, null)));
    if (config.writeback) {
      const wbEnc = this.add((id) => new DrmEncoder(id, U.DRM_MODE_ENCODER_VIRTUAL, 1));
      this.encoders.push(wbEnc);
      this.connectors.push(this.add((id) => new DrmConnector(id, U.DRM_MODE_CONNECTOR_WRITEBACK, 1, wbEnc, [], formatsBlob(WRITEBACK_FORMATS))));
    }
  }

  private add<T extends ModeObject>(make: (id: number) => T): T {
    const o = make(this.nextId++);
    this.objects.set(o.id, o);
    return o;
  }

  private addProp(name: PropName, flags: number, values: bigint[] = [], enums: U.drm_mode_property_enum[] = []): DrmProperty {
    const p = this.add((id) => new DrmProperty(id, name, flags, values, enums));
    this.props.set(name, p);
    return p;
  }

  createBlob(data: Uint8Array, owner: DrmFile | null): DrmPropertyBlob {
    return this.add((id) => new DrmPropertyBlob(id, data, owner));
  }

  /** drm_property_blob_put() */
  putBlob(b: DrmPropertyBlob | null): void {
    if (b && --b.refs === 0) this.objects.delete(b.id);
  }

  anyPlaneHasFormat(format: number, modifier: bigint): boolean {
    return modifier === U.DRM_FORMAT_MOD_LINEAR && this.planes.some((p) => p.formats.includes(format >>> 0));
  }

  /** drm_mode_object_find() of a given type (DRM_MODE_OBJECT_ANY: any). */
  find<T extends ModeObject>(id: number, cls: abstract new (...a: never[]) => T): T | undefined {
    const o = this.objects.get(id);
    return o instanceof cls ? o : undefined;
  }

  /** The property `id` of object `o` as an atomic client sees it, if `o` carries it (set per object at creation, so cached). */
  atomicProp(o: DrmPlane | DrmCrtc | DrmConnector, id: number): DrmProperty | undefined {
    let byId = this.atomicProps.get(o);
    if (!byId) this.atomicProps.set(o, (byId = new Map(this.objectProps(o, true).map(([p]) => [p.id, p]))));
    return byId.get(id);
  }

  /** The properties an object carries, with current values (drm_mode_object_get_properties). */
  objectProps(o: ModeObject, atomicClient: boolean): [DrmProperty, bigint][] {
    const out: [DrmProperty, bigint][] = [];
    const add = (name: PropName, v: number | bigint) => {
      const p = this.props.get(name);
      if (p && (atomicClient || !(p.flags & U.DRM_MODE_PROP_ATOMIC))) out.push([p, BigInt.asUintN(64, BigInt(v))]);
    };
    if (o instanceof DrmPlane) {
      const s = o.state;
      add(P.type, o.type);
      add(P.FB_ID, s.fb?.id ?? 0);
      add(P.IN_FENCE_FD, -1);
      add(P.CRTC_ID, s.crtc?.id ?? 0);
      add(P.CRTC_X, s.crtcX);
      add(P.CRTC_Y, s.crtcY);
      add(P.CRTC_W, s.crtcW);
      add(P.CRTC_H, s.crtcH);
      add(P.SRC_X, s.srcX);
      add(P.SRC_Y, s.srcY);
      add(P.SRC_W, s.srcW);
      add(P.SRC_H, s.srcH);
      add(P.zpos, o.zpos);
      add(P.IN_FORMATS, o.inFormats.id);
    } else if (o instanceof DrmCrtc) {
      add(P.ACTIVE, o.state.active ? 1 : 0);
      add(P.MODE_ID, o.state.mode?.id ?? 0);
      add(P.OUT_FENCE_PTR, 0);
    } else if (o instanceof DrmConnector) {
      add(P.CRTC_ID, o.state.crtc?.id ?? 0);
      if (o.isWriteback) {
        add(P.WRITEBACK_FB_ID, 0);
        add(P.WRITEBACK_OUT_FENCE_PTR, 0);
        add(P.WRITEBACK_PIXEL_FORMATS, o.writebackFormats!.id);
      }
    }
    return out;
  }

  /** Framebuffer lookup as the ioctls do it (drm_framebuffer_lookup). */
  fb(id: number): DrmFramebuffer | undefined {
    return this.find(id, DrmFramebuffer);
  }

  /** drm_fb_release + drm_property_destroy_user_blobs, when a file closes. */
  fileClosed(f: DrmFile): void {
    for (const fb of [...this.fbs]) if (fb.owner === f) this.removeFb(fb);
    for (const o of [...this.objects.values()]) if (o instanceof DrmPropertyBlob && o.owner === f) {
      o.owner = null;
      this.putBlob(o);
    }
  }

  /**
   * drm_framebuffer_remove(): an fb still scanned out is taken off its planes first; if it was on
   * a primary plane the CRTC is switched off (atomic_remove_fb).
   */
  private removeFb(fb: DrmFramebuffer): void {
    fb.owner = null;
    this.fbs.delete(fb);
    for (const p of this.planes) {
      if (p.state.fb !== fb) continue;
      const crtc = p.state.crtc;
      p.state.fb?.put();
      p.state = emptyPlane();
      if (crtc && crtc.primary === p) {
        this.putBlob(crtc.state.mode);
        crtc.state = { active: false, enable: false, mode: null };
        for (const c of this.connectors) if (c.state.crtc === crtc) c.state = { ...c.state, crtc: null };
      }
      this.programHw(new Set(crtc ? [crtc] : []));
    }
    fb.put();
  }

  /** Makes the committed state of these CRTCs (and their planes) what the hardware scans out. */
  programHw(crtcs: Set<DrmCrtc>): void {
    for (const crtc of crtcs) {
      const blob = crtc.state.active ? crtc.state.mode : null;
      // Blobs are immutable: the blob the hardware was programmed from needs no parsing again (a flip).
      const mode = !blob ? null : blob === crtc.hwModeBlob ? crtc.hwMode : U.parseModeinfo(blob.data);
      const wasOn = crtc.hwMode !== null;
      const modeChanged = mode !== crtc.hwMode && JSON.stringify(mode) !== JSON.stringify(crtc.hwMode);
      if (wasOn && (!mode || modeChanged)) {
        crtc.hwMode = null;
        crtc.vblankOff();
      }
      if (mode && (!wasOn || modeChanged)) {
        crtc.hwMode = mode;
        crtc.vblankOn();
      }
      crtc.hwModeBlob = crtc.hwMode ? blob : null;
      for (const p of this.planes) {
        if (p.state.crtc !== crtc && p.hw.crtc !== crtc) continue;
        if (p.hw.fb !== p.state.fb || p.hw.crtcX !== p.state.crtcX || p.hw.crtcY !== p.state.crtcY)
          this.dev.kernel.trace.emit("drm_plane_update", { plane: p.id, crtc: p.state.crtc?.id ?? 0, fb: p.state.fb?.id ?? 0, crtc_x: p.state.crtcX, crtc_y: p.state.crtcY, crtc_w: p.state.crtcW, crtc_h: p.state.crtcH });
        p.state.fb?.get();
        p.hw.fb?.put();
        p.hw = { ...p.state, fence: null };
      }
    }
  }

  /** Sends a flip's event (if one was asked for) and signals its out-fence, at a vblank. */
  sendFlip(crtc: DrmCrtc, f: PendingFlip): void {
    const tv = crtc.vblankTimeNs;
    if (f.file) {
      const ev: U.drm_event_vblank = { type: U.DRM_EVENT_FLIP_COMPLETE, length: U.DRM_EVENT_VBLANK_SIZE, user_data: f.userData, tv_sec: Math.floor(tv / 1e9), tv_usec: Math.floor((tv % 1e9) / 1e3), sequence: crtc.vblankCount >>> 0, crtc_id: crtc.id };
      f.file.sendEvent(U.encodeDrmEventVblank(ev));
      this.dev.kernel.trace.emit("drm_vblank_event_delivered", { crtc: crtc.index, seq: crtc.vblankCount });
    }
    this.dev.kernel.trace.emit("drm_page_flip", { crtc: crtc.id, seq: crtc.vblankCount, time: tv });
    f.outFence?.signal();
    f.outFence?.put();
    f.done();
  }

  /* ------------------------------------------------------------------------------------------ */
  /* ioctls                                                                                      */

  ioctl(nr: number, f: DrmFile, arg: unknown): number | Promise<number> {
    switch (nr) {
      case U.DRM_IOCTL_MODE_GETRESOURCES & 0xff:
        return this.getResources(f, arg as U.drm_mode_card_res);
      case U.DRM_IOCTL_MODE_GETCRTC & 0xff:
        return this.getCrtc(arg as U.drm_mode_crtc);
      case U.DRM_IOCTL_MODE_GETENCODER & 0xff:
        return this.getEncoder(arg as U.drm_mode_get_encoder);
      case U.DRM_IOCTL_MODE_GETCONNECTOR & 0xff:
        return this.getConnector(f, arg as U.drm_mode_get_connector);
      case U.DRM_IOCTL_MODE_GETPLANERESOURCES & 0xff:
        return this.getPlaneResources(f, arg as U.drm_mode_get_plane_res);
      case U.DRM_IOCTL_MODE_GETPLANE & 0xff:
        return this.getPlane(arg as U.drm_mode_get_plane);
      case U.DRM_IOCTL_MODE_OBJ_GETPROPERTIES & 0xff:
        return this.objGetProperties(f, arg as U.drm_mode_obj_get_properties);
      case U.DRM_IOCTL_MODE_GETPROPERTY & 0xff:
        return this.getProperty(arg as U.drm_mode_get_property);
      case U.DRM_IOCTL_MODE_GETPROPBLOB & 0xff:
        return this.getPropBlob(arg as U.drm_mode_get_blob);
      case U.DRM_IOCTL_MODE_CREATEPROPBLOB & 0xff:
        return this.createPropBlob(f, arg as U.drm_mode_create_blob);
      case U.DRM_IOCTL_MODE_DESTROYPROPBLOB & 0xff:
        return this.destroyPropBlob(f, arg as U.drm_mode_destroy_blob);
      case U.DRM_IOCTL_MODE_ADDFB2 & 0xff:
        return this.addFb2(f, arg as U.drm_mode_fb_cmd2);
      case U.DRM_IOCTL_MODE_RMFB & 0xff:
        return this.rmFb(f, arg);
      case U.DRM_IOCTL_MODE_ATOMIC & 0xff:
        return this.atomicIoctl.ioctl(f, arg as U.drm_mode_atomic);
    }
    throw new Errno("EINVAL", "ioctl", `unknown KMS ioctl nr 0x${nr.toString(16)}`);
  }

  private getResources(f: DrmFile, r: U.drm_mode_card_res): number {
    const call = "DRM_IOCTL_MODE_GETRESOURCES";
    const fbs = [...this.fbs].filter((fb) => fb.owner === f).map((fb) => fb.id);
    const connectors = this.connectors.filter((c) => !c.isWriteback || f.writebackConnectors).map((c) => c.id);
    fill(r.fb_id_ptr, r.count_fbs, fbs, call);
    fill(r.crtc_id_ptr, r.count_crtcs, this.crtcs.map((c) => c.id), call);
    fill(r.encoder_id_ptr, r.count_encoders, this.encoders.map((e) => e.id), call);
    fill(r.connector_id_ptr, r.count_connectors, connectors, call);
    Object.assign(r, {
      count_fbs: fbs.length, count_crtcs: this.crtcs.length, count_encoders: this.encoders.length, count_connectors: connectors.length,
      min_width: this.minWidth, max_width: this.maxWidth, min_height: this.minHeight, max_height: this.maxHeight,
    });
    return 0;
  }

  private getCrtc(r: U.drm_mode_crtc): number {
    const crtc = this.find(r.crtc_id, DrmCrtc);
    check(crtc, "ENOENT", "DRM_IOCTL_MODE_GETCRTC", `no CRTC ${r.crtc_id}`);
    const ps = crtc.primary.state;
    const mode = crtc.state.mode ? U.parseModeinfo(crtc.state.mode.data) : undefined;
    Object.assign(r, { gamma_size: 0, fb_id: ps.crtc === crtc ? (ps.fb?.id ?? 0) : 0, x: ps.srcX >>> 16, y: ps.srcY >>> 16, mode_valid: crtc.state.enable ? 1 : 0 });
    if (mode) r.mode = mode;
    return 0;
  }

  private getEncoder(r: U.drm_mode_get_encoder): number {
    const enc = this.find(r.encoder_id, DrmEncoder);
    check(enc, "ENOENT", "DRM_IOCTL_MODE_GETENCODER", `no encoder ${r.encoder_id}`);
    const conn = this.connectors.find((c) => c.encoder === enc);
    Object.assign(r, { encoder_type: enc.type, crtc_id: conn?.state.crtc?.id ?? 0, possible_crtcs: enc.possibleCrtcs, possible_clones: 0 });
    return 0;
  }

  private getConnector(f: DrmFile, r: U.drm_mode_get_connector): number {
    const call = "DRM_IOCTL_MODE_GETCONNECTOR";
    const c = this.find(r.connector_id, DrmConnector);
    check(c, "ENOENT", call, `no connector ${r.connector_id}`);
    const props = this.objectProps(c, f.atomic);
    fill(r.encoders_ptr, r.count_encoders, [c.encoder.id], call);
    fill(r.modes_ptr, r.count_modes, c.modes.map((m) => ({ ...m })), call);
    fill(r.props_ptr, r.count_props, props.map(([p]) => p.id), call);
    fill(r.prop_values_ptr, r.count_props, props.map(([, v]) => v), call);
    Object.assign(r, {
      count_encoders: 1, count_modes: c.modes.length, count_props: props.length, encoder_id: c.state.crtc ? c.encoder.id : 0,
      connector_type: c.type, connector_type_id: c.typeId, connection: c.isWriteback ? U.DRM_MODE_UNKNOWNCONNECTION : U.DRM_MODE_CONNECTED,
      mm_width: 0, mm_height: 0, subpixel: U.DRM_MODE_SUBPIXEL_UNKNOWN, pad: 0,
    });
    return 0;
  }

  private getPlaneResources(f: DrmFile, r: U.drm_mode_get_plane_res): number {
    // Without DRM_CLIENT_CAP_UNIVERSAL_PLANES only overlay planes are listed.
    const ids = this.planes.filter((p) => f.universalPlanes || p.type === U.DRM_PLANE_TYPE_OVERLAY).map((p) => p.id);
    fill(r.plane_id_ptr, r.count_planes, ids, "DRM_IOCTL_MODE_GETPLANERESOURCES");
    r.count_planes = ids.length;
    return 0;
  }

  private getPlane(r: U.drm_mode_get_plane): number {
    const p = this.find(r.plane_id, DrmPlane);
    check(p, "ENOENT", "DRM_IOCTL_MODE_GETPLANE", `no plane ${r.plane_id}`);
    fill(r.format_type_ptr, r.count_format_types, [...p.formats], "DRM_IOCTL_MODE_GETPLANE");
    Object.assign(r, { crtc_id: p.state.crtc?.id ?? 0, fb_id: p.state.fb?.id ?? 0, possible_crtcs: p.possibleCrtcs, gamma_size: 0, count_format_types: p.formats.length });
    return 0;
  }

  private objGetProperties(f: DrmFile, r: U.drm_mode_obj_get_properties): number {
    const call = "DRM_IOCTL_MODE_OBJ_GETPROPERTIES";
    const o = this.objects.get(r.obj_id);
    check(o && (r.obj_type === U.DRM_MODE_OBJECT_ANY || objectType(o) === r.obj_type), "ENOENT", call, `no object ${r.obj_id} of type 0x${(r.obj_type >>> 0).toString(16)}`);
    check(o instanceof DrmPlane || o instanceof DrmCrtc || o instanceof DrmConnector, "EINVAL", call, `object ${r.obj_id} has no properties`);
    const props = this.objectProps(o, f.atomic);
    fill(r.props_ptr, r.count_props, props.map(([p]) => p.id), call);
    fill(r.prop_values_ptr, r.count_props, props.map(([, v]) => v), call);
    r.count_props = props.length;
    return 0;
  }

  private getProperty(r: U.drm_mode_get_property): number {
    const call = "DRM_IOCTL_MODE_GETPROPERTY";
    const p = this.find(r.prop_id, DrmProperty);
    check(p, "ENOENT", call, `no property ${r.prop_id}`);
    const enums = p.is(U.DRM_MODE_PROP_ENUM) || p.is(U.DRM_MODE_PROP_BITMASK) ? p.enums : [];
    fill(r.values_ptr, r.count_values, [...p.values], call);
    fill(r.enum_blob_ptr, r.count_enum_blobs, enums.map((e) => ({ ...e })), call);
    Object.assign(r, { name: p.name, flags: p.flags, count_values: p.values.length, count_enum_blobs: enums.length });
    return 0;
  }

  private getPropBlob(r: U.drm_mode_get_blob): number {
    const b = this.find(r.blob_id, DrmPropertyBlob);
    check(b, "ENOENT", "DRM_IOCTL_MODE_GETPROPBLOB", `no blob ${r.blob_id}`);
    if (r.length === b.data.length && r.data) {
      check(r.data instanceof Uint8Array && r.data.length >= b.data.length, "EFAULT", "DRM_IOCTL_MODE_GETPROPBLOB", "data is not a writable buffer of length bytes");
      r.data.set(b.data);
    }
    r.length = b.data.length;
    return 0;
  }

  private createPropBlob(f: DrmFile, r: U.drm_mode_create_blob): number {
    check(r.length > 0, "EINVAL", "DRM_IOCTL_MODE_CREATEPROPBLOB", "length must be > 0");
    check(r.data instanceof Uint8Array && r.data.length >= r.length, "EFAULT", "DRM_IOCTL_MODE_CREATEPROPBLOB", "data does not hold length bytes");
    r.blob_id = this.createBlob(r.data.slice(0, r.length), f).id;
    return 0;
  }

  private destroyPropBlob(f: DrmFile, r: U.drm_mode_destroy_blob): number {
    const b = this.find(r.blob_id, DrmPropertyBlob);
    check(b, "ENOENT", "DRM_IOCTL_MODE_DESTROYPROPBLOB", `no blob ${r.blob_id}`);
    check(b.owner === f, "EPERM", "DRM_IOCTL_MODE_DESTROYPROPBLOB", "the blob was created by another file");
    b.owner = null;
    this.putBlob(b);
    return 0;
  }

  /** drm_mode_addfb2() */
  private addFb2(f: DrmFile, user: U.drm_mode_fb_cmd2): number {
    // drm_ioctl() hands the handler a zero-filled copy: fields userspace left out read as 0
    const r: U.drm_mode_fb_cmd2 = { ...ZERO_FB_CMD2, ...user };
    const { info, objs } = framebufferCheck(r, this, (h) => f.lookup(h));
    for (const o of objs) o.get();
    const modifier = r.flags & U.DRM_MODE_FB_MODIFIERS ? (r.modifier?.[0] ?? 0n) : U.DRM_FORMAT_MOD_LINEAR;
    const fb = this.add((id) => new DrmFramebuffer(id, r.width, r.height, info, r.flags, [...r.pitches], [...r.offsets], modifier, objs, f, (x) => this.objects.delete(x.id)));
    this.fbs.add(fb);
    user.fb_id = fb.id;
    return 0;
  }

  /** drm_mode_rmfb(): only the file that added the fb may remove it (ENOENT otherwise). */
  private rmFb(f: DrmFile, arg: unknown): number {
    const id = typeof arg === "number" ? arg : (arg as { fb_id: number }).fb_id;
    const fb = this.fb(id);
    check(fb && fb.owner === f, "ENOENT", "DRM_IOCTL_MODE_RMFB", `fb ${id} is not a framebuffer of this file`);
    this.removeFb(fb);
    return 0;
  }
}

function objectType(o: ModeObject): number {
  if (o instanceof DrmCrtc) return U.DRM_MODE_OBJECT_CRTC;
  if (o instanceof DrmPlane) return U.DRM_MODE_OBJECT_PLANE;
  if (o instanceof DrmConnector) return U.DRM_MODE_OBJECT_CONNECTOR;
  if (o instanceof DrmEncoder) return U.DRM_MODE_OBJECT_ENCODER;
  if (o instanceof DrmFramebuffer) return U.DRM_MODE_OBJECT_FB;
  if (o instanceof DrmProperty) return U.DRM_MODE_OBJECT_PROPERTY;
  return U.DRM_MODE_OBJECT_BLOB;
}





/** copy_to_user of an id/struct list: only when the caller's count is large enough (the two-call idiom). */
function fill<T>(ptr: U.UserPtr<T> | undefined, count: number, items: readonly T[], call: string): void {
  if (!ptr || count < items.length) return;
  check(typeof ptr === "object", "EFAULT", call, "bad user pointer");
  items.forEach((x, i) => ((ptr as T[])[i] = x));
}
