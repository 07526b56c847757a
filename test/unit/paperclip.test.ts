import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import type { AdapterExecutionContext, AdapterRuntime, StdoutLineParser, TranscriptEntry } from "@paperclipai/adapter-utils";
import * as serverUtils from "@paperclipai/adapter-utils/server-utils";
import { RunEventSchema, type ResultEvent } from "../../src/protocol/index.ts";
import { parseRunRequest } from "../../src/heartbeat/index.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";
import {
  buildAdapterBundle,
  buildRequest,
  configSchema,
  execute,
  runArgs,
  createAgentosAdapter,
  inheritedEnv,
  parseStdoutLine,
  sessionCodec,
  toExecutionResult,
  UI_PARSER_MAX_BYTES,
} from "../../src/paperclip/index.ts";

/**
 * The adapter's pure parts against the real @paperclipai/adapter-utils 2026.916.1 types and prompt helpers. The
 * fixture is a recorded `run` stream (a snapshot run with thinking, a tool call and a file change; a run whose read
 * of /workspace/.env was denied; an overloaded model; a timeout), paths renamed.
 */
const FIXTURE = readFileSync(join(import.meta.dir, "fixtures", "paperclip-run-stream.ndjson"), "utf8").split("\n").filter(Boolean);
const EVENTS = FIXTURE.map((l) => JSON.parse(l) as Record<string, any>);
// No recording produced a `service` event (the VM's listener had exited by the end of the run), so this one line is
// written from the protocol's schema, and checked against it below like every recorded line.
const SERVICE_LINE = JSON.stringify({
  type: "service",
  serviceName: "http-8080",
  status: "running",
  lifecycle: "ephemeral",
  scopeType: "run",
  scopeId: "r1",
  port: 8080,
  url: "http://127.0.0.1:8080",
  ts: "2026-12-01T07:39:00.000Z",
  seq: 9,
});
const LINES = [...FIXTURE, SERVICE_LINE];

const parser: StdoutLineParser = parseStdoutLine;
const parseAll = (p: StdoutLineParser, lines: string[]) => lines.flatMap((l, i) => p(l, `t${i}`));

