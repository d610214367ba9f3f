/**
 * The vivid camera's format, frame-rate and control ioctls (drivers/media/test-drivers/vivid/
 * vivid-vid-cap.c, vivid-ctrls.c; v4l2-compliance testCap, testEnumFormats, testParm, testQueryControls).
 */
import { describe, expect, it } from "vitest";
import { assertNoLeaks } from "@dmabuf/core";
import {
  V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_CAP_DEVICE_CAPS,
  V4L2_CAP_STREAMING, V4L2_CAP_TIMEPERFRAME, V4L2_CAP_VIDEO_CAPTURE, V4L2_COLORSPACE_REC709,
  V4L2_COLORSPACE_SRGB, V4L2_CTRL_FLAG_NEXT_CTRL, V4L2_CTRL_TYPE_MENU, V4L2_CTRL_WHICH_CUR_VAL, V4L2_FRMIVAL_TYPE_CONTINUOUS,
  V4L2_FRMSIZE_TYPE_STEPWISE, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV12M, V4L2_PIX_FMT_P010,
  V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_XRGB32, V4L2_PIX_FMT_YUYV, VIDIOC_ENUM_FMT, VIDIOC_ENUM_FRAMEINTERVALS,
  VIDIOC_ENUM_FRAMESIZES, VIDIOC_EXPBUF, VIDIOC_G_CTRL, VIDIOC_G_PARM, VIDIOC_QUERYCAP, VIDIOC_QUERYCTRL, VIDIOC_QUERYMENU,
  VIDIOC_S_CTRL, VIDIOC_S_EXT_CTRLS, VIDIOC_S_PARM, VIDIOC_TRY_FMT, VIVID_CID_HOR_MOVEMENT, VIVID_CID_OSD_TEXT_MODE,
  VIVID_CID_TEST_PATTERN, readFrameCounter, type v4l2_capability, type v4l2_exportbuffer, type v4l2_ext_controls,
  type v4l2_fmtdesc, type v4l2_format, type v4l2_frmivalenum, type v4l2_frmsizeenum, type v4l2_queryctrl,
  type v4l2_streamparm,
} from "../src/index.js";
import { TWO_CAMERAS, boot, buf, dqbuf, mapFd, qbuf, reqbufs, setFormat, streamon } from "./helpers.js";

const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;
const MP = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;

