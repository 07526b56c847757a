/**
 * `worker --engine` in the Rivet lane (run by test/rivet/lane.sh, by path: bun's default discovery skips *.lane.ts):
 * a real rivet-engine (`engine start`), two workers of the compiled binary as separate processes with state dirs of
 * their own (what one holds of a session cannot come from its disk), and rivetkit's own client calling the session
 * actor's contract (src/rivet/contract.ts) directly. `run --engine` on top of it is tested with the client's files.
 *
 * Env (set by lane.sh): LANE_BIN (the compiled binary), PAPERCLIP_AOS_RIVET_DIR (the installed parts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CONTRACT_VERSION, ENGINE_TOKEN_ENV, INTERRUPTED_ERROR_CODE, SESSION_ACTOR, WORKSPACE_NOT_SHARED_ERROR_CODE, WORKSPACE_OUTSIDE_ROOTS_ERROR_CODE, loadRivet, sessionActorKey,
  type EventsOutput, type RivetClient, type RunStatus, type StartInput,
} from "../../src/rivet/index.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";
import { freePort, LANE_BIN, LANE_TOKEN, startEngine, TOKEN_ENV } from "./helpers.ts";

const BIN = LANE_BIN;

/** The runners' provider key: it must never reach the VM, the events or the client. */
const RUNNER_KEY = "sk-ant-lane-runner-key-7f3a9c";

interface Proc {
  name: string;
  proc: ReturnType<typeof Bun.spawn>;
  log: string;
}

let root: string;
let ws: string;
let endpoint: string;
let engine: ReturnType<typeof Bun.spawn>;
const workers: Proc[] = [];
let client: RivetClient;

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(250);
  }
}

/** A worker of the compiled binary with a state dir of its own; resolves once its ready line is on stderr. */
async function startWorker(name: string): Promise<Proc> {
  const home = join(root, `home-${name}`);
  const log = join(root, `${name}.log`);
  const proc = Bun.spawn([BIN, "worker", "--engine", endpoint, "--name", name, "--concurrency", "2", "--workspace-root", ws], {
    env: { ...process.env, PAPERCLIP_AOS_HOME: home, ANTHROPIC_API_KEY: RUNNER_KEY, ...TOKEN_ENV },
    stdout: "ignore",
    stderr: Bun.file(log),
  });
  const w = { name, proc, log };
  workers.push(w);
  await until(`worker ${name} to register`, () => (readFileSync(log, "utf8").includes(`worker ready: ${name} registered with ${endpoint}`) ? true : proc.exitCode !== null ? Promise.reject(new Error(readFileSync(log, "utf8"))) : undefined), 180_000);
  return w;
}

/** The session actor's handle, with the engine's token (`opts`: what an attacker without it sends instead; `{}`: no params). */
function handle(taskKey: string, opts: { params?: unknown } = { params: { token: LANE_TOKEN } }) {
  return client[SESSION_ACTOR]!.getOrCreate(sessionActorKey("lane-agent", taskKey), opts) as unknown as {
    start(i: StartInput): Promise<RunStatus>;
    events(i: { runId: string; afterSeq: number }): Promise<EventsOutput>;
    status(i: { runId: string }): Promise<RunStatus>;
    cancel(i: { runId: string; reason: string }): Promise<RunStatus>;
  };
}

/** A call that may hang on a dead runner: given up after `ms` (the client's own silence rule, contract.ts). */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p.catch(() => undefined), Bun.sleep(ms).then(() => undefined)]);
}

function script(name: string, steps: unknown[]): string {
  const file = join(root, `${name}.json`);
  writeFileSync(file, JSON.stringify({ steps }));
  return file;
}

function start(taskKey: string, runId: string, steps: unknown[], over: Record<string, unknown> = {}): Promise<RunStatus> {
  return handle(taskKey).start({
    contract: CONTRACT_VERSION,
    build: "lane",
    request: { runId, agent: "pi", agentId: "lane-agent", taskKey, cwd: ws, prompt: `do ${runId}`, model: `scripted:${script(runId, steps)}`, graceSec: 10, preset: "workspace-write", env: {}, capabilities: null, snapshot: null, wakeReason: null, ...over },
  });
}

