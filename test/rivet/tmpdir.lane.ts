/**
 * Where rivetkit's actor runtime sockets go (src/rivet/native-tmpdir.ts), in the Rivet lane (run by test/rivet/lane.sh):
 * a worker of the compiled binary puts them in its state dir (`<state>/rivet/tmp@<pid>`), nothing in its TMPDIR, while
 * a heartbeat's actor holds one; a SIGKILLed worker's directory is removed by the next worker on that state dir, and
 * SIGTERM removes the worker's own. Without it each actor left a `rivet-actor-runtime.*` directory in TMPDIR.
 *
 * The short state dir is made directly in /tmp (and removed): the sockets' path must fit in 107 bytes, which a state
 * dir under the lane's own temp dir does not leave room for; with such a one the sockets stay in TMPDIR, and the
 * worker lists them in its state dir so that they are removed all the same (the second test).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeTempDirs, tempDir } from "../tmp.ts";
import { freePort, LANE_BIN, startEngine, TOKEN_ENV, type Started } from "./helpers.ts";

afterAll(removeTempDirs);

/** The lane's environment without XDG_RUNTIME_DIR (rivetkit would prefer it to TMPDIR): each test sets its own. */
const { XDG_RUNTIME_DIR: _xdg, ...laneEnv } = process.env;

const runtimeDirs = (dir: string) => readdirSync(dir).filter((n) => n.startsWith("rivet-actor-runtime."));

/** A worker of the compiled binary (added to `procs` at once, so the test's finally ends it whatever fails). */
async function startWorker(procs: ReturnType<typeof Bun.spawn>[], endpoint: string, home: string, env: Record<string, string>, name: string) {
  const proc = Bun.spawn([LANE_BIN, "worker", "--engine", endpoint, "--name", name, "--concurrency", "1"], {
    env: { ...laneEnv, ...TOKEN_ENV, PAPERCLIP_AOS_HOME: home, ...env },
    stdout: "ignore",
    stderr: "pipe",
  });
  procs.push(proc);
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("worker ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`worker ${name} ended before it was ready: ${text}`);
    text += new TextDecoder().decode(value);
  }
  void (async () => {
    while (!(await reader.read()).done); // keep draining its stderr
  })();
  return proc;
}

/**
 * One worker on `home` with TMPDIR `tmp` (and XDG_RUNTIME_DIR `xdg` with `withXdg`: rivetkit prefers it to TMPDIR),
 * one heartbeat through it (its actor then holds a runtime socket), SIGKILL, a second worker on the same state dir,
 * SIGTERM. `where` says where the sockets of a worker with that pid are.
 */
