/**
 * CRTCs (drivers/gpu/drm/drm_crtc.c) with vblank in virtual time (drm_vblank.c, vkms_crtc.c's
 * hrtimer) and the composition of what they scan out (vkms_composer.c).
 */
import type { DmaFence, Timer } from "@dmabuf/core";
import { composeFrame, writeFrame, type ComposerPlane } from "./composer.js";
import type { DrmFile } from "./drm-device.js";
import type { DrmFramebuffer } from "./drm-framebuffer.js";
import type { DrmPlane } from "./drm-plane.js";
import type { DrmPropertyBlob } from "./drm-property.js";
import type { KmsDevice } from "./kms.js";
import { ScanoutFrame } from "./scanout-frame.js";
import type * as U from "./uapi.js";

/** struct drm_crtc_state (the parts modelled). */
export interface CrtcState {
  active: boolean;
  enable: boolean;
  mode: DrmPropertyBlob | null;
}

/** A flip waiting for its vblank: the event to send and the out-fence to signal. */
export interface PendingFlip {
  readonly file: DrmFile | null;
  readonly userData: bigint;
  readonly outFence: DmaFence | null;
  readonly done: () => void;
}

/** A commit as one of its CRTCs tracks it (struct drm_crtc_commit): this CRTC's flip, and the whole commit. */
export interface CrtcCommit {
  flipDone: boolean;
  /** Every CRTC of the commit has flipped: `done` has resolved. */
  allDone: boolean;
  readonly done: Promise<void>;
}

/** A writeback job (drm_writeback_job): written by the composer at the next frame. */
export interface WritebackJob {
  readonly fb: DrmFramebuffer;
  readonly outFence: DmaFence | null;
}

export class DrmCrtc {
  state: CrtcState = { active: false, enable: false, mode: null };
  /** Programmed mode (null while off). */
  hwMode: U.drm_mode_modeinfo | null = null;
  /** The blob `hwMode` was parsed from. */
  hwModeBlob: DrmPropertyBlob | null = null;
  /** The latest commit's flip_done, for drm_atomic_helper_setup_commit's stall check. */
  lastCommit: CrtcCommit | null = null;
  /** The display controller stopped raising vblanks (fault point fail_device_stall) until vblank off. */
  hung = false;
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

  /** The vblank timer's name, made once (a timer is armed every frame). */
  private readonly timerName: string;

  constructor(
    readonly kms: KmsDevice,
    readonly id: number,
    readonly index: number,
  ) {
    this.timerName = `vblank crtc-${index}`;
  }

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
    this.hung = false;
    this.kms.dev.kernel.clock.cancelTimer(this.timer);
    this.timer = undefined;
    this.vblankTimeNs = this.kms.dev.kernel.clock.now();
    for (const f of this.armed.splice(0)) this.kms.sendFlip(this, f);
  }

  /** Keeps the vblank timer running while someone waits for a vblank (events, writeback, frame listeners). */
  scheduleVblank(): void {
    if (this.timer || !this.hwMode || this.hung) return;
    if (this.armed.length === 0 && this.writeback.length === 0 && this.frameListeners.size === 0) return;
    const clock = this.kms.dev.kernel.clock;
    const period = this.framedurNs;
    const k = Math.floor((clock.now() - this.vblankBase) / period) + 1;
    this.timer = clock.addTimer(this.vblankBase + k * period - clock.now(), () => this.vblank(k), this.timerName);
  }

  /** The vblank interrupt (vkms_vblank_simulate): count, events, composition, writeback. */
  private vblank(k: number): void {
    this.timer = undefined;
    const kernel = this.kms.dev.kernel;
    // fail_device_stall: the display controller stops raising vblanks until the CRTC is turned off.
    if (kernel.faults.shouldFail("fail_device_stall", this.kms.dev.device.name)) return void (this.hung = true);
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