describe("vivid: capabilities and formats", () => {
  it("QUERYCAP reports a streaming capture device with device_caps (testCap)", async () => {
    const k = await boot();
    const p = k.spawn("v4l2-ctl");
    const fd = p.open("/dev/video0");
    const cap = {} as v4l2_capability;
    await p.ioctl(fd, VIDIOC_QUERYCAP, cap);
    expect(cap).toMatchObject({ driver: "vivid", card: "vivid", bus_info: "platform:vivid.0", version: 0x060600 });
    expect(cap.device_caps).toBe(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | 0x00200000);
    expect(cap.capabilities & V4L2_CAP_DEVICE_CAPS).toBeTruthy();
    expect(await p.readFile("/sys/class/video4linux/video0/name")).toBeDefined();
    assertNoLeaks(k);
  });

  it("ENUM_FMT lists the single-plane formats, then EINVAL; a wrong buffer type is EINVAL (testEnumFormats)", async () => {
    const k = await boot();
    const p = k.spawn("v4l2-ctl");
    const fd = p.open("/dev/video0");
    const seen: number[] = [];
    for (let index = 0; ; index++) {
      const f: v4l2_fmtdesc = { index, type: CAP };
      try {
        await p.ioctl(fd, VIDIOC_ENUM_FMT, f);
      } catch (e) {
        expect(e).toMatchObject({ code: "EINVAL" });
        break;
      }
      seen.push(f.pixelformat!);
    }
    expect(seen).toEqual([V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_RGB24, V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_XRGB32, V4L2_PIX_FMT_P010]);
    await expect(p.ioctl(fd, VIDIOC_ENUM_FMT, { index: 0, type: V4L2_BUF_TYPE_VIDEO_OUTPUT })).rejects.toMatchObject({ code: "EINVAL" });
    await expect(p.ioctl(fd, VIDIOC_ENUM_FMT, { index: 0, type: MP })).rejects.toMatchObject({ code: "EINVAL" });
    assertNoLeaks(k);
  });

  it("TRY_FMT clamps and aligns sizes, maps unknown formats to YUYV, keeps a padded stride, sets the colorspace", async () => {
    const k = await boot();
    const p = k.spawn("v4l2-ctl");
    const fd = p.open("/dev/video0");
    const t = async (pixelformat: number, width: number, height: number, bytesperline = 0) => {
      const f: v4l2_format = { type: CAP, fmt: { pix: { width, height, pixelformat, field: 0, bytesperline, sizeimage: 0, colorspace: 0 } } };
      await p.ioctl(fd, VIDIOC_TRY_FMT, f);
      return f.fmt.pix!;
    };
    expect(await t(V4L2_PIX_FMT_NV12, 1921, 1081)).toMatchObject({ width: 1920, height: 1080, bytesperline: 1920, sizeimage: 3110400, colorspace: V4L2_COLORSPACE_REC709 });
    expect(await t(0x11223344, 8000, 10)).toMatchObject({ pixelformat: V4L2_PIX_FMT_YUYV, width: 4096, height: 120 });
    expect(await t(V4L2_PIX_FMT_XBGR32, 640, 480)).toMatchObject({ bytesperline: 2560, sizeimage: 1228800, colorspace: V4L2_COLORSPACE_SRGB });
    // An encoder wanting 64-byte aligned luma rows: NV12 1000x500 with bytesperline 1024.
    expect(await t(V4L2_PIX_FMT_NV12, 1000, 500, 1024)).toMatchObject({ bytesperline: 1024, sizeimage: 1024 * 500 * 1.5 });
    // The multi-plane-only NM12 is not offered through the single-planar API.
    expect((await t(V4L2_PIX_FMT_NV12M, 640, 480)).pixelformat).toBe(V4L2_PIX_FMT_YUYV);
    assertNoLeaks(k);
  });

  it("ENUM_FRAMESIZES (stepwise) and ENUM_FRAMEINTERVALS (continuous); S_PARM sets the frame interval that streaming follows", async () => {
    const k = await boot();
    const p = k.spawn("v4l2-ctl");
    const fd = p.open("/dev/video0");
    const fs: v4l2_frmsizeenum = { index: 0, pixel_format: V4L2_PIX_FMT_NV12 };
    await p.ioctl(fd, VIDIOC_ENUM_FRAMESIZES, fs);
    expect(fs.type).toBe(V4L2_FRMSIZE_TYPE_STEPWISE);
    expect(fs.stepwise).toMatchObject({ min_width: 160, max_width: 4096, step_width: 2, max_height: 2304 });
    await expect(p.ioctl(fd, VIDIOC_ENUM_FRAMESIZES, { index: 1, pixel_format: V4L2_PIX_FMT_NV12 })).rejects.toMatchObject({ code: "EINVAL" });
    const fi: v4l2_frmivalenum = { index: 0, pixel_format: V4L2_PIX_FMT_NV12, width: 1920, height: 1080 };
    await p.ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, fi);
    expect(fi.type).toBe(V4L2_FRMIVAL_TYPE_CONTINUOUS);
    const parm: v4l2_streamparm = { type: CAP, parm: { capture: { capability: 0, capturemode: 0, timeperframe: { numerator: 1, denominator: 25 }, extendedmode: 0, readbuffers: 0 } } };
    await p.ioctl(fd, VIDIOC_S_PARM, parm);
    expect(parm.parm.capture).toMatchObject({ capability: V4L2_CAP_TIMEPERFRAME, timeperframe: { numerator: 1, denominator: 25 } });
    const fast: v4l2_streamparm = { type: CAP, parm: { capture: { capability: 0, capturemode: 0, timeperframe: { numerator: 1, denominator: 100000 }, extendedmode: 0, readbuffers: 0 } } };
    await p.ioctl(fd, VIDIOC_S_PARM, fast);
    expect(fast.parm.capture!.timeperframe).toEqual({ numerator: 1, denominator: 240 });
    await p.ioctl(fd, VIDIOC_S_PARM, parm);
    const g: v4l2_streamparm = { type: CAP, parm: {} };
    await p.ioctl(fd, VIDIOC_G_PARM, g);
    expect(g.parm.capture!.timeperframe).toEqual({ numerator: 1, denominator: 25 });
    await reqbufs(p, fd, 2, V4L2_MEMORY_MMAP);
    await qbuf(p, fd, buf(0, V4L2_MEMORY_MMAP));
    await qbuf(p, fd, buf(1, V4L2_MEMORY_MMAP));
    await streamon(p, fd);
    await dqbuf(p, fd, V4L2_MEMORY_MMAP);
    await dqbuf(p, fd, V4L2_MEMORY_MMAP);
    expect(k.clock.now()).toBe(80_000_000); // two frames at 25 fps
    assertNoLeaks(k);
  });

  it("multi-planar API (multiplanar option): NM12 in two memory planes, each exported with EXPBUF, counter in plane 0", async () => {
    const k = await boot({ multiplanar: true }, TWO_CAMERAS);
    const p = k.spawn("v4l2src");
    const fd = p.open("/dev/video0");
    const f = await setFormat(p, fd, V4L2_PIX_FMT_NV12M, 1280, 720, MP);
    expect(f.fmt.pix_mp).toMatchObject({ num_planes: 2, plane_fmt: [{ bytesperline: 1280, sizeimage: 921600 }, { bytesperline: 1280, sizeimage: 460800 }] });
    await reqbufs(p, fd, 2, V4L2_MEMORY_MMAP, MP);
    const planes: number[][] = [];
    for (let i = 0; i < 2; i++) {
      planes.push([]);
      for (let plane = 0; plane < 2; plane++) {
        const eb: v4l2_exportbuffer = { type: MP, index: i, plane, flags: 0 };
        await p.ioctl(fd, VIDIOC_EXPBUF, eb);
        planes[i]!.push(eb.fd!);
      }
    }
    await expect(p.ioctl(fd, VIDIOC_EXPBUF, { type: MP, index: 0, plane: 2, flags: 0 })).rejects.toMatchObject({ code: "EINVAL" });
    const mpBuf = (index: number) => ({ index, type: MP, memory: V4L2_MEMORY_MMAP, length: 2, m: { planes: [0, 1].map(() => ({ bytesused: 0, length: 0, m: {}, data_offset: 0 })) } });
    for (let i = 0; i < 2; i++) await qbuf(p, fd, mpBuf(i));
    await streamon(p, fd, MP);
    const b = await dqbuf(p, fd, V4L2_MEMORY_MMAP, MP);
    expect(b.m!.planes!.map((x) => x.bytesused)).toEqual([921600, 460800]);
    expect(readFrameCounter(mapFd(p, planes[b.index]![0]!, 921600), V4L2_PIX_FMT_NV12M, 1280)).toBe(0);
    // The importer side: DMABUF NM12 takes one fd per plane.
    const imp = p.open("/dev/video1");
    await setFormat(p, imp, V4L2_PIX_FMT_NV12M, 1280, 720, MP);
    await reqbufs(p, imp, 2, V4L2_MEMORY_DMABUF, MP);
    const dbuf = { index: 0, type: MP, memory: V4L2_MEMORY_DMABUF, length: 2, m: { planes: planes[1]!.map((fd) => ({ bytesused: 0, length: 0, m: { fd }, data_offset: 0 })) } };
    await qbuf(p, imp, dbuf);
    expect(dbuf.m.planes.map((x) => x.length)).toEqual([921600, 462848]); // length 0: the whole (page-rounded) dma-buf
    assertNoLeaks(k);
  });
});

