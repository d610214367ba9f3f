/// <reference lib="dom" />
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { chromium, type Browser } from "playwright-core";

const bin = fileURLToPath(new URL("../bin/soc-demo.mjs", import.meta.url));
const artifacts = fileURLToPath(new URL("../out/test-artifacts/", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let browser: Browser | undefined;
const child = spawn(process.execPath, [bin, "--serve", "0", "--size", "640x480", "--frames", "600"], { stdio: ["ignore", "pipe", "pipe"] });
afterAll(async () => {
  await browser?.close();
  child.kill("SIGTERM");
});

const url = new Promise<string>((resolve, reject) => {
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    const m = /live view at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
    if (m) resolve(m[1]!);
  });
  child.on("exit", (code) => reject(new Error(`soc-demo --serve exited with ${code}: ${out}`)));
});

describe("soc-demo --serve (web view in headless Chromium)", () => {
  it("shows a scanned-out frame, the buffers in the pipeline, bufinfo rows and CMA occupancy", async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(await url);
    // a frame rendered: the <img> loaded a PNG of the scanout with real dimensions
    await page.waitForFunction(() => {
      const img = document.getElementById("screen") as HTMLImageElement | null;
      return !!img && img.complete && img.naturalWidth > 0;
    }, undefined, { timeout: 30_000 });
    expect(await page.$eval("#screen", (img) => (img as HTMLImageElement).naturalWidth)).toBe(640);
    // the bufinfo table lists the camera's exported buffers; the encoder attaches each at its first
    // QBUF, so within a few frames a buffer shows both importers
    await page.waitForFunction(() => document.querySelectorAll("#bufinfo tbody tr").length >= 4);
    await page.waitForFunction(() => Array.from(document.querySelectorAll("#bufinfo tbody tr")).some((tr) => /videobuf2_dma_contig/.test(tr.textContent ?? "") && /vkms\.0/.test(tr.textContent ?? "") && /jpeg-enc\.0/.test(tr.textContent ?? "")), undefined, { timeout: 30_000 });
    const rows = await page.$$eval("#bufinfo tbody tr", (trs) => trs.map((tr) => tr.textContent ?? ""));
    expect(rows.filter((r) => r.includes("videobuf2_dma_contig")).length).toBe(4);
    // every camera buffer is somewhere in the pipeline, and CMA occupancy is drawn
    await page.waitForFunction(() => document.querySelectorAll(".buf").length >= 4);
    expect(await page.$$eval(".buf", (b) => b.length)).toBeGreaterThanOrEqual(4);
    expect(await page.textContent("#cmatext")).toMatch(/linux,cma: \d+\.\d MiB used of 256 MiB/);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}web-view.png` });
  });
});
