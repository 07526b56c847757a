/**
 * Heartbeats on a real Rivet engine, through the compiled binary (run by test/rivet/lane.sh, by path: bun's default
 * discovery skips *.lane.ts): `engine start` in a temp dir (file-system storage, loopback, telemetry off), two
 * `worker --engine` processes with caches of their own (so each one's sidecars can be told apart), and `run --engine`
 * clients on the project's scripted model. The client's view is what a user notices (its NDJSON, exit code, result);
 * the actor's own account (status, events) is asked with a real rivetkit client, as `run --engine` itself asks it.
 *
 * Env (set by lane.sh): LANE_BIN (the compiled binary), PAPERCLIP_AOS_RIVET_DIR (the installed engine parts).
 * By hand: `PAPERCLIP_AOS_RIVET_DIR=DIR bun test --timeout 600000 ./test/rivet/heartbeats.lane.ts`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import * as v from "valibot";
import { untilServing } from "../../src/worker/index.ts";
import { EventsOutput, loadRivet, RunStatus, SESSION_ACTOR, sessionActorKey, type LogLine } from "../../src/rivet/index.ts";
import { freePort, LANE_TOKEN, TOKEN_ENV } from "./helpers.ts";
import { privateCache, processesMentioning, protocolEvents, removeTempDirs, sharedCache, tempDir } from "../e2e/helpers.ts";

const BIN = process.env.LANE_BIN ?? join(import.meta.dir, "..", "..", "dist", "paperclip-aos");
if (!process.env.PAPERCLIP_AOS_RIVET_DIR) throw new Error("PAPERCLIP_AOS_RIVET_DIR is not set: run this file through test/rivet/lane.sh");

type Ev = Record<string, any>;
type Proc = ReturnType<typeof Bun.spawn>;

const AGENT_ID = "lane-agent";
let root: string;
let endpoint: string;
let engine: Proc;
/** The live workers by name, each with its own cache dir (its sidecars carry that path in their command line). */
const workers = new Map<string, { proc: Proc; cache: string }>();
const caches: string[] = [];
/** Processes the file started and has not seen end: afterAll ends them, whatever failed. */
const started = new Set<Proc>();

/** `inShell`: the binary runs as a background child of `sh`, so the test can kill its parent (the client's stdout stays ours). */
function spawn(argv: string[], env: Record<string, string>, stdout: "pipe" | "ignore" = "ignore", inShell = false): Proc {
  const p = Bun.spawn(inShell ? ["sh", "-c", '"$@" & wait', "sh", BIN, ...argv] : [BIN, ...argv], { env: { ...process.env, ...TOKEN_ENV, ...env }, stdin: "ignore", stdout, stderr: "pipe" });
  started.add(p);
  void p.exited.then(() => started.delete(p));
  return p;
}

async function startWorker(name: string): Promise<void> {
  // The runtime extracted once: lane.sh's cache (PAPERCLIP_AOS_CACHE), else the e2e tests'.
  const cache = await privateCache(process.env.PAPERCLIP_AOS_CACHE ?? sharedCache);
  caches.push(cache);
  const proc = spawn(["worker", "--engine", endpoint, "--name", name, "--concurrency", "2"], { PAPERCLIP_AOS_HOME: join(root, name), PAPERCLIP_AOS_CACHE: cache });
  await untilServing(proc.stderr as ReadableStream<Uint8Array>, "worker ready");
  workers.set(name, { proc, cache });
}

let rivetClient: ReturnType<Awaited<ReturnType<typeof loadRivet>>["client"]["createClient"]> | undefined;
/** The session actor's handle, through a real rivetkit client (what `run --engine` talks to). */
async function actor(taskKey: string): Promise<Record<string, (input: unknown) => Promise<unknown>>> {
  rivetClient ??= (await loadRivet()).client.createClient({ endpoint, devtools: false, encoding: "json" });
  return rivetClient[SESSION_ACTOR]!.getOrCreate(sessionActorKey(AGENT_ID, taskKey), { params: { token: LANE_TOKEN } }) as never;
}

