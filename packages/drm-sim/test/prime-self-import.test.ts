/**
 * IGT tests/prime_self_import.c, ported with vgem objects in place of i915 GEM (the assertions are
 * driver-independent; reference kernel-dmabuf-core.md 10.11). `check_bo` writes a counter through
 * one handle's mapping and reads it back through the other's.
 */
import { SEEK_END, SEEK_SET, type Process } from "@dmabuf/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { drmDeviceOf } from "../src/index.js";
import { createDumb, fdToHandle, gemClose, handleToFd, mapDumb } from "../src/libdrm.js";
import { bootDrm, VGEM } from "./support/drm.js";

const BO_SIZE = 64 * 1024;

/** check_bo(): data written through fd1's handle is seen through fd2's and back. */
async function checkBo(p: Process, fd1: number, h1: number, fd2: number, h2: number, counter: number): Promise<void> {
  const m1 = await mapDumb(p, fd1, h1, BO_SIZE);
  const m2 = await mapDumb(p, fd2, h2, BO_SIZE);
  m1.write(0, Uint8Array.of(counter, counter + 1));
  expect([...m2.read(0, 2)]).toEqual([counter, counter + 1]);
  m2.write(BO_SIZE - 1, Uint8Array.of(counter ^ 0xff));
  expect(m1.read(BO_SIZE - 1, 1)[0]).toBe(counter ^ 0xff);
  p.munmap(m1);
  p.munmap(m2);
}

async function setup() {
  const k = await bootDrm();
  const p = k.spawn("prime_self_import");
  return { k, p, dev: drmDeviceOf(k, VGEM) };
}

