/**
 * KMS (drivers/gpu/drm/drm_mode_config.c, drm_mode_object.c, drm_crtc.c, drm_plane.c,
 * drm_connector.c, drm_property.c, drm_atomic.c, drm_atomic_uapi.c, drm_atomic_helper.c,
 * drm_vblank.c): the mode objects of one device, their properties, framebuffers, atomic commits
 * and vblank in virtual time. One {@link KmsDevice} per DRIVER_MODESET device.
 */
import { Errno, check, type DmaFence, type Timer } from "@dmabuf/core";
import { WRITEBACK_FORMATS, composeFrame, writeFrame, type ComposerPlane } from "./composer.js";
import type { DrmDevice, DrmFile } from "./drm-device.js";
import { DrmFramebuffer, framebufferCheck, type FbLimits } from "./drm-framebuffer.js";
import { createOutFence, fbImplicitFences, installSyncFile, syncFileFence, whenSignaled } from "./internal/fences.js";
import { ScanoutFrame } from "./scanout-frame.js";
import * as U from "./uapi.js";

const INT_MAX = 0x7fffffff;
const U32 = 0xffffffff;

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

interface PlaneState {
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
interface CrtcState {
  active: boolean;
  enable: boolean;
  mode: DrmPropertyBlob | null;
}
interface ConnectorState {
  crtc: DrmCrtc | null;
  writebackFb: DrmFramebuffer | null;
  writebackOutFencePtr: Int32Array | null;
}

/** A flip waiting for its vblank: the event to send and the out-fence to signal. */
interface PendingFlip {
  readonly file: DrmFile | null;
  readonly userData: bigint;
  readonly outFence: DmaFence | null;
  readonly done: () => void;
}

/** A writeback job (drm_writeback_job): written by the composer at the next frame. */
interface WritebackJob {
  readonly fb: DrmFramebuffer;
  readonly outFence: DmaFence | null;
}

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

export class DrmCrtc {
  state: CrtcState = { active: false, enable: false, mode: null };
  /** Programmed mode (null while off). */
  hwMode: U.drm_mode_modeinfo | null = null;
  /** The latest commit's flip_done, for drm_atomic_helper_setup_commit's stall check. */
  lastCommit: { flipDone: boolean; done: Promise<void> } | null = null;
  /* drm_vblank_crtc */
  vblankCount = 0;
  vblankTimeNs = 0;
  private vblankBase = 0;
  private countAtOn = 0;
  private timer: Timer | undefined;
  armed: PendingFlip[] = [];
  writeback: WritebackJob[] = [];
  /** Latest composed frame. */
  lastFrame: ScanoutFrame | null = null;
  private readonly frameListeners = new Set<(f: ScanoutFrame) => void>();
  /** Out-fence timeline (drm_crtc.fence_context, fence_seqno). */
  fenceContext = 0;
  fenceSeqno = 0;
  /** Gamma size etc. are not modelled; primary plane for legacy GETCRTC. */
  primary!: DrmPlane;

  constructor(
    readonly kms: KmsDevice,
    readonly id: number,
    readonly index: number,
  ) {}

  /**
   * Calls `listener` with every frame the CRTC scans out (composed at each vblank, as vkms' CRC
   * worker does), keeping vblank running meanwhile. Returns the function that unsubscribes.
   */
  onFrame(listener: (f: ScanoutFrame) => void): () => void {
    this.frameListeners.add(listener);
    this.scheduleVblank();
    return () => this.frameListeners.delete(listener);
  }

  /** drm_calc_timestamping_constants(): framedur_ns = htotal * vtotal * 1e6 / clock (kHz). */
  get framedurNs(): number {
    const m = this.hwMode;
    return m ? Math.floor((m.htotal * m.vtotal * 1_000_000) / m.clock) : 0;
  }

  /** drm_crtc_vblank_on(): vblanks start one frame after the mode is programmed. */
  vblankOn(): void {
    this.vblankBase = this.kms.dev.kernel.clock.now();
    this.countAtOn = this.vblankCount;
  }

