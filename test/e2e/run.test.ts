import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as v from "valibot";
import { startGateway, priceFor, costUsd } from "../../src/gateway/index.ts";
import { RunEventSchema } from "../../src/protocol/index.ts";
import { binPath, privateCache, processesMentioning, runBin, sharedCache, tempDir, removeTempDirs, filesUnder } from "./helpers.ts";

afterAll(removeTempDirs);

type Ev = Record<string, any>;

/** Every line is under 8 KB and is one event of the published protocol (src/protocol's schema, strictly). */
function events(stdout: string): Ev[] {
  const lines = stdout.split("\n").filter(Boolean);
  for (const l of lines) expect(Buffer.byteLength(l)).toBeLessThan(8192);
  return lines.map((l) => {
    const e = JSON.parse(l);
    const checked = v.safeParse(RunEventSchema, e);
    if (!checked.success) throw new Error(`event off the protocol: ${v.summarize(checked.issues)}\n${l.slice(0, 500)}`);
    return e;
  });
}
const resultOf = (evs: Ev[]) => {
  const last = evs[evs.length - 1]!;
  expect(last.type).toBe("result");
  expect(evs.filter((e) => e.type === "result")).toHaveLength(1);
  return last;
};

async function script(dir: string, steps: unknown[], name = "script.json"): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify({ steps }));
  return file;
}

/** A workspace, a state dir and a script, run through the compiled binary. */
async function heartbeat(opts: { steps: unknown[]; args?: string[]; ws?: string; home?: string; env?: Record<string, string>; stdin?: string }) {
  const ws = opts.ws ?? (await tempDir("aos-ws-"));
  const home = opts.home ?? (await tempDir("aos-home-"));
  const scratch = await tempDir("aos-script-");
  const file = await script(scratch, opts.steps);
  const record = join(scratch, "record.ndjson");
  const r = await runBin(["run", "--cwd", ws, "--model", `scripted:${file}`, "--record", record, "--prompt", "do the task", ...(opts.args ?? [])], {
    env: { PAPERCLIP_AOS_HOME: home, ...opts.env },
    stdin: opts.stdin,
  });
  return { ...r, ws, home, record, evs: r.stdout.trim() ? events(r.stdout) : [] };
}