describe("ui-parser on a recorded stream", () => {
  test("every line is on the protocol and the stream holds every event kind", () => {
    for (const l of LINES) expect(v.safeParse(RunEventSchema, JSON.parse(l)).success).toBe(true);
    const kinds = RunEventSchema.options.map((o) => o.entries.type.literal).sort();
    expect([...new Set(LINES.map((l) => JSON.parse(l).type))].sort()).toEqual(kinds);
  });

  test("the assistant's answer shows once (deltas skipped), tools with command and output, no raw JSON", () => {
    const entries = parseAll(parser, LINES);
    const answers = entries.filter((e) => e.kind === "assistant").map((e) => (e as { text: string }).text);
    expect(answers).toEqual(EVENTS.filter((e) => e.type === "assistant" && !e.delta).map((e) => e.text));
    expect(answers.filter((t) => t === "I read a.txt and wrote b.txt.")).toHaveLength(1);
    expect(entries.filter((e) => e.kind === "thinking")).toHaveLength(1);
    const call = entries.find((e) => e.kind === "tool_call") as Extract<TranscriptEntry, { kind: "tool_call" }>;
    expect(call.name).toBe("bash");
    expect((call.input as { command: string }).command).toContain("cat /workspace/a.txt");
    const res = entries.find((e) => e.kind === "tool_result") as Extract<TranscriptEntry, { kind: "tool_result" }>;
    expect(res.toolUseId).toBe(call.toolUseId!);
    expect(res.content).toContain("hello");
    for (const e of entries) expect(JSON.stringify(e)).not.toContain('{\\"type\\":');
    expect(entries.some((e) => e.kind === "stdout")).toBe(false);
    expect(entries.some((e) => e.kind === "system" && e.text === "permission deny: fs.read /workspace/.env (cat: /workspace/.env: Permission denied)")).toBe(true);
    expect(entries.some((e) => e.kind === "system" && e.text === "service http-8080 running at http://127.0.0.1:8080")).toBe(true);
  });

  test("workspace_change, and result rows: usage on success, the readable error on failure, timeout named", () => {
    const entries = parseAll(parser, LINES);
    const change = entries.find((e) => e.kind === "workspace_change") as Extract<TranscriptEntry, { kind: "workspace_change" }>;
    expect(change.files).toEqual([{ path: "b.txt", operation: "create", previousPath: null, additions: null, deletions: null, binary: false, diff: null }]);
    const results = entries.filter((e) => e.kind === "result") as Extract<TranscriptEntry, { kind: "result" }>[];
    expect(results.map((r) => r.subtype)).toEqual(["success", "success", "error", "timeout"]);
    expect(results[0]).toMatchObject({ text: "", isError: false, inputTokens: 2200, outputTokens: 50, costUsd: 0 });
    expect(results[2]).toMatchObject({ isError: true, text: "the model provider is overloaded (HTTP 529): Overloaded", errors: ["the model provider is overloaded (HTTP 529): Overloaded"] });
    expect(results[3]!.text).toBe("the heartbeat did not finish within 3s");
    expect(entries.filter((e) => e.kind === "run_terminal").map((e) => (e as { runState: string }).runState)).toEqual(["failed", "failed"]);
  });

  test("never throws, whatever the line", () => {
    const odd = [
      "",
      "   ",
      "plain text from somewhere",
      "{",
      '{"type":',
      "null",
      "[1,2]",
      '{"type":"tool_call","name":5,"input":null}',
      '{"type":"result","usage":"lots","costUsd":"x","errorMessage":7,"isError":true}',
      '{"type":"workspace_change","files":[null,3,{"path":1}]}',
      '{"type":"future_kind","text":"x"}',
      `{"type":"assistant","text":"${"x".repeat(200_000)}"}`,
      "\u0000\uffff",
    ];
    for (const l of odd) expect(() => parser(l, "t")).not.toThrow();
    expect(parser('{"type":"future_kind"}', "t")).toEqual([]);
    expect(parser("plain text from somewhere", "t")).toEqual([{ kind: "stdout", ts: "t", text: "plain text from somewhere" }]);
  });

  test("the shipped CommonJS build imports nothing, fits 50 KB, and parses like the source", async () => {
    const bundle = await buildAdapterBundle();
    expect(Buffer.byteLength(bundle.uiParser)).toBeLessThan(UI_PARSER_MAX_BYTES);
    // How Paperclip's UI loads it: new Function("exports", "module", source), no require in scope.
    const mod = { exports: {} as { parseStdoutLine?: StdoutLineParser } };
    new Function("exports", "module", "require", bundle.uiParser)(mod.exports, mod, undefined);
    expect(parseAll(mod.exports.parseStdoutLine!, LINES)).toEqual(parseAll(parser, LINES));
    expect(bundle.index).not.toContain("@paperclipai/adapter-utils");
    expect(bundle.index).not.toMatch(/from "(?!node:)[^"]+"/);
  });

  test("the adapter bundle carries none of the engine's modules, only the leaf that names its token's variable", async () => {
    const { index } = await buildAdapterBundle();
    // Bun marks each bundled module with a `// <path>` line.
    const modules = new Set(index.split("\n").flatMap((l) => (/^\/\/ (src\/\S+\.ts)$/.exec(l) ?? []).slice(1)));
    expect([...modules].filter((m) => !m.startsWith("src/paperclip/"))).toEqual(["src/engine-token-env.ts"]);
    expect(index).toContain("PAPERCLIP_AOS_ENGINE_TOKEN");
  });
});

describe("session codec", () => {
  test("round-trips every field, Paperclip's own included; no session id is no session", () => {
    const params = { sessionId: "s1", cwd: "/w", agent: "pi", agentId: "a", taskKey: "T", runtime: "agentos", snapshot: null, repoUrl: "git@x", __paperclipConfigFingerprint: { v: 1 } };
    const stored = sessionCodec.serialize(params);
    expect(sessionCodec.deserialize(JSON.parse(JSON.stringify(stored)))).toEqual(params);
    expect(sessionCodec.getDisplayId!(params)).toBe("s1");
    expect(sessionCodec.deserialize({ cwd: "/w" })).toBeNull();
    expect(sessionCodec.deserialize(null)).toBeNull();
    expect(sessionCodec.deserialize("abc")).toEqual({ sessionId: "abc" });
    expect(sessionCodec.serialize({ sessionId: "  " })).toBeNull();
  });
});

