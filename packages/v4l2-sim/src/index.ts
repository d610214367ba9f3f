/**
 * @dmabuf/v4l2-sim: the V4L2 and videobuf2 framework (+ mem2mem) and a vivid-like camera.
 * Default export: the plugin factory. Named exports: the framework for other V4L2 drivers.
 */
export { default } from "./plugin.js";
export * from "./uapi.js";
export {
  V4L2_FORMATS, V4L2_PIXEL_ENC_RGB, V4L2_PIXEL_ENC_YUV, componentPlanes, planeBytesPerLine, planeLines, v4l2FillPixfmt,
  v4l2FillPixfmtMp, v4l2FormatInfo, type ComponentPlane, type V4l2FormatInfo,
} from "./formats.js";
export {
  TPG_COUNTER_DIGITS, TPG_MOVE_NONE, TPG_MOVE_STRINGS, TPG_PATTERN_STRINGS, Tpg, readFrameCounter, type FrameSink,
  type PlaneReader, type RowLayout,
} from "./tpg.js";
export {
  VB2_BUF_STATE_ACTIVE, VB2_BUF_STATE_DEQUEUED, VB2_BUF_STATE_DONE, VB2_BUF_STATE_ERROR, VB2_BUF_STATE_IN_REQUEST,
  VB2_BUF_STATE_PREPARING, VB2_BUF_STATE_QUEUED, VB2_DMABUF, VB2_MEMORY_UNKNOWN, VB2_MMAP, VB2_USERPTR, Vb2Buffer, Vb2Queue,
  stateName, type Vb2BufferState, type Vb2BufOps, type Vb2DmaCookie, type Vb2MemOps, type Vb2Ops, type Vb2Plane,
  type Vb2QueueInit, type Vb2Stats,
} from "./videobuf2-core.js";
export {
  POLL_ALL_EVENTS, v4l2BufOps, vb2BufCaps, vb2CreateBufs, vb2Dqbuf, vb2Expbuf, vb2Poll, vb2PrepareBuf, vb2Qbuf,
  vb2QueueInit, vb2Querybuf, vb2Reqbufs, vb2Streamoff, vb2Streamon,
} from "./videobuf2-v4l2.js";
export { vb2DmaContigMemOps } from "./videobuf2-dma-contig.js";
export { vb2DmaSgMemOps } from "./videobuf2-dma-sg.js";
export { V4l2CtrlHandler, type V4l2Ctrl, type V4l2CtrlConfig } from "./v4l2-ctrls.js";
export { V4l2Fh, VideoDevice, type V4l2FileHooks, type V4l2IoctlOps, type VideoDeviceInit } from "./v4l2-ioctl.js";
export {
  DST_QUEUE_OFF_BASE, V4l2M2mCtx, V4l2M2mDev, v4l2M2mFileHooks, v4l2M2mIoctlOps, v4l2M2mJobFinish, type V4l2M2mOps,
} from "./v4l2-mem2mem.js";
export {
  VIVID_CID_HOR_MOVEMENT, VIVID_CID_OSD_TEXT_MODE, VIVID_CID_TEST_PATTERN, VIVID_CID_VIVID_BASE, VIVID_MAX_HEIGHT,
  VIVID_MAX_WIDTH, VIVID_MIN_HEIGHT, VIVID_MIN_WIDTH, VIVID_OPTIONS, VIVID_OSD_TEXT_MODES, VividDevice, VividDriver,
  type VividOptions,
} from "./vivid.js";
