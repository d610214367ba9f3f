/**
 * @dmabuf/core: the kernel side of the dma-buf model. Public names only; internals live under
 * src/internal/ and are not exported.
 */
export { ERRNO, Errno, check, errnoName, isErrno, type ErrnoCode } from "./errno.js";
export { _IO, _IOC, _IOC_DIR, _IOC_NR, _IOC_SIZE, _IOC_TYPE, _IOR, _IOW, _IOWR, IOC_NONE, IOC_READ, IOC_WRITE, ioctlHex } from "./ioctl.js";
export { NSEC_PER_MSEC, NSEC_PER_SEC, NSEC_PER_USEC, SimulationStalled, VirtualClock, type Timer } from "./clock.js";
export { Tracer, type TaskContext, type TraceArgs, type TraceRecord } from "./trace.js";
export { WaitQueue, waitOrTimeout } from "./wait-queue.js";
export {
  FD_CLOEXEC, File, filePrivate, MAP_PRIVATE, MAP_SHARED, O_ACCMODE, O_CLOEXEC, O_CREAT, O_EXCL, O_NONBLOCK, O_RDONLY,
  O_RDWR, O_WRONLY, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM, PROT_NONE,
  PROT_READ, PROT_WRITE, SEEK_CUR, SEEK_END, SEEK_SET, type FileOperations, type Inode, type PollTable,
} from "./file.js";
export { VmArea } from "./vm-area.js";
export { FdTable, NR_OPEN_DEFAULT, NR_OPEN_MAX } from "./fd-table.js";
export { Vfs, seqFileOps, type VfsNode, type VfsResolver } from "./vfs.js";
export {
  F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, PAGE_SIZE, Process, RLIMIT_NOFILE, SIGINT, SIGKILL, SIGTERM, type PollFd,
} from "./process.js";
export {
  FAULT_POINTS, FaultInjection, faultAttrSchema, faultsSchema, type FaultAttr, type FaultAttrInput, type FaultPoint,
} from "./fault-inject.js";
export { BoardError, DEFAULT_BOARD, boardSchema, parseBoard, parseSize, type BoardDescription, type BoardInput, type DeviceDescription } from "./board.js";
export { Device, type PlatformDriver, type Subsystem } from "./device.js";
export { KERNEL, PLATFORM_DRIVER, PluginError, SUBSYSTEM, isDriverPlugin, loadPlugin, type DriverPlugin, type DriverPluginFactory } from "./plugin.js";
export {
  KernelObjects, LeakError, assertNoLeaks, failOnLeaks, leakCheck, leaksExpected, onKernelBoot, type KernelObjectRecord, type LeakReport, type TaskRef,
} from "./leak-check.js";
export { Kernel, type BootOptions, type PluginSpec } from "./kernel.js";
// For drivers and test kits that run kernel paths (fd lookups, sleeps) on behalf of a process.
export { callAs } from "./internal/call-as.js";
export { TAINT_DIE, TAINT_WARN } from "./taint.js";
export {
  DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_NONE, DMA_TO_DEVICE, SgTable, dmaDirectionName, isValidDmaDirection, segmentAt,
  segmentStarts, type DmaDataDirection, type Scatterlist,
} from "./scatterlist.js";
export {
  DmaBuf, DmaBufAttachment, dmaBufAttach, dmaBufAttachmentIsDynamic, dmaBufBeginCpuAccess, dmaBufDetach,
  dmaBufDynamicAttach, dmaBufEndCpuAccess, dmaBufExport, dmaBufFd, dmaBufGet, dmaBufIsDynamic,
  dmaBufMapAttachment, dmaBufMmap, dmaBufMoveNotify, dmaBufPin, dmaBufPut, dmaBufUnmapAttachment, dmaBufUnpin,
  dmaBufVmap, dmaBufVunmap, getDmaBuf, isDmaBufFile,
} from "./dma-buf.js";
export type { DmaBufAttachOps, DmaBufExportInfo, DmaBufOps, IosysMap } from "./dma-buf-ops.js";
export {
  DMA_BUF_BASE, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, DMA_BUF_IOCTL_SYNC, DMA_BUF_NAME_LEN,
  DMA_BUF_SET_NAME, DMA_BUF_SET_NAME_A, DMA_BUF_SET_NAME_B, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START, DMA_BUF_SYNC_VALID_FLAGS_MASK, DMA_BUF_SYNC_WRITE, type DmaBufExportSyncFile,
  type DmaBufImportSyncFile, type DmaBufSync,
} from "./dma-buf-uapi.js";
// Fences and synchronisation: dma_fence and its containers, dma_resv, sync_file, sw_sync.
export { flushSignals, sendSignal, signalPending } from "./signal.js";
export {
  DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT, DMA_FENCE_FLAG_SIGNALED_BIT, DMA_FENCE_FLAG_TIMESTAMP_BIT, DMA_FENCE_FLAG_USER_BITS,
  DmaFence, MAX_SCHEDULE_TIMEOUT, dmaFenceAllocatePrivateStub, dmaFenceContextAlloc, dmaFenceGetStub, dmaFenceWaitAnyTimeout,
  seqnoIsLater,
  type DmaFenceCb, type DmaFenceFunc, type DmaFenceOps,
} from "./dma-fence.js";
export {
  DmaFenceArray, dmaFenceArrayCreate, dmaFenceArrayFirst, dmaFenceArrayNext, dmaFenceIsArray, dmaFenceIsContainer,
  dmaFenceMatchContext,
} from "./dma-fence-array.js";
export {
  DmaFenceChain, dmaFenceChainContained, dmaFenceChainFindSeqno, dmaFenceChainForEach, dmaFenceChainInit,
  dmaFenceChainWalk, dmaFenceIsChain, type DmaFenceRef,
} from "./dma-fence-chain.js";
export { dmaFenceDedupArray, dmaFenceUnwrap, dmaFenceUnwrapMerge } from "./dma-fence-unwrap.js";
export { WwAcquireCtx, WwClass, WwMutex, reservationWwClass } from "./ww-mutex.js";
export {
  DMA_RESV_USAGE_BOOKKEEP, DMA_RESV_USAGE_KERNEL, DMA_RESV_USAGE_READ, DMA_RESV_USAGE_WRITE, DmaResv, DmaResvIter,
  dmaResvUsageName, dmaResvUsageRw, type DmaResvEntry, type DmaResvUsage,
} from "./dma-resv.js";
export {
  SYNC_IOC_FILE_INFO, SYNC_IOC_MAGIC, SYNC_IOC_MERGE, SYNC_IOC_SET_DEADLINE, SyncFile, isSyncFile, syncFileCreate,
  syncFileGetFence, type SyncFenceInfo, type SyncFileInfo, type SyncMergeData, type SyncSetDeadline,
} from "./sync-file.js";
export {
  SW_SYNC_DEBUGFS_PATH, SW_SYNC_GET_DEADLINE, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC, SW_SYNC_IOC_MAGIC, SYNC_INFO_DEBUGFS_PATH, SyncPt,
  SyncTimeline, type SwSyncCreateFenceData, type SwSyncGetDeadline,
} from "./sw-sync.js";
