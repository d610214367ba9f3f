/**
 * Atomic modesetting (drivers/gpu/drm/drm_atomic_uapi.c, drm_atomic.c, drm_atomic_helper.c):
 * DRM_IOCTL_MODE_ATOMIC builds a state from object/property/value triples, checks it like
 * drm_atomic_check_only() and the helpers (and vkms' plane and writeback checks), then commits it:
 * events and out-fences are prepared, the state is swapped, and a commit worker waits for the
 * planes' fences before the hardware takes the new state and the flip completes at a vblank.
 */
import { Errno, NSEC_PER_SEC, check, type DmaFence } from "@dmabuf/core";
import { WRITEBACK_FORMATS } from "./composer.js";
import { DrmConnector, type ConnectorState } from "./drm-connector.js";
import { DrmCrtc, type CrtcCommit, type CrtcState, type PendingFlip, type WritebackJob } from "./drm-crtc.js";
import type { DrmFile } from "./drm-device.js";
import type { DrmFramebuffer } from "./drm-framebuffer.js";
import { DrmPlane, type PlaneState } from "./drm-plane.js";
import { DrmPropertyBlob, INT_MAX, P, type DrmProperty } from "./drm-property.js";
import { createOutFence, fbImplicitFences, installSyncFile, syncFileFence, whenSignaled } from "./internal/fences.js";
import type { KmsDevice } from "./kms.js";
import * as U from "./uapi.js";

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

/** The ATOMIC ioctl of one KMS device. */
export class DrmAtomic {
  constructor(private readonly kms: KmsDevice) {}