async function status(taskKey: string, runId: string) {
  return v.parse(RunStatus, await (await actor(taskKey)).status!({ runId }));
}

/** The actor's whole event log of a run, page by page. */
async function logOf(taskKey: string, runId: string): Promise<LogLine[]> {
  const a = await actor(taskKey);
  const out: LogLine[] = [];
  for (;;) {
    const page = v.parse(EventsOutput, await a.events!({ runId, afterSeq: out.at(-1)?.seq ?? 0 }));
    out.push(...page.lines);
    if (!page.more) return out;
  }
}


async function workspace(): Promise<string> {
  return tempDir("aos-rlane-ws-");
}

async function script(steps: unknown[]): Promise<string> {
  const file = join(await tempDir("aos-rlane-script-"), "script.json");
  await writeFile(file, JSON.stringify({ steps }));
  return file;
}

interface Started {
  p: Proc;
  runId: string;
  /** Resolves once stdout shows an event of `type` (the heartbeat is then really under way). */
  seen(type: string): Promise<void>;
  finished(): Promise<{ code: number; stdout: string; evs: Ev[] }>;
}

/** `run --engine` of the compiled binary, as Paperclip's adapter starts it, with a runId of our own (PAPERCLIP_RUN_ID). */
async function startRun(o: { taskKey: string; steps: unknown[]; ws: string; url?: string; args?: string[]; inShell?: boolean; env?: Record<string, string> }): Promise<Started> {
  const runId = randomUUID();
  const file = await script(o.steps);
  const argv = ["run", "--engine", o.url ?? endpoint, "--cwd", o.ws, "--model", `scripted:${file}`, "--prompt", "do the task", "--agent-id", AGENT_ID, "--task-key", o.taskKey, ...(o.args ?? [])];
  const p = spawn(argv, { PAPERCLIP_AOS_HOME: join(root, "client"), PAPERCLIP_RUN_ID: runId, ...o.env }, "pipe", o.inShell);
  let out = "";
  const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const read = async () => {
    const { value, done } = await reader.read();
    if (!done) out += decoder.decode(value, { stream: true });
    return done;
  };
  let ended = false;
  return {
    p,
    runId,
    async seen(type) {
      while (!out.split("\n").some((l) => l.includes(`"type":"${type}"`))) {
        if (ended || (await read())) {
          ended = true;
          throw new Error(`run ended before a ${type} event:\n${out}\n${await new Response(p.stderr as ReadableStream).text()}`);
        }
      }
    },
    async finished() {
      while (!ended && !(await read()));
      ended = true;
      const code = await p.exited;
      if (!out.trim()) throw new Error(`run printed nothing (exit ${code}): ${await new Response(p.stderr as ReadableStream).text()}`);
      return { code, stdout: out, evs: protocolEvents(out) };
    },
  };
}

async function heartbeat(o: Parameters<typeof startRun>[0]) {
  const r = await startRun(o);
  return { runId: r.runId, ...(await r.finished()) };
}

/** Every line a client printed is the actor's log, in order, each once: seq 1..n, the result last. */
function expectWholeLog(stdout: string, log: LogLine[]): void {
  const printed = stdout.split("\n").filter(Boolean);
  expect(printed).toEqual(log.map((l) => l.line));
  expect(log.map((l) => l.seq)).toEqual(log.map((_, i) => i + 1));
  expect(JSON.parse(printed.at(-1)!).type).toBe("result");
}

const SLOW = [{ tool: "bash", input: { command: "echo started" } }, { text: "too slow", delayMs: 120_000 }];