describe("IGT prime_self_import", () => {
  it("basic-with_one_bo: same handle on re-import, original handle on self-import, import survives the exporter", async () => {
    const { p, dev } = await setup();
    const fd1 = p.open(VGEM);
    const fd2 = p.open(VGEM);
    const bo = await createDumb(p, fd1, BO_SIZE / 4, 1);
    const dmaBuf = await handleToFd(p, fd1, bo.handle);
    const h2 = await fdToHandle(p, fd2, dmaBuf);
    // reimport must give the same handle
    expect(await fdToHandle(p, fd2, dmaBuf)).toBe(h2);
    // self-import into the exporting file gives the original handle
    expect(await fdToHandle(p, fd1, dmaBuf)).toBe(bo.handle);
    await checkBo(p, fd1, bo.handle, fd2, h2, 1);
    // close dma_buf, check whether nothing disappears
    p.close(dmaBuf);
    await checkBo(p, fd1, bo.handle, fd2, h2, 2);
    await gemClose(p, fd1, bo.handle);
    const m2 = await mapDumb(p, fd2, h2, BO_SIZE);
    expect(m2.read(0, 2)).toEqual(Uint8Array.of(2, 3));
    p.munmap(m2);
    // re-export from fd2 and import into both files again
    const again = await handleToFd(p, fd2, h2);
    expect(await fdToHandle(p, fd2, again)).toBe(h2);
    const h1 = await fdToHandle(p, fd1, again);
    await checkBo(p, fd1, h1, fd2, h2, 3);
    // closing the whole first file keeps fd2's object
    p.close(fd1);
    p.close(again);
    const m = await mapDumb(p, fd2, h2, BO_SIZE);
    expect(m.read(0, 2)).toEqual(Uint8Array.of(3, 4));
    p.munmap(m);
    p.close(fd2);
    expect(dev.objectCount).toBe(0);
  });

  it("basic-with_one_bo_two_files: an object opened in fd2 (by import, flink is not modelled), exported and self-imported in fd2, keeps its handle", async () => {
    const { p } = await setup();
    const fd1 = p.open(VGEM);
    const fd2 = p.open(VGEM);
    const bo = await createDumb(p, fd1, BO_SIZE / 4, 1);
    const d1 = await handleToFd(p, fd1, bo.handle);
    const opened = await fdToHandle(p, fd2, d1);
    const d2 = await handleToFd(p, fd2, opened);
    expect(await fdToHandle(p, fd2, d2)).toBe(opened);
    // one GEM object has one dma-buf: both fds name the same inode
    expect(p.fds.lookup(d1)!.inode.ino).toBe(p.fds.lookup(d2)!.inode.ino);
  });

  it("basic-with_two_bos: a new export through a reused fd number imports the new object (no cache keyed by fd number)", async () => {
    const { p } = await setup();
    const fd1 = p.open(VGEM);
    const fd2 = p.open(VGEM);
    const bo1 = await createDumb(p, fd1, BO_SIZE / 4, 1);
    const bo2 = await createDumb(p, fd1, BO_SIZE / 4, 1);
    const d1 = await handleToFd(p, fd1, bo1.handle);
    const h1 = await fdToHandle(p, fd2, d1);
    p.close(d1);
    await gemClose(p, fd2, h1);
    const d2 = await handleToFd(p, fd1, bo2.handle);
    expect(d2).toBe(d1);
    const h2 = await fdToHandle(p, fd2, d2);
    await checkBo(p, fd1, bo2.handle, fd2, h2, 7);
    const m1 = await mapDumb(p, fd1, bo1.handle, BO_SIZE);
    expect(m1.read(0, 2)).toEqual(Uint8Array.of(0, 0));
  });

  it("basic-with_fd_dup: import of a dup()'d fd after the original is closed; the object outlives every fd", async () => {
    const { p, dev } = await setup();
    const fd1 = p.open(VGEM);
    const fd2 = p.open(VGEM);
    const bo = await createDumb(p, fd1, BO_SIZE / 4, 1);
    const m = await mapDumb(p, fd1, bo.handle, BO_SIZE);
    m.write(0, Uint8Array.of(42));
    p.munmap(m);
    const d = await handleToFd(p, fd1, bo.handle);
    await gemClose(p, fd1, bo.handle);
    const dup = p.dup(d);
    p.close(d);
    const h = await fdToHandle(p, fd2, dup);
    p.close(dup);
    const m2 = await mapDumb(p, fd2, h, BO_SIZE);
    expect(m2.read(0, 1)[0]).toBe(42);
    p.munmap(m2);
    expect(dev.objectCount).toBe(1);
    await gemClose(p, fd2, h);
    expect(dev.objectCount).toBe(0);
  });

  it("export-vs-gem_close-race / reimport-vs-gem_close-race: any interleaving of export, import, GEM_CLOSE and close leaks no object", async () => {
    const { k, p, dev } = await setup();
    const fd1 = p.open(VGEM);
    const fd2 = p.open(VGEM);
    const op = fc.constantFrom("create", "export", "import", "gemclose1", "gemclose2", "closefd");
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(op, fc.nat(4)), { minLength: 1, maxLength: 25 }), async (ops) => {
        const handles1: number[] = [];
        const handles2: number[] = [];
        const bufs: number[] = [];
        const tryIt = async (f: () => Promise<unknown>) => {
          try {
            await f();
          } catch (e) {
            expect((e as { code?: string }).code).toMatch(/^(ENOENT|EINVAL)$/);
          }
        };
        for (const [o, i] of ops) {
          if (o === "create") handles1.push((await createDumb(p, fd1, 1024, 1)).handle);
          else if (o === "export" && handles1.length) await tryIt(async () => bufs.push(await handleToFd(p, fd1, handles1[i % handles1.length]!)));
          else if (o === "import" && bufs.length) handles2.push(await fdToHandle(p, fd2, bufs[i % bufs.length]!));
          else if (o === "gemclose1" && handles1.length) await tryIt(() => gemClose(p, fd1, handles1.splice(i % handles1.length, 1)[0]!));
          else if (o === "gemclose2" && handles2.length) await tryIt(() => gemClose(p, fd2, handles2.splice(i % handles2.length, 1)[0]!));
          else if (o === "closefd" && bufs.length) p.close(bufs.splice(i % bufs.length, 1)[0]!);
        }
        for (const b of bufs) p.close(b);
        for (const h of new Set(handles1)) await tryIt(() => gemClose(p, fd1, h));
        for (const h of new Set(handles2)) await tryIt(() => gemClose(p, fd2, h));
        expect(dev.objectCount).toBe(0);
        expect(k.objects.live("drm_gem_object")).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it("basic-llseek-size: lseek(dmabuf, 0, SEEK_END) is the size, 4 KiB to 2 MiB", async () => {
    const { p } = await setup();
    const fd = p.open(VGEM);
    for (let i = 0; i < 10; i++) {
      const size = 4096 << i;
      const bo = await createDumb(p, fd, size / 4, 1);
      const d = await handleToFd(p, fd, bo.handle);
      expect(p.lseek(d, 0, SEEK_END)).toBe(size);
      p.close(d);
      await gemClose(p, fd, bo.handle);
    }
  });

  it("basic-llseek-bad: only offset 0 with SEEK_SET/SEEK_END is valid (EINVAL otherwise)", async () => {
    const { p } = await setup();
    const fd = p.open(VGEM);
    const bo = await createDumb(p, fd, BO_SIZE / 4, 1);
    const d = await handleToFd(p, fd, bo.handle);
    for (const [off, whence] of [[-1, SEEK_END], [1, SEEK_SET], [BO_SIZE, SEEK_SET], [BO_SIZE + 1, SEEK_SET], [BO_SIZE - 1, SEEK_SET]] as const)
      expect(() => p.lseek(d, off, whence)).toThrow(/EINVAL/);
  });
});

describe("self-import across files of one device (drm_gem_prime_import_dev shortcut, D2/D3)", () => {
  it("a vkms dumb buffer imported into another vkms file is the same GEM object, with no attachment; re-export gives the same dma-buf", async () => {
    const k = await bootDrm();
    const p = k.spawn("self");
    const fd1 = p.open("/dev/dri/card0");
    const fd2 = p.open("/dev/dri/card0");
    const bo = await createDumb(p, fd1, 64, 64);
    const d1 = await handleToFd(p, fd1, bo.handle);
    const h2 = await fdToHandle(p, fd2, d1);
    const dev = drmDeviceOf(k, "/dev/dri/card0");
    const [f1, f2] = [...dev.files];
    expect(f2!.lookup(h2)).toBe(f1!.lookup(bo.handle));
    expect(f1!.lookup(bo.handle)!.dmaBuf!.attachments).toEqual([]);
    const d2 = await handleToFd(p, fd2, h2);
    expect(p.fds.lookup(d2)!.inode.ino).toBe(p.fds.lookup(d1)!.inode.ino);
    expect(dev.objectCount).toBe(1);
  });
});