  /** drm_mode_atomic_ioctl() */
  ioctl(f: DrmFile, a: U.drm_mode_atomic): number | Promise<number> {
    const call = "DRM_IOCTL_MODE_ATOMIC";
    check(f.atomic, "EINVAL", call, "DRM_CLIENT_CAP_ATOMIC not set on this file");
    check(!(a.flags & ~U.DRM_MODE_ATOMIC_FLAGS), "EINVAL", call, () => `unknown flags 0x${a.flags.toString(16)}`);
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
      const o = this.kms.objects.get(Number(objs[i]));
      check(o, "ENOENT", call, () => `unknown object id ${objs[i]}`);
      check(o instanceof DrmPlane || o instanceof DrmCrtc || o instanceof DrmConnector, "ENOENT", call, () => `object ${o.id} has no properties`);
      for (let j = 0; j < Number(counts[i]); j++, k++) {
        const prop = this.kms.atomicProp(o, Number(props[k]));
        check(prop, "ENOENT", call, () => `object ${o.id} has no property ${props[k]}`);
        this.setProperty(state, o, prop, values[k] as U.PropValue, outPtrs);
      }
    }
  }

  /** drm_atomic_{plane,crtc,connector}_set_property() */
  private setProperty(state: AtomicState, o: DrmPlane | DrmCrtc | DrmConnector, prop: DrmProperty, raw: U.PropValue, outPtrs: Int32Array[]): void {
    const call = "DRM_IOCTL_MODE_ATOMIC";
    check(!(prop.flags & U.DRM_MODE_PROP_IMMUTABLE), "EINVAL", call, () => `property ${prop.name} is immutable`);
    if (prop.name === P.OUT_FENCE_PTR || prop.name === P.WRITEBACK_OUT_FENCE_PTR) {
      const ptr = outFencePtr(raw, prop, outPtrs, call);
      if (o instanceof DrmCrtc) state.crtc(o).outFencePtr = ptr;
      else state.connector(o as DrmConnector).writebackOutFencePtr = ptr;
      return;
    }
    check(!(raw instanceof Int32Array), "EINVAL", call, () => `${prop.name} takes a number`);
    // Values are u64 on the wire; the usual small non-negative ones skip the BigInt round trip.
    const small = typeof raw === "number" && raw >= 0 && Number.isSafeInteger(raw);
    const u = small ? raw : BigInt.asUintN(64, BigInt(raw));
    const s64 = small ? raw : Number(BigInt.asIntN(64, BigInt(u)));
    if (prop.is(U.DRM_MODE_PROP_RANGE)) check(u >= prop.values[0]! && u <= prop.values[1]!, "EINVAL", call, () => `${prop.name} value ${u} outside [${prop.values[0]}, ${prop.values[1]}]`);
    if (prop.is(U.DRM_MODE_PROP_SIGNED_RANGE)) check(s64 >= Number(BigInt.asIntN(64, prop.values[0]!)) && s64 <= Number(BigInt.asIntN(64, prop.values[1]!)), "EINVAL", call, () => `${prop.name} value ${s64} out of range`);
    const v = Number(u);
    if (o instanceof DrmPlane) {
      const s = state.plane(o);
      switch (prop.name) {
        case P.FB_ID: {
          // An unknown id sets no fb: the check then refuses a plane with a CRTC and no fb.
          const fb = v ? (this.kms.fb(v) ?? null) : null;
          s.fb = fb;
          return;
        }
        case P.IN_FENCE_FD: {
          check(!s.fence, "EINVAL", call, "IN_FENCE_FD set twice for the same plane in one commit");
          if (s64 === -1) return;
          const fence = syncFileFence(this.kms.dev.kernel, s64);
          check(fence, "EINVAL", call, () => `IN_FENCE_FD ${s64} is not a sync_file`);
          s.fence = fence;
          return;
        }
        case P.CRTC_ID: {
          const crtc = v ? this.kms.find(v, DrmCrtc) : null;
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
        const blob = this.kms.find(v, DrmPropertyBlob);
        check(blob && blob.data.length === U.DRM_MODE_MODEINFO_SIZE, "EINVAL", call, `MODE_ID ${v} is not a ${U.DRM_MODE_MODEINFO_SIZE}-byte mode blob`);
        validateMode(U.parseModeinfo(blob.data), call);
        s.mode = blob;
        s.enable = true;
        return;
      }
    } else {
      const s = state.connector(o);
      if (prop.name === P.CRTC_ID) {
        const crtc = v ? this.kms.find(v, DrmCrtc) : null;
        check(!v || crtc, "EACCES", call, `cannot find CRTC with ID ${v}`);
        s.crtc = crtc ?? null;
        if (crtc) state.crtc(crtc);
        return;
      }
      if (prop.name === P.WRITEBACK_FB_ID) {
        const fb = v ? this.kms.fb(v) : null;
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
      check(!(s.crtc && !s.fb), "EINVAL", call, () => `[PLANE:${p.id}] CRTC set but no FB`);
      check(!(s.fb && !s.crtc), "EINVAL", call, () => `[PLANE:${p.id}] FB set but no CRTC`);
      if (!s.crtc || !s.fb) continue;
      check(p.possibleCrtcs & (1 << s.crtc.index), "EINVAL", call, () => `[PLANE:${p.id}] invalid CRTC ${s.crtc!.id}`);
      check(p.formats.includes(s.fb.format.format) && s.fb.modifier === U.DRM_FORMAT_MOD_LINEAR, "EINVAL", call, () => `[PLANE:${p.id}] invalid pixel format ${U.fourccName(s.fb!.format.format)}, modifier 0x${s.fb!.modifier.toString(16)}`);
      check(s.crtcW <= INT_MAX && s.crtcX <= INT_MAX - s.crtcW && s.crtcH <= INT_MAX && s.crtcY <= INT_MAX - s.crtcH, "ERANGE", call, () => `[PLANE:${p.id}] invalid CRTC coordinates`);
      const fw = s.fb.width * 65536;
      const fh = s.fb.height * 65536;
      check(s.srcW <= fw && s.srcX <= fw - s.srcW && s.srcH <= fh && s.srcY <= fh - s.srcH, "ENOSPC", call, () => `[PLANE:${p.id}] invalid source coordinates ${s.srcW / 65536}x${s.srcH / 65536}+${s.srcX / 65536}+${s.srcY / 65536} (fb ${s.fb!.width}x${s.fb!.height})`);
      // drm_atomic_helper_check_plane_state(.., DRM_PLANE_NO_SCALING, ..): source and CRTC sizes must match.
      check(scaleFactor(s.srcW, s.crtcW) === 0x10000 && scaleFactor(s.srcH, s.crtcH) === 0x10000, "ERANGE", call, () => `[PLANE:${p.id}] scaling ${s.srcW / 65536}x${s.srcH / 65536} -> ${s.crtcW}x${s.crtcH} is not supported`);
    }
    for (const [c, s] of state.connectors) {
      if (!c.isWriteback) continue;
      // drm_atomic_connector_check() + vkms_wb_atomic_check()
      check(!(s.writebackOutFencePtr && !s.writebackFb), "EINVAL", call, () => `[CONNECTOR:${c.id}] requesting out-fence without framebuffer`);
      if (!s.writebackFb) continue;
      check(s.crtc, "EINVAL", call, () => `[CONNECTOR:${c.id}] writeback job without a CRTC`);
      const cs = state.crtc(s.crtc);
      const mode = cs.mode ? U.parseModeinfo(cs.mode.data) : null;
      check(mode && s.writebackFb.width === mode.hdisplay && s.writebackFb.height === mode.vdisplay, "EINVAL", call, () => `[CONNECTOR:${c.id}] invalid framebuffer size ${s.writebackFb!.width}x${s.writebackFb!.height}`);
      check(WRITEBACK_FORMATS.includes(s.writebackFb.format.format), "EINVAL", call, () => `[CONNECTOR:${c.id}] invalid pixel format ${U.fourccName(s.writebackFb!.format.format)}`);
    }
    for (const [crtc, s] of state.crtcs) {
      // drm_atomic_crtc_check()
      check(!(s.active && !s.enable), "EINVAL", call, () => `[CRTC:${crtc.id}] active without enabled`);
      check(!(s.enable && !s.mode), "EINVAL", call, () => `[CRTC:${crtc.id}] enabled without mode blob`);
      check(!(!s.enable && s.mode), "EINVAL", call, () => `[CRTC:${crtc.id}] disabled with mode blob`);
      // drm_atomic_helper_check_modeset(): enable must match having connectors.
      const hasConnectors = this.kms.connectors.some((c) => (state.connectors.get(c) ?? c.state).crtc === crtc);
      check(s.enable === hasConnectors, "EINVAL", call, () => `[CRTC:${crtc.id}] enabled/connectors mismatch`);
      const modeChanged = (s.mode?.id ?? 0) !== (crtc.state.mode?.id ?? 0) && !sameBytes(s.mode?.data, crtc.state.mode?.data);
      const connectorsChanged = this.kms.connectors.some((c) => state.connectors.has(c) && (c.state.crtc === crtc) !== (state.connectors.get(c)!.crtc === crtc));
      const needsModeset = modeChanged || s.active !== crtc.state.active || connectorsChanged;
      check(!needsModeset || allowModeset, "EINVAL", call, () => `[CRTC:${crtc.id}] requires full modeset`);
    }
    return new Set(state.crtcs.keys());
  }

  /** drm_atomic_helper_commit(): setup (stall check), swap, then the commit tail (now or in a worker). */
  private commit(f: DrmFile, a: U.drm_mode_atomic, state: AtomicState, crtcs: Set<DrmCrtc>): number | Promise<number> {
    const call = "DRM_IOCTL_MODE_ATOMIC";
    const nonblock = (a.flags & U.DRM_MODE_ATOMIC_NONBLOCK) !== 0;
    const wantEvent = (a.flags & U.DRM_MODE_PAGE_FLIP_EVENT) !== 0;
    // stall_checks(): a nonblocking commit may not queue behind an unfinished flip.
    for (const c of crtcs) check(!(nonblock && c.lastCommit && !c.lastCommit.flipDone), "EBUSY", call, () => `[CRTC:${c.id}] previous flip has not completed yet`);
    // prepare_signaling(): events reserved, out-fences created and their sync_files installed;
    // all undone if any step fails (EMFILE, ENOMEM), so a failed commit leaves nothing behind.
    let reserved = 0;
    const installed: { fd: number; fence: DmaFence }[] = [];
    const flips = new Map<DrmCrtc, { outFence: DmaFence | null }>();
    const wbJobs = new Map<DrmCrtc, WritebackJob>();
    try {
      for (const c of crtcs) if (wantEvent) {
        check(state.crtc(c).active || c.state.active, "EINVAL", call, () => `[CRTC:${c.id}] requesting event but off`);
        f.reserveEvent(U.DRM_EVENT_VBLANK_SIZE);
        reserved++;
      }
      for (const c of crtcs) {
        const ptr = state.crtc(c).outFencePtr;
        flips.set(c, { outFence: ptr ? this.outFence(c, ptr, installed) : null });
      }
      for (const s of state.connectors.values()) {
        if (!s.writebackFb || !s.crtc) continue;
        wbJobs.set(s.crtc, { fb: s.writebackFb, outFence: s.writebackOutFencePtr ? this.outFence(s.crtc, s.writebackOutFencePtr, installed) : null });
      }
    } catch (e) {
      f.cancelEvent(reserved * U.DRM_EVENT_VBLANK_SIZE);
      for (const { fd, fence } of installed) {
        this.kms.dev.kernel.current?.fds.remove(fd)?.put();
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
      this.kms.putBlob(c.state.mode);
      c.state = { active: s.active, enable: s.enable, mode: s.mode };
    }
    for (const [c, s] of state.connectors) c.state = { crtc: s.crtc, writebackFb: null, writebackOutFencePtr: null };

    let resolveAll!: () => void;
    const allDone = new Promise<void>((r) => (resolveAll = r));
    const trackers = new Map<DrmCrtc, CrtcCommit>();
    const previous = [...crtcs].flatMap((c) => (c.lastCommit ? [{ crtc: c, commit: c.lastCommit }] : []));
    for (const c of crtcs) {
      const t = { flipDone: false, allDone: false, done: allDone };
      trackers.set(c, t);
      c.lastCommit = t;
    }
    if (crtcs.size === 0) resolveAll();
    const kernel = this.kms.dev.kernel;
    // The commit worker (commit_tail). No named closures per commit: under keepNames (tsx runs the
    // CLI and the benches) each costs a defineProperty.
    const work = (async () => {
      // drm_atomic_helper_wait_for_dependencies(): each CRTC's previous commit, 10 s each
      // (drm_crtc_commit_wait), then wait_for_fences()
      // (a previous commit already done, as a nonblocking one always is, needs no wait or timer)
      for (const { crtc, commit } of previous)
        if (!commit.allDone && (await this.timedOut(commit.done, "commit wait timeout"))) {
          kernel.printk("[drm:drm_crtc_commit_wait] *ERROR* flip_done timed out");
          kernel.printk(`[drm:drm_atomic_helper_wait_for_dependencies] *ERROR* [CRTC:${crtc.id}:crtc-${crtc.index}] commit wait timed out`);
        }
      const t0 = this.kms.dev.kernel.clock.now();
      await Promise.all(fences.map((x) => whenSignaled(x)));
      const trace = this.kms.dev.kernel.trace;
      if (fences.length) for (const c of crtcs) trace.slice(`${this.kms.dev.driver.name} crtc-${c.index} commit`, "wait_for_fences", t0, this.kms.dev.kernel.clock.now() - t0, { fences: fences.length });
      for (const x of fences) x.put();
      // commit_planes + modeset enables/disables: the hardware takes the new state.
      this.kms.programHw(crtcs);
      for (const c of crtcs) {
        const job = wbJobs.get(c);
        if (job) c.writeback.push(job);
        const flip: PendingFlip = { file: wantEvent ? f : null, userData: a.user_data ?? 0n, outFence: flips.get(c)!.outFence, done: flipDone(trackers, c, resolveAll) };
        if (wantEvent) this.kms.dev.kernel.trace.emit("drm_vblank_event_queued", { crtc: c.index, seq: c.vblankCount + 1 });
        // vkms_crtc_atomic_flush(): armed for the next vblank, or sent now when the CRTC is off.
        if (c.hwMode) {
          c.armed.push(flip);
          c.scheduleVblank();
        } else this.kms.sendFlip(c, flip);
      }
      await this.waitForFlipDone(crtcs, trackers, allDone);
      // drm_atomic_helper_cleanup_planes(): the old framebuffers are no longer scanned out.
      for (const fb of oldFbs) fb.put();
    })();
    if (nonblock) return 0;
    return this.kms.dev.kernel.clock.block(work).then(() => 0);
  }

  /** An out-fence for `crtc` whose sync_file fd goes to `*ptr` (recorded in `installed` for undo). */
  private outFence(crtc: DrmCrtc, ptr: Int32Array, installed: { fd: number; fence: DmaFence }[]): DmaFence {
    const fence = createOutFence(crtc);
    try {
      ptr[0] = installSyncFile(this.kms.dev.kernel, fence, "DRM_IOCTL_MODE_ATOMIC");
    } catch (e) {
      fence.signal();
      fence.put();
      throw e;
    }
    installed.push({ fd: ptr[0], fence });
    return fence;
  }

  /**
   * drm_atomic_helper_wait_for_flip_done(): waits up to 10 s for every CRTC's flip; a CRTC whose
   * hardware never flips gets "[CRTC:id:name] flip_done timed out" in dmesg and the commit goes on
   * (its event and out-fence stay pending until the CRTC is turned off).
   */
  private async waitForFlipDone(crtcs: Set<DrmCrtc>, trackers: Map<DrmCrtc, { flipDone: boolean }>, allDone: Promise<void>): Promise<void> {
    if (!(await this.timedOut(allDone, "flip_done timeout"))) return;
    for (const c of crtcs) if (!trackers.get(c)!.flipDone) this.kms.dev.kernel.printk(`[drm:drm_atomic_helper_wait_for_flip_done] *ERROR* [CRTC:${c.id}:crtc-${c.index}] flip_done timed out`);
  }

  /** wait_for_completion_timeout(done, 10 * HZ) == 0: true when `done` did not settle within 10 s. */
  private timedOut(done: Promise<void>, name: string): Promise<boolean> {
    const clock = this.kms.dev.kernel.clock;
    return new Promise<boolean>((resolve) => {
      const timer = clock.addTimer(FLIP_DONE_TIMEOUT_NS, () => resolve(true), name);
      void done.then(() => {
        clock.cancelTimer(timer);
        resolve(false);
      });
    });
  }
}

/** drm_atomic_helper_wait_for_flip_done()'s wait_for_completion_timeout: 10 * HZ. */
export const FLIP_DONE_TIMEOUT_NS = 10 * NSEC_PER_SEC;

/** A flip's completion on `c`: its flip_done, and the whole commit's once every CRTC has flipped. */
function flipDone(trackers: Map<DrmCrtc, CrtcCommit>, c: DrmCrtc, resolveAll: () => void): () => void {
  return () => {
    trackers.get(c)!.flipDone = true;
    for (const t of trackers.values()) if (!t.flipDone) return;
    for (const t of trackers.values()) t.allDone = true;
    resolveAll();
  };
}

/** drm_calc_scale(): 16.16 source size per destination pixel (0 for an empty destination). */
const scaleFactor = (src: number, dst: number) => (dst === 0 ? 0 : Math.floor(src / dst));

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined) => !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);