beforeAll(async () => {
  root = await tempDir("aos-rlane-");
  const port = await freePort();
  engine = spawn(["engine", "start", "--dir", join(root, "engine"), "--port", String(port), "--json"], { PAPERCLIP_AOS_HOME: join(root, "engine-home") }, "pipe");
  const first = await untilServing(engine.stdout as ReadableStream<Uint8Array>, "\n");
  endpoint = JSON.parse(first.split("\n")[0]!).endpoint;
  // One after the other: each warms a sidecar (seconds of CPU on a shared machine).
  await startWorker("w1");
  await startWorker("w2");
}, 240_000);

afterAll(async () => {
  try {
    await rivetClient?.dispose();
    // Everything stops by itself on SIGTERM, within a bound: workers first (they leave the engine), then the engine.
    for (const [name, w] of workers) {
      w.proc.kill("SIGTERM");
      const code = await Promise.race([w.proc.exited, Bun.sleep(60_000).then(() => "still running")]);
      expect({ name, code }).toEqual({ name, code: 143 });
    }
    engine?.kill("SIGTERM");
    expect(await Promise.race([engine?.exited, Bun.sleep(30_000).then(() => "still running")])).toBe(143);
    // No engine, worker, sidecar or client of this file is left.
    for (const dir of [root, ...caches]) expect(processesMentioning(dir)).toEqual([]);
  } finally {
    // After a failure above: SIGTERM first (`engine start` stops its rivet-engine child only then), SIGKILL what stays.
    for (const p of started) p.kill("SIGTERM");
    await Promise.race([Promise.all([...started].map((p) => p.exited)), Bun.sleep(20_000)]);
    for (const p of started) p.kill("SIGKILL");
    await removeTempDirs();
  }
}, 180_000);

/**
 * The tests share sessions to keep the lane short (a heartbeat in an actor takes tens of seconds on a loaded 2-core
 * machine): spread-1's first heartbeat is resumed by the next test and killed in the last; the cancelled session runs
 * the reconnect test (so it is free again after a cancel).
 */