  /** drm_crtc_vblank_off(): pending events are sent now with the current count. */
  vblankOff(): void {
    this.kms.dev.kernel.clock.cancelTimer(this.timer);
    this.timer = undefined;
    this.vblankTimeNs = this.kms.dev.kernel.clock.now();
    for (const f of this.armed.splice(0)) this.kms.sendFlip(this, f);
  }

  /** Keeps the vblank timer running while someone waits for a vblank (events, writeback, frame listeners). */
  scheduleVblank(): void {
    if (this.timer || !this.hwMode) return;
    if (this.armed.length === 0 && this.writeback.length === 0 && this.frameListeners.size === 0) return;
    const clock = this.kms.dev.kernel.clock;
    const period = this.framedurNs;
    const k = Math.floor((clock.now() - this.vblankBase) / period) + 1;
    this.timer = clock.addTimer(this.vblankBase + k * period - clock.now(), () => this.vblank(k), `vblank crtc-${this.index}`);
  }

  /** The vblank interrupt (vkms_vblank_simulate): count, events, composition, writeback. */
  private vblank(k: number): void {
    this.timer = undefined;
    const kernel = this.kms.dev.kernel;
    this.vblankCount = this.countAtOn + k;
    this.vblankTimeNs = kernel.clock.now();
    kernel.trace.emit("drm_vblank_event", { crtc: this.index, seq: this.vblankCount, time: this.vblankTimeNs, "high-prec": "true" });
    for (const f of this.armed.splice(0)) this.kms.sendFlip(this, f);
    if (this.frameListeners.size > 0 || this.writeback.length > 0) {
      const frame = this.compose();
      for (const job of this.writeback.splice(0)) {
        writeFrame(frame.pixels, frame.width, frame.height, job.fb.planeMemory()[0]!);
        job.outFence?.signal();
        job.outFence?.put();
        job.fb.put();
      }
      for (const l of this.frameListeners) l(frame);
    }
    kernel.trace.slice(`${this.kms.dev.driver.name} crtc-${this.index} vblank`, "frame", this.vblankTimeNs, this.framedurNs, { seq: this.vblankCount });
    this.scheduleVblank();
  }

  /** Composes what the CRTC scans out now (the planes the hardware has), as a frame. */
  compose(): ScanoutFrame {
    const m = this.hwMode;
    const w = m?.hdisplay ?? 0;
    const h = m?.vdisplay ?? 0;
    const pixels = new Uint32Array(w * h);
    const planes: ComposerPlane[] = [];
    for (const p of [...this.kms.planes].sort((a, b) => a.zpos - b.zpos)) {
      const s = p.hw;
      if (s.crtc !== this || !s.fb || !m) continue;
      planes.push({ format: s.fb.format, memory: s.fb.planeMemory(), srcX: s.srcX >>> 16, srcY: s.srcY >>> 16, width: s.crtcW, height: s.crtcH, dstX: s.crtcX, dstY: s.crtcY });
    }
    composeFrame(pixels, w, h, planes);
    const frame = new ScanoutFrame(this.id, w, h, pixels, this.vblankCount, this.vblankTimeNs);
    this.lastFrame = frame;
    return frame;
  }
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

type ModeObject = DrmCrtc | DrmPlane | DrmConnector | DrmEncoder | DrmFramebuffer | DrmProperty | DrmPropertyBlob;

const emptyPlane = (): PlaneState => ({ crtc: null, fb: null, crtcX: 0, crtcY: 0, crtcW: 0, crtcH: 0, srcX: 0, srcY: 0, srcW: 0, srcH: 0, fence: null });

/** Names of the standard properties (drm_mode_create_standard_properties and friends). */
const P = {
  type: "type", FB_ID: "FB_ID", IN_FENCE_FD: "IN_FENCE_FD", CRTC_ID: "CRTC_ID", CRTC_X: "CRTC_X", CRTC_Y: "CRTC_Y", CRTC_W: "CRTC_W", CRTC_H: "CRTC_H",
  SRC_X: "SRC_X", SRC_Y: "SRC_Y", SRC_W: "SRC_W", SRC_H: "SRC_H", zpos: "zpos", IN_FORMATS: "IN_FORMATS", ACTIVE: "ACTIVE", MODE_ID: "MODE_ID",
  OUT_FENCE_PTR: "OUT_FENCE_PTR", WRITEBACK_FB_ID: "WRITEBACK_FB_ID", WRITEBACK_OUT_FENCE_PTR: "WRITEBACK_OUT_FENCE_PTR", WRITEBACK_PIXEL_FORMATS: "WRITEBACK_PIXEL_FORMATS",
} as const;
type PropName = (typeof P)[keyof typeof P];

/** The atomic state being built by one ATOMIC ioctl (struct drm_atomic_state). */
class AtomicState {
  readonly planes = new Map<DrmPlane, PlaneState>();
  readonly crtcs = new Map<DrmCrtc, CrtcState & { outFencePtr: Int32Array | null }>();
  readonly connectors = new Map<DrmConnector, ConnectorState>();

