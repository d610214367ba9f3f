/**
 * The DRM/KMS suite, after IGT (tests/core_getversion.c, kms_addfb_basic.c, prime_self_import.c,
 * kms_atomic.c, kms_flip.c) and drivers/gpu/drm/drm_{ioctl,gem,prime,framebuffer,atomic_uapi}.c.
 */
import { MAP_SHARED, O_RDWR, POLLIN, PROT_READ, PROT_WRITE, callAs, dmaBufGet, dmaBufPut, type Process } from "@dmabuf/core";
import {
  DRM_CAP_DUMB_BUFFER, DRM_CAP_PRIME, DRM_CLIENT_CAP_ATOMIC, DRM_CLOEXEC, DRM_EVENT_FLIP_COMPLETE, DRM_FORMAT_XRGB8888,
  DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_GET_CAP, DRM_IOCTL_MODE_ADDFB2, DRM_IOCTL_MODE_ATOMIC, DRM_IOCTL_MODE_CREATEPROPBLOB,
  DRM_IOCTL_MODE_CREATE_DUMB, DRM_IOCTL_MODE_DESTROY_DUMB, DRM_IOCTL_MODE_GETCONNECTOR, DRM_IOCTL_MODE_GETPLANERESOURCES,
  DRM_IOCTL_MODE_GETPROPERTY, DRM_IOCTL_MODE_GETRESOURCES, DRM_IOCTL_MODE_MAP_DUMB, DRM_IOCTL_MODE_OBJ_GETPROPERTIES,
  DRM_IOCTL_MODE_RMFB, DRM_IOCTL_PRIME_FD_TO_HANDLE, DRM_IOCTL_PRIME_HANDLE_TO_FD, DRM_IOCTL_SET_CLIENT_CAP, DRM_IOCTL_VERSION,
  DRM_MODE_ATOMIC_ALLOW_MODESET, DRM_MODE_ATOMIC_NONBLOCK, DRM_MODE_CONNECTED, DRM_MODE_OBJECT_ANY, DRM_MODE_PAGE_FLIP_EVENT,
  DRM_PRIME_CAP_EXPORT, DRM_PRIME_CAP_IMPORT, DRM_RDWR, modeinfoBlob, parseDrmEvents, type PropValue, type drm_get_cap,
  type drm_mode_atomic, type drm_mode_card_res, type drm_mode_create_dumb, type drm_mode_fb_cmd2, type drm_mode_get_connector,
  type drm_mode_get_plane_res, type drm_mode_modeinfo, type drm_mode_obj_get_properties, type drm_prime_handle, type drm_version,
} from "@dmabuf/drm-sim";
import { NotSupported, expectEqual, expectErrno, expectTrue, type ConformanceCheck, type ConformanceSuite, type ConformanceTarget } from "./conformance.js";

/** A DRM device node under test (/dev/dri/cardN). */
export type DrmTarget = ConformanceTarget;

interface Dumb {
  handle: number;
  pitch: number;
  size: number;
}

async function createDumb(p: Process, fd: number, width: number, height: number, bpp = 32): Promise<Dumb> {
  const a: drm_mode_create_dumb = { width, height, bpp, flags: 0 };
  await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, a);
  return a as Dumb;
}

async function getCap(p: Process, fd: number, capability: number): Promise<bigint> {
  const c: drm_get_cap = { capability };
  await p.ioctl(fd, DRM_IOCTL_GET_CAP, c);
  return BigInt(c.value ?? 0);
}

async function addFb(p: Process, fd: number, width: number, height: number, handle: number, pitch: number, format = DRM_FORMAT_XRGB8888): Promise<number> {
  const cmd: drm_mode_fb_cmd2 = { width, height, pixel_format: format, flags: 0, handles: [handle, 0, 0, 0], pitches: [pitch, 0, 0, 0], offsets: [0, 0, 0, 0] };
  await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, cmd);
  return cmd.fb_id!;
}

async function primeExport(p: Process, fd: number, handle: number): Promise<number> {
  const a: drm_prime_handle = { handle, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
  await p.ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, a);
  return a.fd;
}

async function primeImport(p: Process, fd: number, dmabuf: number): Promise<number> {
  const a: drm_prime_handle = { handle: 0, flags: 0, fd: dmabuf };
  await p.ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, a);
  return a.handle;
}