describe("heartbeats on a Rivet engine (run --engine, worker --engine)", () => {
  const ws = { shared: "", cancel: "" };
  let spreadA: { sessionId: string; params: Ev } | undefined;
  /**
   * The model's first request of a fresh session with the prompt every run here sends, in the scripted gateway's
   * tokens (its body's JSON characters / 4): a resumed session's first request carries the earlier turns on top.
   * (`--record` would show them word for word, but through an engine it names a file on the worker: refused.)
   */
  let freshInput = 0;
  const firstInput = (evs: Ev[]) => evs.find((e) => e.type === "usage")!.inputTokens as number;

  test("heartbeats of several sessions run, spread over both workers; each prints exactly the actor's log", async () => {
    ws.shared = await workspace();
    // The engine places each new session's actor on a worker of its choosing (in this lane's runs: 3 of 3 on one
    // worker once, 2 and 2 of 4 another time): sessions two at a time until both workers ran some, at most 8.
    const runners = new Set<string>();
    const runs: Awaited<ReturnType<typeof heartbeat>>[] = [];
    for (let round = 0; round < 4 && runners.size < 2; round++) {
      const keys = [`spread-${2 * round + 1}`, `spread-${2 * round + 2}`];
      const done = await Promise.all(
        keys.map((k) =>
          heartbeat({
            taskKey: k,
            ws: ws.shared,
            steps: [{ tool: "bash", input: { command: `echo ${k} > /workspace/${k}.txt && cat /workspace/${k}.txt` } }, { text: `the code word is PELICAN-${k}` }],
          }),
        ),
      );
      for (const [i, r] of done.entries()) {
        const k = keys[i]!;
        expect(r.code).toBe(0);
        expect(r.evs.at(-1)).toMatchObject({ type: "result", subtype: "success", exitCode: 0, summary: `the code word is PELICAN-${k}`, sessionParams: { cwd: ws.shared, agentId: AGENT_ID, taskKey: k } });
        expect(r.evs.find((e) => e.type === "tool_result")).toMatchObject({ isError: false, content: expect.stringContaining(k) });
        expect(await readFile(join(ws.shared, `${k}.txt`), "utf8")).toBe(`${k}\n`);
        expectWholeLog(r.stdout, await logOf(k, r.runId));
        const st = await status(k, r.runId);
        expect(st).toMatchObject({ state: "done", exitCode: 0 });
        runners.add(st.runner);
        runs.push(r);
      }
    }
    expect([...runners].sort()).toEqual(["w1", "w2"]);
    const params = runs[0]!.evs.at(-1)!.sessionParams;
    spreadA = { sessionId: params.sessionId, params };
    freshInput = firstInput(runs[1]!.evs);
  });

  test("a session's second heartbeat resumes it: the same session, the model sent its first turn", async () => {
    const second = await heartbeat({ taskKey: "spread-1", ws: ws.shared, steps: [{ text: "ok" }], args: ["--session", JSON.stringify(spreadA!.params)] });
    expect(second.code).toBe(0);
    expect(second.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId: spreadA!.sessionId });
    expect(firstInput(second.evs)).toBeGreaterThan(freshInput);
    expect(second.evs.at(-1)).toMatchObject({ subtype: "success", sessionParams: { sessionId: spreadA!.sessionId } });
  });

  test("a client without the engine's token, or with a wrong one: exit 2 with its code, no line printed, nothing run", async () => {
    const dir = await workspace();
    const steps = [{ tool: "bash", input: { command: "echo ran > /workspace/ran.txt" } }, { text: "never" }];
    const file = await script(steps);
    for (const [token, code] of [["", "missing_engine_token"], ["f".repeat(64), "engine_unauthorized"]] as const) {
      const argv = ["run", "--engine", endpoint, "--cwd", dir, "--model", `scripted:${file}`, "--prompt", "do the task", "--agent-id", AGENT_ID, "--task-key", "auth", "--json"];
      const p = spawn(argv, { PAPERCLIP_AOS_HOME: join(root, "client"), PAPERCLIP_RUN_ID: randomUUID(), PAPERCLIP_AOS_ENGINE_TOKEN: token }, "pipe");
      const [exit, stdout] = await Promise.all([p.exited, new Response(p.stdout as ReadableStream).text()]);
      expect(exit).toBe(2);
      // --json: the one line on stdout is the error (no event of a run), naming its code.
      const lines = stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
      expect(lines).toEqual([{ error: expect.objectContaining({ code, hint: expect.stringContaining("PAPERCLIP_AOS_ENGINE_TOKEN") }) }]);
      expect(await Bun.file(join(dir, "ran.txt")).exists()).toBe(false);
    }
  });

  test("SIGTERM to the client cancels the heartbeat in the actor: exit 143, a cancelled result, the run over there", async () => {
    ws.cancel = await workspace();
    const run = await startRun({ taskKey: "cancel", ws: ws.cancel, steps: SLOW });
    await run.seen("tool_result");
    run.p.kill("SIGTERM");
    const r = await run.finished();
    expect(r.code).toBe(143);
    expect(r.evs.at(-1)).toMatchObject({ type: "result", subtype: "cancelled", exitCode: 143, errorCode: "cancelled", signal: "SIGTERM" });
    // In the actor: the run is over with that result (its heartbeat stopped, not left running for a client that is gone).
    expect(await status("cancel", run.runId)).toMatchObject({ state: "done", exitCode: 143 });
    expectWholeLog(r.stdout, await logOf("cancel", run.runId));
  });

  test("the client's parent dies: the client cancels the heartbeat in the actor (parent_died) and still writes its result", async () => {
    const run = await startRun({ taskKey: "orphan", ws: await workspace(), steps: SLOW, inShell: true });
    await run.seen("tool_result");
    run.p.kill("SIGKILL"); // the shell the client runs under: its stdout is still our pipe
    const r = await run.finished();
    expect(r.evs.at(-1)).toMatchObject({ type: "result", subtype: "cancelled", exitCode: 143, errorCode: "cancelled", errorMessage: "the parent process died" });
    expect(await status("orphan", run.runId)).toMatchObject({ state: "done", exitCode: 143 });
    expectWholeLog(r.stdout, await logOf("orphan", run.runId));
  });

  test("a cut between client and engine: the client reconnects and prints every line once, in order (caught up from the log)", async () => {
    // A TCP proxy in front of the engine: cut every connection once the run is under way, refuse new ones for a while.
    const up = new URL(endpoint);
    const open = new Set<Socket>();
    let refusing = false;
    const proxy = createServer((client) => {
      if (refusing) return void client.destroy();
      const upstream = connect(Number(up.port), up.hostname);
      for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
        open.add(a);
        a.pipe(b);
        a.on("error", () => b.destroy());
        a.on("close", () => (open.delete(a), b.destroy()));
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const steps = [
        ...Array.from({ length: 4 }, (_, i) => ({ tool: "bash", input: { command: `echo step-${i}` }, delayMs: 1500 })),
        { text: "all steps done", delayMs: 1500 },
      ];
      // The session cancelled above: free again, its heartbeat runs (and resumes it).
      const run = await startRun({ taskKey: "cancel", ws: ws.cancel, steps, url: proxyUrl });
      await run.seen("tool_call");
      refusing = true;
      for (const s of open) s.destroy();
      await Bun.sleep(4000); // lines are logged and broadcast meanwhile, to nobody
      refusing = false;
      const r = await run.finished();
      expect(r.code).toBe(0);
      expect(r.evs.at(-1)).toMatchObject({ subtype: "success", summary: "all steps done" });
      expect(r.evs.filter((e) => e.type === "tool_result").map((e) => String(e.content).trim())).toEqual(["step-0", "step-1", "step-2", "step-3"]);
      expectWholeLog(r.stdout, await logOf("cancel", run.runId));
    } finally {
      for (const s of open) s.destroy();
      proxy.close();
    }
  });

  test("the worker holding a session is SIGKILLed mid-heartbeat: the client gets runner_lost, the next heartbeat runs on the other worker with the earlier transcript and files", async () => {
    const session = JSON.stringify(spreadA!.params);
    const run = await startRun({ taskKey: "spread-1", ws: ws.shared, steps: SLOW, args: ["--session", session] });
    await run.seen("tool_result");
    const holder = (await status("spread-1", run.runId)).runner;
    const victim = workers.get(holder)!;
    victim.proc.kill("SIGKILL");
    workers.delete(holder);
    const r = await run.finished();
    expect(r.code).toBe(1);
    expect(r.evs.at(-1)).toMatchObject({ type: "result", exitCode: 1, errorCode: "runner_lost", sessionParams: { sessionId: spreadA!.sessionId } });
    expect(r.evs.filter((e) => e.type === "result")).toHaveLength(1);
    expectWholeLog(r.stdout, await logOf("spread-1", run.runId));
    // The killed worker's sidecars do not outlive it.
    for (let i = 0; i < 40 && processesMentioning(victim.cache).length; i++) await Bun.sleep(250);
    expect(processesMentioning(victim.cache)).toEqual([]);

    const next = await heartbeat({ taskKey: "spread-1", ws: ws.shared, steps: [{ tool: "bash", input: { command: "cat /workspace/spread-1.txt" } }, { text: "still here" }], args: ["--session", session] });
    expect(next.code).toBe(0);
    expect(next.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId: spreadA!.sessionId });
    expect(firstInput(next.evs)).toBeGreaterThan(freshInput);
    expect(next.evs.find((e) => e.type === "tool_result")).toMatchObject({ isError: false, content: expect.stringContaining("spread-1") });
    expect((await status("spread-1", next.runId)).runner).toBe([...workers.keys()][0]!);
  });
});