  /** drm_atomic_get_plane_state(): also pulls in the CRTC the plane is on. */
  plane(p: DrmPlane): PlaneState {
    let s = this.planes.get(p);
    if (!s) this.planes.set(p, (s = { ...p.state, fence: null }));
    if (p.state.crtc) this.crtc(p.state.crtc);
    return s;
  }
  crtc(c: DrmCrtc): CrtcState & { outFencePtr: Int32Array | null } {
    let s = this.crtcs.get(c);
    if (!s) this.crtcs.set(c, (s = { ...c.state, outFencePtr: null }));
    return s;
  }
  /** drm_atomic_get_connector_state(): also pulls in the connector's CRTC. */
  connector(c: DrmConnector): ConnectorState {
    if (c.state.crtc) this.crtc(c.state.crtc);
    let s = this.connectors.get(c);
    if (!s) this.connectors.set(c, (s = { ...c.state, writebackFb: null, writebackOutFencePtr: null }));
    return s;
  }

  /** Drops the references a failed or test-only state holds (fences it took). */
  release(): void {
    for (const s of this.planes.values()) s.fence?.put();
  }
}

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
  private nextId = 1;
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
    range(P.SRC_X, 0n, BigInt(U32), A);
    range(P.SRC_Y, 0n, BigInt(U32), A);
    range(P.SRC_W, 0n, BigInt(U32), A);
    range(P.SRC_H, 0n, BigInt(U32), A);
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