/** GETRESOURCES in the two calls libdrm makes; NotSupported on a device without modesetting. */
async function resources(p: Process, fd: number): Promise<{ crtcs: number[]; connectors: number[]; encoders: number[] }> {
  const res: drm_mode_card_res = { count_fbs: 0, count_crtcs: 0, count_connectors: 0, count_encoders: 0 };
  try {
    await p.ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, res);
  } catch (e) {
    if ((e as { code?: string }).code === "EOPNOTSUPP") throw new NotSupported("no modesetting (DRIVER_MODESET)");
    throw e;
  }
  const crtcs: number[] = [];
  const connectors: number[] = [];
  const encoders: number[] = [];
  Object.assign(res, { crtc_id_ptr: crtcs, connector_id_ptr: connectors, encoder_id_ptr: encoders, count_fbs: 0 });
  await p.ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, res);
  return { crtcs, connectors, encoders };
}

/** Property ids by name over objects (drmModeObjectGetProperties + drmModeGetProperty). */
async function propIds(p: Process, fd: number, objs: number[]): Promise<Map<string, number>> {
  const props = new Map<string, number>();
  for (const obj of objs) {
    const q: drm_mode_obj_get_properties = { obj_id: obj, obj_type: DRM_MODE_OBJECT_ANY, count_props: 0 };
    await p.ioctl(fd, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, q);
    const ids: number[] = [];
    Object.assign(q, { props_ptr: ids, prop_values_ptr: [] });
    await p.ioctl(fd, DRM_IOCTL_MODE_OBJ_GETPROPERTIES, q);
    for (const id of ids) {
      const gp = { prop_id: id, count_values: 0, count_enum_blobs: 0 } as { prop_id: number; count_values: number; count_enum_blobs: number; name?: string };
      await p.ioctl(fd, DRM_IOCTL_MODE_GETPROPERTY, gp);
      props.set(gp.name!, id);
    }
  }
  return props;
}

async function atomic(p: Process, fd: number, props: Map<string, number>, objs: Record<number, Record<string, PropValue>>, flags: number, userData = 0n): Promise<number> {
  const objIds: number[] = [];
  const counts: number[] = [];
  const ids: number[] = [];
  const values: PropValue[] = [];
  for (const [obj, pv] of Object.entries(objs)) {
    objIds.push(Number(obj));
    counts.push(Object.keys(pv).length);
    for (const [name, v] of Object.entries(pv)) {
      expectTrue(props.has(name), `property ${name} is exposed`);
      ids.push(props.get(name)!);
      values.push(v);
    }
  }
  const a: drm_mode_atomic = { flags, count_objs: objIds.length, objs_ptr: objIds, count_props_ptr: counts, props_ptr: ids, prop_values_ptr: values, user_data: userData };
  return p.ioctl(fd, DRM_IOCTL_MODE_ATOMIC, a);
}

