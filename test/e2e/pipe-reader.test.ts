import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { untilServing } from "../../src/worker/index.ts";
import { binPath, privateCache, removeTempDirs, runBin, stopServe, tempDir } from "./helpers.ts";

/**
 * A WASM process waiting to read a pipe no longer stops every other program from starting (agentOS 0.2.21's runner
 * waited 10 s a slice inside one sidecar call, and no process started anywhere on that sidecar meanwhile: the
 * compiled binary's sidecar carries the 20 ms slice, src/runtime/sidecar-patch.ts). Through the compiled binary's
 * worker, where one sidecar serves every heartbeat and exec: while one exec's `cat` waits on a stdin nobody feeds,
 * other execs start programs, and their policy still holds.
 */
let home: string;
let cache: string;
let serve: ReturnType<typeof Bun.spawn> | undefined;
const env = () => ({ PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: cache });

beforeAll(async () => {
  home = await tempDir("aos-pipe-home-");
  cache = await privateCache();
  serve = Bun.spawn([binPath(), "serve"], { env: { ...process.env, ...env() }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  await untilServing(serve.stderr as ReadableStream<Uint8Array>, "worker ready");
}, 180_000);

afterAll(async () => {
  try {
    await stopServe(serve);
  } finally {
    await removeTempDirs();
  }
}, 60_000);

describe("a pipe reader on the worker's sidecar", () => {
  test("while one exec's cat waits on its stdin, other execs start programs, and a denied read stays denied", async () => {
    const readerWs = await tempDir("aos-pipe-reader-");
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const stdin = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
    const reader = Bun.spawn([binPath(), "exec", "--cwd", readerWs, "--timeout", "150", "--", "cat"], {
      cwd: readerWs,
      env: { ...process.env, ...env(), NO_COLOR: "1" },
      stdin,
      stdout: "pipe",
      stderr: "pipe",
      timeout: 170_000,
    });
    try {
      // cat has echoed the first line, so it is running and back in its read of a pipe that stays open.
      feed.enqueue(new TextEncoder().encode("ping\n"));
      const out = (reader.stdout as ReadableStream<Uint8Array>).getReader();
      let echoed = "";
      while (!echoed.includes("ping\n")) {
        const { value, done } = await out.read();
        if (done) throw new Error(`the reader ended before echoing: ${echoed}`);
        echoed += new TextDecoder().decode(value);
      }

      const ws = await tempDir("aos-pipe-ws-");
      await writeFile(join(ws, "marker.txt"), "m\n");
      await writeFile(join(ws, "secret.txt"), "TOP-SECRET-PIPE\n");
      // With 0.2.21's runner these never started: `ls` waited for the cat above, and its --timeout (counted from the
      // start) never came: runBin killed it after 110 s.
      const listed = await runBin(["exec", "--cwd", ws, "--timeout", "100", "--", "ls"], { env: env() });
      expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: "" });
      expect(listed.stdout.split("\n")).toContain("marker.txt");
      const denied = await runBin(["exec", "--cwd", ws, "--timeout", "100", "--deny-read=secret.txt", "--", 'cat secret.txt; echo "rc=$?"; cat marker.txt'], { env: env() });
      expect(denied.code).toBe(0);
      expect(denied.stdout).toBe("rc=1\nm\n");
      expect(denied.stderr).toContain("ermission denied");
      expect(denied.stdout + denied.stderr).not.toContain("TOP-SECRET-PIPE");

      // Both went through the worker (its one sidecar), beside the reader.
      let served = 0;
      for (let i = 0; i < 40 && served < 2; i++) {
        served = JSON.parse((await runBin(["serve", "--status", "--json"], { env: env() })).stdout).served.execs;
        if (served < 2) await Bun.sleep(250);
      }
      expect(served).toBeGreaterThanOrEqual(2);

      // The reader was there all along: its stdin's end ends it, with what it read.
      feed.close();
      let rest = "";
      for (;;) {
        const { value, done } = await out.read();
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      expect(await reader.exited).toBe(0);
      expect(echoed + rest).toBe("ping\n");
    } finally {
      reader.kill();
    }
  }, 300_000);
});
