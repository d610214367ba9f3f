/* A libdrm-sized wrapper for a KMS client: find the pipe, import PRIME buffers, commit atomically. */
import type { Process } from "@dmabuf/core";
import * as U from "@dmabuf/drm-sim";

export interface KmsPipe {
  crtc: number;
  connector: number;
  primary: number;
  props: Map<string, number>;
  modes: U.drm_mode_modeinfo[];
}

async function objectProps(p: Process, fd: number, obj: number, into: Map<string, number>): Promise<Map<number, bigint>> {
  const q: U.drm_mode_obj_get_properties = { obj_id: obj, obj_type: U.DRM_MODE_OBJECT_ANY, count_props: 0 };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_OBJ_GETPROPERTIES, q);
  const ids: number[] = [];
  const values: bigint[] = [];
  Object.assign(q, { props_ptr: ids, prop_values_ptr: values });
  await p.ioctl(fd, U.DRM_IOCTL_MODE_OBJ_GETPROPERTIES, q);
  const byId = new Map<number, bigint>();
  for (const [i, id] of ids.entries()) {
    const gp: U.drm_mode_get_property = { prop_id: id, count_values: 0, count_enum_blobs: 0 };
    await p.ioctl(fd, U.DRM_IOCTL_MODE_GETPROPERTY, gp);
    into.set(gp.name!, id);
    byId.set(id, values[i]!);
  }
  return byId;
}

/** drmModeGetResources + the first virtual connector, its CRTC and the primary plane (as kmscube does). */
export async function findPipe(p: Process, fd: number): Promise<KmsPipe> {
  await p.ioctl(fd, U.DRM_IOCTL_SET_CLIENT_CAP, { capability: U.DRM_CLIENT_CAP_ATOMIC, value: 1 });
  const res: U.drm_mode_card_res = { count_fbs: 0, count_crtcs: 0, count_connectors: 0, count_encoders: 0 };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETRESOURCES, res);
  const crtcs: number[] = [];
  const conns: number[] = [];
  Object.assign(res, { crtc_id_ptr: crtcs, connector_id_ptr: conns, count_fbs: 0, count_encoders: 0 });
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETRESOURCES, res);
  const props = new Map<string, number>();
  const connector = conns[0]!;
  const gc: U.drm_mode_get_connector = { connector_id: connector, count_modes: 0, count_props: 0, count_encoders: 0 };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETCONNECTOR, gc);
  const modes: U.drm_mode_modeinfo[] = [];
  Object.assign(gc, { modes_ptr: modes, count_props: 0, count_encoders: 0 });
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETCONNECTOR, gc);
  await objectProps(p, fd, connector, props);
  await objectProps(p, fd, crtcs[0]!, props);
  const pr: U.drm_mode_get_plane_res = { count_planes: 0 };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETPLANERESOURCES, pr);
  const planes: number[] = [];
  pr.plane_id_ptr = planes;
  await p.ioctl(fd, U.DRM_IOCTL_MODE_GETPLANERESOURCES, pr);
  let primary = 0;
  for (const pl of planes) {
    const values = await objectProps(p, fd, pl, props);
    if (values.get(props.get("type")!) === 1n /* DRM_PLANE_TYPE_PRIMARY */ && !primary) primary = pl;
  }
  return { crtc: crtcs[0]!, connector, primary, props, modes };
}

export async function primeImport(p: Process, fd: number, dmabuf: number): Promise<number> {
  const a: U.drm_prime_handle = { handle: 0, flags: 0, fd: dmabuf };
  await p.ioctl(fd, U.DRM_IOCTL_PRIME_FD_TO_HANDLE, a);
  return a.handle;
}

export async function addFb2(p: Process, fd: number, width: number, height: number, format: number, handles: number[], pitches: number[], offsets: number[]): Promise<number> {
  const cmd: U.drm_mode_fb_cmd2 = { width, height, pixel_format: format, flags: 0, handles, pitches, offsets };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_ADDFB2, cmd);
  return cmd.fb_id!;
}

/** drmModeAtomicCommit of {object: {property name: value}}. */
export async function atomicCommit(p: Process, fd: number, pipe: KmsPipe, objs: Record<number, Record<string, U.PropValue>>, flags: number, userData = 0n): Promise<void> {
  const objIds: number[] = [];
  const counts: number[] = [];
  const props: number[] = [];
  const values: U.PropValue[] = [];
  for (const [obj, pv] of Object.entries(objs)) {
    objIds.push(Number(obj));
    counts.push(Object.keys(pv).length);
    for (const [name, v] of Object.entries(pv)) {
      const id = pipe.props.get(name);
      if (id === undefined) throw new Error(`the display has no "${name}" property`);
      props.push(id);
      values.push(v);
    }
  }
  await p.ioctl(fd, U.DRM_IOCTL_MODE_ATOMIC, { flags, count_objs: objIds.length, objs_ptr: objIds, count_props_ptr: counts, props_ptr: props, prop_values_ptr: values, user_data: userData } satisfies U.drm_mode_atomic);
}

/** The plane state that shows `fb` (w x h) unscaled in the top-left corner (vkms does not scale). */
export const topLeft = (crtc: number, fb: number, w: number, h: number): Record<string, U.PropValue> => ({
  FB_ID: fb, CRTC_ID: crtc, CRTC_X: 0, CRTC_Y: 0, CRTC_W: w, CRTC_H: h, SRC_X: 0, SRC_Y: 0, SRC_W: w << 16, SRC_H: h << 16,
});

/** A full modeset: MODE_ID blob, connector routed to the CRTC, primary plane showing `fb`. */
export async function modeset(p: Process, fd: number, pipe: KmsPipe, mode: U.drm_mode_modeinfo, fb: number, w: number, h: number): Promise<void> {
  const data = U.modeinfoBlob(mode);
  const b: U.drm_mode_create_blob = { data, length: data.length };
  await p.ioctl(fd, U.DRM_IOCTL_MODE_CREATEPROPBLOB, b);
  await atomicCommit(p, fd, pipe, {
    [pipe.crtc]: { ACTIVE: 1, MODE_ID: b.blob_id! },
    [pipe.connector]: { CRTC_ID: pipe.crtc },
    [pipe.primary]: topLeft(pipe.crtc, fb, w, h),
  }, U.DRM_MODE_ATOMIC_ALLOW_MODESET);
}

/** Reads DRM events (page flips) from the card fd; blocks until one arrives. */
export async function readEvents(p: Process, fd: number): Promise<U.drm_event_vblank[]> {
  return U.parseDrmEvents(await p.read(fd, 4096));
}
