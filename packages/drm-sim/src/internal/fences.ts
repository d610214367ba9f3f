/**
 * The fence services KMS uses, in one place: explicit fences in (IN_FENCE_FD), out (OUT_FENCE_PTR,
 * WRITEBACK_OUT_FENCE_PTR), implicit fences of a framebuffer's buffers, and waiting from a kernel
 * worker (a callback, not a blocked actor: the commit worker must not keep virtual time going).
 */
export {};