async function killAndRestart(home: string, where: (workerPid: number, tmp: string) => string, withXdg = false) {
  const base = await tempDir("aos-rivet-tmp-");
  // The TMPDIR the worker inherits is short, as /tmp is: under the lane's own TMPDIR its socket paths would be too
  // long for rivetkit in any case, and the heartbeat fails with rivetkit's "An internal error occurred".
  const tmp = mkdtempSync("/tmp/aos-wt-");
  const xdg = mkdtempSync("/tmp/aos-wx-");
  const env: Record<string, string> = withXdg ? { TMPDIR: tmp, XDG_RUNTIME_DIR: xdg } : { TMPDIR: tmp };
  const ws = join(base, "ws");
  mkdirSync(ws);
  writeFileSync(join(base, "script.json"), JSON.stringify({ steps: [{ text: "done" }] }));
  const port = await freePort();
  let engine: Started | undefined;
  const procs: ReturnType<typeof Bun.spawn>[] = [];
  try {
    engine = await startEngine(join(base, "engine"), port, join(base, "engine-home"));
    const first = await startWorker(procs, engine.info.endpoint, home, env, "tmp-a");
    const run = Bun.spawn(
      [LANE_BIN, "run", "--engine", engine.info.endpoint, "--cwd", ws, "--model", `scripted:${join(base, "script.json")}`, "--prompt", "hi", "--agent-id", "tmp-agent", "--task-key", "t1"],
      { env: { ...process.env, ...TOKEN_ENV, PAPERCLIP_AOS_HOME: join(base, "client") }, stdout: "pipe", stderr: "pipe" },
    );
    const [out, code] = await Promise.all([new Response(run.stdout).text(), run.exited]);
    expect({ code, result: out.trim().split("\n").at(-1) }).toMatchObject({ code: 0, result: expect.stringContaining('"type":"result"') });

    // The session's actor is still on the worker: its socket's directory is where it should be.
    const sockets = where(first.pid, tmp);
    expect(runtimeDirs(sockets).length).toBeGreaterThanOrEqual(1);
    if (sockets !== tmp) expect(runtimeDirs(tmp)).toEqual([]);
    expect(runtimeDirs(xdg)).toEqual([]);

    first.kill("SIGKILL");
    await first.exited;
    expect(runtimeDirs(sockets).length).toBeGreaterThanOrEqual(1); // nothing ran to remove it
    const second = await startWorker(procs, engine.info.endpoint, home, env, "tmp-b");
    // The next worker on the state dir removed what the killed one left.
    expect(readdirSync(join(home, "rivet")).filter((n) => n.includes(`tmp@${first.pid}`))).toEqual([]);
    expect(runtimeDirs(tmp)).toEqual([]);

    second.kill("SIGTERM");
    expect(await second.exited).toBe(143);
    expect(readdirSync(join(home, "rivet")).filter((n) => n.startsWith("tmp@"))).toEqual([]);
    expect(runtimeDirs(tmp)).toEqual([]);
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    if (engine) {
      engine.proc.kill("SIGTERM");
      await engine.proc.exited;
    }
    for (const d of [tmp, xdg]) rmSync(d, { recursive: true, force: true });
  }
}

test("a short state dir: the actor runtime sockets are in it, not in TMPDIR or XDG_RUNTIME_DIR, and removed after SIGKILL (by the next start) and SIGTERM", async () => {
  const home = mkdtempSync("/tmp/aos-h");
  try {
    await killAndRestart(home, (pid) => join(home, "rivet", `tmp@${pid}`), true);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("a state dir too long for a socket path: the sockets stay in TMPDIR, listed in the state dir, and are removed the same way", async () => {
  const home = join(await tempDir("aos-rivet-long-"), "a-state-dir-whose-path-is-too-long-for-unix-sockets");
  await killAndRestart(home, (_pid, tmp) => tmp);
});

test("a state dir and a TMPDIR both too long for rivetkit's socket paths: worker --engine says so in one line and exits 1 before it warms anything", async () => {
  const base = await tempDir("aos-rivet-toolong-");
  const home = join(base, "a-state-dir-whose-path-is-too-long-for-unix-sockets");
  const tmp = join(base, "an-inherited-tmpdir-whose-path-is-too-long-as-well");
  mkdirSync(tmp, { recursive: true });
  // No engine listens: the worker must stop before it would connect (or warm a sidecar).
  const proc = Bun.spawn([LANE_BIN, "worker", "--engine", `http://127.0.0.1:${await freePort()}`, "--name", "long"], {
    env: { ...laneEnv, ...TOKEN_ENV, PAPERCLIP_AOS_HOME: home, TMPDIR: tmp },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, errText, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(1);
  expect(out).toBe("");
  const lines = errText.trim().split("\n");
  expect(lines[0]).toMatch(/^error: rivetkit's actor runtime sockets need a directory of at most 56 bytes, .*TMPDIR=\S+an-inherited-tmpdir/);
  expect(lines.slice(1)).toEqual([expect.stringMatching(/^hint: .*TMPDIR=\/tmp/)]);
  // Nothing of the worker is left in its state dir or the TMPDIR.
  expect(readdirSync(join(home, "rivet"))).toEqual([]);
  expect(readdirSync(tmp)).toEqual([]);
});
