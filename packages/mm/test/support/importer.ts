import {
  _IOWR, dmaBufAttach, dmaBufDetach, dmaBufGet, dmaBufMapAttachment, dmaBufPut, dmaBufUnmapAttachment, type DmaBuf,
  type DmaBufAttachment, type DmaDataDirection, type Kernel, type Process, type SgTable,
} from "@dmabuf/core";

/** A driver-style import ioctl (as PRIME_FD_TO_HANDLE): { fd, dev, dir } -> the importer keeps the mapping. */
const IMPORT = _IOWR("T", 0, 16);

export interface Imported {
  buf: DmaBuf;
  attach: DmaBufAttachment;
  sgt: SgTable;
  dir: DmaDataDirection;
}

/**
 * /dev/test_import: an importing driver node for the tests. Its ioctl takes a dma-buf fd in the
 * caller's context (dma_buf_get), attaches the named device and maps the buffer for it, as vgem or
 * a V4L2 driver would on import.
 */
export function installImporter(k: Kernel) {
  let last: Imported | undefined;
  k.vfs.create("/dev/test_import", {
    name: "test_import",
    ioctl(_f, req, arg) {
      if (req !== IMPORT) return -25;
      const a = arg as { fd: number; dev: string; dir: DmaDataDirection };
      const buf = dmaBufGet(k, a.fd);
      const attach = dmaBufAttach(buf, k.devices.find((d) => d.name === a.dev)!);
      last = { buf, attach, sgt: dmaBufMapAttachment(attach, a.dir), dir: a.dir };
      return 0;
    },
  });
  return {
    async import(p: Process, fd: number, dev: string, dir: DmaDataDirection = 0): Promise<Imported> {
      const node = p.open("/dev/test_import");
      try {
        await p.ioctl(node, IMPORT, { fd, dev, dir });
      } finally {
        p.close(node);
      }
      return last!;
    },
    release(i: Imported): void {
      dmaBufUnmapAttachment(i.attach, i.sgt, i.dir);
      dmaBufDetach(i.buf, i.attach);
      dmaBufPut(i.buf);
    },
  };
}
