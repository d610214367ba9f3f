import mm from "@dmabuf/mm";
import v4l2Sim from "@dmabuf/v4l2-sim";
import type { ExporterTarget, ImporterTarget, V4l2Target } from "../src/index.js";
import fixture, { FIXTURE_BOARD, FIXTURE_IOC_EXPORT, FIXTURE_IOC_IMPORT, FIXTURE_IOC_RELEASE, FIXTURE_IOC_USE } from "./fixtures/fixture-plugin.js";

/** The fixture driver's targets: its m2m node, its exporter and its dynamic importer (/dev/fixture-dma). */
export function fixtureTargets(broken: boolean): { v4l2: V4l2Target; exporter: ExporterTarget; importer: ImporterTarget<{ fd: number; handle: number }> } {
  const base = { plugins: [mm(), v4l2Sim(), fixture({ broken })], board: FIXTURE_BOARD };
  const dma = { ...base, device: "/dev/fixture-dma" };
  return {
    v4l2: { ...base, device: "/dev/video0" },
    exporter: {
      ...dma,
      async exportBuffer(ctx) {
        const a = { fd: -1 };
        await ctx.proc.ioctl(ctx.proc.open(ctx.device), FIXTURE_IOC_EXPORT, a);
        return a.fd;
      },
    },
    importer: {
      ...dma,
      importerDevice: "fixture.0",
      async importBuffer(ctx, fd) {
        const node = ctx.proc.open(ctx.device);
        const a = { fd, handle: 0 };
        await ctx.proc.ioctl(node, FIXTURE_IOC_IMPORT, a).catch((e: unknown) => {
          ctx.proc.close(node);
          throw e;
        });
        return { fd: node, handle: a.handle };
      },
      async useBuffer(ctx, h) {
        await ctx.proc.ioctl(h.fd, FIXTURE_IOC_USE, { handle: h.handle });
      },
      async releaseBuffer(ctx, h) {
        await ctx.proc.ioctl(h.fd, FIXTURE_IOC_RELEASE, { handle: h.handle });
        ctx.proc.close(h.fd);
      },
    },
  };
}