describe("run: one heartbeat", () => {
  test("a tool step writes in /workspace, the stream carries every kind, and usage and cost are the script's", async () => {
    const steps = [
      { tool: "bash", input: { command: "echo from-the-agent > /workspace/made.txt && cat /workspace/made.txt" }, usage: { input: 1200, output: 40 } },
      { text: "I wrote made.txt.", usage: { input: 1500, output: 25, cached: 300 } },
    ];
    const r = await heartbeat({ steps });
    expect(r.code).toBe(0);
    expect(await readFile(join(r.ws, "made.txt"), "utf8")).toBe("from-the-agent\n");
    const kinds = r.evs.map((e) => e.type);
    for (const k of ["init", "tool_call", "tool_result", "assistant", "usage", "result"]) expect(kinds).toContain(k);
    expect(kinds[0]).toBe("init");
    expect(r.evs.map((e) => e.seq)).toEqual(r.evs.map((_, i) => i + 1));
    const call = r.evs.find((e) => e.type === "tool_call")!;
    expect(call.input).toEqual({ command: steps[0]!.input!.command });
    const res = r.evs.find((e) => e.type === "tool_result")!;
    expect(res.toolUseId).toBe(call.toolUseId);
    expect(res.content).toContain("from-the-agent");
    const result = resultOf(r.evs);
    expect(result).toMatchObject({ subtype: "success", exitCode: 0, isError: false, errorCode: null, summary: "I wrote made.txt." });
    expect(result.usage).toEqual({ inputTokens: 2700, outputTokens: 65, cachedInputTokens: 300 });
    // The scripted model bills nothing (Paperclip charges the company from costUsd); the would-be price is separate.
    const expected = costUsd("scripted", { inputTokens: 2700, outputTokens: 65, cachedInputTokens: 300 });
    expect(priceFor("scripted")).toBeDefined();
    expect(result.costUsd).toBe(0);
    expect(result.notionalCostUsd).toBeCloseTo(expected, 6);
    expect(r.evs.filter((e) => e.type === "usage").every((e) => e.costUsd === 0)).toBe(true);
    expect(result.sessionParams).toMatchObject({ cwd: r.ws, agent: "pi", runtime: "agentos" });
    expect(result.sessionDisplayId).toBe(result.sessionParams.sessionId);
    // The gateway says what the cost is based on.
    expect(r.evs.some((e) => e.type === "system" && e.code === "gateway_note" && e.text.includes("nothing is billed"))).toBe(true);
  });

  test("a second heartbeat with the first one's sessionParams resumes: the model sees the first turn", async () => {
    const first = await heartbeat({ steps: [{ text: "first answer: the secret word is PAPAYA" }] });
    expect(first.code).toBe(0);
    const params = resultOf(first.evs).sessionParams;
    const second = await heartbeat({ steps: [{ text: "second answer" }], ws: first.ws, home: first.home, args: ["--session", JSON.stringify(params)] });
    expect(second.code).toBe(0);
    const init = second.evs[0]!;
    expect(init).toMatchObject({ type: "init", resumed: true, sessionId: params.sessionId });
    expect(init.resumeMode).toBe("agentos-fallback");
    expect(resultOf(second.evs).sessionParams.sessionId).toBe(params.sessionId);
    const recorded = await readFile(second.record, "utf8");
    expect(recorded).toContain("PAPAYA");
  });

  test("a session from another cwd, or one that is gone, starts fresh and says so", async () => {
    const first = await heartbeat({ steps: [{ text: "one" }] });
    const params = resultOf(first.evs).sessionParams;
    const otherWs = await tempDir("aos-ws-");
    const moved = await heartbeat({ steps: [{ text: "two" }], ws: otherWs, home: first.home, args: ["--session", JSON.stringify(params)] });
    expect(moved.code).toBe(0);
    expect(moved.evs[0]).toMatchObject({ type: "init", resumed: false, resumeMode: "fresh" });
    expect(moved.evs.find((e) => e.type === "system" && e.code === "session_fresh")?.text).toContain("belongs to");
    expect(resultOf(moved.evs).sessionParams.sessionId).not.toBe(params.sessionId);

    const lost = await heartbeat({ steps: [{ text: "three" }], ws: first.ws, args: ["--session", JSON.stringify(params)] });
    expect(lost.code).toBe(0);
    expect(lost.evs.find((e) => e.type === "system" && e.code === "session_fresh")?.text).toContain("not found");
    expect(resultOf(lost.evs).clearSession).toBe(false);
  });

  test("an upstream error step ends with exit 1, Paperclip's errorFamily, retryNotBefore from Retry-After and a readable error", async () => {
    const before = Date.now();
    const r = await heartbeat({ steps: [{ error: { status: 529, message: "Overloaded", retryAfter: 30 } }] });
    expect(r.code).toBe(1);
    const result = resultOf(r.evs);
    expect(result).toMatchObject({ subtype: "error", isError: true, exitCode: 1, errorCode: "upstream_overloaded", errorFamily: "transient_upstream" });
    expect(Date.parse(result.retryNotBefore)).toBeGreaterThanOrEqual(before + 29_000);
    expect(result.errorMessage).toBe("the model provider is overloaded (HTTP 529): Overloaded");
    expect(result.summary).toBe(result.errorMessage);
    // Pi's rendering of the failed call (`529 {"type":"error",...}`) is not passed off as the agent's answer.
    expect(r.evs.some((e) => e.type === "assistant")).toBe(false);
    expect(r.stdout).not.toContain('\\"type\\":\\"error\\"');
    expect(r.evs.find((e) => e.type === "system" && e.code === "model_error")?.text).toBe(result.errorMessage);
  });

  test("a failure outside Paperclip's vocabulary has no errorFamily (no retry)", async () => {
    const r = await heartbeat({ steps: [{ error: { status: 401, message: "invalid x-api-key" } }] });
    expect(r.code).toBe(1);
    const result = resultOf(r.evs);
    expect(result.errorCode).toBe("upstream_auth");
    expect(result.errorFamily).toBeUndefined();
    expect(result.retryNotBefore).toBeUndefined();
  });

  test("session: null in the request starts fresh even when a session is stored (Paperclip's own reset)", async () => {
    const first = await heartbeat({ steps: [{ text: "first answer: the secret word is PAPAYA" }], args: ["--task-key", "T-1"] });
    expect(first.code).toBe(0);
    const fresh = await heartbeat({ steps: [{ text: "fresh" }], ws: first.ws, home: first.home, args: ["--task-key", "T-1", "--input", "-"], stdin: JSON.stringify({ session: null }) });
    expect(fresh.code).toBe(0);
    expect(fresh.evs[0]).toMatchObject({ type: "init", resumed: false, resumeMode: "fresh" });
    expect(resultOf(fresh.evs).sessionParams.sessionId).not.toBe(resultOf(first.evs).sessionParams.sessionId);
    expect(await readFile(fresh.record, "utf8")).not.toContain("PAPAYA");
  });

  test("a keyless wake (only a session id, no task key) resumes the session another task key stored", async () => {
    const first = await heartbeat({ steps: [{ text: "first answer: the secret word is PAPAYA" }], args: ["--task-key", "ISSUE-7"] });
    const id = resultOf(first.evs).sessionParams.sessionId;
    const keyless = await heartbeat({ steps: [{ text: "again" }], ws: first.ws, home: first.home, args: ["--input", "-"], stdin: JSON.stringify({ session: { sessionId: id } }) });
    expect(keyless.code).toBe(0);
    expect(keyless.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId: id });
    expect(resultOf(keyless.evs).sessionParams).toMatchObject({ sessionId: id, taskKey: "ISSUE-7" });
    expect(await readFile(keyless.record, "utf8")).toContain("PAPAYA");
  });

  test("a scripted model that runs out of steps fails the run with script_exhausted (the steps it had still ran)", async () => {
    const r = await heartbeat({ steps: [{ tool: "bash", input: { command: "echo ran > /workspace/ran.txt" } }] });
    expect(r.code).toBe(1);
    const result = resultOf(r.evs);
    expect(result).toMatchObject({ subtype: "error", isError: true, exitCode: 1, errorCode: "script_exhausted" });
    expect(result.errorMessage).toContain("no step left");
    expect(result.summary ?? "").not.toContain("(script exhausted)");
    expect(await readFile(join(r.ws, "ran.txt"), "utf8")).toBe("ran\n");
  });

  test("--timeout ends with exit 124 and timedOut", async () => {
    const r = await heartbeat({ steps: [{ text: "too slow", delayMs: 30_000 }], args: ["--timeout", "3"] });
    expect(r.code).toBe(124);
    expect(resultOf(r.evs)).toMatchObject({ subtype: "timeout", timedOut: true, errorCode: "timeout", exitCode: 124 });
  });

  test("bad request JSON is exit 2 naming the field", async () => {
    const ws = await tempDir("aos-ws-");
    const bad = await runBin(["run", "--input", "-"], { stdin: JSON.stringify({ prompt: "x", cwd: ws, timeoutSec: "soon" }) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("timeoutSec");
    const unknown = await runBin(["run", "--input", "-"], { stdin: JSON.stringify({ prompt: "x", cwd: ws, promt: "y" }) });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown field 'promt'");
    expect(unknown.stderr).toContain("did you mean 'prompt'?");
  });

  test("a long tool output is cut to keep each line under 8 KB", async () => {
    const r = await heartbeat({ steps: [{ tool: "bash", input: { command: "printf '%030000d' 7" } }, { text: "ok" }] });
    expect(r.code).toBe(0);
    const res = r.evs.find((e) => e.type === "tool_result")!;
    expect(res.content).toContain("truncated");
  });
});

describe("run: OpenCode", () => {
  test("OpenCode runs a tool in the VM, and its next heartbeat is resumed by transcript replay (and says so)", async () => {
    const first = await heartbeat({
      args: ["--agent", "opencode"],
      steps: [{ tool: "bash", input: { command: "echo oc > /workspace/oc.txt", description: "write a file" } }, { text: "wrote oc.txt; the word is MANGO" }],
    });
    expect(first.code).toBe(0);
    expect(await readFile(join(first.ws, "oc.txt"), "utf8")).toBe("oc\n");
    expect(first.evs[0]).toMatchObject({ agent: "opencode", resumed: false, resumeMode: "fresh" });
    const params = resultOf(first.evs).sessionParams;
    expect(params.agent).toBe("opencode");
    const second = await heartbeat({ args: ["--agent", "opencode", "--session", JSON.stringify(params)], steps: [{ text: "again" }], ws: first.ws, home: first.home });
    expect(second.code).toBe(0);
    expect(second.evs[0]).toMatchObject({ resumed: true, resumeMode: "transcript-replay", sessionId: params.sessionId });
    expect(await readFile(second.record, "utf8")).toContain("MANGO");
  });
});

describe("run: lifecycle", () => {
  test("SIGTERM mid-run writes a cancelled result, exits 143, and the session resumes next time", async () => {
    const ws = await tempDir("aos-ws-");
    const home = await tempDir("aos-home-");
    const scratch = await tempDir("aos-script-");
    const file = await script(scratch, [{ tool: "bash", input: { command: "echo started > /workspace/started.txt" } }, { text: "never", delayMs: 60_000 }]);
    const p = Bun.spawn([binPath(), "run", "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "long task", "--grace", "10"], {
      env: { ...process.env, PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: sharedCache },
      stdout: "pipe",
      stderr: "pipe",
    });
    const started = Date.now();
    while (!existsSync(join(ws, "started.txt")) && Date.now() - started < 60_000) await Bun.sleep(100);
    await Bun.sleep(500);
    const killedAt = Date.now();
    p.kill("SIGTERM");
    const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(code).toBe(143);
    const evs = events(stdout);
    const result = resultOf(evs);
    expect(result).toMatchObject({ subtype: "cancelled", errorCode: "cancelled", signal: "SIGTERM", exitCode: 143 });
    const params = result.sessionParams;
    expect(params.sessionId).toBeTruthy();
    const next = await heartbeat({ steps: [{ text: "resumed fine" }], ws, home, args: ["--session", JSON.stringify(params)] });
    expect(next.code).toBe(0);
    expect(next.evs[0]).toMatchObject({ resumed: true, sessionId: params.sessionId });
  });

  test("when the parent dies the run stops by itself: cancelled result, session saved", async () => {
    const ws = await tempDir("aos-ws-");
    const home = await tempDir("aos-home-");
    const scratch = await tempDir("aos-script-");
    const file = await script(scratch, [{ tool: "bash", input: { command: "echo started > /workspace/started.txt" } }, { text: "never", delayMs: 60_000 }]);
    const out = join(scratch, "out.ndjson");
    // sh starts the run in the background and waits; killing sh mid-run orphans the run.
    const sh = Bun.spawn(["sh", "-c", `"$0" run --cwd "$1" --model "scripted:$2" --prompt long > "$3" 2>/dev/null & sleep 120`, binPath(), ws, file, out], {
      env: { ...process.env, PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: sharedCache },
    });
    while (!existsSync(join(ws, "started.txt"))) await Bun.sleep(100);
    sh.kill("SIGKILL");
    const t0 = Date.now();
    let text = "";
    while (Date.now() - t0 < 60_000) {
      text = existsSync(out) ? await readFile(out, "utf8") : "";
      if (text.includes('"type":"result"')) break;
      await Bun.sleep(200);
    }
    const result = resultOf(events(text));
    expect(result).toMatchObject({ subtype: "cancelled", errorCode: "cancelled" });
    expect(result.errorMessage).toContain("parent");
    expect(result.sessionParams.sessionId).toBeTruthy();
  });

  test("a closed stdout stops the run at its next event (exit 143, session resumable)", async () => {
    const ws = await tempDir("aos-ws-");
    const home = await tempDir("aos-home-");
    const scratch = await tempDir("aos-script-");
    // The tool result arrives after the reader is gone: that write hits EPIPE. (Linux reports a closed pipe only to a
    // write, so a run that prints nothing notices at its next event, or through the parent-death check.)
    const file = await script(scratch, [{ tool: "bash", input: { command: "echo started > /workspace/started.txt; sleep 3; echo slept" } }, { text: "never", delayMs: 60_000 }]);
    const p = Bun.spawn([binPath(), "run", "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "long"], {
      env: { ...process.env, PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: sharedCache },
      stdout: "pipe",
      stderr: "ignore",
    });
    const reader = p.stdout.getReader();
    await reader.read(); // the init line
    while (!existsSync(join(ws, "started.txt"))) await Bun.sleep(100);
    await reader.cancel(); // the reader goes away: the next write hits EPIPE
    const t0 = Date.now();
    const code = await p.exited;
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(code).toBe(143);
    const next = await heartbeat({ steps: [{ text: "back" }], ws, home, args: ["--task-key", "__heartbeat__"] });
    expect(next.evs[0]).toMatchObject({ resumed: true });
  });

  test("a sidecar that dies mid-run ends with errorCode runtime_crashed and exit 1", async () => {
    const cache = await privateCache();
    const ws = await tempDir("aos-ws-");
    const scratch = await tempDir("aos-script-");
    const file = await script(scratch, [{ tool: "bash", input: { command: "echo started > /workspace/started.txt" } }, { text: "never", delayMs: 60_000 }]);
    const p = Bun.spawn([binPath(), "run", "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "long"], {
      env: { ...process.env, PAPERCLIP_AOS_HOME: await tempDir("aos-home-"), PAPERCLIP_AOS_CACHE: cache },
      stdout: "pipe",
      stderr: "ignore",
    });
    const t0 = Date.now();
    while (!existsSync(join(ws, "started.txt")) && Date.now() - t0 < 60_000) await Bun.sleep(100);
    const pids = Bun.spawnSync(["pgrep", "-f", cache]).stdout.toString().split("\n").filter(Boolean);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) process.kill(Number(pid), "SIGKILL");
    const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(1);
    expect(resultOf(events(stdout))).toMatchObject({ subtype: "error", errorCode: "runtime_crashed" });
  });

  test("a sidecar.log at its cap (8 MB) is moved to sidecar.log.1 when the next sidecar starts, which writes a new one", async () => {
    const cache = await privateCache();
    const logs = join(cache, "logs");
    await mkdir(logs, { recursive: true });
    const full = `old sidecar output\n${"x".repeat(8 << 20)}`;
    await writeFile(join(logs, "sidecar.log"), full);
    await writeFile(join(logs, "sidecar.log.1"), "the older one\n");
    const r = await heartbeat({ steps: [{ text: "bye" }], env: { PAPERCLIP_AOS_CACHE: cache } });
    expect(r.code).toBe(0);
    expect(readdirSync(logs).sort()).toEqual(["sidecar.log", "sidecar.log.1"]);
    const older = readFileSync(join(logs, "sidecar.log.1"), "utf8");
    expect(older.length).toBe(full.length);
    expect(older.startsWith("old sidecar output\n")).toBe(true);
    expect(statSync(join(logs, "sidecar.log")).size).toBeLessThan(1 << 20);
  });

  test("no sidecar is left behind after a heartbeat", async () => {
    // A private cache path (its rt/ linked to the shared one) makes this run's sidecar recognisable by its path.
    const cache = await privateCache();
    const r = await heartbeat({ steps: [{ text: "bye" }], env: { PAPERCLIP_AOS_CACHE: cache } });
    expect(r.code).toBe(0);
    await Bun.sleep(300);
    expect(processesMentioning(cache)).toEqual([]);
  });
});

