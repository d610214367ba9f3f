/**
 * Atomic KMS on vkms: drm_mode_atomic_ioctl's argument checks, drm_atomic_check_only and the
 * helpers' checks, page-flip events, OUT_FENCE_PTR, writeback (IGT kms_atomic / kms_writeback style;
 * consolidated checks D22-D26 of the reference), and vblank timing in virtual time.
 */
import { O_NONBLOCK, POLLIN, SW_SYNC_DEBUGFS_PATH, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC, RLIMIT_NOFILE, SYNC_IOC_FILE_INFO, type Process, type SwSyncCreateFenceData } from "@dmabuf/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as U from "../src/uapi.js";
import { addFb, atomic, createDumb, kmsIds, mapDumb, modeBlob, modeset, planeProps, type KmsIds } from "../src/libdrm.js";
import { bootDrm, kmsOf, mode, VKMS } from "./support/drm.js";

const fill = (bytes: Uint8Array, xrgb: number) => new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).fill(xrgb);
const PERIOD = Math.floor((1344 * 806 * 1e6) / 65000);

async function colourFb(p: Process, fd: number, w: number, h: number, xrgb: number, format = U.DRM_FORMAT_XRGB8888) {
  const bo = await createDumb(p, fd, w, h);
  fill((await mapDumb(p, fd, bo.handle, bo.size)).bytes, xrgb);
  return addFb(p, fd, w, h, format, [bo.handle], [bo.pitch]);
}

async function setup(flags = 0) {
  const k = await bootDrm();
  const p = k.spawn("kms_atomic");
  const fd = p.open(VKMS, 2 | flags);
  const ids = await kmsIds(p, fd);
  const m = mode(ids, 1024, 768);
  const red = await colourFb(p, fd, 1024, 768, 0xff0000);
  const green = await colourFb(p, fd, 1024, 768, 0x00ff00);
  return { k, p, fd, ids, m, red, green, crtc: kmsOf(k).crtcs[0]! };
}

const rejects = (pr: Promise<unknown>, code: string) => expect(pr).rejects.toMatchObject({ code });

describe("DRM_IOCTL_MODE_ATOMIC argument checks (drm_mode_atomic_ioctl)", () => {
  it("needs DRM_CLIENT_CAP_ATOMIC; unknown flags, reserved, PAGE_FLIP_ASYNC and TEST_ONLY|PAGE_FLIP_EVENT are EINVAL", async () => {
    const k = await bootDrm();
    const p = k.spawn("a");
    const fd = p.open(VKMS);
    const empty = (flags: number, reserved = 0) => p.ioctl(fd, U.DRM_IOCTL_MODE_ATOMIC, { flags, count_objs: 0, objs_ptr: [], count_props_ptr: [], props_ptr: [], prop_values_ptr: [], reserved });
    await rejects(empty(0), "EINVAL");
    await p.ioctl(fd, U.DRM_IOCTL_SET_CLIENT_CAP, { capability: U.DRM_CLIENT_CAP_ATOMIC, value: 1 });
    expect(await empty(0)).toBe(0);
    await rejects(empty(0x1000), "EINVAL");
    await rejects(empty(0, 1), "EINVAL");
    await rejects(empty(U.DRM_MODE_PAGE_FLIP_ASYNC), "EINVAL");
    await rejects(empty(U.DRM_MODE_ATOMIC_TEST_ONLY | U.DRM_MODE_PAGE_FLIP_EVENT), "EINVAL");
    // D23: PAGE_FLIP_EVENT with no CRTC in the commit
    await rejects(empty(U.DRM_MODE_PAGE_FLIP_EVENT), "EINVAL");
  });

  it("unknown object or property -> ENOENT; unknown CRTC_ID -> EACCES; short user arrays -> EFAULT; only the master commits", async () => {
    const { p, fd, ids } = await setup();
    const raw = (objs: number[], props: number[], values: U.PropValue[]) => p.ioctl(fd, U.DRM_IOCTL_MODE_ATOMIC, { flags: 0, count_objs: objs.length, objs_ptr: objs, count_props_ptr: objs.map(() => props.length), props_ptr: props, prop_values_ptr: values });
    await rejects(raw([9999], [ids.props.get("ACTIVE")!], [1]), "ENOENT");
    await rejects(raw([ids.crtc], [ids.props.get("FB_ID")!], [1]), "ENOENT");
    await rejects(atomic(p, fd, ids, { [ids.primary]: { CRTC_ID: 4242 } }), "EACCES");
    await rejects(p.ioctl(fd, U.DRM_IOCTL_MODE_ATOMIC, { flags: 0, count_objs: 1, objs_ptr: [ids.crtc], count_props_ptr: [1], props_ptr: [], prop_values_ptr: [] }), "EFAULT");
    const fd2 = p.open(VKMS);
    await p.ioctl(fd2, U.DRM_IOCTL_SET_CLIENT_CAP, { capability: U.DRM_CLIENT_CAP_ATOMIC, value: 1 });
    await rejects(p.ioctl(fd2, U.DRM_IOCTL_MODE_ATOMIC, { flags: 0, count_objs: 0, objs_ptr: [], count_props_ptr: [], props_ptr: [], prop_values_ptr: [] }), "EACCES");
  });
});

