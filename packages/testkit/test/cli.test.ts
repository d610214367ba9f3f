/** dmabuf-compliance: v4l2-compliance's output shape (one line per check, a closing count) and exit status. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli.js";
import { FIXTURE_BOARD } from "./fixtures/fixture-plugin.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const boardFile = path.join(mkdtempSync(path.join(tmpdir(), "testkit-")), "board.json");
writeFileSync(boardFile, JSON.stringify(FIXTURE_BOARD));

async function run(args: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((s: string) => void out.push(...s.split("\n")));
  try {
    return { code: await main(args), out };
  } finally {
    spy.mockRestore();
  }
}

describe("dmabuf-compliance CLI", () => {
  afterEach(() => vi.restoreAllMocks());

  it("--plugin <path> --device: one 'test <name>: <status>' line per check, 'N passed, N failed', exit 1 on failures", async () => {
    const { code, out } = await run(["--plugin", "./fixtures/fixture-plugin.ts", "--options", '{"broken":true}', "--board", boardFile, "--device", "/dev/video0"].map((a) => (a.startsWith("./") ? path.join(here, a) : a)));
    expect(code).toBe(1);
    const tests = out.filter((l) => l.startsWith("\ttest "));
    expect(tests.every((l) => /^\ttest .+: (OK|FAIL|OK \(Not Supported\))$/.test(l))).toBe(true);
    expect(tests.filter((l) => l.endsWith("FAIL"))).toEqual(["\ttest VIDIOC_QUERYCAP: FAIL", "\ttest VIDIOC_TRY_FMT: FAIL", "\ttest Streaming (MMAP, mem2mem): FAIL"]);
    expect(out).toContain("V4L2 mem2mem: /dev/video0");
    expect(out.at(-1)).toBe(`${tests.length - 3} passed, 3 failed`);
  });

  it("exit 0 when every check passes; usage (exit 2) without --plugin/--device or --all", async () => {
    const ok = await run(["--plugin", path.join(here, "fixtures/fixture-plugin.ts"), "--board", boardFile, "--device", "/dev/video0"]);
    expect([ok.code, ok.out.at(-1)]).toEqual([0, expect.stringMatching(/^\d+ passed, 0 failed$/)]);
    expect((await run([])).code).toBe(2);
  });

  it("a plugin package that is not installed is a clear error (core's PluginError)", async () => {
    await expect(main(["--plugin", "@dmabuf/no-such-driver", "--device", "/dev/video0"])).rejects.toThrow(/plugin "@dmabuf\/no-such-driver": package not found/);
  });
});