describe("run: capabilities and secrets", () => {
  test("a write the policy forbids is a failed tool_result plus a permission event", async () => {
    const r = await heartbeat({
      steps: [{ tool: "bash", input: { command: "echo x > /etc/forbidden.txt" } }, { text: "could not" }],
    });
    expect(r.code).toBe(0);
    const res = r.evs.find((e) => e.type === "tool_result")!;
    expect(res.isError).toBe(true);
    const perm = r.evs.find((e) => e.type === "permission")!;
    expect(perm).toMatchObject({ capability: "fs.write", decision: "deny", toolUseId: res.toolUseId });
    expect(perm.target).toContain("/etc/forbidden.txt");
  });

  test("forwarding to a provider: the host key reaches the upstream and appears nowhere else", async () => {
    const KEY = "sk-ant-fake-0123456789-SECRET";
    const upstream = await startGateway({
      model: "scripted",
      token: KEY,
      script: { steps: [{ tool: "bash", input: { command: "env; cat ~/.pi/agent/models.json" } }, { text: "done", usage: { input: 10, output: 5 } }] } as any,
    });
    try {
      const home = await tempDir("aos-home-");
      const ws = await tempDir("aos-ws-");
      const scratch = await tempDir("aos-script-");
      const record = join(scratch, "record.ndjson");
      const r = await runBin(["run", "--cwd", ws, "--model", "anthropic/claude-sonnet-4-5", "--record", record, "--prompt", "show env"], {
        env: { PAPERCLIP_AOS_HOME: home, ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: upstream.url },
      });
      expect(r.code).toBe(0);
      const evs = events(r.stdout);
      const result = resultOf(evs);
      expect(result).toMatchObject({ provider: "anthropic", model: "claude-sonnet-4-5", billingType: "api" });
      expect(upstream.requests()).toBeGreaterThanOrEqual(2);
      // The agent ran `env` and printed its config: neither holds the key.
      const toolOut = evs.find((e) => e.type === "tool_result")!.content as string;
      expect(toolOut).toContain("HOME=");
      expect(r.stdout).not.toContain(KEY);
      expect(r.stderr).not.toContain(KEY);
      expect(await readFile(record, "utf8")).not.toContain(KEY);
      for (const f of await filesUnder(home)) expect((await readFile(f)).includes(KEY)).toBe(false);
    } finally {
      await upstream.close();
    }
  });
});

