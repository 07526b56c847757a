import { afterAll, afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { untilServing, workerLockPid } from "../../src/worker/index.ts";
import { binPath, privateCache, processesMentioning, removeTempDirs, runBin, stopServe, tempDir } from "./helpers.ts";

/**
 * Two `serve`s for one state dir (an operator's unit file and a hand-started one, two CI steps): exactly one serves,
 * the other refuses with exit 1 naming the one that has it, and leaves nothing running of its own.
 */
type Serve = ReturnType<typeof Bun.spawn>;

const started: Serve[] = [];

afterEach(async () => {
  for (const p of started.splice(0)) await stopServe(p);
});

afterAll(removeTempDirs);

async function setup() {
  const home = await tempDir("aos-lockhome-");
  const cache = await privateCache();
  return { home, cache, env: { ...process.env, PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: cache } };
}

function startServe(env: Record<string, string | undefined>): Serve {
  const p = Bun.spawn([binPath(), "serve", "--spares", "0", "--resumable", "0"], { env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  started.push(p);
  return p;
}

/** Both started at once: the first to exit is the one refused; the other must come up and serve. */
async function race(env: Record<string, string | undefined>) {
  const both = [startServe(env), startServe(env)];
  // Both serving would leave neither exiting: a minute is many times a sidecar's warm-up.
  const first = await Promise.race([...both.map((p, i) => p.exited.then(() => i)), Bun.sleep(60_000).then(() => -1)]);
  if (first === -1) throw new Error("neither serve refused: both run for one state dir");
  const [loser, winner] = first === 0 ? [both[0]!, both[1]!] : [both[1]!, both[0]!];
  const loserErr = await new Response(loser.stderr as ReadableStream).text();
  await untilServing(winner.stderr as ReadableStream<Uint8Array>, "worker ready");
  return { loser, winner, loserErr, loserCode: await loser.exited };
}

async function expectOneServing(r: Awaited<ReturnType<typeof race>>, home: string, cache: string, env: Record<string, string | undefined>) {
  // Refused before it listened (the other was starting) or once the other's socket answered. (One object, so that a
  // failure shows the refused one's whole stderr.)
  expect({ code: r.loserCode, stderr: r.loserErr }).toEqual({ code: 1, stderr: expect.stringMatching(new RegExp(`another worker \\(pid ${r.winner.pid}\\) is starting|a worker is already serving`)) });
  const st = await runBin(["serve", "--status", "--json"], { env });
  expect(st.code).toBe(0);
  const status = JSON.parse(st.stdout);
  expect(status.pid).toBe(r.winner.pid);
  expect(lockPid(home)).toBe(r.winner.pid);
  // The refused one's sidecar (it may have warmed one before it saw the other) is gone with it: only the winner's run.
  const sidecarPids = new Set(status.sidecars.map((s: { pid: number }) => String(s.pid)));
  let others = processesMentioning(cache);
  for (let i = 0; i < 40 && others.length > sidecarPids.size; i++) {
    await Bun.sleep(250);
    others = processesMentioning(cache);
  }
  if (others.length !== sidecarPids.size) throw new Error(`processes of this cache: ${JSON.stringify(others)}; the winner's sidecars: ${JSON.stringify(status.sidecars)}`);
}

/** The pid the state dir's lock names, read as the worker reads it. */
function lockPid(home: string): number | undefined {
  return workerLockPid(join(home, "worker", "worker.sock"));
}

test("two serves started at once for one state dir: one serves, the other exits 1 naming it and leaves no sidecar", async () => {
  const { home, cache, env } = await setup();
  const r = await race(env);
  await expectOneServing(r, home, cache, env);
  // The one serving stops cleanly and takes its lock and socket with it.
  r.winner.kill("SIGTERM");
  expect(await r.winner.exited).toBe(143);
  expect(existsSync(join(home, "worker", "worker.pid"))).toBe(false);
  expect(existsSync(join(home, "worker", "worker.sock"))).toBe(false);
});

// Both find the dead owner's lock and may both remove it and take it in turn (on 1774d0c, 2 of 12 such races: the
// later one then failed at listen with "unexpected error: listen EADDRINUSE"); three rounds here.
test("two serves racing for a dead worker's lock (its pid gone): each time exactly one serves and the other says which", async () => {
  const dead = Bun.spawn(["true"]);
  await dead.exited;
  for (let round = 0; round < 3; round++) {
    const { home, cache, env } = await setup();
    mkdirSync(join(home, "worker"), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, "worker", "worker.pid"), `${dead.pid}\n`, { mode: 0o600 });
    const r = await race(env);
    await expectOneServing(r, home, cache, env);
    for (const p of started.splice(0)) await stopServe(p);
  }
});

// A worker ended by SIGKILL (or the OOM killer, or a reboot) leaves its lock; pids are reused (32768 on many hosts), so
// the pid it names may later be another process's. That process is not a worker: serve must not refuse for it, nor
// --status call it starting. (The reuse is made by writing a live process's pid into the killed worker's own lock.)
test("the lock of a worker killed with SIGKILL, its pid now another process's: --status says none runs and serve takes it over", async () => {
  const { home, env } = await setup();
  const killed = startServe(env);
  await untilServing(killed.stderr as ReadableStream<Uint8Array>, "worker ready");
  killed.kill("SIGKILL");
  await killed.exited;
  const lock = join(home, "worker", "worker.pid");
  const left = readFileSync(lock, "utf8");
  expect(lockPid(home)).toBe(killed.pid);
  const other = Bun.spawn(["sleep", "120"]);
  try {
    writeFileSync(lock, left.replace(String(killed.pid), String(other.pid)));
    const st = await runBin(["serve", "--status", "--json"], { env });
    expect({ code: st.code, error: JSON.parse(st.stdout).error?.code }).toEqual({ code: 1, error: "worker_not_running" });
    const next = startServe(env);
    await untilServing(next.stderr as ReadableStream<Uint8Array>, "worker ready");
    expect(lockPid(home)).toBe(next.pid);
    const now = await runBin(["serve", "--status", "--json"], { env });
    expect(JSON.parse(now.stdout).pid).toBe(next.pid);
  } finally {
    other.kill("SIGKILL");
  }
});