/** Every line of a run, read from the actor's log until its result line is there. */
async function lines(taskKey: string, runId: string, timeoutMs = 180_000): Promise<Record<string, any>[]> {
  return until(
    `the result of ${runId}`,
    async () => {
      const page = await within(handle(taskKey).events({ runId, afterSeq: 0 }), 20_000);
      if (!page || !["done", "interrupted"].includes(page.state)) return undefined;
      const evs = page.lines.map((l) => JSON.parse(l.line) as Record<string, any>);
      // The log is gapless and in order: seq 1..N, the line's own seq, one result and it is the last.
      expect(page.lines.map((l) => l.seq)).toEqual(evs.map((_, i) => i + 1));
      expect(evs.map((e) => e.seq)).toEqual(evs.map((_, i) => i + 1));
      expect(evs.filter((e) => e.type === "result").length).toBe(1);
      expect(evs.at(-1)!.type).toBe("result");
      return evs;
    },
    timeoutMs,
  );
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
  } catch {
    return false;
  }
}

/** Every regular file under `dir` whose bytes contain `needle` (what the engine, the workers and the tests wrote). */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const file = join(dir, name);
    try {
      if (statSync(file).isFile() && readFileSync(file).includes(needle)) hits.push(file);
    } catch {
      // gone meanwhile (a sidecar's socket, a rotated log)
    }
  }
  return hits;
}

beforeAll(async () => {
  root = await tempDir("aos-worker-lane-");
  ws = join(root, "ws");
  await Bun.write(join(ws, "README.md"), "lane workspace\n");
  const started = await startEngine(join(root, "engine"), await freePort(), join(root, "home-engine"));
  engine = started.proc;
  endpoint = started.info.endpoint;
  await Promise.all([startWorker("lane-a"), startWorker("lane-b")]);
  client = (await loadRivet()).client.createClient(endpoint);
}, 300_000);

afterAll(async () => {
  await client?.dispose().catch(() => {});
  for (const w of workers) w.proc.kill("SIGKILL");
  await Promise.all(workers.map((w) => w.proc.exited));
  engine?.kill("SIGTERM");
  await engine?.exited;
  await removeTempDirs();
});