describe("atomic check (drm_atomic_check_only + drm_atomic_helper_check)", () => {
  it("a modeset needs ALLOW_MODESET; ACTIVE without MODE_ID, a CRTC without connectors and a bad mode blob are EINVAL", async () => {
    const { p, fd, ids, m, red } = await setup();
    const blob = await modeBlob(p, fd, m);
    const full = { [ids.crtc]: { ACTIVE: 1, MODE_ID: blob }, [ids.connector]: { CRTC_ID: ids.crtc }, [ids.primary]: planeProps(ids.crtc, red, 1024, 768) };
    await rejects(atomic(p, fd, ids, full), "EINVAL");
    await rejects(atomic(p, fd, ids, { [ids.crtc]: { ACTIVE: 1 } }, U.DRM_MODE_ATOMIC_ALLOW_MODESET), "EINVAL");
    await rejects(atomic(p, fd, ids, { [ids.crtc]: { ACTIVE: 1, MODE_ID: blob } }, U.DRM_MODE_ATOMIC_ALLOW_MODESET), "EINVAL");
    const bad = U.modeinfoBlob({ ...m, hsync_start: m.hdisplay - 1 });
    const cb: U.drm_mode_create_blob = { data: bad, length: bad.length };
    await p.ioctl(fd, U.DRM_IOCTL_MODE_CREATEPROPBLOB, cb);
    await rejects(atomic(p, fd, ids, { ...full, [ids.crtc]: { ACTIVE: 1, MODE_ID: cb.blob_id! } }, U.DRM_MODE_ATOMIC_ALLOW_MODESET), "EINVAL");
    // TEST_ONLY validates without changing anything
    expect(await atomic(p, fd, ids, full, U.DRM_MODE_ATOMIC_ALLOW_MODESET | U.DRM_MODE_ATOMIC_TEST_ONLY)).toBe(0);
    expect(kmsOf(p.kernel).crtcs[0]!.state.active).toBe(false);
  });

  it("plane checks: FB without CRTC, CRTC without FB -> EINVAL; source outside the fb -> ENOSPC; scaling -> ERANGE; unknown FB_ID is no fb", async () => {
    const { p, fd, ids, m, red } = await setup();
    await modeset(p, fd, ids, m, red);
    await rejects(atomic(p, fd, ids, { [ids.overlay]: { FB_ID: red } }), "EINVAL");
    await rejects(atomic(p, fd, ids, { [ids.overlay]: { CRTC_ID: ids.crtc } }), "EINVAL");
    await rejects(atomic(p, fd, ids, { [ids.overlay]: { ...planeProps(ids.crtc, red, 1024, 768), SRC_X: 1 << 16 } }), "ENOSPC");
    await rejects(atomic(p, fd, ids, { [ids.overlay]: { ...planeProps(ids.crtc, red, 512, 384), SRC_W: 1024 << 16, SRC_H: 768 << 16 } }), "ERANGE");
    await rejects(atomic(p, fd, ids, { [ids.overlay]: { ...planeProps(ids.crtc, red, 64, 64), FB_ID: 31337 } }), "EINVAL");
  });

  it("D22 IN_FENCE_FD: set twice -> EINVAL, not a sync_file -> EINVAL, -1 is ignored", async () => {
    const { p, fd, ids, m, red } = await setup();
    await modeset(p, fd, ids, m, red);
    const tl = p.open(SW_SYNC_DEBUGFS_PATH);
    const pt: SwSyncCreateFenceData = { value: 1, name: "x", fence: -1 };
    await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, pt);
    const fenceProp = ids.props.get("IN_FENCE_FD")!;
    await rejects(p.ioctl(fd, U.DRM_IOCTL_MODE_ATOMIC, { flags: 0, count_objs: 1, objs_ptr: [ids.primary], count_props_ptr: [2], props_ptr: [fenceProp, fenceProp], prop_values_ptr: [pt.fence, pt.fence] }), "EINVAL");
    await rejects(atomic(p, fd, ids, { [ids.primary]: { IN_FENCE_FD: tl } }), "EINVAL");
    expect(await atomic(p, fd, ids, { [ids.primary]: { IN_FENCE_FD: -1 } })).toBe(0);
  });
});