const checks: ConformanceCheck<DrmTarget>[] = [
  {
    name: "DRM_IOCTL_VERSION/GET_CAP",
    cite: "IGT core_getversion; drm_ioctl.c drm_getcap(): a driver name, DRM_CAP_PRIME import and export, DRM_CAP_DUMB_BUFFER on KMS drivers",
    async run(ctx) {
      const fd = ctx.proc.open(ctx.device, O_RDWR);
      const v = { name_len: 0, date_len: 0, desc_len: 0 } as drm_version;
      await ctx.proc.ioctl(fd, DRM_IOCTL_VERSION, v);
      expectTrue(v.name, "DRM_IOCTL_VERSION names the driver");
      // drm_getcap(): DRM_CAP_DUMB_BUFFER is a KMS cap, EOPNOTSUPP on a render-only driver (vgem).
      const dumb = await getCap(ctx.proc, fd, DRM_CAP_DUMB_BUFFER).catch((e: { code?: string }) => (e.code === "EOPNOTSUPP" ? undefined : Promise.reject(e)));
      if (dumb !== undefined) expectEqual(dumb, 1n, "DRM_CAP_DUMB_BUFFER");
      const prime = await getCap(ctx.proc, fd, DRM_CAP_PRIME);
      expectEqual(prime & BigInt(DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT), BigInt(DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT), "DRM_CAP_PRIME");
    },
  },
  {
    name: "DRM_IOCTL_MODE_GETRESOURCES",
    cite: "drm_mode_config.c drm_mode_getresources(): a KMS device has CRTCs, encoders and a connected connector with modes",
    async run(ctx) {
      const p = ctx.proc;
      const fd = p.open(ctx.device, O_RDWR);
      const res = await resources(p, fd);
      expectTrue(res.crtcs.length > 0 && res.connectors.length > 0 && res.encoders.length > 0, `resources: ${JSON.stringify(res)}`);
      const gc: drm_mode_get_connector = { connector_id: res.connectors[0]!, count_modes: 0, count_props: 0, count_encoders: 0 };
      await p.ioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, gc);
      expectEqual(gc.connection, DRM_MODE_CONNECTED, "the first connector is connected");
      expectTrue(gc.count_modes > 0, "the connector lists modes");
    },
  },
  {
    name: "DRM_IOCTL_MODE_CREATE_DUMB",
    cite: "drm_dumb_buffers.c drm_mode_create_dumb(): pitch and size cover the request; bpp 0 is EINVAL; MAP_DUMB + mmap reach the pages; a destroyed handle is gone",
    async run(ctx) {
      const p = ctx.proc;
      const fd = p.open(ctx.device, O_RDWR);
      await expectErrno(createDumb(p, fd, 64, 64, 0), "EINVAL", "CREATE_DUMB with bpp 0");
      const d = await createDumb(p, fd, 64, 48);
      expectTrue(d.handle > 0 && d.pitch >= 64 * 4 && d.size >= d.pitch * 48, `CREATE_DUMB 64x48x32 gave pitch ${d.pitch}, size ${d.size}`);
      const m = { handle: d.handle, offset: 0 };
      await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, m);
      const vma = p.mmap(null, d.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, m.offset);
      vma.write(0, new Uint8Array([1, 2, 3, 4]));
      expectEqual(Array.from(vma.read(0, 4)).join(), "1,2,3,4", "dumb buffer mapping");
      p.munmap(vma);
      await p.ioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: d.handle });
      await expectErrno(p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, { handle: d.handle }), "ENOENT", "MAP_DUMB of a destroyed handle");
    },
  },
  {
    name: "PRIME self-import",
    cite: "IGT prime_self_import (with_one_bo, export_vs_gem_close): importing our own export gives the same handle; two exports share one dma-buf; the dma-buf keeps the object after GEM_CLOSE",
    async run(ctx) {
      const p = ctx.proc;
      const fd = p.open(ctx.device, O_RDWR);
      const d = await createDumb(p, fd, 64, 64);
      const a = await primeExport(p, fd, d.handle);
      const b = await primeExport(p, fd, d.handle);
      expectEqual(p.readlink(`/proc/self/fd/${a}`).startsWith("/dmabuf:"), true, "PRIME_HANDLE_TO_FD gives a dma-buf");
      const bufA = callAs(ctx.kernel, p, () => dmaBufGet(ctx.kernel, a));
      const bufB = callAs(ctx.kernel, p, () => dmaBufGet(ctx.kernel, b));
      const same = bufA === bufB;
      dmaBufPut(bufA);
      dmaBufPut(bufB);
      expectTrue(same, "two exports of one handle are one dma-buf (drm_prime.c export cache)");
      expectEqual(await primeImport(p, fd, a), d.handle, "FD_TO_HANDLE of our own export");
      await p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: d.handle });
      const again = await primeImport(p, fd, b);
      expectTrue(again > 0, "the dma-buf keeps the GEM object alive after GEM_CLOSE");
      await p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: again });
      await expectErrno(primeImport(p, fd, 999), ["EBADF", "EINVAL"], "FD_TO_HANDLE of a closed fd");
      p.close(a);
      p.close(b);
    },
  },
  {
    name: "DRM_IOCTL_MODE_ADDFB2",
    cite: "IGT kms_addfb_basic (unused-handle, too-wide pitch, bad-pitch, size-max, unused-pixel-format): ENOENT for an unknown handle, EINVAL for a bad pitch, size or format; RMFB twice is ENOENT",
    async run(ctx) {
      const p = ctx.proc;
      const fd = p.open(ctx.device, O_RDWR);
      await resources(p, fd);
      const d = await createDumb(p, fd, 64, 64);
      await expectErrno(addFb(p, fd, 64, 64, d.handle + 100, d.pitch), "ENOENT", "ADDFB2 with an unused handle");
      await expectErrno(addFb(p, fd, 64, 64, d.handle, 64), "EINVAL", "ADDFB2 with a pitch below width x cpp");
      await expectErrno(addFb(p, fd, 0, 64, d.handle, d.pitch), "EINVAL", "ADDFB2 with width 0");
      await expectErrno(addFb(p, fd, 64, 64, d.handle, d.pitch, 0x20202020), "EINVAL", "ADDFB2 with an unknown format");
      await expectErrno(addFb(p, fd, 64, 4096, d.handle, d.pitch), "EINVAL", "ADDFB2 larger than the buffer");
      const fb = await addFb(p, fd, 64, 64, d.handle, d.pitch);
      expectTrue(fb > 0, "ADDFB2 gives an fb id");
      await p.ioctl(fd, DRM_IOCTL_MODE_RMFB, fb);
      await expectErrno(p.ioctl(fd, DRM_IOCTL_MODE_RMFB, fb), "ENOENT", "RMFB twice");
    },
  },
  {
    name: "Atomic flip with event",
    cite: "IGT kms_atomic / kms_flip: an ALLOW_MODESET commit lights the CRTC; a NONBLOCK|PAGE_FLIP_EVENT commit delivers one DRM_EVENT_FLIP_COMPLETE with user_data (drm_atomic_uapi.c)",
    async run(ctx) {
      const p = ctx.proc;
      const fd = p.open(ctx.device, O_RDWR);
      const res = await resources(p, fd);
      await p.ioctl(fd, DRM_IOCTL_SET_CLIENT_CAP, { capability: DRM_CLIENT_CAP_ATOMIC, value: 1 });
      const gc: drm_mode_get_connector = { connector_id: res.connectors[0]!, count_modes: 0, count_props: 0, count_encoders: 0 };
      await p.ioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, gc);
      const modes: drm_mode_modeinfo[] = [];
      Object.assign(gc, { modes_ptr: modes, count_props: 0, count_encoders: 0 });
      await p.ioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, gc);
      const mode = modes[0]!;
      const pr: drm_mode_get_plane_res = { count_planes: 0 };
      await p.ioctl(fd, DRM_IOCTL_MODE_GETPLANERESOURCES, pr);
      const planes: number[] = [];
      pr.plane_id_ptr = planes;
      await p.ioctl(fd, DRM_IOCTL_MODE_GETPLANERESOURCES, pr);
      const crtc = res.crtcs[0]!;
      const connector = res.connectors[0]!;
      const props = await propIds(p, fd, [crtc, connector, planes[0]!]);
      const w = mode.hdisplay;
      const h = mode.vdisplay;
      const fbs: number[] = [];
      for (let i = 0; i < 2; i++) {
        const d = await createDumb(p, fd, w, h);
        fbs.push(await addFb(p, fd, w, h, d.handle, d.pitch));
      }
      const data = modeinfoBlob(mode);
      const blob = { data, length: data.length, blob_id: 0 };
      await p.ioctl(fd, DRM_IOCTL_MODE_CREATEPROPBLOB, blob);
      const plane = (fb: number) => ({ FB_ID: fb, CRTC_ID: crtc, CRTC_X: 0, CRTC_Y: 0, CRTC_W: w, CRTC_H: h, SRC_X: 0, SRC_Y: 0, SRC_W: w << 16, SRC_H: h << 16 });
      await atomic(p, fd, props, { [crtc]: { ACTIVE: 1, MODE_ID: blob.blob_id }, [connector]: { CRTC_ID: crtc }, [planes[0]!]: plane(fbs[0]!) }, DRM_MODE_ATOMIC_ALLOW_MODESET);
      await atomic(p, fd, props, { [planes[0]!]: { FB_ID: fbs[1]! } }, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 77n);
      const pfd = [{ fd, events: POLLIN, revents: 0 }];
      expectEqual(await p.poll(pfd, 1000), 1, "poll for the flip event");
      const evs = parseDrmEvents(await p.read(fd));
      expectEqual(evs.length, 1, "one event per flip");
      expectEqual(evs[0]!.type, DRM_EVENT_FLIP_COMPLETE, "event type");
      expectEqual(evs[0]!.user_data, 77n, "event user_data");
      expectEqual(evs[0]!.crtc_id, crtc, "event crtc_id");
    },
  },
];

export const drmSuite: ConformanceSuite<DrmTarget> = { name: "DRM/KMS", checks };