function ctx(over: { runtime?: Partial<AdapterRuntime>; config?: Record<string, unknown>; context?: Record<string, unknown> } = {}): AdapterExecutionContext {
  return {
    runId: "run-1",
    agent: { id: "agent-1", companyId: "co-1", name: "Builder", adapterType: "agentos_local", adapterConfig: {} },
    runtime: { sessionId: null, sessionParams: null, sessionDisplayId: null, taskKey: "issue-9", ...over.runtime },
    config: { agent: "pi", model: "scripted:/s.json", ...over.config },
    context: {
      wakeReason: "issue_assigned",
      paperclipWorkspace: { cwd: "/srv/ws", source: "project_primary" },
      paperclipWake: { reason: "issue_assigned", issue: { id: "i9", identifier: "PAP-9", title: "Fix the parser", description: "It drops lines." } },
      ...over.context,
    },
    onLog: async () => {},
  };
}

describe("request builder (with Paperclip's own prompt helpers)", () => {
  test("a fresh wake: Paperclip's wake prompt and heartbeat template, the workspace, no session; run accepts it", () => {
    const { request } = buildRequest(ctx(), serverUtils);
    expect(request).toMatchObject({ runId: "run-1", agentId: "agent-1", agent: "pi", taskKey: "issue-9", cwd: "/srv/ws", session: null, wakeReason: "issue_assigned" });
    expect(request.prompt).toContain("## Paperclip Wake Payload");
    expect(request.prompt).toContain("PAP-9 Fix the parser");
    expect(request.prompt).toContain("You are agent agent-1 (Builder)");
    expect(parseRunRequest(JSON.parse(JSON.stringify(request)), "stdin")).toMatchObject({ session: null, cwd: "/srv/ws" });
  });

  test("a resumed session gets only what changed, keeps its params and drops Paperclip's bookkeeping", () => {
    const params = { sessionId: "s1", cwd: "/srv/ws", agent: "pi", runtime: "agentos", repoUrl: "git@x", __paperclipConfigFingerprint: "f" };
    const { request } = buildRequest(ctx({ runtime: { sessionParams: params, sessionId: "s1" } }), serverUtils);
    expect(request.session).toEqual({ sessionId: "s1", cwd: "/srv/ws", agent: "pi", runtime: "agentos", repoUrl: "git@x" });
    expect(request.prompt).toContain("## Paperclip Resume Delta");
    expect(request.prompt).not.toContain("You are agent agent-1");
    expect(parseRunRequest(JSON.parse(JSON.stringify(request)), "stdin").session?.sessionId).toBe("s1");
  });

  test("a keyless wake resumes from runtime.sessionId; Paperclip's reset (both null) is session null", () => {
    const keyless = buildRequest(ctx({ runtime: { sessionId: "legacy-1", sessionParams: null, taskKey: null }, context: { paperclipWake: null, wakeReason: "heartbeat_timer" } }), serverUtils);
    expect(keyless.request.session).toEqual({ sessionId: "legacy-1" });
    expect(keyless.request.taskKey).toBeUndefined();
    const handoff = buildRequest(ctx({ runtime: { sessionParams: { sessionId: "h1" } } }), serverUtils);
    expect(handoff.request.session).toEqual({ sessionId: "h1" });
    const reset = buildRequest(ctx({ runtime: { sessionId: null, sessionParams: null } }), serverUtils);
    expect(reset.request.session).toBeNull();
  });

  test("config: policy JSON text, preset, env bindings, timeout; bad policy JSON and no workspace are errors", () => {
    const built = buildRequest(
      ctx({
        config: {
          capabilities: '{"version":1,"extends":"read-only"}',
          snapshot: "site",
          timeoutSec: "90",
          env: { PAPERCLIP_AOS_HOME: "/var/aos", ANTHROPIC_API_KEY: { type: "plain", value: "sk-x" }, "bad name": "x" },
        },
      }),
      serverUtils,
    );
    expect(built.request).toMatchObject({ capabilities: { version: 1, extends: "read-only" }, snapshot: "site", timeoutSec: 90 });
    expect(built.env).toEqual({ PAPERCLIP_AOS_HOME: "/var/aos", ANTHROPIC_API_KEY: "sk-x" });
    expect(JSON.stringify(built.request)).not.toContain("sk-x");
    expect(buildRequest(ctx({ config: { preset: "read-only" } }), serverUtils).request.preset).toBe("read-only");
    expect(() => buildRequest(ctx({ config: { capabilities: "{nope" } }), serverUtils)).toThrow("not valid JSON");
    expect(() => buildRequest(ctx({ context: { paperclipWorkspace: {} } }), serverUtils)).toThrow("no workspace");
  });
});