describe("commits, events, out-fences and vblank", () => {
  it("a blocking commit returns after its flip; events carry increasing vblank sequences one frame apart", async () => {
    const { k, p, fd, ids, m, red, green } = await setup();
    await modeset(p, fd, ids, m, red);
    const seqs: number[] = [];
    const times: number[] = [];
    for (const fb of [green, red, green]) {
      const t = k.clock.now();
      await atomic(p, fd, ids, { [ids.primary]: { FB_ID: fb } }, U.DRM_MODE_PAGE_FLIP_EVENT);
      expect(k.clock.now() - t).toBeLessThanOrEqual(PERIOD);
      const [ev] = U.parseDrmEvents(await p.read(fd));
      seqs.push(ev!.sequence);
      times.push(ev!.tv_sec * 1e9 + ev!.tv_usec * 1e3);
    }
    expect(seqs[1]! - seqs[0]!).toBe(1);
    expect(seqs[2]! - seqs[1]!).toBe(1);
    expect(Math.abs(times[2]! - times[1]! - PERIOD)).toBeLessThan(2000);
    expect(k.trace.events("drm_vblank_event").length).toBeGreaterThanOrEqual(3);
    expect(k.trace.events((r) => r.track?.includes("crtc-0 vblank") ?? false).length).toBeGreaterThanOrEqual(3);
  });

  it("D23/D24 OUT_FENCE_PTR: a sync_file fd that signals with the flip; a failed commit writes -1; a bad pointer is EFAULT", async () => {
    const { p, fd, ids, m, red, green } = await setup();
    await modeset(p, fd, ids, m, red);
    const out = new Int32Array(1);
    await atomic(p, fd, ids, { [ids.crtc]: { OUT_FENCE_PTR: out }, [ids.primary]: { FB_ID: green } }, U.DRM_MODE_ATOMIC_NONBLOCK);
    expect(p.readlink(`/proc/self/fd/${out[0]}`)).toBe("anon_inode:sync_file");
    const pfd = { fd: out[0]!, events: POLLIN, revents: 0 };
    expect(await p.poll([pfd], 0)).toBe(0);
    expect(await p.poll([pfd], 100)).toBe(1);
    const info = { name: "", status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: 0 };
    await p.ioctl(out[0]!, SYNC_IOC_FILE_INFO, info);
    expect(info.status).toBe(1);
    const failed = new Int32Array([1234]);
    await rejects(atomic(p, fd, ids, { [ids.crtc]: { OUT_FENCE_PTR: failed }, [ids.overlay]: { FB_ID: green } }, U.DRM_MODE_ATOMIC_NONBLOCK), "EINVAL");
    expect(failed[0]).toBe(-1);
    await rejects(atomic(p, fd, ids, { [ids.crtc]: { OUT_FENCE_PTR: 0x8 } }), "EFAULT");
  });

  it("D24: one event per flip with user_data; read() blocks until it, or EAGAIN with O_NONBLOCK", async () => {
    const { p, fd, ids, m, red, green } = await setup(O_NONBLOCK);
    await modeset(p, fd, ids, m, red);
    await atomic(p, fd, ids, { [ids.primary]: { FB_ID: green } }, U.DRM_MODE_ATOMIC_NONBLOCK | U.DRM_MODE_PAGE_FLIP_EVENT, 7n);
    await rejects(p.read(fd), "EAGAIN");
    await p.poll([{ fd, events: POLLIN, revents: 0 }], -1);
    const evs = U.parseDrmEvents(await p.read(fd));
    expect(evs.map((e) => e.user_data)).toEqual([7n]);
    await rejects(p.read(fd), "EAGAIN");
  });

  it("an overlay with alpha blends over the primary; RMFB of the scanned-out primary fb turns the CRTC off", async () => {
    const { p, fd, ids, m, red, crtc } = await setup();
    await modeset(p, fd, ids, m, red);
    const half = await colourFb(p, fd, 64, 64, 0x80008000, U.DRM_FORMAT_ARGB8888);
    await atomic(p, fd, ids, { [ids.overlay]: planeProps(ids.crtc, half, 64, 64, 100, 100) });
    const f = crtc.compose();
    expect(f.pixel(0, 0)).toBe(0xff0000);
    expect(f.pixel(120, 120)).toBe((0x7f << 16) | (0x80 << 8));
    await p.ioctl(fd, U.DRM_IOCTL_MODE_RMFB, red);
    expect(crtc.state.active).toBe(false);
    expect(crtc.hwMode).toBeNull();
  });
});