describe("worker --engine: session actors on a real engine", () => {
  test("a heartbeat in the actor: the local run's lines and result; the runner's provider key never reaches the VM or the lines; the next heartbeat resumes", async () => {
    const accepted = await start("resume", "r1", [{ tool: "bash", input: { command: "env | sort; echo one > /workspace/one.txt" } }, { text: "wrote one.txt" }]);
    expect(accepted).toMatchObject({ runId: "r1", state: "accepted", lastSeq: 0 });
    const first = await lines("resume", "r1");
    expect(first[0]).toMatchObject({ type: "init", runId: "r1", agent: "pi", resumed: false });
    const result = first.at(-1)!;
    expect(result).toMatchObject({ exitCode: 0, errorCode: null, summary: "wrote one.txt", sessionParams: { agentId: "lane-agent", taskKey: "resume", cwd: ws } });
    // The guest's env was listed, and neither it nor any line carries the runner's key.
    expect(first.find((e) => e.type === "tool_result")!.content).toContain("HOME=");
    expect(JSON.stringify(first)).not.toContain(RUNNER_KEY);
    // The workspace is the shared directory, at the same path on the runner.
    expect(readFileSync(join(ws, "one.txt"), "utf8")).toBe("one\n");

    // A start with the same runId starts nothing: the run's status.
    expect(await start("resume", "r1", [])).toMatchObject({ runId: "r1", state: "done", exitCode: 0 });

    await start("resume", "r2", [{ text: "second turn" }]);
    const second = await lines("resume", "r2");
    expect(second[0]).toMatchObject({ type: "init", resumed: true, resumeMode: "agentos-fallback", sessionId: result.sessionParams.sessionId });
    expect(second.at(-1)).toMatchObject({ exitCode: 0, summary: "second turn" });
  });

  test("without the engine's token, or with a wrong one, the session actor answers nothing and runs nothing (rivetkit's own client, as an attacker would call it)", async () => {
    const attackers: [string, { params?: unknown }][] = [
      ["no params", {}],
      ["params without a token", { params: {} }],
      ["a wrong token", { params: { token: "0".repeat(64) } }],
      ["the token less a character", { params: { token: LANE_TOKEN.slice(0, -1) } }],
      ["a non-string", { params: { token: 1 } }],
    ];
    const unauthorized = { group: "user", code: "engine_unauthorized" };
    const evil = [{ tool: "bash", input: { command: "echo pwned > /workspace/evil.txt" } }, { text: "pwned" }];
    for (const [who, opts] of attackers) {
      // Stateless calls, on a session that has runs (r1, r2 of the test above): its transcript, its status, a cancel.
      const h = handle("resume", opts);
      await expect(h.events({ runId: "r1", afterSeq: 0 }), who).rejects.toMatchObject(unauthorized);
      await expect(h.status({ runId: "r1" }), who).rejects.toMatchObject(unauthorized);
      await expect(h.cancel({ runId: "r1", reason: "SIGTERM" }), who).rejects.toMatchObject(unauthorized);
      await expect(h.start({ contract: CONTRACT_VERSION, build: "evil", request: { runId: `evil-${who}`, agent: "pi", agentId: "lane-agent", taskKey: "resume", cwd: ws, prompt: "x", model: `scripted:${script("evil", evil)}`, graceSec: 10, env: {} } }), who).rejects.toMatchObject(unauthorized);
      // A connection (what `run --engine` subscribes with): refused, and so is every action through it.
      const conn = (client[SESSION_ACTOR]!.getOrCreate(sessionActorKey("lane-agent", "resume"), opts) as unknown as { connect(): { status(i: unknown): Promise<unknown>; dispose(): Promise<void> } }).connect();
      await expect(conn.status({ runId: "r1" }), who).rejects.toMatchObject(unauthorized);
      await conn.dispose();
      // Nothing was started: the run is unknown to the session (asked with the token) and its file was not written.
      await expect(handle("resume").status({ runId: `evil-${who}` })).rejects.toMatchObject({ code: "run_not_found" });
    }
    expect(existsSync(join(ws, "evil.txt"))).toBe(false);
  });

  test("the token is in no event line, no stored log or row, no worker log, no sidecar's environment and not in the VM", async () => {
    // r1 listed the VM's whole environment (env | sort): neither the token nor its name was there.
    const log = (await handle("resume").events({ runId: "r1", afterSeq: 0 })).lines.map((l) => l.line).join("\n");
    expect(log).toContain("HOME=");
    expect(log).not.toContain(LANE_TOKEN);
    expect(log).not.toContain(ENGINE_TOKEN_ENV);
    for (const w of workers.filter((x) => x.proc.exitCode === null)) {
      expect(readFileSync(w.log, "utf8")).not.toContain(LANE_TOKEN);
      // Every process a worker started (its sidecars, their watchdogs, what they run), not the worker itself.
      const descendants = (pid: number): number[] => childPids(pid).flatMap((c) => [c, ...descendants(c)]);
      const procs = descendants(w.proc.pid);
      expect(procs.length).toBeGreaterThan(0);
      for (const pid of procs) {
        let environ = "";
        try {
          environ = readFileSync(`/proc/${pid}/environ`, "utf8");
        } catch {
          continue; // ended meanwhile (the watchdog's sleep)
        }
        expect(environ, `process ${pid} of worker ${w.name}`).not.toContain(LANE_TOKEN);
      }
    }
    // The engine's storage (the actors' SQLite, runs, event logs, connections) and the workers' state dirs, byte for byte.
    // The scan sees what the actors stored (r1's summary is in its event log there), so a stored token would be seen.
    expect(filesContaining(join(root, "engine"), "wrote one.txt").length).toBeGreaterThan(0);
    expect(filesContaining(root, LANE_TOKEN)).toEqual([]);
  });

  test("a worker without the token, or with a short one, does not start: exit 2 saying how to make one", async () => {
    for (const [token, says] of [["", "needs the engine's shared token in PAPERCLIP_AOS_ENGINE_TOKEN"], ["hunter2", "PAPERCLIP_AOS_ENGINE_TOKEN is too short"]] as const) {
      const p = Bun.spawn([BIN, "worker", "--engine", endpoint, "--name", "no-token"], { env: { ...process.env, PAPERCLIP_AOS_HOME: join(root, "home-no-token"), [ENGINE_TOKEN_ENV]: token }, stdout: "pipe", stderr: "pipe" });
      expect(await p.exited).toBe(2);
      const stderr = await new Response(p.stderr).text();
      expect(stderr).toContain(says);
      expect(stderr).toContain("openssl rand -hex 32");
    }
  });

  test("a workspace not on the runner, or outside its --workspace-root (also through a symlink): one clear result, exit 2", async () => {
    await start("noshare", "n1", [{ text: "never" }], { cwd: join(root, "not-on-any-runner") });
    const evs = await lines("noshare", "n1");
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ type: "result", exitCode: 2, errorCode: WORKSPACE_NOT_SHARED_ERROR_CODE });
    expect(evs[0]!.errorMessage).toContain(join(root, "not-on-any-runner"));

    // The workers take workspaces under `ws` only: its parent (which exists) and a link in `ws` to it are refused.
    symlinkSync(root, join(ws, "escape"));
    for (const [runId, cwd] of [["o1", root], ["o2", join(ws, "escape")]] as const) {
      await start("outside", runId, [{ tool: "bash", input: { command: "echo pwned > /workspace/pwned.txt" } }, { text: "never" }], { cwd });
      const out = await lines("outside", runId);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ type: "result", exitCode: 2, errorCode: WORKSPACE_OUTSIDE_ROOTS_ERROR_CODE });
    }
    expect(existsSync(join(root, "pwned.txt"))).toBe(false);
  });

  test("one heartbeat per session: a second start while one runs ends session_busy; cancel stops the running one as SIGTERM does", async () => {
    await start("busy", "b1", [{ tool: "bash", input: { command: "echo started > /workspace/b1.txt; sleep 120" } }, { text: "never" }]);
    await until("b1's tool call", () => (existsSync(join(ws, "b1.txt")) ? true : undefined), 120_000);
    await start("busy", "b2", [{ text: "not now" }]);
    const busy = await lines("busy", "b2");
    expect(busy).toHaveLength(1);
    expect(busy[0]).toMatchObject({ type: "result", exitCode: 1, errorCode: "session_busy" });
    expect(busy[0]!.errorMessage).toContain("run b1");

    expect((await handle("busy").cancel({ runId: "b1", reason: "SIGTERM" })).state).toBe("running");
    const cancelled = await lines("busy", "b1", 60_000);
    expect(cancelled.at(-1)).toMatchObject({ exitCode: 143, errorCode: "cancelled", signal: "SIGTERM" });
  });

  test("the worker running a heartbeat is SIGKILLed: the run ends runner_lost, its sidecar is gone, and the session's next heartbeat resumes on the other worker", async () => {
    await start("kill", "k1", [{ text: "first turn, before the kill" }]);
    const before = await lines("kill", "k1");
    const sessionId = before.at(-1)!.sessionParams.sessionId;

    await start("kill", "k2", [{ tool: "bash", input: { command: "echo started > /workspace/k2.txt; sleep 120" } }, { text: "never" }]);
    await until("k2's tool call", () => (existsSync(join(ws, "k2.txt")) ? true : undefined), 120_000);
    const runner = (await handle("kill").status({ runId: "k2" })).runner;
    const victim = workers.find((w) => w.name === runner)!;
    const other = workers.find((w) => w.name !== runner)!;
    const sidecars = childPids(victim.proc.pid);
    expect(sidecars.length).toBeGreaterThan(0);
    victim.proc.kill("SIGKILL");
    await victim.proc.exited;

    // Asked again and again (a call to the dead runner may hang), the actor wakes on the other worker and answers.
    const status = await until("the interrupted status", async () => {
      const s = await within(handle("kill").status({ runId: "k2" }), 15_000);
      return s && s.state !== "running" ? s : undefined;
    }, 150_000);
    expect(status).toMatchObject({ state: "interrupted", exitCode: 1 });
    expect(JSON.parse(status.result!)).toMatchObject({ type: "result", exitCode: 1, errorCode: INTERRUPTED_ERROR_CODE, sessionParams: { sessionId } });
    await until("the killed worker's sidecar to go", () => (sidecars.some(alive) ? undefined : true), 20_000);

    await start("kill", "k3", [{ text: "after the kill" }]);
    const after = await lines("kill", "k3");
    expect(after[0]).toMatchObject({ type: "init", resumed: true, sessionId });
    expect(after.at(-1)).toMatchObject({ exitCode: 0, summary: "after the kill" });
    expect((await handle("kill").status({ runId: "k3" })).runner).toBe(other.name);
  });

  test("SIGTERM stops a worker within bounded time: exit 143, its sidecars gone", async () => {
    const w = workers.find((x) => x.proc.exitCode === null && x.proc.signalCode === null)!;
    const sidecars = childPids(w.proc.pid);
    w.proc.kill("SIGTERM");
    const code = await Promise.race([w.proc.exited, Bun.sleep(60_000).then(() => "still running")]);
    expect(code).toBe(143);
    await until("its sidecars to go", () => (sidecars.some(alive) ? undefined : true), 10_000);
  });
});
