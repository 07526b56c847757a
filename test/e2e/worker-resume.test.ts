import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { untilServing } from "../../src/worker/index.ts";
import { binPath, preparedVm, privateCache, protocolEvents, removeTempDirs, runBin, stopServe, tempDir } from "./helpers.ts";

/**
 * A session's next VM (src/worker/resumable.ts) through the compiled binary: after a heartbeat the worker boots the
 * session's next VM on its database and reopens the session; the task's next heartbeat resumes on it, and anyone
 * else who wants the session (an in-process run, a heartbeat of another policy, a killed worker's successor) gets it
 * whole. One worker serves the file; the last test kills it.
 */
type Ev = Record<string, any>;

let home: string;
let cache: string;
let serve: ReturnType<typeof Bun.spawn> | undefined;

const env = () => ({ PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: cache });

async function heartbeat(opts: { ws: string; key: string; steps: unknown[]; prompt?: string; args?: string[] }) {
  const dir = await tempDir("aos-rscript-");
  const file = join(dir, "script.json");
  const record = join(dir, "record.ndjson");
  await writeFile(file, JSON.stringify({ steps: opts.steps }));
  const r = await runBin(["run", "--cwd", opts.ws, "--model", `scripted:${file}`, "--record", record, "--prompt", opts.prompt ?? "go on", "--task-key", opts.key, ...(opts.args ?? [])], { env: env() });
  const evs: Ev[] = r.stdout.trim() ? protocolEvents(r.stdout) : [];
  // What the model was sent (the gateway's record): the history a resumed session hands it.
  const sent = existsSync(record) ? await readFile(record, "utf8") : "";
  return { ...r, evs, sent };
}