/** drm_mode_validate_basic(): timings must be ordered; EINVAL otherwise. */
function validateMode(m: U.drm_mode_modeinfo, call: string): void {
  const ok = m.clock > 0 && m.hdisplay > 0 && m.hdisplay <= m.hsync_start && m.hsync_start <= m.hsync_end && m.hsync_end <= m.htotal && m.vdisplay > 0 && m.vdisplay <= m.vsync_start && m.vsync_start <= m.vsync_end && m.vsync_end <= m.vtotal;
  check(ok, "EINVAL", call, `mode "${m.name}" has invalid timings`);
}

/** get_out_fence_for_crtc/connector: an s32 __user pointer (an Int32Array here), set to -1 until the commit installs the fd; 0 for none. */
function outFencePtr(v: U.PropValue, prop: DrmProperty, outPtrs: Int32Array[], call: string): Int32Array | null {
  if (v instanceof Int32Array) {
    check(v.length >= 1, "EFAULT", call, `${prop.name}: pointer to an empty buffer`);
    v[0] = -1;
    outPtrs.push(v);
    return v;
  }
  check(BigInt(v) === 0n, "EFAULT", call, `${prop.name}: 0x${BigInt(v).toString(16)} is not a valid s32 __user pointer`);
  return null;
}

/** copy_from_user of `count` entries. */
function userArray<T>(ptr: U.UserPtr<T> | undefined, count: number, call: string): ArrayLike<T> {
  if (count === 0) return [];
  check(ptr && typeof ptr === "object" && ptr.length >= count, "EFAULT", call, () => `user array too short for ${count} entries`);
  return ptr as ArrayLike<T>;
}