// (At the top level: the host-code test below, outside every describe, makes a temp dir too.)
afterAll(removeTempDirs);

describe("adapterConfig.engineUrl: heartbeats on a Rivet engine", () => {
  test("the config schema and the agent configuration doc offer it", () => {
    expect(configSchema().fields.find((f) => f.key === "engineUrl")).toMatchObject({ type: "text" });
    expect(createAgentosAdapter({ command: ["paperclip-aos"] }).agentConfigurationDoc).toContain("engineUrl");
  });

  test("set: the run gets --engine URL (not in the request, which run's schema would reject); unset: a local run; bad values are errors", () => {
    const on = buildRequest(ctx({ config: { engineUrl: " http://10.0.0.5:6420/ " } }), serverUtils);
    expect(on.engine).toBe("http://10.0.0.5:6420");
    expect(runArgs(on)).toEqual(["run", "--input", "-", "--engine", "http://10.0.0.5:6420"]);
    expect(parseRunRequest(JSON.parse(JSON.stringify(on.request)), "stdin")).toMatchObject({ cwd: "/srv/ws" });
    const off = buildRequest(ctx({ config: { engineUrl: "" } }), serverUtils);
    expect(off.engine).toBeUndefined();
    expect(runArgs(off)).toEqual(["run", "--input", "-"]);
    expect(() => buildRequest(ctx({ config: { engineUrl: "127.0.0.1:6420" } }), serverUtils)).toThrow("is not a URL");
    expect(() => buildRequest(ctx({ config: { engineUrl: "ws://127.0.0.1:6420" } }), serverUtils)).toThrow("must be http:// or https://");
    expect(() => buildRequest(ctx({ config: { engineUrl: "not a url" } }), serverUtils)).toThrow("engineUrl is not a URL");
    expect(() => buildRequest(ctx({ config: { engineUrl: "http://u:p@h:6420" } }), serverUtils)).toThrow("must not carry credentials");
  });

  test("execute starts the paperclip-aos command with --engine URL and says so in the run's meta", async () => {
    // A stand-in for the binary that prints the arguments it got (the real binary on a real engine: test/rivet/).
    const ws = await tempDir("aos-pc-engine-");
    const command = [process.execPath, "-e", "console.log(JSON.stringify({argv: process.argv.slice(1)}))"];
    const logged: string[] = [];
    let meta: { commandArgs?: string[]; commandNotes?: string[] } = {};
    const base = ctx({ config: { engineUrl: "http://127.0.0.1:6420" }, context: { paperclipWorkspace: { cwd: ws } } });
    await execute({ ...base, onLog: async (_s, chunk) => void logged.push(chunk), onMeta: async (m) => void (meta = m as typeof meta) }, { command });
    expect(JSON.parse(logged.find((l) => l.startsWith('{"argv"'))!).argv).toEqual(["run", "--input", "-", "--engine", "http://127.0.0.1:6420"]);
    expect(meta.commandArgs?.slice(-2)).toEqual(["--engine", "http://127.0.0.1:6420"]);
    expect(meta.commandNotes).toContain("on the Rivet engine http://127.0.0.1:6420");
  });
});

