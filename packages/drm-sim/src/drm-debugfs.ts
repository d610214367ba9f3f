/**
 * debugfs of a DRM device (drivers/gpu/drm/drm_debugfs.c, drm_debugfs_crc.c), in the kernel's text:
 * /sys/kernel/debug/dri/<minor>/{name,clients,framebuffer} and, per CRTC, crtc-<n>/crc/{control,data}
 * for CRC capture as IGT's igt_pipe_crc uses it.
 */
import { Errno, O_NONBLOCK, WaitQueue, check, type FileOperations } from "@dmabuf/core";
import type { DrmDevice } from "./drm-device.js";
import { planeHeight, planeWidth } from "./drm-format.js";
import type { DrmCrtc } from "./drm-crtc.js";
import * as U from "./uapi.js";

/** LINE_LEN(values_cnt) of drm_debugfs_crc.c for one CRC value: "%#010x" + " %#010x" + "\n". */
const CRC_LINE_LEN = 10 + 11 + 1;

const hex10 = (n: number) => "0x" + (n >>> 0).toString(16).padStart(8, "0");
/** %p4cc: "XR24 little-endian (0x34325258)". */
const p4cc = (f: number) => `${U.fourccName(f)} ${f & U.DRM_FORMAT_BIG_ENDIAN ? "big" : "little"}-endian (0x${(f >>> 0).toString(16).padStart(8, "0")})`;

/** Creates the files; returns their paths (for drm_debugfs_unregister). */
export function drmDebugfsInit(dev: DrmDevice): string[] {
  const dir = `/sys/kernel/debug/dri/${dev.minor}`;
  const vfs = dev.kernel.vfs;
  const paths = [`${dir}/name`, `${dir}/clients`];
  // drm_name_info()
  vfs.createText(`${dir}/name`, () => `${dev.driver.name} dev=${dev.device.name} unique=${dev.device.name}\n`);
  // drm_clients_info()
  vfs.createText(`${dir}/clients`, () =>
    `${"command".padStart(20)} ${"tgid".padStart(5)} ${"dev".padStart(3)} master a ${"uid".padStart(5)} ${"magic".padStart(10)}\n` +
    [...dev.files].map((f) => `${f.comm.padStart(20)} ${String(f.pid).padStart(5)} ${String(dev.minor).padStart(3)}   ${dev.master === f ? "y" : "n"}    n ${"0".padStart(5)} ${"0".padStart(10)}\n`).join(""));
  const kms = dev.kms;
  if (!kms) return paths;
  paths.push(`${dir}/framebuffer`);
  // drm_framebuffer_info()
  vfs.createText(`${dir}/framebuffer`, () => {
    let out = "";
    for (const fb of [...kms.fbs].sort((a, b) => a.id - b.id)) {
      out += `framebuffer[${fb.id}]:\n\tallocated by = ${fb.comm}\n\trefcount=${fb.refcount}\n\tformat=${p4cc(fb.format.format)}\n\tmodifier=0x${fb.modifier.toString(16)}\n\tsize=${fb.width}x${fb.height}\n\tlayers:\n`;
      fb.objs.forEach((o, i) => {
        out += `\t\tsize[${i}]=${planeWidth(fb.format, fb.width, i)}x${planeHeight(fb.format, fb.height, i)}\n\t\tpitch[${i}]=${fb.pitches[i]}\n\t\toffset[${i}]=${fb.offsets[i]}\n\t\tobj[${i}]:\n`;
        out += `\t\t\tname=0\n\t\t\trefcount=${o.refcount}\n\t\t\tstart=${o.vmaStart.toString(16).padStart(8, "0")}\n\t\t\tsize=${o.size}\n\t\t\timported=${o.importAttach ? "yes" : "no"}\n`;
      });
    }
    return out;
  });
  for (const crtc of kms.crtcs) {
    const crc = `${dir}/crtc-${crtc.index}/crc`;
    crcFiles(dev, crtc, crc);
    paths.push(`${crc}/control`, `${crc}/data`);
  }
  return paths;
}

/** drm_debugfs_crc.c: "control" names the source (vkms knows only "auto"); "data" streams "frame crc" lines. */
function crcFiles(dev: DrmDevice, crtc: DrmCrtc, dir: string): void {
  let source = "auto";
  let opened = false;
  dev.kernel.vfs.createText(`${dir}/control`, () => `${source}\n`, (text) => {
    const s = text.trim();
    // vkms_verify_crc_source(): only "auto" (or none).
    if (s !== "auto" && s !== "") throw new Errno("EINVAL", "write", `vkms: unknown CRC source "${s}" (only "auto")`);
    source = s || "auto";
  });
  const fops: FileOperations = {
    name: "crtc-crc",
    open(file) {
      check(!opened, "EBUSY", "open", `${dir}/data is already open`);
      check(crtc.state.active, "EIO", "open", `CRTC ${crtc.id} is not active`);
      opened = true;
      const queue: { frame: number; crc: number }[] = [];
      const wq = new WaitQueue();
      const stop = crtc.onFrame((f) => {
        queue.push({ frame: f.sequence, crc: f.crc() });
        wq.wake();
      });
      file.privateData = { queue, wq, stop };
    },
    release(file) {
      (file.privateData as { stop: () => void }).stop();
      opened = false;
    },
    // crtc_crc_read(): one entry per read, blocking until one is there.
    async read(file, count) {
      const st = file.privateData as { queue: { frame: number; crc: number }[]; wq: WaitQueue };
      check(count >= CRC_LINE_LEN, "EINVAL", "read", `buffer of ${count} bytes is shorter than a CRC line (${CRC_LINE_LEN})`);
      if (st.queue.length === 0) {
        check(!(file.flags & O_NONBLOCK), "EAGAIN", "read", "no CRC entry yet and the file is O_NONBLOCK");
        await st.wq.waitEvent(dev.kernel.clock, () => st.queue.length > 0);
      }
      const e = st.queue.shift()!;
      return new TextEncoder().encode(`${hex10(e.frame)} ${hex10(e.crc)}\n`);
    },
  };
  dev.kernel.vfs.create(`${dir}/data`, fops);
}