describe("run: typed host tools", () => {
  test("the agent calls git.status inside the VM and gets what `tool invoke` gives on the host; a denied tool is a permission event", async () => {
    const ws = await tempDir("aos-ws-");
    const git = (...a: string[]) => Bun.spawnSync(["git", "-C", ws, ...a], { env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@x", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@x" } });
    git("init", "-q", "-b", "main");
    await writeFile(join(ws, "a.txt"), "a\n");
    git("add", ".");
    git("commit", "-qm", "first");
    await writeFile(join(ws, "a.txt"), "changed\n");
    await writeFile(join(ws, "new.txt"), "new\n");
    const host = await runBin(["tool", "invoke", "git.status", "--input", "{}", "--cwd", ws]);
    expect(host.code).toBe(0);
    const r = await heartbeat({
      ws,
      args: ["--deny-tool=git.log"],
      steps: [
        { tool: "bash", input: { command: "agentos-paperclip git-status --json '{}'" } },
        { tool: "bash", input: { command: "agentos-paperclip git-log --json '{}'" } },
        { tool: "bash", input: { command: "echo by-agent > /workspace/agent.txt" } },
        { tool: "bash", input: { command: "agentos-paperclip workspace-diff --json '{}'" } },
        { text: "checked" },
      ],
    });
    expect(r.code).toBe(0);
    const toolEvents = r.evs.filter((e) => e.type === "tool_result" && e.toolName === "git.status");
    expect(toolEvents).toHaveLength(1);
    expect(JSON.parse(toolEvents[0]!.content)).toEqual(JSON.parse(host.stdout));
    expect(JSON.parse(host.stdout).files.map((f: { path: string }) => f.path).sort()).toEqual(["a.txt", "new.txt"]);
    const denied = r.evs.filter((e) => e.type === "permission" && e.capability === "tool.invoke");
    expect(denied.map((e) => e.target)).toContain("git.log");
    const bashResults = r.evs.filter((e) => e.type === "tool_result" && e.toolName === "bash");
    expect(bashResults[1]!.content).toContain("git-log");
    expect(r.evs.some((e) => e.type === "tool_result" && e.toolName === "git.log" && !e.isError)).toBe(false);
    // workspace.diff compares with the workspace as it was when the heartbeat started: only the agent's file.
    const diff = r.evs.find((e) => e.type === "tool_result" && e.toolName === "workspace.diff")!;
    expect(diff.isError).toBe(false);
    const changed = JSON.stringify(JSON.parse(diff.content));
    expect(changed).toContain("agent.txt");
    expect(changed).not.toContain("new.txt");
    // The baseline was per-run scratch state: nothing of it is left in the state dir.
    expect((await filesUnder(r.home)).filter((f) => f.includes("baseline"))).toEqual([]);
  });
});