describe("vivid: controls", () => {
  it("enumerates its controls with NEXT_CTRL, names the menu items, validates S_CTRL (menu out of range: ERANGE; unknown id: EINVAL)", async () => {
    const k = await boot();
    const p = k.spawn("v4l2-ctl");
    const fd = p.open("/dev/video0");
    const ids: number[] = [];
    for (let id = V4L2_CTRL_FLAG_NEXT_CTRL; ; ) {
      const q: v4l2_queryctrl = { id };
      try {
        await p.ioctl(fd, VIDIOC_QUERYCTRL, q);
      } catch {
        break;
      }
      ids.push(q.id);
      expect(q.type).toBe(V4L2_CTRL_TYPE_MENU);
      id = (q.id | V4L2_CTRL_FLAG_NEXT_CTRL) >>> 0;
    }
    expect(ids).toEqual([VIVID_CID_TEST_PATTERN, VIVID_CID_OSD_TEXT_MODE, VIVID_CID_HOR_MOVEMENT]);
    const m = { id: VIVID_CID_TEST_PATTERN, index: 1, name: "" };
    await p.ioctl(fd, VIDIOC_QUERYMENU, m);
    expect(m.name).toBe("100% Colorbar");
    await expect(p.ioctl(fd, VIDIOC_S_CTRL, { id: VIVID_CID_TEST_PATTERN, value: 99 })).rejects.toMatchObject({ code: "ERANGE" });
    await expect(p.ioctl(fd, VIDIOC_G_CTRL, { id: 0x00980900, value: 0 })).rejects.toMatchObject({ code: "EINVAL" });
    // S_EXT_CTRLS is all or nothing: a bad second control leaves the first unchanged.
    const cs: v4l2_ext_controls = { which: V4L2_CTRL_WHICH_CUR_VAL, count: 2, controls: [{ id: VIVID_CID_TEST_PATTERN, value: 5 }, { id: VIVID_CID_HOR_MOVEMENT, value: 42 }] };
    await expect(p.ioctl(fd, VIDIOC_S_EXT_CTRLS, cs)).rejects.toMatchObject({ code: "ERANGE" });
    expect(cs.error_idx).toBe(1);
    const g = { id: VIVID_CID_TEST_PATTERN, value: -1 };
    await p.ioctl(fd, VIDIOC_G_CTRL, g);
    expect(g.value).toBe(0);
    assertNoLeaks(k);
  });

  it("the test pattern and OSD text controls change the frames the camera writes", async () => {
    const k = await boot();
    const p = k.spawn("app");
    const fd = p.open("/dev/video0");
    await setFormat(p, fd, V4L2_PIX_FMT_RGB24, 320, 240);
    await p.ioctl(fd, VIDIOC_S_CTRL, { id: VIVID_CID_TEST_PATTERN, value: 7 }); // 100% Red
    await reqbufs(p, fd, 2, V4L2_MEMORY_MMAP);
    const eb: v4l2_exportbuffer = { type: CAP, index: 0, plane: 0, flags: 0 };
    await p.ioctl(fd, VIDIOC_EXPBUF, eb);
    const map = mapFd(p, eb.fd!, 320 * 240 * 3);
    await qbuf(p, fd, buf(0, V4L2_MEMORY_MMAP));
    await qbuf(p, fd, buf(1, V4L2_MEMORY_MMAP));
    await streamon(p, fd);
    let b = await dqbuf(p, fd, V4L2_MEMORY_MMAP);
    expect(Array.from(map.read(200 * 960 + 300, 3))).toEqual([255, 0, 0]);
    expect(readFrameCounter(map, V4L2_PIX_FMT_RGB24, 960)).toBe(0);
    await p.ioctl(fd, VIDIOC_S_CTRL, { id: VIVID_CID_OSD_TEXT_MODE, value: 2 }); // None
    await qbuf(p, fd, b);
    for (;;) {
      b = await dqbuf(p, fd, V4L2_MEMORY_MMAP);
      if (b.index === 0) break;
      await qbuf(p, fd, b);
    }
    expect(readFrameCounter(map, V4L2_PIX_FMT_RGB24, 960)).toBeUndefined();
    assertNoLeaks(k);
  });
});
