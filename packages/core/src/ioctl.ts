/**
 * ioctl request numbers, computed exactly as include/uapi/asm-generic/ioctl.h does:
 * dir (2 bits) << 30 | size (14 bits) << 16 | type (8 bits) << 8 | nr (8 bits).
 */
export const IOC_NONE = 0;
export const IOC_WRITE = 1;
export const IOC_READ = 2;

const code = (t: string | number) => (typeof t === "string" ? t.charCodeAt(0) : t);

export function _IOC(dir: number, type: string | number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (code(type) << 8) | nr) >>> 0;
}
export const _IO = (type: string | number, nr: number) => _IOC(IOC_NONE, type, nr, 0);
export const _IOR = (type: string | number, nr: number, size: number) => _IOC(IOC_READ, type, nr, size);
export const _IOW = (type: string | number, nr: number, size: number) => _IOC(IOC_WRITE, type, nr, size);
export const _IOWR = (type: string | number, nr: number, size: number) =>
  _IOC(IOC_READ | IOC_WRITE, type, nr, size);

export const _IOC_DIR = (req: number) => (req >>> 30) & 3;
export const _IOC_TYPE = (req: number) => (req >>> 8) & 0xff;
export const _IOC_NR = (req: number) => req & 0xff;
export const _IOC_SIZE = (req: number) => (req >>> 16) & 0x3fff;

/** `0xc0086201`-style text, as strace prints request numbers. */
export const ioctlHex = (req: number) => "0x" + (req >>> 0).toString(16).padStart(8, "0");