test("adapter config env cannot choose code the host runs: BUN_OPTIONS, LD_*, NODE_OPTIONS, AGENTOS_SIDECAR_BIN are not passed on", async () => {
  const dir = await tempDir("aos-pc-hostcode-");
  const marker = join(dir, "preloaded");
  const preload = join(dir, "evil.js");
  writeFileSync(preload, `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran")`);
  const bunOptions = `--preload=${preload}`;
  // The attack works against a Bun process (the compiled binary is one): the stand-in below would run the preload.
  const direct = Bun.spawnSync([process.execPath, "-e", "0"], { env: { ...process.env, BUN_OPTIONS: bunOptions } });
  expect(direct.exitCode).toBe(0);
  expect(existsSync(marker)).toBe(true);
  rmSync(marker);

  const command = [process.execPath, "-e", "console.log(JSON.stringify({env: process.env}))"];
  const logged: string[] = [];
  let meta: { commandNotes?: string[] } = {};
  const env = { BUN_OPTIONS: bunOptions, LD_PRELOAD: join(dir, "evil.so"), NODE_OPTIONS: `--require=${preload}`, AGENTOS_SIDECAR_BIN: preload, AOS_TEST_KEPT: "yes" };
  const base = ctx({ config: { env }, context: { paperclipWorkspace: { cwd: dir } } });
  await execute({ ...base, onLog: async (_s, chunk) => void logged.push(chunk), onMeta: async (m) => void (meta = m as typeof meta) }, { command });
  expect(existsSync(marker)).toBe(false);
  const seen = JSON.parse(logged.join("").split("\n").find((l) => l.startsWith('{"env"'))!).env as Record<string, string>;
  expect(seen.AOS_TEST_KEPT).toBe("yes");
  for (const k of ["BUN_OPTIONS", "LD_PRELOAD", "NODE_OPTIONS", "AGENTOS_SIDECAR_BIN"]) expect(seen[k]).toBeUndefined();
  expect(meta.commandNotes?.some((n) => n.includes("BUN_OPTIONS, LD_PRELOAD, NODE_OPTIONS, AGENTOS_SIDECAR_BIN not passed on"))).toBe(true);
});

test("paperclip-aos inherits the server's environment without the server's own settings and secrets", () => {
  const env = inheritedEnv({
    PATH: "/usr/bin",
    HOME: "/root",
    ANTHROPIC_API_KEY: "sk-host",
    PAPERCLIP_AOS_HOME: "/var/aos",
    PAPERCLIP_AOS_ENGINE_TOKEN: "engine-token",
    PAPERCLIP_AGENT_JWT_SECRET: "jwt",
    PAPERCLIP_RUN_ID: "stale",
    DATABASE_URL: "postgres://x",
    BETTER_AUTH_SECRET: "auth",
  });
  // The engine's token reaches `run --engine` through the environment (never its argv or the adapter config).
  expect(env).toEqual({ PATH: "/usr/bin", HOME: "/root", ANTHROPIC_API_KEY: "sk-host", PAPERCLIP_AOS_HOME: "/var/aos", PAPERCLIP_AOS_ENGINE_TOKEN: "engine-token" });
});

describe("result → AdapterExecutionResult", () => {
  const results = EVENTS.filter((e) => e.type === "result") as ResultEvent[];
  const end = { exitCode: 0, signal: null, cancelled: false, stopVerified: true, stderrHead: "" };

  test("success: usage, zero cost, session, summary; nothing of the error fields", () => {
    const r = toExecutionResult(results[0]!, end);
    expect(r).toMatchObject({ exitCode: 0, timedOut: false, errorMessage: null, costUsd: 0, billingType: "unknown", usageBasis: "per_run", summary: "I read a.txt and wrote b.txt." });
    expect(r.usage).toEqual({ inputTokens: 2200, outputTokens: 50, cachedInputTokens: 0 });
    expect(r.sessionParams?.sessionId).toBe(r.sessionDisplayId!);
    expect(r.errorFamily).toBeUndefined();
    expect(r.executionRecovery).toBeUndefined();
    expect(r.resultJson?.executionCancellation).toBeUndefined();
  });

  test("overloaded: Paperclip's family and retry time, the readable error as message and summary", () => {
    const r = toExecutionResult(results[2]!, { ...end, exitCode: 1 });
    expect(r).toMatchObject({ exitCode: 1, errorFamily: "transient_upstream", errorCode: "upstream_overloaded", errorMessage: "the model provider is overloaded (HTTP 529): Overloaded" });
    expect(r.summary).toBe(r.errorMessage!);
    expect(Number.isNaN(Date.parse(r.retryNotBefore!))).toBe(false);
    // No tool was called: positive evidence that a replay repeats nothing (Paperclip retries only with it).
    expect(r.executionRecovery).toEqual({ kind: "bootstrap", providerWorkStarted: false });
    expect(toExecutionResult(results[2]!, { ...end, exitCode: 1, toolCalls: 1 }).executionRecovery).toBeUndefined();
  });

  test("timeout is timedOut; a verified cancel is acknowledged; no result line says why; no session keeps Paperclip's", () => {
    expect(toExecutionResult(results[3]!, { ...end, exitCode: 124 })).toMatchObject({ timedOut: true, errorCode: "timeout" });
    const cancelled = toExecutionResult(results[3]!, { ...end, exitCode: 143, cancelled: true });
    expect(cancelled.resultJson?.executionCancellation).toMatchObject({ state: "acknowledged" });
    expect(cancelled.executionRecovery).toEqual({ kind: "interrupted", providerStopped: true, sessionPreserved: true, actionOutcomes: "settled" });
    expect(toExecutionResult(results[3]!, { ...end, cancelled: true, stopVerified: false }).resultJson?.executionCancellation).toBeUndefined();
    const died = toExecutionResult(null, { ...end, exitCode: 1, stderrHead: "error: boom" });
    expect(died).toMatchObject({ errorCode: "no_result", errorMessage: "paperclip-aos exited (code 1) without a result line: error: boom" });
    const early = toExecutionResult({ ...results[0]!, sessionParams: null, sessionDisplayId: null }, end);
    expect("sessionParams" in early).toBe(false);
  });
});

