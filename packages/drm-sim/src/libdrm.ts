/**
 * libdrm for the model's userspace: what libdrm (xf86drm.c, xf86drmMode.c) and IGT's igt_kms wrap
 * around the DRM ioctls, for applications, tests and plugin authors. Everything goes through the
 * UAPI (ioctl, mmap, read on a card fd), as a C program would. Import as `libdrm` from the package.
 */
import { MAP_SHARED, PROT_READ, PROT_WRITE, type Process } from "@dmabuf/core";
import * as U from "./uapi.js";

/** DRM_IOCTL_MODE_CREATE_DUMB (drmModeCreateDumbBuffer): handle, pitch and size filled in. */
export async function createDumb(p: Process, fd: number, width: number, height: number, bpp = 32): Promise<U.drm_mode_create_dumb & { handle: number; pitch: number; size: number }> {
  const a: U.drm_mode_create_dumb = { width, height, bpp, flags: 0 };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_CREATE_DUMB, a);
  return a as U.drm_mode_create_dumb & { handle: number; pitch: number; size: number };
}

/** DRM_IOCTL_MODE_MAP_DUMB then mmap of the fake offset (drmModeMapDumbBuffer + mmap). */
export async function mapDumb(p: Process, fd: number, handle: number, size: number) {
  const m: U.drm_mode_map_dumb = { handle };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_MAP_DUMB, m);
  return p.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, m.offset!);
}

/** DRM_IOCTL_GEM_CLOSE (drmCloseBufferHandle). */
export async function gemClose(p: Process, fd: number, handle: number): Promise<void> {
  await p.ioctl(fd, U.DRM_IOCTL_GEM_CLOSE, { handle } satisfies U.drm_gem_close);
}

/** DRM_IOCTL_PRIME_HANDLE_TO_FD (drmPrimeHandleToFD): a dma-buf fd for a GEM handle. */
export async function handleToFd(p: Process, fd: number, handle: number, flags = U.DRM_CLOEXEC | U.DRM_RDWR): Promise<number> {
  const a: U.drm_prime_handle = { handle, flags, fd: -1 };
  await p.ioctl(fd, U.DRM_IOCTL_PRIME_HANDLE_TO_FD, a);
  return a.fd;
}

/** DRM_IOCTL_PRIME_FD_TO_HANDLE (drmPrimeFDToHandle): the GEM handle for a dma-buf fd, the same one on a re-import. */
export async function fdToHandle(p: Process, fd: number, dmabuf: number): Promise<number> {
  const a: U.drm_prime_handle = { handle: 0, flags: 0, fd: dmabuf };
  await p.ioctl(fd, U.DRM_IOCTL_PRIME_FD_TO_HANDLE, a);
  return a.handle;
}

/** DRM_IOCTL_MODE_ADDFB2 (drmModeAddFB2WithModifiers): the new framebuffer id. */
export async function addFb(p: Process, fd: number, width: number, height: number, format: number, handles: number[], pitches: number[], offsets: number[] = [0, 0, 0, 0], flags = 0, modifier?: bigint[]): Promise<number> {
  const cmd: U.drm_mode_fb_cmd2 = { width, height, pixel_format: format, flags, handles, pitches, offsets, ...(modifier && { modifier }) };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_ADDFB2, cmd);
  return cmd.fb_id!;
}

/** The ids igt_display_require finds: CRTC, connector, planes, and the property ids by name. */
export interface KmsIds {
  crtc: number;
  connector: number;
  writeback: number;
  primary: number;
  overlay: number;
  props: Map<string, number>;
  modes: U.drm_mode_modeinfo[];
}