describe("writeback connector (vkms_writeback.c, IGT kms_writeback)", () => {
  async function wbSetup() {
    const s = await setup();
    await modeset(s.p, s.fd, s.ids, s.m, s.red);
    const wbBo = await createDumb(s.p, s.fd, 1024, 768);
    const wbFb = await addFb(s.p, s.fd, 1024, 768, U.DRM_FORMAT_XRGB8888, [wbBo.handle], [wbBo.pitch]);
    const wbMap = await mapDumb(s.p, s.fd, wbBo.handle, wbBo.size);
    return { ...s, wbFb, wbMap };
  }
  const wb = (ids: KmsIds, v: Record<string, U.PropValue>) => ({ [ids.writeback]: { CRTC_ID: ids.crtc, ...v } });

  it("writeback-pixel-formats: the blob lists fourccs", async () => {
    const { p, fd, ids } = await setup();
    const q: U.drm_mode_obj_get_properties = { obj_id: ids.writeback, obj_type: U.DRM_MODE_OBJECT_CONNECTOR, count_props: 16, props_ptr: [], prop_values_ptr: [] };
    await p.ioctl(fd, U.DRM_IOCTL_MODE_OBJ_GETPROPERTIES, q);
    const blobId = Number((q.prop_values_ptr as bigint[])[(q.props_ptr as number[]).indexOf(ids.props.get("WRITEBACK_PIXEL_FORMATS")!)]);
    const b: U.drm_mode_get_blob = { blob_id: blobId, length: 0 };
    await p.ioctl(fd, U.DRM_IOCTL_MODE_GETPROPBLOB, b);
    expect(b.length % 4).toBe(0);
    b.data = new Uint8Array(b.length);
    await p.ioctl(fd, U.DRM_IOCTL_MODE_GETPROPBLOB, b);
    const names = [...new Uint32Array(b.data.buffer)].map(U.fourccName);
    expect(names).toEqual(["XR24", "AR24"]);
  });

  it("writeback-invalid-parameters / writeback-fb-id: out-fence without fb, half-size fb, bad pointer and non-fb ids fail", async () => {
    const { p, fd, ids, green } = await wbSetup();
    const half = await colourFb(p, fd, 512, 384, 0);
    await rejects(atomic(p, fd, ids, wb(ids, { WRITEBACK_OUT_FENCE_PTR: new Int32Array(1) })), "EINVAL");
    await rejects(atomic(p, fd, ids, wb(ids, { WRITEBACK_FB_ID: half })), "EINVAL");
    await rejects(atomic(p, fd, ids, wb(ids, { WRITEBACK_FB_ID: green, WRITEBACK_OUT_FENCE_PTR: 0x8 })), "EFAULT");
    await rejects(atomic(p, fd, ids, wb(ids, { WRITEBACK_FB_ID: ids.crtc })), "EINVAL");
    expect(await atomic(p, fd, ids, wb(ids, { WRITEBACK_FB_ID: 0 }), U.DRM_MODE_ATOMIC_ALLOW_MODESET)).toBe(0);
  });

  it("writeback-check-output: after the out-fence signals the output fb holds the composed frame; a commit without fb leaves it alone", async () => {
    const { p, fd, ids, wbFb, wbMap, green } = await wbSetup();
    const out = new Int32Array(1);
    await atomic(p, fd, ids, { ...wb(ids, { WRITEBACK_FB_ID: wbFb, WRITEBACK_OUT_FENCE_PTR: out }), [ids.primary]: { FB_ID: green } }, U.DRM_MODE_ATOMIC_ALLOW_MODESET);
    expect(await p.poll([{ fd: out[0]!, events: POLLIN, revents: 0 }], 100)).toBe(1);
    const words = new Uint32Array(wbMap.bytes.buffer, wbMap.bytes.byteOffset, 1024 * 768);
    expect(words.every((w) => w === 0xff00ff00)).toBe(true);
    await atomic(p, fd, ids, { [ids.primary]: { FB_ID: (await setupRed(p, fd)) } }, U.DRM_MODE_PAGE_FLIP_EVENT);
    expect(words.every((w) => w === 0xff00ff00)).toBe(true);
  });
});

const setupRed = (p: Process, fd: number) => colourFb(p, fd, 1024, 768, 0xff0000);

