/**
 * A new user's first steps through the compiled binary, in a fresh state dir: every command's --help says what its
 * exit status means, and `serve --status` and `doctor` say whether a worker runs, what it keeps warm and what agentOS
 * cannot do.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { untilServing } from "../../src/worker/index.ts";
import { binPath, parseJson, privateCache, removeTempDirs, runBin, tempDir } from "./helpers.ts";

afterAll(removeTempDirs);

describe("help", () => {
  test("every command that runs ends its --help with EXIT CODES; a group lists its commands instead", async () => {
    const wide = { env: { COLUMNS: "400" } };
    const commandsOf = (help: string) => [...(help.split("COMMANDS\n\n")[1]?.split("\n\n")[0] ?? "").matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!);
    const leaves: string[][] = [];
    for (const top of commandsOf((await runBin(["--help"], wide)).stdout)) {
      const subs = commandsOf((await runBin([top, "--help"], wide)).stdout);
      if (subs.length) for (const sub of subs) leaves.push([top, sub]);
      else leaves.push([top]);
    }
    expect(leaves.length).toBeGreaterThan(30);
    const missing: string[] = [];
    for (const words of leaves) {
      const r = await runBin([...words, "--help"], wide);
      expect(r.code).toBe(0);
      const section = r.stdout.split("\nEXIT CODES\n\n")[1];
      // Each row is a code (or codes, 130/143; N for exec's own) and what it means.
      if (!section || !/^ {2}(\d+(\/\d+)?|N) +\S/.test(section) || !r.stdout.includes("\nEXAMPLES\n")) missing.push(words.join(" "));
    }
    expect(missing).toEqual([]);
    // The codes a command has of its own, not the default list.
    const of = async (...words: string[]) => (await runBin([...words, "--help"], wide)).stdout.split("\nEXIT CODES\n\n")[1]!;
    expect(await of("run")).toMatch(/^ {2}124 +--timeout passed/m);
    expect(await of("caps", "test")).toMatch(/^ {2}1 +a request is denied/m);
    expect(await of("engine", "status")).toMatch(/^ {2}3 +not installed/m);
    expect(await of("snapshot", "build")).toContain("snapshot_source_bad_name");
  });
});

describe("serve --status and doctor in a fresh state dir", () => {
  test("while serve warms, --status says it is starting; once up, doctor says it runs, what is warm, and lists agentOS's limits unticked", async () => {
    const home = await tempDir("aos-first-home-");
    const env = { PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: await privateCache() };
    const socket = join(home, "worker", "worker.sock");

    const none = await runBin(["serve", "--status"], { env });
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(`error: no worker runs at ${socket}\nhint: start one with 'paperclip-aos serve'\n`);

    const serve = Bun.spawn([binPath(), "serve"], { env: { ...process.env, ...env }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    try {
      // The lock comes first, the socket only once the sidecar is warm: stop it in between to look at that moment.
      while (!existsSync(join(home, "worker", "worker.pid"))) await Bun.sleep(10);
      serve.kill("SIGSTOP");
      expect(existsSync(socket)).toBe(false);
      const starting = await runBin(["serve", "--status", "--json"], { env });
      expect(starting.code).toBe(1);
      expect(parseJson(starting.stdout).error).toMatchObject({
        code: "worker_starting",
        message: `the worker (pid ${serve.pid}) is starting: it answers at ${socket} once its sidecar is warm`,
      });
      serve.kill("SIGCONT");
      await untilServing(serve.stderr as ReadableStream<Uint8Array>, "worker ready");

      const up = await runBin(["serve", "--status"], { env });
      expect(up.code).toBe(0);
      expect(up.stdout).toMatch(/^warm {7}a sidecar/m);
      expect(up.stdout).toContain("limits     what agentOS cannot do in a VM, and the ways around it: 'paperclip-aos doctor'");

      const doc = await runBin(["doctor"], { env, timeoutMs: 300_000 });
      expect(doc.code).toBe(0);
      expect(doc.stderr).toContain(`✔ a worker runs (pid ${serve.pid}, ${socket}): 0 of 4 heartbeats running, 0 queued; warm: a sidecar (first shell and Pi session done)`);
      // agentOS's limits are said as limits, not ticked as checks that passed.
      expect(doc.stderr).toContain("\n- limit: a node program in the VM that starts a child process of its own spins");
      expect(doc.stderr).not.toMatch(/✔ [^\n]*(spins until|cannot be hidden)/);
    } finally {
      serve.kill("SIGCONT");
      serve.kill("SIGTERM");
      await serve.exited;
    }
    const gone = parseJson((await runBin(["doctor", "--json"], { env, timeoutMs: 300_000 })).stdout);
    expect(gone.checks.find((c: { code: string }) => c.code === "worker")).toMatchObject({
      level: "info",
      message: "no worker runs: run and exec start a sidecar and boot a VM of their own each time",
    });
  });
});
