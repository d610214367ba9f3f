/**
 * Kernel taint flags (include/linux/panic.h), as bit numbers: `kernel.tainted` and
 * /proc/sys/kernel/tainted hold 1 << bit for each. An oops sets TAINT_DIE ('D'), a WARN TAINT_WARN ('W').
 */
export const TAINT_DIE = 7;
export const TAINT_WARN = 9;
