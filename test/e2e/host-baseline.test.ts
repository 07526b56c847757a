import { describe, expect, test } from "bun:test";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { hostBaseline } from "../../src/eval/host-baseline.ts";
import { tempDir } from "./helpers.ts";

// The agents' CLIs on the host are the bench's and eval's baselines (src/eval/host-baseline.ts). Run as they are, they
// leave files in the host's temp dir at every run (OpenCode, a compiled Bun program, extracts a 5.6 MB native library;
// Claude Code keeps a claude-<uid> dir): the baseline gives each run a TMPDIR of its own in its scratch home.
const PATH = `${join(import.meta.dir, "..", "..", "node_modules", ".bin")}:${process.env.PATH}`;

describe("the host CLI baselines", () => {
  test.each(["opencode", "claude"])("%s on the host leaves nothing in the temp dir it was started with", async (agent) => {
    const dir = await tempDir("aos-hostcli-");
    const outer = join(dir, "outer-tmp");
    const saved = { TMPDIR: process.env.TMPDIR, PATH: process.env.PATH };
    try {
      await mkdir(outer);
      await mkdir(join(dir, "ws"));
      // (The spawned CLI inherits this process's env: restored below.)
      process.env.TMPDIR = outer;
      process.env.PATH = PATH;
      const host = hostBaseline(agent);
      if ("missing" in host) throw new Error(host.missing);
      const s = await host.baseline.heartbeat({ workspace: join(dir, "ws"), home: join(dir, "home"), steps: [{ tool: "bash", input: { command: "ls" } }, { text: "ok" }] as never, resume: false });
      expect(s.exitCode).toBe(0);
      expect(await readdir(outer)).toEqual([]);
      // What it left is in its scratch home, which its caller removes.
      expect((await readdir(join(dir, "home", "tmp"))).length).toBeGreaterThan(0);
    } finally {
      for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the checkout's own CLIs", () => {
  test("node_modules/.bin/opencode runs after `bun install`, which runs no dependency's install script (scripts/postinstall.ts)", async () => {
    const dir = await tempDir("aos-opencode-bin-");
    try {
      // (OpenCode writes its data, cache, config and temp dirs even for --version: all of them in dir.)
      const env = { PATH: process.env.PATH, HOME: dir, TMPDIR: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, XDG_CACHE_HOME: dir, XDG_STATE_HOME: dir };
      const r = Bun.spawnSync([join(import.meta.dir, "..", "..", "node_modules", ".bin", "opencode"), "--version"], { env, cwd: dir });
      const { version } = await Bun.file(join(import.meta.dir, "..", "..", "node_modules", "opencode-ai", "package.json")).json();
      expect({ code: r.exitCode, stdout: r.stdout.toString().trim(), stderr: r.stderr.toString().slice(0, 300) }).toEqual({ code: 0, stdout: version, stderr: "" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