async function status(): Promise<any> {
  const r = await runBin(["serve", "--status", "--json"], { env: env() });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

const prepared = () => preparedVm(status);

/** The events a user compares: types in order, tool results, the answer (ids, times and token counts differ). */
function shape(evs: Ev[]) {
  return {
    types: evs.filter((e) => e.type !== "usage").map((e) => e.type),
    tools: evs.filter((e) => e.type === "tool_result").map((e) => ({ content: e.content, isError: e.isError })),
    init: { resumed: evs[0]?.resumed, resumeMode: evs[0]?.resumeMode },
    result: { subtype: evs.at(-1)?.subtype, exitCode: evs.at(-1)?.exitCode, summary: evs.at(-1)?.summary },
  };
}

const FIRST = [{ tool: "bash", input: { command: "echo one > turn.txt" } }, { text: "remember: the code word is PELICAN" }];
const SECOND = [{ tool: "bash", input: { command: "cat turn.txt; echo two >> turn.txt; echo home=$HOME" } }, { text: "resumed fine" }];

beforeAll(async () => {
  home = await tempDir("aos-rhome-");
  cache = await privateCache();
  serve = Bun.spawn([binPath(), "serve", "--resumable", "2"], { env: { ...process.env, ...env() }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  await untilServing(serve.stderr as ReadableStream<Uint8Array>, "worker ready");
});

afterAll(async () => {
  await stopServe(serve);
  await removeTempDirs();
});

describe("serve: a session's next VM, prepared after its heartbeat", () => {
  let ws: string;
  let sessionId: string;

  test("a resumed heartbeat takes it: the same events and answer as a resume without it, and the history reaches the model", async () => {
    // The resume without it: both heartbeats in-process.
    const plainWs = await tempDir("aos-rws-");
    expect((await heartbeat({ ws: plainWs, key: "plain", steps: FIRST, args: ["--worker", "off"] })).code).toBe(0);
    const plain = await heartbeat({ ws: plainWs, key: "plain", steps: SECOND, prompt: "what was the word?", args: ["--worker", "off"] });

    ws = await tempDir("aos-rws-");
    const first = await heartbeat({ ws, key: "task", steps: FIRST });
    expect(first.code).toBe(0);
    sessionId = first.evs.at(-1)!.sessionParams.sessionId;
    const before = await prepared();
    const sessions = JSON.parse((await runBin(["session", "ls", "--json"], { env: env() })).stdout);
    expect(sessions.find((s: any) => s.taskKey === "task")).toMatchObject({ sessionId, prepared: true, busy: false });

    const second = await heartbeat({ ws, key: "task", steps: SECOND, prompt: "what was the word?" });
    expect(second.code).toBe(0);
    expect((await status()).warm.resumable.hits).toBe(before.hits + 1);
    expect(second.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId });
    expect(shape(second.evs)).toEqual(shape(plain.evs));
    expect(shape(second.evs).tools).toEqual([{ content: "one\nhome=/home/agentos\n", isError: false }]);
    expect(await readFile(join(ws, "turn.txt"), "utf8")).toBe("one\ntwo\n");
    // The earlier turn and this run's instructions reached the model.
    expect(second.sent).toContain("You are continuing an AgentOS session");
    expect(second.sent).toContain("PELICAN");
    expect(second.sent).toContain(`(run ${second.evs[0]!.runId})`);
  });

  test("an in-process run of the task while its next VM is ready gets the session whole; the worker's next heartbeat still resumes it", async () => {
    const before = await prepared();
    const inProcess = await heartbeat({ ws, key: "task", steps: [{ text: "in-process turn SEAGULL" }], prompt: "and now?", args: ["--worker", "off"] });
    expect(inProcess.code).toBe(0);
    expect(inProcess.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId });
    expect(inProcess.sent).toContain("PELICAN");
    // The worker let the prepared VM go (and prepared nothing for a run it did not serve).
    const after = (await status()).warm.resumable;
    expect(after).toMatchObject({ ready: 0, discarded: before.discarded + 1, hits: before.hits });

    const next = await heartbeat({ ws, key: "task", steps: [{ text: "ok" }], prompt: "what came last?" });
    expect(next.code).toBe(0);
    expect(next.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId });
    // It booted on the database the in-process run wrote: that turn is in the history.
    expect(next.sent).toContain("SEAGULL");
    expect((await status()).warm.resumable.hits).toBe(before.hits);
  });

  test("a heartbeat with another policy does not take it: its own policy holds, and the session resumes", async () => {
    const before = await prepared();
    const ro = await heartbeat({ ws, key: "task", steps: [{ tool: "bash", input: { command: "echo x > denied.txt" } }, { text: "tried" }], args: ["--preset", "read-only"] });
    expect(ro.code).toBe(0);
    expect(ro.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId });
    expect(ro.sent).toContain("SEAGULL");
    expect(ro.evs.find((e) => e.type === "tool_result")!.isError).toBe(true);
    expect(existsSync(join(ws, "denied.txt"))).toBe(false);
    const after = (await status()).warm.resumable;
    expect(after.hits).toBe(before.hits);
    expect(after.discarded).toBe(before.discarded + 1);
  });

  test("a cancelled heartbeat on the prepared VM ends cancelled (143) with its session saved; the next one resumes it", async () => {
    const before = await prepared();
    const dir = await tempDir("aos-rscript-");
    const file = join(dir, "script.json");
    await writeFile(file, JSON.stringify({ steps: [{ tool: "bash", input: { command: "echo started-CORMORANT" } }, { text: "too slow", delayMs: 60_000 }] }));
    // The policy of the heartbeat before (read-only): the prepared VM is its.
    const p = Bun.spawn([binPath(), "run", "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "slow one", "--task-key", "task", "--preset", "read-only"], { env: { ...process.env, ...env() }, stdin: "ignore", stdout: "pipe", stderr: "ignore" });
    let out = "";
    const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
    while (!out.includes('"type":"tool_result"')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the run ended early:\n${out}`);
      out += new TextDecoder().decode(value);
    }
    p.kill("SIGTERM");
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += new TextDecoder().decode(r.value);
    expect(await p.exited).toBe(143);
    const evs = protocolEvents(out);
    expect(evs[0]).toMatchObject({ type: "init", resumed: true, sessionId });
    expect(evs.at(-1)).toMatchObject({ type: "result", errorCode: "cancelled", sessionParams: { sessionId } });
    expect((await status()).warm.resumable.hits).toBe(before.hits + 1);

    const next = await heartbeat({ ws, key: "task", steps: [{ text: "ok" }], prompt: "what did the shell say?", args: ["--preset", "read-only"] });
    expect(next.code).toBe(0);
    expect(next.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId });
    expect(next.sent).toContain("started-CORMORANT");
  });

  test("a fresh start (a reset wake reason) while the next VM is ready: it goes before the database is reset; the new session resumes next time", async () => {
    const before = await prepared();
    const dir = await tempDir("aos-rscript-");
    const file = join(dir, "script.json");
    await writeFile(file, JSON.stringify({ steps: [{ text: "fresh: the code word is HERON" }] }));
    const fresh = await runBin(["run", "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "start over", "--task-key", "task"], { env: { ...env(), PAPERCLIP_WAKE_REASON: "issue_assigned" } });
    expect(fresh.code).toBe(0);
    const evs = protocolEvents(fresh.stdout);
    expect(evs[0]).toMatchObject({ type: "init", resumed: false });
    const newId = evs[0]!.sessionId;
    expect(newId).not.toBe(sessionId);
    expect((await status()).warm.resumable).toMatchObject({ hits: before.hits, discarded: before.discarded + 1 });

    const next = await heartbeat({ ws, key: "task", steps: [{ text: "ok" }], prompt: "the word?" });
    expect(next.code).toBe(0);
    expect(next.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId: newId });
    expect(next.sent).toContain("HERON");
    expect(next.sent).not.toContain("PELICAN");
    sessionId = newId;
  });

  test("heartbeats of other tasks taking every core let the next VM go while they run (its memory is theirs); the task's next heartbeat still resumes", async () => {
    const before = await prepared();
    // The rule is Slots.busy: the heartbeats besides the one starting take every core. So one more than the machine
    // has cores, each held by its model until all of them run. (--resumable 2 would also drop the oldest once two
    // other sessions are prepared after their results: that is not this.)
    const n = availableParallelism() + 1;
    const file = join(await tempDir("aos-rscript-"), "script.json");
    await writeFile(file, JSON.stringify({ steps: [{ tool: "bash", input: { command: "echo busy" } }, { text: "held", delayMs: 120_000 }] }));
    const runs = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const args = ["run", "--cwd", await tempDir("aos-rws-"), "--model", `scripted:${file}`, "--prompt", "hold", "--task-key", `other-${i}`];
        return Bun.spawn([binPath(), ...args], { env: { ...process.env, ...env() }, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      }),
    );
    try {
      let s = await status();
      // (Past --concurrency a heartbeat queues, which counts as busy too.)
      for (const until = Date.now() + 90_000; Date.now() < until && !(s.running + s.queued === n && s.warm.resumable.discarded > before.discarded); ) {
        await Bun.sleep(250);
        s = await status();
      }
      expect({ started: s.running + s.queued, resumable: s.warm.resumable }).toMatchObject({ started: n, resumable: { ready: 0, hits: before.hits, discarded: before.discarded + 1 } });
    } finally {
      for (const p of runs) p.kill("SIGTERM");
    }
    expect(await Promise.all(runs.map((p) => p.exited))).toEqual(Array(n).fill(143));
    // The worker is done with them (their clients have their results before that).
    for (let i = 0; i < 120 && (await status()).running > 0; i++) await Bun.sleep(250);

    const next = await heartbeat({ ws, key: "task", steps: [{ text: "ok" }], prompt: "the word again?" });
    expect({ code: next.code, result: next.code === 0 ? undefined : (next.evs.at(-1) ?? next.stderr) }).toEqual({ code: 0, result: undefined });
    expect(next.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId });
    expect(next.sent).toContain("HERON");
    // Booted on the session's database: the prepared VM was gone.
    expect((await status()).warm.resumable.hits).toBe(before.hits);
  });

  test("a worker killed with SIGKILL while it holds a session's next VM: an in-process run gets the session, nothing lost", async () => {
    await prepared();
    const lock = JSON.parse(await readFile(join((await runBin(["session", "show", "task", "--json"], { env: env() }).then((r) => JSON.parse(r.stdout))).dir, "lock"), "utf8"));
    // The lock names the worker's sidecar too: the session is free only once both are gone.
    expect(lock).toMatchObject({ pid: serve!.pid, prepared: true, pids: [expect.any(Number)] });
    serve!.kill("SIGKILL");
    await serve!.exited;
    const r = await heartbeat({ ws, key: "task", steps: [{ text: "after the kill" }], prompt: "still there?", args: ["--worker", "off"] });
    expect(r.code).toBe(0);
    expect(r.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId });
    expect(r.sent).toContain("HERON");
  });
});