describe("run: snapshot roots", () => {
  test("run --snapshot works on the snapshot's tree, leaves the source alone, and --keep-changes exports exactly the diff", async () => {
    const home = await tempDir("aos-home-");
    const src = await tempDir("aos-src-");
    await writeFile(join(src, "README.md"), "from the snapshot\n");
    await writeFile(join(src, "old.txt"), "to be changed\n");
    const built = await runBin(["snapshot", "build", src, "--name", "base", "--json"], { env: { PAPERCLIP_AOS_HOME: home } });
    expect(built.code).toBe(0);
    const kept = join(await tempDir("aos-kept-"), "out");
    const r = await heartbeat({
      home,
      args: ["--snapshot", "base", "--keep-changes", kept],
      steps: [{ tool: "bash", input: { command: "cat /workspace/README.md && echo changed > /workspace/old.txt && echo new > /workspace/new.txt" } }, { text: "done" }],
    });
    expect(r.code).toBe(0);
    expect(r.evs.find((e) => e.type === "tool_result")!.content).toContain("from the snapshot");
    expect(r.evs[0]).toMatchObject({ type: "init", snapshot: JSON.parse(built.stdout).id });
    expect(r.evs.find((e) => e.type === "system" && e.code === "snapshot_changes")!.text).toContain("1 added, 1 modified, 0 deleted");
    expect(await readFile(join(src, "old.txt"), "utf8")).toBe("to be changed\n");
    expect(existsSync(join(src, "new.txt"))).toBe(false);
    expect(await readFile(join(kept, "new.txt"), "utf8")).toBe("new\n");
    expect(await readFile(join(kept, "old.txt"), "utf8")).toBe("changed\n");
    expect(existsSync(join(r.ws, "new.txt"))).toBe(false);
  });
});

describe("run: demo", () => {
  test("run --demo fixes the bundled project's failing test on the scripted model", async () => {
    const home = await tempDir("aos-home-");
    const r = await runBin(["run", "--demo"], { env: { PAPERCLIP_AOS_HOME: home } });
    expect(r.code).toBe(0);
    const evs = events(r.stdout);
    const results = evs.filter((e) => e.type === "tool_result").map((e) => e.content as string);
    expect(results[0]).toContain("AssertionError");
    expect(results[results.length - 1]).toContain("all tests passed");
    expect(await readFile(join(home, "demo", "workspace", "sum.mjs"), "utf8")).toContain("a + b");
    expect(resultOf(evs).summary).toContain("sum.mjs");
  });
});



