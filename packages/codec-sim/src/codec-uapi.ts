/**
 * The codec part of the V4L2 UAPI (include/uapi/linux/videodev2.h, v4l2-controls.h) that the
 * stateful encoder and decoder add to v4l2-sim's: ENCODER_CMD / DECODER_CMD, selections, the
 * compressed formats and the JPEG quality control. Names and values are Linux's.
 */
import { _IOWR } from "@dmabuf/core";
import { v4l2_fourcc } from "@dmabuf/v4l2-sim";

/* Compressed formats */
/** JFIF JPEG, one picture per buffer. */
export const V4L2_PIX_FMT_JPEG = v4l2_fourcc("J", "P", "E", "G");
/** Motion-JPEG: the same bitstream, one JPEG per buffer. */
export const V4L2_PIX_FMT_MJPEG = v4l2_fourcc("M", "J", "P", "G");

/** enum v4l2_colorspace: V4L2_COLORSPACE_JPEG (sRGB primaries, full-range BT.601 Y'CbCr, as JFIF). */
export const V4L2_COLORSPACE_JPEG = 7;

/* struct v4l2_fmtdesc flags */
export const V4L2_FMT_FLAG_COMPRESSED = 0x0001;
export const V4L2_FMT_FLAG_CONTINUOUS_BYTESTREAM = 0x0004;
export const V4L2_FMT_FLAG_DYN_RESOLUTION = 0x0008;

/* VIDIOC_ENCODER_CMD */
export const V4L2_ENC_CMD_START = 0;
export const V4L2_ENC_CMD_STOP = 1;
export const V4L2_ENC_CMD_PAUSE = 2;
export const V4L2_ENC_CMD_RESUME = 3;
export const V4L2_ENC_CMD_STOP_AT_GOP_END = 1 << 0;

/* VIDIOC_DECODER_CMD */
export const V4L2_DEC_CMD_START = 0;
export const V4L2_DEC_CMD_STOP = 1;
export const V4L2_DEC_CMD_PAUSE = 2;
export const V4L2_DEC_CMD_RESUME = 3;
export const V4L2_DEC_CMD_FLUSH = 4;
export const V4L2_DEC_CMD_START_MUTE_AUDIO = 1 << 0;
export const V4L2_DEC_CMD_PAUSE_TO_BLACK = 1 << 0;
export const V4L2_DEC_CMD_STOP_TO_BLACK = 1 << 0;
export const V4L2_DEC_CMD_STOP_IMMEDIATELY = 1 << 1;

/* Selection targets */
export const V4L2_SEL_TGT_CROP = 0x0000;
export const V4L2_SEL_TGT_CROP_DEFAULT = 0x0001;
export const V4L2_SEL_TGT_CROP_BOUNDS = 0x0002;
export const V4L2_SEL_TGT_COMPOSE = 0x0100;
export const V4L2_SEL_TGT_COMPOSE_DEFAULT = 0x0101;
export const V4L2_SEL_TGT_COMPOSE_BOUNDS = 0x0102;
export const V4L2_SEL_TGT_COMPOSE_PADDED = 0x0103;

/* Controls */
export const V4L2_CTRL_CLASS_JPEG = 0x009d0000;
export const V4L2_CID_JPEG_CLASS_BASE = V4L2_CTRL_CLASS_JPEG | 0x900;
export const V4L2_CID_JPEG_COMPRESSION_QUALITY = V4L2_CID_JPEG_CLASS_BASE + 3;

/** struct v4l2_encoder_cmd (40 bytes: cmd, flags, raw.data[8]). */
export interface v4l2_encoder_cmd {
  cmd: number;
  flags: number;
  raw?: { data: number[] };
}

/** struct v4l2_decoder_cmd (72 bytes: cmd, flags, union { stop.pts; start.speed/format; raw.data[16] }). */
export interface v4l2_decoder_cmd {
  cmd: number;
  flags: number;
  stop?: { pts: bigint };
  start?: { speed: number; format: number };
}

export interface v4l2_rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** struct v4l2_selection (64 bytes). */
export interface v4l2_selection {
  type: number;
  target: number;
  flags: number;
  r: v4l2_rect;
}

export const VIDIOC_G_SELECTION = _IOWR("V", 94, 64);
export const VIDIOC_S_SELECTION = _IOWR("V", 95, 64);
export const VIDIOC_ENCODER_CMD = _IOWR("V", 77, 40);
export const VIDIOC_TRY_ENCODER_CMD = _IOWR("V", 78, 40);
export const VIDIOC_DECODER_CMD = _IOWR("V", 96, 72);
export const VIDIOC_TRY_DECODER_CMD = _IOWR("V", 97, 72);