/** Sets the ATOMIC and WRITEBACK_CONNECTORS client caps, then finds the pipe (drmModeGetResources, GetConnector, GetPlaneResources, ObjectGetProperties). */
export async function kmsIds(p: Process, fd: number): Promise<KmsIds> {
  await p.ioctl(fd, U.DRM_IOCTL_SET_CLIENT_CAP, { capability: U.DRM_CLIENT_CAP_ATOMIC, value: 1 });
  await p.ioctl(fd, U.DRM_IOCTL_SET_CLIENT_CAP, { capability: U.DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, value: 1 });
  const res: U.drm_mode_card_res = { count_fbs: 0, count_crtcs: 0, count_connectors: 0, count_encoders: 0 };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETRESOURCES, res);
  const crtcs: number[] = [];
  const conns: number[] = [];
  Object.assign(res, { crtc_id_ptr: crtcs, connector_id_ptr: conns, count_fbs: 0, count_encoders: 0 });
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETRESOURCES, res);
  const props = new Map<string, number>();
  const collect = async (obj: number) => {
    const q: U.drm_mode_obj_get_properties = { obj_id: obj, obj_type: U.DRM_MODE_OBJECT_ANY, count_props: 0 };
    await p.ioctl(fd, U.DRM_IOCTL_MODE_OBJ_GETPROPERTIES, q);
    const ids: number[] = [];
    Object.assign(q, { props_ptr: ids, prop_values_ptr: [] });
    await p.ioctl(fd, U.DRM_IOCTL_MODE_OBJ_GETPROPERTIES, q);
    for (const id of ids) {
      const gp: U.drm_mode_get_property = { prop_id: id, count_values: 0, count_enum_blobs: 0 };
      await p.ioctl(fd, U.DRM_IOCTL_MODE_GETPROPERTY, gp);
      props.set(gp.name!, id);
    }
  };
  const types = new Map<number, number>();
  for (const c of conns) {
    const gc: U.drm_mode_get_connector = { connector_id: c, count_modes: 0, count_props: 0, count_encoders: 0 };
    await p.ioctl(fd, U.DRM_IOCTL_MODE_GETCONNECTOR, gc);
    types.set(c, gc.connector_type!);
    await collect(c);
  }
  const connector = conns.find((c) => types.get(c) === U.DRM_MODE_CONNECTOR_VIRTUAL)!;
  const gc: U.drm_mode_get_connector = { connector_id: connector, count_modes: 0, count_props: 0, count_encoders: 0 };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETCONNECTOR, gc);
  const modes: U.drm_mode_modeinfo[] = [];
  Object.assign(gc, { modes_ptr: modes, count_props: 0, count_encoders: 0 });
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETCONNECTOR, gc);
  const pr: U.drm_mode_get_plane_res = { count_planes: 0 };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETPLANERESOURCES, pr);
  const planes: number[] = [];
  pr.plane_id_ptr = planes;
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETPLANERESOURCES, pr);
  for (const c of crtcs) await collect(c);
  const planeType = new Map<number, bigint>();
  for (const pl of planes) {
    await collect(pl);
    const q: U.drm_mode_obj_get_properties = { obj_id: pl, obj_type: U.DRM_MODE_OBJECT_PLANE, count_props: 32, props_ptr: [], prop_values_ptr: [] };
    await p.ioctl(fd, U.DRM_IOCTL_MODE_OBJ_GETPROPERTIES, q);
    const i = (q.props_ptr as number[]).indexOf(props.get("type")!);
    planeType.set(pl, (q.prop_values_ptr as bigint[])[i]!);
  }
  return {
    crtc: crtcs[0]!, connector, writeback: conns.find((c) => types.get(c) === U.DRM_MODE_CONNECTOR_WRITEBACK) ?? 0,
    primary: planes.find((pl) => planeType.get(pl) === 1n)!, overlay: planes.find((pl) => planeType.get(pl) === 0n) ?? 0, props, modes,
  };
}

/** One atomic commit from {object: {prop name: value}} (drmModeAtomicAddProperty + commit). */
export async function atomic(p: Process, fd: number, ids: KmsIds, objs: Record<number, Record<string, U.PropValue>>, flags = 0, userData = 0n): Promise<number> {
  const objIds: number[] = [];
  const counts: number[] = [];
  const props: number[] = [];
  const values: U.PropValue[] = [];
  for (const [obj, pv] of Object.entries(objs)) {
    objIds.push(Number(obj));
    counts.push(Object.keys(pv).length);
    for (const [name, v] of Object.entries(pv)) {
      const id = ids.props.get(name);
      if (id === undefined) throw new Error(`atomic commit: the device has no "${name}" property (known: ${[...ids.props.keys()].join(", ")})`);
      props.push(id);
      values.push(v);
    }
  }
  return p.ioctl(fd, U.DRM_IOCTL_MODE_ATOMIC, { flags, count_objs: objIds.length, objs_ptr: objIds, count_props_ptr: counts, props_ptr: props, prop_values_ptr: values, user_data: userData } satisfies U.drm_mode_atomic);
}

/** A MODE_ID blob for `mode`. */
export async function modeBlob(p: Process, fd: number, mode: U.drm_mode_modeinfo): Promise<number> {
  const data = U.modeinfoBlob(mode);
  const b: U.drm_mode_create_blob = { data, length: data.length };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_CREATEPROPBLOB, b);
  return b.blob_id!;
}

/** Plane properties that show `fb` (w x h) unscaled at (x, y) on `crtc`. */
export const planeProps = (crtc: number, fb: number, w: number, h: number, x = 0, y = 0): Record<string, U.PropValue> => ({
  FB_ID: fb, CRTC_ID: crtc, CRTC_X: x, CRTC_Y: y, CRTC_W: w, CRTC_H: h, SRC_X: 0, SRC_Y: 0, SRC_W: w << 16, SRC_H: h << 16,
});

/**
 * A full modeset (igt_display_commit2 with ALLOW_MODESET): the MODE_ID blob, the connector routed
 * to the CRTC, and the primary plane showing `fb` (width x height, default the mode's) unscaled in
 * the top-left corner.
 */
export async function modeset(p: Process, fd: number, ids: KmsIds, mode: U.drm_mode_modeinfo, fb: number, width = mode.hdisplay, height = mode.vdisplay): Promise<number> {
  const blob = await modeBlob(p, fd, mode);
  return atomic(p, fd, ids, {
    [ids.crtc]: { ACTIVE: 1, MODE_ID: blob },
    [ids.connector]: { CRTC_ID: ids.crtc },
    [ids.primary]: planeProps(ids.crtc, fb, width, height),
  }, U.DRM_MODE_ATOMIC_ALLOW_MODESET);
}

/** Reads DRM events (vblank, page flip) from the card fd, as drmHandleEvent does; blocks until one arrives. */
export async function readEvents(p: Process, fd: number): Promise<U.drm_event_vblank[]> {
  return U.parseDrmEvents(await p.read(fd, 4096));
}

