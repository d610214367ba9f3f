import { describe, expect, it } from "vitest";
import * as U from "../src/uapi.js";

// The request numbers as strace and the C headers give them on x86-64 (include/uapi/linux/videodev2.h):
// _IOWR('V', nr, struct) with the 64-bit struct sizes.
const EXPECTED: Record<string, number> = {
  VIDIOC_QUERYCAP: 0x80685600, VIDIOC_ENUM_FMT: 0xc0405602, VIDIOC_G_FMT: 0xc0d05604, VIDIOC_S_FMT: 0xc0d05605,
  VIDIOC_REQBUFS: 0xc0145608, VIDIOC_QUERYBUF: 0xc0585609, VIDIOC_QBUF: 0xc058560f, VIDIOC_EXPBUF: 0xc0405610,
  VIDIOC_DQBUF: 0xc0585611, VIDIOC_STREAMON: 0x40045612, VIDIOC_STREAMOFF: 0x40045613, VIDIOC_G_PARM: 0xc0cc5615,
  VIDIOC_S_PARM: 0xc0cc5616, VIDIOC_G_CTRL: 0xc008561b, VIDIOC_S_CTRL: 0xc008561c, VIDIOC_QUERYCTRL: 0xc0445624,
  VIDIOC_QUERYMENU: 0xc02c5625, VIDIOC_TRY_FMT: 0xc0d05640, VIDIOC_G_EXT_CTRLS: 0xc0205647,
  VIDIOC_S_EXT_CTRLS: 0xc0205648, VIDIOC_TRY_EXT_CTRLS: 0xc0205649, VIDIOC_ENUM_FRAMESIZES: 0xc02c564a,
  VIDIOC_ENUM_FRAMEINTERVALS: 0xc034564b, VIDIOC_DQEVENT: 0x80885659, VIDIOC_SUBSCRIBE_EVENT: 0x4020565a,
  VIDIOC_UNSUBSCRIBE_EVENT: 0x4020565b, VIDIOC_CREATE_BUFS: 0xc100565c, VIDIOC_PREPARE_BUF: 0xc058565d,
};

describe("videodev2.h UAPI", () => {
  it("computes every VIDIOC_* number from the real 64-bit struct sizes", () => {
    for (const [name, value] of Object.entries(EXPECTED)) expect([name, (U as unknown as Record<string, number>)[name]]).toEqual([name, value]);
  });

  it("builds fourccs with v4l2_fourcc (little-endian characters)", () => {
    expect(U.V4L2_PIX_FMT_NV12).toBe(0x3231564e);
    expect(U.V4L2_PIX_FMT_YUYV).toBe(0x56595559);
    expect(U.V4L2_PIX_FMT_XBGR32).toBe(0x34325258); // 'XR24' == DRM_FORMAT_XRGB8888
    expect(U.fourccToString(U.V4L2_PIX_FMT_NV12M)).toBe("NM12");
    expect(U.fourccToString(U.V4L2_PIX_FMT_P010)).toBe("P010");
  });

  it("keeps Linux's flag and capability values", () => {
    expect(U.V4L2_BUF_FLAG_LAST).toBe(0x00100000);
    expect(U.V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC).toBe(0x2000);
    expect(U.V4L2_CAP_STREAMING).toBe(0x04000000);
    expect(U.V4L2_CAP_DEVICE_CAPS).toBe(0x80000000);
    expect(U.V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS).toBe(0x10);
    expect(U.V4L2_CID_TEST_PATTERN).toBe(0x009f0903);
  });
});