describe("sw_sync in-fence on a blocking commit", () => {
  it("the ioctl sleeps (virtual time) until the fence signals, then until the flip", async () => {
    const { k, p, fd, ids, m, red, green } = await setup();
    await modeset(p, fd, ids, m, red);
    const tl = p.open(SW_SYNC_DEBUGFS_PATH);
    const pt: SwSyncCreateFenceData = { value: 1, name: "x", fence: -1 };
    await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, pt);
    k.clock.addTimer(50e6, () => void p.ioctl(tl, SW_SYNC_IOC_INC, 1), "producer");
    const t0 = k.clock.now();
    await atomic(p, fd, ids, { [ids.primary]: { FB_ID: green, IN_FENCE_FD: pt.fence } });
    expect(k.clock.now() - t0).toBeGreaterThanOrEqual(50e6);
    expect(k.clock.now() - t0).toBeLessThanOrEqual(50e6 + PERIOD);
  });
});

describe("validate before mutate (property)", () => {
  it("an atomic commit that fails, or is TEST_ONLY, changes no state and no framebuffer reference", async () => {
    const { k, p, fd, ids, m, red, green } = await setup();
    await modeset(p, fd, ids, m, red);
    const kms = kmsOf(k);
    const snapshot = () => JSON.stringify({
      planes: kms.planes.map((pl) => ({ ...pl.state, crtc: pl.state.crtc?.id, fb: pl.state.fb?.id, fence: null })),
      crtcs: kms.crtcs.map((c) => ({ active: c.state.active, mode: c.state.mode?.id })),
      conns: kms.connectors.map((c) => c.state.crtc?.id),
      refs: [...kms.fbs].map((f) => f.refcount),
    });
    const value = fc.constantFrom<U.PropValue>(0, 1, -1, red, green, 4242, ids.crtc, 64, 1 << 16, 64 << 16, 0x7fffffff);
    const props = fc.dictionary(fc.constantFrom("FB_ID", "CRTC_ID", "CRTC_X", "CRTC_Y", "CRTC_W", "CRTC_H", "SRC_W", "SRC_H", "IN_FENCE_FD"), value, { maxKeys: 5 });
    await fc.assert(
      fc.asyncProperty(props, fc.constantFrom(0, U.DRM_MODE_ATOMIC_TEST_ONLY), fc.boolean(), async (pv, flags, withCrtc) => {
        const before = snapshot();
        const objs: Record<number, Record<string, U.PropValue>> = { [ids.overlay]: pv };
        if (withCrtc) objs[ids.crtc] = { ACTIVE: 0 };
        let ok = true;
        try {
          await atomic(p, fd, ids, objs, flags);
        } catch {
          ok = false;
        }
        if (!ok || flags) expect(snapshot()).toBe(before);
        else await atomic(p, fd, ids, { [ids.overlay]: { FB_ID: 0, CRTC_ID: 0 } });
      }),
      { numRuns: 150 },
    );
  });
});

describe("prepare_signaling rollback and fdinfo", () => {
  it("an out-fence that cannot get an fd (EMFILE) fails the commit, writes -1 and leaves no reservation, fd or state behind", async () => {
    const { p, fd, ids, m, red, green, crtc } = await setup();
    await modeset(p, fd, ids, m, red);
    const open = p.fds.count;
    p.setrlimit(RLIMIT_NOFILE, open);
    const out = new Int32Array(1);
    await rejects(atomic(p, fd, ids, { [ids.crtc]: { OUT_FENCE_PTR: out }, [ids.primary]: { FB_ID: green } }, U.DRM_MODE_PAGE_FLIP_EVENT), "EMFILE");
    expect(out[0]).toBe(-1);
    expect(p.fds.count).toBe(open);
    expect(crtc.primary.state.fb?.id).toBe(red);
    p.setrlimit(RLIMIT_NOFILE, 1024);
    // 4096 bytes of event space are all still there: 128 events fit
    for (let i = 0; i < 3; i++) await atomic(p, fd, ids, { [ids.primary]: { FB_ID: i & 1 ? red : green } }, U.DRM_MODE_PAGE_FLIP_EVENT);
    expect(U.parseDrmEvents(await p.read(fd)).length).toBe(3);
  });

  it("/proc/<pid>/fdinfo of a DRM fd names the driver and the client id", async () => {
    const { p, fd } = await setup();
    const fd2 = p.open(VKMS);
    expect(await p.readFile(`/proc/self/fdinfo/${fd}`)).toContain("drm-driver:\tvkms\ndrm-client-id:\t1\n");
    expect(await p.readFile(`/proc/self/fdinfo/${fd2}`)).toContain("drm-client-id:\t2\n");
  });
});