describe("the module Paperclip loads", () => {
  test("type, schema fields the UI renders (all four agents), session management", async () => {
    const m = createAgentosAdapter({ command: ["/nonexistent/paperclip-aos"] });
    expect(m.type).toBe("agentos_local");
    const schema = await m.getConfigSchema!();
    expect(schema.fields.map((f) => f.key)).toEqual(["agent", "model", "preset", "capabilities", "snapshot", "timeoutSec", "engineUrl"]);
    expect(schema.fields[0]!.options!.map((o) => o.value)).toEqual(["pi", "opencode", "claude", "codex"]);
    expect(configSchema().fields.find((f) => f.key === "capabilities")!.type).toBe("textarea");
    expect(m.sessionManagement?.supportsSessionResume).toBe(true);
    expect(m.agentConfigurationDoc).toContain("adapterConfig");
  });

  test("testEnvironment with a missing binary fails with a check saying so", async () => {
    const m = createAgentosAdapter({ command: ["/nonexistent/paperclip-aos"] });
    const r = await m.testEnvironment({ companyId: "c", adapterType: "agentos_local", config: {} });
    expect(r.status).toBe("fail");
    expect(r.checks.find((c) => c.code === "doctor_failed")?.message).toContain("/nonexistent/paperclip-aos");
  });

  test("testEnvironment with engineUrl: a bad URL, and no engine answering there, are errors naming it", async () => {
    const m = createAgentosAdapter({ command: ["/nonexistent/paperclip-aos"] });
    const none = await m.testEnvironment({ companyId: "c", adapterType: "agentos_local", config: { engineUrl: "http://127.0.0.1:9" } });
    expect(none.checks.find((c) => c.code === "engine_url")).toMatchObject({ level: "error", hint: expect.stringContaining("paperclip-aos engine start") });
    expect(none.checks.find((c) => c.code === "engine_url")!.message).toStartWith("no Rivet engine answers at http://127.0.0.1:9");
    const bad = await m.testEnvironment({ companyId: "c", adapterType: "agentos_local", config: { engineUrl: "tcp://x" } });
    expect(bad.checks.find((c) => c.code === "config_engine_url")).toMatchObject({ level: "error", message: expect.stringContaining("must be http:// or https://") });
    expect(bad.checks.find((c) => c.code === "engine_url")).toBeUndefined();
  });

  test("testEnvironment: the engine's token in the adapter config (stored and shown by Paperclip) is a warning naming where it belongs", async () => {
    const m = createAgentosAdapter({ command: ["/nonexistent/paperclip-aos"] });
    const r = await m.testEnvironment({ companyId: "c", adapterType: "agentos_local", config: { engineUrl: "http://127.0.0.1:9", env: { PAPERCLIP_AOS_ENGINE_TOKEN: "0123456789abcdef0123456789abcdef" } } });
    const check = r.checks.find((c) => c.code === "config_engine_token");
    expect(check).toMatchObject({ level: "warn", hint: expect.stringContaining("Paperclip server's environment") });
    expect(JSON.stringify(r)).not.toContain("0123456789abcdef");
    const clean = await m.testEnvironment({ companyId: "c", adapterType: "agentos_local", config: { engineUrl: "http://127.0.0.1:9" } });
    expect(clean.checks.find((c) => c.code === "config_engine_token")).toBeUndefined();
  });
});