  private putBlob(b: DrmPropertyBlob | null): void {
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

  /** The properties an object carries, with current values (drm_mode_object_get_properties). */
  private objectProps(o: ModeObject, atomicClient: boolean): [DrmProperty, bigint][] {
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
  private fb(id: number): DrmFramebuffer | undefined {
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
  private programHw(crtcs: Set<DrmCrtc>): void {
    for (const crtc of crtcs) {
      const mode = crtc.state.active && crtc.state.mode ? U.parseModeinfo(crtc.state.mode.data) : null;
      const wasOn = crtc.hwMode !== null;
      const modeChanged = JSON.stringify(mode) !== JSON.stringify(crtc.hwMode);
      if (wasOn && (!mode || modeChanged)) {
        crtc.hwMode = null;
        crtc.vblankOff();
      }
      if (mode && (!wasOn || modeChanged)) {
        crtc.hwMode = mode;
        crtc.vblankOn();
      }
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
        return this.atomic(f, arg as U.drm_mode_atomic);
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
  private addFb2(f: DrmFile, r: U.drm_mode_fb_cmd2): number {
    const { info, objs } = framebufferCheck(r, this, (h) => f.lookup(h));
    for (const o of objs) o.get();
    const modifier = r.flags & U.DRM_MODE_FB_MODIFIERS ? (r.modifier?.[0] ?? 0n) : U.DRM_FORMAT_MOD_LINEAR;
    const fb = this.add((id) => new DrmFramebuffer(id, r.width, r.height, info, r.flags, [...r.pitches], [...r.offsets], modifier, objs, f, (x) => this.objects.delete(x.id)));
    this.fbs.add(fb);
    r.fb_id = fb.id;
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

  /* ------------------------------------------------------------------------------------------ */
  /* atomic                                                                                      */

  /** drm_mode_atomic_ioctl() */
  private atomic(f: DrmFile, a: U.drm_mode_atomic): number | Promise<number> {
    const call = "DRM_IOCTL_MODE_ATOMIC";
    check(f.atomic, "EINVAL", call, "DRM_CLIENT_CAP_ATOMIC not set on this file");
    check(!(a.flags & ~U.DRM_MODE_ATOMIC_FLAGS), "EINVAL", call, `unknown flags 0x${a.flags.toString(16)}`);
    check(!a.reserved, "EINVAL", call, "reserved must be 0");
    check(!(a.flags & U.DRM_MODE_PAGE_FLIP_ASYNC), "EINVAL", call, "DRM_MODE_PAGE_FLIP_ASYNC is not supported by atomic commits");
    check(!(a.flags & U.DRM_MODE_ATOMIC_TEST_ONLY && a.flags & U.DRM_MODE_PAGE_FLIP_EVENT), "EINVAL", call, "TEST_ONLY and PAGE_FLIP_EVENT are mutually exclusive");
    const state = new AtomicState();
    const outPtrs: Int32Array[] = [];
    try {
      this.setProperties(a, state, outPtrs);
      // prepare_signaling(): an event needs a CRTC to come from.
      check(!(a.flags & U.DRM_MODE_PAGE_FLIP_EVENT) || state.crtcs.size > 0, "EINVAL", call, "need at least one CRTC for DRM_MODE_PAGE_FLIP_EVENT");
      const affected = this.checkOnly(state, (a.flags & U.DRM_MODE_ATOMIC_ALLOW_MODESET) !== 0);
      if (a.flags & U.DRM_MODE_ATOMIC_TEST_ONLY) {
        state.release();
        return 0;
      }
      return this.commit(f, a, state, affected);
    } catch (e) {
      // complete_signaling(.., install_fds = false): -1 to every out-fence pointer.
      for (const p of outPtrs) p[0] = -1;
      state.release();
      throw e;
    }
  }

  private setProperties(a: U.drm_mode_atomic, state: AtomicState, outPtrs: Int32Array[]): void {
    const call = "DRM_IOCTL_MODE_ATOMIC";
    const objs = userArray(a.objs_ptr, a.count_objs, call);
    const counts = userArray(a.count_props_ptr, a.count_objs, call);
    let total = 0;
    for (let i = 0; i < a.count_objs; i++) total += Number(counts[i]);
    const props = userArray(a.props_ptr, total, call);
    const values = userArray(a.prop_values_ptr, total, call);
    let k = 0;
    for (let i = 0; i < a.count_objs; i++) {
      const o = this.objects.get(Number(objs[i]));
      check(o, "ENOENT", call, `unknown object id ${objs[i]}`);
      check(o instanceof DrmPlane || o instanceof DrmCrtc || o instanceof DrmConnector, "ENOENT", call, `object ${o.id} has no properties`);
      const own = this.objectProps(o, true).map(([p]) => p);
      for (let j = 0; j < Number(counts[i]); j++, k++) {
        const prop = own.find((p) => p.id === Number(props[k]));
        check(prop, "ENOENT", call, `object ${o.id} has no property ${props[k]}`);
        this.setProperty(state, o, prop, values[k] as U.PropValue, outPtrs);
      }
    }
  }

  /** drm_atomic_{plane,crtc,connector}_set_property() */
  private setProperty(state: AtomicState, o: DrmPlane | DrmCrtc | DrmConnector, prop: DrmProperty, raw: U.PropValue, outPtrs: Int32Array[]): void {
    const call = "DRM_IOCTL_MODE_ATOMIC";
    check(!(prop.flags & U.DRM_MODE_PROP_IMMUTABLE), "EINVAL", call, `property ${prop.name} is immutable`);
    const outPtr = (v: U.PropValue): Int32Array | null => {
      if (v instanceof Int32Array) {
        check(v.length >= 1, "EFAULT", call, `${prop.name}: pointer to an empty buffer`);
        v[0] = -1;
        outPtrs.push(v);
        return v;
      }
      check(BigInt(v) === 0n, "EFAULT", call, `${prop.name}: 0x${BigInt(v).toString(16)} is not a valid s32 __user pointer`);
      return null;
    };
    if (prop.name === P.OUT_FENCE_PTR || prop.name === P.WRITEBACK_OUT_FENCE_PTR) {
      const ptr = outPtr(raw);
      if (o instanceof DrmCrtc) state.crtc(o).outFencePtr = ptr;
      else state.connector(o as DrmConnector).writebackOutFencePtr = ptr;
      return;
    }
    check(!(raw instanceof Int32Array), "EINVAL", call, `${prop.name} takes a number`);
    const u = BigInt.asUintN(64, BigInt(raw));
    const s64 = Number(BigInt.asIntN(64, u));
    if (prop.is(U.DRM_MODE_PROP_RANGE)) check(u >= prop.values[0]! && u <= prop.values[1]!, "EINVAL", call, `${prop.name} value ${u} outside [${prop.values[0]}, ${prop.values[1]}]`);
    if (prop.is(U.DRM_MODE_PROP_SIGNED_RANGE)) check(s64 >= Number(BigInt.asIntN(64, prop.values[0]!)) && s64 <= Number(BigInt.asIntN(64, prop.values[1]!)), "EINVAL", call, `${prop.name} value ${s64} out of range`);
    const v = Number(u);
    if (o instanceof DrmPlane) {
      const s = state.plane(o);
      switch (prop.name) {
        case P.FB_ID: {
          // An unknown id sets no fb: the check then refuses a plane with a CRTC and no fb.
          const fb = v ? (this.fb(v) ?? null) : null;
          s.fb = fb;
          return;
        }
        case P.IN_FENCE_FD: {
          check(!s.fence, "EINVAL", call, "IN_FENCE_FD set twice for the same plane in one commit");
          if (s64 === -1) return;
          const fence = syncFileFence(this.dev.kernel, s64);
          check(fence, "EINVAL", call, `IN_FENCE_FD ${s64} is not a sync_file`);
          s.fence = fence;
          return;
        }
        case P.CRTC_ID: {
          const crtc = v ? this.find(v, DrmCrtc) : null;
          check(!v || crtc, "EACCES", call, `cannot find CRTC with ID ${v}`);
          s.crtc = crtc ?? null;
          if (crtc) state.crtc(crtc);
          return;
        }
        case P.CRTC_X: s.crtcX = s64; return;
        case P.CRTC_Y: s.crtcY = s64; return;
        case P.CRTC_W: s.crtcW = v; return;
        case P.CRTC_H: s.crtcH = v; return;
        case P.SRC_X: s.srcX = v; return;
        case P.SRC_Y: s.srcY = v; return;
        case P.SRC_W: s.srcW = v; return;
        case P.SRC_H: s.srcH = v; return;
      }
    } else if (o instanceof DrmCrtc) {
      const s = state.crtc(o);
      if (prop.name === P.ACTIVE) {
        s.active = v === 1;
        return;
      }
      if (prop.name === P.MODE_ID) {
        // drm_atomic_set_mode_prop_for_crtc(): the blob must be exactly a drm_mode_modeinfo that validates.
        if (!v) {
          s.mode = null;
          s.enable = false;
          return;
        }
        const blob = this.find(v, DrmPropertyBlob);
        check(blob && blob.data.length === U.DRM_MODE_MODEINFO_SIZE, "EINVAL", call, `MODE_ID ${v} is not a ${U.DRM_MODE_MODEINFO_SIZE}-byte mode blob`);
        validateMode(U.parseModeinfo(blob.data), call);
        s.mode = blob;
        s.enable = true;
        return;
      }
    } else {
      const s = state.connector(o);
      if (prop.name === P.CRTC_ID) {
        const crtc = v ? this.find(v, DrmCrtc) : null;
        check(!v || crtc, "EACCES", call, `cannot find CRTC with ID ${v}`);
        s.crtc = crtc ?? null;
        if (crtc) state.crtc(crtc);
        return;
      }
      if (prop.name === P.WRITEBACK_FB_ID) {
        const fb = v ? this.fb(v) : null;
        check(!v || fb, "EINVAL", call, `WRITEBACK_FB_ID ${v} is not a framebuffer`);
        s.writebackFb = fb ?? null;
        return;
      }
    }
    throw new Errno("EINVAL", call, `property ${prop.name} cannot be set on object ${o.id}`);
  }

  /**
   * drm_atomic_check_only() with drm_atomic_helper_check() and vkms' plane/writeback checks.
   * Returns the CRTCs the commit touches (including those pulled in by plane and connector moves).
   */
  private checkOnly(state: AtomicState, allowModeset: boolean): Set<DrmCrtc> {
    const call = "DRM_IOCTL_MODE_ATOMIC";
    for (const [p, s] of state.planes) {
      // drm_atomic_plane_check()
      check(!(s.crtc && !s.fb), "EINVAL", call, `[PLANE:${p.id}] CRTC set but no FB`);
      check(!(s.fb && !s.crtc), "EINVAL", call, `[PLANE:${p.id}] FB set but no CRTC`);
      if (!s.crtc || !s.fb) continue;
      check(p.possibleCrtcs & (1 << s.crtc.index), "EINVAL", call, `[PLANE:${p.id}] invalid CRTC ${s.crtc.id}`);
      check(p.formats.includes(s.fb.format.format) && s.fb.modifier === U.DRM_FORMAT_MOD_LINEAR, "EINVAL", call, `[PLANE:${p.id}] invalid pixel format ${U.fourccName(s.fb.format.format)}, modifier 0x${s.fb.modifier.toString(16)}`);
      check(s.crtcW <= INT_MAX && s.crtcX <= INT_MAX - s.crtcW && s.crtcH <= INT_MAX && s.crtcY <= INT_MAX - s.crtcH, "ERANGE", call, `[PLANE:${p.id}] invalid CRTC coordinates`);
      const fw = s.fb.width * 65536;
      const fh = s.fb.height * 65536;
      check(s.srcW <= fw && s.srcX <= fw - s.srcW && s.srcH <= fh && s.srcY <= fh - s.srcH, "ENOSPC", call, `[PLANE:${p.id}] invalid source coordinates ${s.srcW / 65536}x${s.srcH / 65536}+${s.srcX / 65536}+${s.srcY / 65536} (fb ${s.fb.width}x${s.fb.height})`);
      // drm_atomic_helper_check_plane_state(.., DRM_PLANE_NO_SCALING, ..): source and CRTC sizes must match.
      const scale = (src: number, dst: number) => (dst === 0 ? 0 : Math.floor(src / dst));
      check(scale(s.srcW, s.crtcW) === 0x10000 && scale(s.srcH, s.crtcH) === 0x10000, "ERANGE", call, `[PLANE:${p.id}] scaling ${s.srcW / 65536}x${s.srcH / 65536} -> ${s.crtcW}x${s.crtcH} is not supported`);
    }
    for (const [c, s] of state.connectors) {
      if (!c.isWriteback) continue;
      // drm_atomic_connector_check() + vkms_wb_atomic_check()
      check(!(s.writebackOutFencePtr && !s.writebackFb), "EINVAL", call, `[CONNECTOR:${c.id}] requesting out-fence without framebuffer`);
      if (!s.writebackFb) continue;
      check(s.crtc, "EINVAL", call, `[CONNECTOR:${c.id}] writeback job without a CRTC`);
      const cs = state.crtc(s.crtc);
      const mode = cs.mode ? U.parseModeinfo(cs.mode.data) : null;
      check(mode && s.writebackFb.width === mode.hdisplay && s.writebackFb.height === mode.vdisplay, "EINVAL", call, `[CONNECTOR:${c.id}] invalid framebuffer size ${s.writebackFb.width}x${s.writebackFb.height}`);
      check(WRITEBACK_FORMATS.includes(s.writebackFb.format.format), "EINVAL", call, `[CONNECTOR:${c.id}] invalid pixel format ${U.fourccName(s.writebackFb.format.format)}`);
    }
    for (const [crtc, s] of state.crtcs) {
      // drm_atomic_crtc_check()
      check(!(s.active && !s.enable), "EINVAL", call, `[CRTC:${crtc.id}] active without enabled`);
      check(!(s.enable && !s.mode), "EINVAL", call, `[CRTC:${crtc.id}] enabled without mode blob`);
      check(!(!s.enable && s.mode), "EINVAL", call, `[CRTC:${crtc.id}] disabled with mode blob`);
      // drm_atomic_helper_check_modeset(): enable must match having connectors.
      const hasConnectors = this.connectors.some((c) => (state.connectors.get(c) ?? c.state).crtc === crtc);
      check(s.enable === hasConnectors, "EINVAL", call, `[CRTC:${crtc.id}] enabled/connectors mismatch`);
      const modeChanged = (s.mode?.id ?? 0) !== (crtc.state.mode?.id ?? 0) && !sameBytes(s.mode?.data, crtc.state.mode?.data);
      const connectorsChanged = this.connectors.some((c) => state.connectors.has(c) && (c.state.crtc === crtc) !== (state.connectors.get(c)!.crtc === crtc));
      const needsModeset = modeChanged || s.active !== crtc.state.active || connectorsChanged;
      check(!needsModeset || allowModeset, "EINVAL", call, `[CRTC:${crtc.id}] requires full modeset`);
    }
    return new Set(state.crtcs.keys());
  }

  /** drm_atomic_helper_commit(): setup (stall check), swap, then the commit tail (now or in a worker). */
  private commit(f: DrmFile, a: U.drm_mode_atomic, state: AtomicState, crtcs: Set<DrmCrtc>): number | Promise<number> {
    const call = "DRM_IOCTL_MODE_ATOMIC";
    const nonblock = (a.flags & U.DRM_MODE_ATOMIC_NONBLOCK) !== 0;
    const wantEvent = (a.flags & U.DRM_MODE_PAGE_FLIP_EVENT) !== 0;
    // stall_checks(): a nonblocking commit may not queue behind an unfinished flip.
    for (const c of crtcs) check(!(nonblock && c.lastCommit && !c.lastCommit.flipDone), "EBUSY", call, `[CRTC:${c.id}] previous flip has not completed yet`);
    // prepare_signaling(): events reserved, out-fences created and their sync_files installed;
    // all undone if any step fails (EMFILE, ENOMEM), so a failed commit leaves nothing behind.
    let reserved = 0;
    const installed: { fd: number; fence: DmaFence }[] = [];
    const flips = new Map<DrmCrtc, { outFence: DmaFence | null }>();
    const wbJobs = new Map<DrmCrtc, WritebackJob>();
    const outFence = (crtc: DrmCrtc, ptr: Int32Array) => {
      const fence = createOutFence(crtc);
      try {
        ptr[0] = installSyncFile(this.dev.kernel, fence, call);
      } catch (e) {
        fence.signal();
        fence.put();
        throw e;
      }
      installed.push({ fd: ptr[0], fence });
      return fence;
    };
    try {
      for (const c of crtcs) if (wantEvent) {
        check(state.crtc(c).active || c.state.active, "EINVAL", call, `[CRTC:${c.id}] requesting event but off`);
        f.reserveEvent(U.DRM_EVENT_VBLANK_SIZE);
        reserved++;
      }
      for (const c of crtcs) {
        const ptr = state.crtc(c).outFencePtr;
        flips.set(c, { outFence: ptr ? outFence(c, ptr) : null });
      }
      for (const s of state.connectors.values()) {
        if (!s.writebackFb || !s.crtc) continue;
        wbJobs.set(s.crtc, { fb: s.writebackFb, outFence: s.writebackOutFencePtr ? outFence(s.crtc, s.writebackOutFencePtr) : null });
      }
    } catch (e) {
      f.cancelEvent(reserved * U.DRM_EVENT_VBLANK_SIZE);
      for (const { fd, fence } of installed) {
        this.dev.kernel.current?.fds.remove(fd)?.put();
        fence.signal();
        fence.put();
      }
      throw e;
    }
    for (const job of wbJobs.values()) job.fb.get();
    // drm_atomic_helper_swap_state(): the new state is the committed one from here on.
    const oldFbs: DrmFramebuffer[] = [];
    const fences: DmaFence[] = [];
    for (const [p, s] of state.planes) {
      s.fb?.get();
      if (p.state.fb) oldFbs.push(p.state.fb);
      if (s.fence) fences.push(s.fence);
      else if (s.fb) fences.push(...fbImplicitFences(s.fb));
      p.state = { ...s, fence: null };
    }
    for (const [c, s] of state.crtcs) {
      if (s.mode) s.mode.refs++;
      this.putBlob(c.state.mode);
      c.state = { active: s.active, enable: s.enable, mode: s.mode };
    }
    for (const [c, s] of state.connectors) c.state = { crtc: s.crtc, writebackFb: null, writebackOutFencePtr: null };

    let resolveAll!: () => void;
    const allDone = new Promise<void>((r) => (resolveAll = r));
    let pending = crtcs.size;
    const trackers = new Map<DrmCrtc, { flipDone: boolean; done: Promise<void> }>();
    const previous = [...crtcs].map((c) => c.lastCommit?.done).filter((p): p is Promise<void> => p !== undefined);
    for (const c of crtcs) {
      const t = { flipDone: false, done: allDone };
      trackers.set(c, t);
      c.lastCommit = t;
    }
    const finishOne = (c: DrmCrtc) => {
      trackers.get(c)!.flipDone = true;
      if (--pending === 0) resolveAll();
    };
    if (pending === 0) resolveAll();
    const tail = async () => {
      // drm_atomic_helper_wait_for_dependencies() and wait_for_fences()
      await Promise.all(previous);
      const t0 = this.dev.kernel.clock.now();
      await Promise.all(fences.map((x) => whenSignaled(x)));
      if (fences.length) this.dev.kernel.trace.slice(`${this.dev.driver.name} crtc-0 fences`, "wait_for_fences", t0, this.dev.kernel.clock.now() - t0, { fences: fences.length });
      for (const x of fences) x.put();
      // commit_planes + modeset enables/disables: the hardware takes the new state.
      this.programHw(crtcs);
      for (const c of crtcs) {
        const job = wbJobs.get(c);
        if (job) c.writeback.push(job);
        const flip: PendingFlip = { file: wantEvent ? f : null, userData: a.user_data ?? 0n, outFence: flips.get(c)!.outFence, done: () => finishOne(c) };
        if (wantEvent) this.dev.kernel.trace.emit("drm_vblank_event_queued", { crtc: c.index, seq: c.vblankCount + 1 });
        // vkms_crtc_atomic_flush(): armed for the next vblank, or sent now when the CRTC is off.
        if (c.hwMode) {
          c.armed.push(flip);
          c.scheduleVblank();
        } else this.sendFlip(c, flip);
      }
      await allDone;
      // drm_atomic_helper_cleanup_planes(): the old framebuffers are no longer scanned out.
      for (const fb of oldFbs) fb.put();
    };
    const work = tail();
    if (nonblock) return 0;
    return this.dev.kernel.clock.block(work).then(() => 0);
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

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined) => !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);

/** drm_mode_validate_basic(): timings must be ordered; EINVAL otherwise. */
function validateMode(m: U.drm_mode_modeinfo, call: string): void {
  const ok = m.clock > 0 && m.hdisplay > 0 && m.hdisplay <= m.hsync_start && m.hsync_start <= m.hsync_end && m.hsync_end <= m.htotal && m.vdisplay > 0 && m.vdisplay <= m.vsync_start && m.vsync_start <= m.vsync_end && m.vsync_end <= m.vtotal;
  check(ok, "EINVAL", call, `mode "${m.name}" has invalid timings`);
}

/** copy_to_user of an id/struct list: only when the caller's count is large enough (the two-call idiom). */
function fill<T>(ptr: U.UserPtr<T> | undefined, count: number, items: readonly T[], call: string): void {
  if (!ptr || count < items.length) return;
  check(typeof ptr === "object", "EFAULT", call, "bad user pointer");
  items.forEach((x, i) => ((ptr as T[])[i] = x));
}

/** copy_from_user of `count` entries. */
function userArray<T>(ptr: U.UserPtr<T> | undefined, count: number, call: string): ArrayLike<T> {
  if (count === 0) return [];
  check(ptr && typeof ptr === "object" && ptr.length >= count, "EFAULT", call, `user array too short for ${count} entries`);
  return ptr as ArrayLike<T>;
}
