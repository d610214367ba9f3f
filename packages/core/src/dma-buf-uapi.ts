/**
 * The dma-buf UAPI (include/uapi/linux/dma-buf.h): ioctls on a dma-buf fd, their structs and flags.
 * Request numbers are computed from the real struct sizes, so they equal Linux's on 64-bit.
 */
import { _IOW, _IOWR } from "./ioctl.js";

/** struct dma_buf_sync: `flags` is a __u64 (a bigint, or a number when it fits). */
export interface DmaBufSync {
  flags: number | bigint;
}

/** struct dma_buf_export_sync_file: `fd` is written back by the ioctl. */
export interface DmaBufExportSyncFile {
  flags: number;
  fd: number;
}

/** struct dma_buf_import_sync_file */
export interface DmaBufImportSyncFile {
  flags: number;
  fd: number;
}

export const DMA_BUF_SYNC_READ = 1 << 0;
export const DMA_BUF_SYNC_WRITE = 2 << 0;
export const DMA_BUF_SYNC_RW = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
export const DMA_BUF_SYNC_START = 0 << 2;
export const DMA_BUF_SYNC_END = 1 << 2;
export const DMA_BUF_SYNC_VALID_FLAGS_MASK = DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END;

/** Longest name DMA_BUF_SET_NAME accepts, counting the terminating NUL. */
export const DMA_BUF_NAME_LEN = 32;

export const DMA_BUF_BASE = "b";
/** _IOW('b', 0, struct dma_buf_sync) */
export const DMA_BUF_IOCTL_SYNC = _IOW(DMA_BUF_BASE, 0, 8);
/** _IOW('b', 1, const char *): the pointer size picks _A (32-bit) or _B (64-bit); both are accepted. */
export const DMA_BUF_SET_NAME_A = _IOW(DMA_BUF_BASE, 1, 4);
export const DMA_BUF_SET_NAME_B = _IOW(DMA_BUF_BASE, 1, 8);
export const DMA_BUF_SET_NAME = DMA_BUF_SET_NAME_B;
/** Since 6.0 (CONFIG_SYNC_FILE); handled in dma-buf-implicit-sync.ts. */
export const DMA_BUF_IOCTL_EXPORT_SYNC_FILE = _IOWR(DMA_BUF_BASE, 2, 8);
export const DMA_BUF_IOCTL_IMPORT_SYNC_FILE = _IOW(DMA_BUF_BASE, 3, 8);
