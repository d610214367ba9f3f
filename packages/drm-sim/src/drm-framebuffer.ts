/**
 * Framebuffers: DRM_IOCTL_MODE_ADDFB2 with every check of drm_mode_addfb2() ->
 * drm_internal_framebuffer_create() -> framebuffer_check() and the GEM helper's
 * drm_gem_fb_init_with_funcs() (drivers/gpu/drm/drm_framebuffer.c, drm_gem_framebuffer_helper.c),
 * in the kernel's order, so each bad argument gets the errno Linux gives it.
 */
import { check } from "@dmabuf/core";
import type { DrmFile } from "./drm-device.js";
import { drmFormatInfo, minPitch, planeHeight, planeWidth, type DrmFormatInfo } from "./drm-format.js";
import type { DrmGemObject } from "./drm-gem.js";
import type { PlaneMemory } from "./composer.js";
import * as U from "./uapi.js";

const UINT_MAX = 0xffffffff;
const CALL = "DRM_IOCTL_MODE_ADDFB2";

/** mode_config limits and what the planes can scan out, as ADDFB2 needs them. */
export interface FbLimits {
  readonly minWidth: number;
  readonly maxWidth: number;
  readonly minHeight: number;
  readonly maxHeight: number;
  /** drm_any_plane_has_format(dev, format, modifier) */
  anyPlaneHasFormat(format: number, modifier: bigint): boolean;
}

/** struct drm_framebuffer. Refcounted: the owning file's list, plane states and commits hold references. */
export class DrmFramebuffer {
  private refs = 1;
  /** The file whose fb list holds it (drm_file.fbs); null once RMFB or close removed it. */
  owner: DrmFile | null;
  /** fb->comm: the task that created it. */
  readonly comm: string;

  constructor(
    readonly id: number,
    readonly width: number,
    readonly height: number,
    readonly format: DrmFormatInfo,
    readonly flags: number,
    readonly pitches: readonly number[],
    readonly offsets: readonly number[],
    readonly modifier: bigint,
    /** One GEM object per format plane (may repeat), each holding a reference. */
    readonly objs: readonly DrmGemObject[],
    owner: DrmFile,
    private readonly onFree: (fb: DrmFramebuffer) => void,
  ) {
    this.owner = owner;
    this.comm = owner.comm;
  }

  get refcount(): number {
    return this.refs;
  }

  get(): this {
    this.refs++;
    return this;
  }

  /** drm_framebuffer_put(): the last reference drops the GEM objects and the fb id. */
  put(): void {
    if (--this.refs > 0) return;
    for (const o of this.objs) o.put();
    this.onFree(this);
  }

  /** Where each format plane's bytes are, for the composer and writeback. */
  planeMemory(): PlaneMemory[] {
    return this.objs.map((o, i) => ({ bytes: o.bytes(), offset: this.offsets[i]!, pitch: this.pitches[i]! }));
  }
}

/**
 * Validates an ADDFB2 request and looks up its buffer objects; returns the format and objects
 * (without taking references). Throws the errno Linux returns at the first failing check.
 */
export function framebufferCheck(r: U.drm_mode_fb_cmd2, limits: FbLimits, lookup: (handle: number) => DrmGemObject | undefined): { info: DrmFormatInfo; objs: DrmGemObject[] } {
  const handles = slots(r.handles);
  const pitches = slots(r.pitches);
  const offsets = slots(r.offsets);
  const modifier = (r.modifier ?? []).concat([0n, 0n, 0n, 0n]).slice(0, 4);
  const withMods = (r.flags & U.DRM_MODE_FB_MODIFIERS) !== 0;

  // drm_internal_framebuffer_create()
  check(!(r.flags & ~(U.DRM_MODE_FB_INTERLACED | U.DRM_MODE_FB_MODIFIERS)), "EINVAL", CALL, `bad framebuffer flags 0x${r.flags.toString(16).padStart(8, "0")}`);
  check(r.width >= limits.minWidth && r.width <= limits.maxWidth, "EINVAL", CALL, `bad framebuffer width ${r.width}, should be >= ${limits.minWidth} && <= ${limits.maxWidth}`);
  check(r.height >= limits.minHeight && r.height <= limits.maxHeight, "EINVAL", CALL, `bad framebuffer height ${r.height}, should be >= ${limits.minHeight} && <= ${limits.maxHeight}`);

  // framebuffer_check()
  const info = drmFormatInfo(r.pixel_format);
  check(info, "EINVAL", CALL, `bad framebuffer format ${U.fourccName(r.pixel_format)} (0x${(r.pixel_format >>> 0).toString(16)})`);
  check(r.width !== 0, "EINVAL", CALL, `bad framebuffer width ${r.width}`);
  check(r.height !== 0, "EINVAL", CALL, `bad framebuffer height ${r.height}`);
  for (let i = 0; i < info.numPlanes; i++) {
    const width = planeWidth(info, r.width, i);
    const height = planeHeight(info, r.height, i);
    const cpp = info.cpp[i]!;
    check(handles[i], "EINVAL", CALL, `no buffer object handle for plane ${i}`);
    check(width * cpp <= UINT_MAX, "ERANGE", CALL, `plane ${i}: width * cpp overflows 32 bits`);
    check(height * pitches[i]! + offsets[i]! <= UINT_MAX, "ERANGE", CALL, `plane ${i}: height * pitch + offset overflows 32 bits`);
    check(pitches[i]! >= width * cpp, "EINVAL", CALL, `bad pitch ${pitches[i]} for plane ${i} (at least ${width * cpp})`);
    check(!modifier[i] || withMods, "EINVAL", CALL, `bad fb modifier ${modifier[i]} for plane ${i}: DRM_MODE_FB_MODIFIERS not set`);
    check(!withMods || modifier[i] === modifier[0], "EINVAL", CALL, `bad fb modifier ${modifier[i]} for plane ${i}: all planes must share modifier[0]`);
  }
  for (let i = info.numPlanes; i < 4; i++) {
    check(!modifier[i], "EINVAL", CALL, `non-zero modifier for unused plane ${i}`);
    // Pre-FB_MODIFIERS userspace didn't clear the structs properly.
    if (!withMods) continue;
    check(!handles[i], "EINVAL", CALL, `buffer object handle for unused plane ${i}`);
    check(!pitches[i], "EINVAL", CALL, `non-zero pitch for unused plane ${i}`);
    check(!offsets[i], "EINVAL", CALL, `non-zero offset for unused plane ${i}`);
  }

  // drm_gem_fb_init_with_funcs(): atomic drivers first check some plane can scan it out.
  const mod = withMods ? modifier[0]! : U.DRM_FORMAT_MOD_LINEAR;
  check(limits.anyPlaneHasFormat(r.pixel_format, mod), "EINVAL", CALL, `unsupported pixel format ${U.fourccName(r.pixel_format)} / modifier 0x${mod.toString(16)}`);
  const objs: DrmGemObject[] = [];
  for (let i = 0; i < info.numPlanes; i++) {
    const obj = lookup(handles[i]!);
    check(obj, "ENOENT", CALL, `failed to lookup GEM object for handle ${handles[i]} (plane ${i})`);
    const min = (planeHeight(info, r.height, i) - 1) * pitches[i]! + minPitch(info, i, r.width) + offsets[i]!;
    check(obj.size >= min, "EINVAL", CALL, `GEM object size (${obj.size}) smaller than minimum size (${min}) for plane ${i}`);
    objs.push(obj);
  }
  return { info, objs };
}

const slots = (a: readonly number[] | undefined) => (a ?? []).concat([0, 0, 0, 0]).slice(0, 4).map((x) => x >>> 0);
