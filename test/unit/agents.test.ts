import { describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { AGENTS, checkModel, type AcpQuirks, type GatewayEndpoint, claudeEnv, CODEX_ACP_PACKAGE, codexConfigFiles, DRIVERS, driverFor, openCodeConfig, paperclipInstructions, piConfigFiles, piExtensionSource, piSpareExtensionSource } from "../../src/agents/index.ts";
import { isAosError } from "../../src/errors.ts";
import { parseModelSpec } from "../../src/gateway/index.ts";
import { AcpMapper } from "../../src/heartbeat/acp.ts";
import { EventSink, RunRequestSchema } from "../../src/heartbeat/index.ts";
import { InitEventSchema, SessionParamsSchema } from "../../src/protocol/index.ts";
import { SOFTWARE_PACKAGES } from "../../src/runtime/index.ts";
import { AGENT_CHOICES } from "../../src/paperclip/index.ts";

const scriptedGw: GatewayEndpoint = { url: "http://127.0.0.1:4567", token: "pcgw-abc", provider: "scripted", model: "scripted" };
const setup = (id: (typeof AGENTS)[number], gw = scriptedGw) => driverFor(id).setup({ endpoint: gw, instructions: "INSTRUCTIONS-MARK" });
const filesOf = (id: (typeof AGENTS)[number], gw = scriptedGw) => Object.fromEntries(setup(id, gw).files.map((f) => [f.path, f.content]));

function refusal(fn: () => void): { message: string; hint?: string; exitCode: number } | undefined {
  try {
    fn();
  } catch (e) {
    if (isAosError(e)) return { message: e.message, hint: e.hint, exitCode: e.exitCode };
    throw e;
  }
  return undefined;
}

describe("the agent list is defined once", () => {
  test("run requests, sessionParams, the init event and the embedded software all take every driver", () => {
    for (const id of AGENTS) {
      expect(v.safeParse(RunRequestSchema, { agent: id }).success).toBe(true);
      expect(v.safeParse(SessionParamsSchema.entries.agent, id).success).toBe(true);
      expect(v.safeParse(InitEventSchema.entries.agent, id).success).toBe(true);
      expect(SOFTWARE_PACKAGES[id]).toEqual(driverFor(id).packages);
    }
    expect(v.safeParse(RunRequestSchema, { agent: "aider" }).success).toBe(false);
    // The Paperclip adapter's bundle keeps its own copy of the list (it ships without src/agents): it must not drift.
    expect([...AGENT_CHOICES]).toEqual([...AGENTS]);
    expect(new Set(DRIVERS.map((d) => d.id)).size).toBe(DRIVERS.length);
  });
});

describe("Pi", () => {
  test("Anthropic override with the token, no retries for scripted runs; the instructions in an extension", () => {
    const files = filesOf("pi");
    expect(JSON.parse(files[".pi/agent/models.json"]!)).toEqual({ providers: { anthropic: { baseUrl: "http://127.0.0.1:4567", apiKey: "pcgw-abc" } } });
    expect(JSON.parse(files[".pi/agent/settings.json"]!)).toMatchObject({ defaultProvider: "anthropic", retry: { enabled: false } });
    expect(files[".pi/agent/extensions/paperclip.js"]).toBe(piExtensionSource("INSTRUCTIONS-MARK"));
    expect(setup("pi").env).toEqual({});
    const real = Object.fromEntries(piConfigFiles({ ...scriptedGw, provider: "anthropic", model: "claude-sonnet-4-5" }).map((f) => [f.path, JSON.parse(f.content)]));
    expect(real[".pi/agent/settings.json"]).toEqual({ defaultProvider: "anthropic", defaultModel: "claude-sonnet-4-5" });
  });

  test("the extension appends the instructions to the system prompt", async () => {
    const src = piExtensionSource('say "hi"\nand more');
    const dir = await mkdtemp(join(tmpdir(), "aos-pi-ext-"));
    let mod: any;
    try {
      await writeFile(join(dir, "paperclip.js"), src);
      mod = await import(join(dir, "paperclip.js"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    let handler: ((e: { systemPrompt: string }) => Promise<{ systemPrompt: string }>) | undefined;
    mod.default({ on: (_: string, h: typeof handler) => (handler = h) });
    expect((await handler!({ systemPrompt: "BASE" })).systemPrompt).toBe('BASE\n\nsay "hi"\nand more');
  });

  test("a spare's extension warms Pi's fetch path with a tokenless HEAD / to the gateway as it loads", async () => {
    const seen: { method: string; path: string; headers: Record<string, string> }[] = [];
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => (seen.push({ method: req.method, path: new URL(req.url).pathname, headers: Object.fromEntries(req.headers) }), new Response(null)) });
    const dir = await mkdtemp(join(tmpdir(), "aos-pi-ext-"));
    try {
      const file = join(dir, "paperclip.js");
      await writeFile(file, piSpareExtensionSource(".paperclip/run.json", `http://127.0.0.1:${server.port}`));
      const mod = await import(file);
      mod.default({ on: () => {} });
      for (let i = 0; i < 200 && !seen.length; i++) await Bun.sleep(10);
      // Only HEAD / (no model call), and nothing in it a gateway would take for a token: the spare's token stays in
      // models.json, which only Pi's own model requests use.
      expect(seen.map((r) => [r.method, r.path])).toEqual([["HEAD", "/"]]);
      expect(Object.keys(seen[0]!.headers).filter((h) => /authorization|api-key|token|cookie/i.test(h))).toEqual([]);
      expect(JSON.stringify(seen[0]!.headers)).not.toContain("pcgw-");
    } finally {
      server.stop(true);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("OpenAI models through a chat-completions provider", () => {
    const files = Object.fromEntries(piConfigFiles({ ...scriptedGw, provider: "openai", model: "gpt-4.1" }).map((f) => [f.path, JSON.parse(f.content)]));
    expect(files[".pi/agent/models.json"].providers.paperclip).toMatchObject({ baseUrl: "http://127.0.0.1:4567/v1", api: "openai-completions", apiKey: "pcgw-abc", models: [{ id: "gpt-4.1" }] });
    expect(files[".pi/agent/settings.json"]).toEqual({ defaultProvider: "paperclip", defaultModel: "gpt-4.1" });
  });
});

describe("OpenCode", () => {
  test("anthropic provider at /v1 with the token, small model pinned, instructions in AGENTS.md", () => {
    const c = openCodeConfig({ ...scriptedGw, provider: "anthropic", model: "claude-sonnet-4-5" }) as any;
    expect(c.model).toBe("anthropic/claude-sonnet-4-5");
    expect(c.small_model).toBe("anthropic/claude-sonnet-4-5");
    expect(c.provider.anthropic.options).toEqual({ baseURL: "http://127.0.0.1:4567/v1", apiKey: "pcgw-abc" });
    expect(filesOf("opencode")[".config/opencode/AGENTS.md"]).toBe("INSTRUCTIONS-MARK\n");
    expect(driverFor("opencode").resume).toBe("transcript-replay");
  });

  test("openai/* through the build's OpenAI provider (the gateway's Responses API)", () => {
    const c = openCodeConfig({ ...scriptedGw, provider: "openai", model: "gpt-4.1" }) as any;
    expect(c.model).toBe("openai/gpt-4.1");
    expect(c.provider).toEqual({ openai: { options: { baseURL: "http://127.0.0.1:4567/v1", apiKey: "pcgw-abc" }, models: { "gpt-4.1": {} } } });
  });
});

describe("Claude Code", () => {
  test("configured by session env: gateway URL, the run's token, the model; the instructions go with the prompt", () => {
    const s = setup("claude", { ...scriptedGw, provider: "anthropic", model: "claude-opus-4-1" });
    // The file each Bash command sources (through the shell prefix) takes the token out of the command's env.
    expect(s.files[0]).toEqual({ path: ".paperclip/claude-env.sh", content: "unset ANTHROPIC_API_KEY\n" });
    // A file where Claude Code would make its shell-snapshot directory: no snapshot (its commands never source one).
    expect(s.files.slice(1).map((f) => f.path)).toEqual([".claude/shell-snapshots"]);
    expect(driverFor("claude").spare).toMatchObject({ startedDir: ".claude/sessions" });
    // Its managed settings (a read-only mount in every Claude Code VM) turn the package's node shell wrapper off.
    expect(JSON.parse(driverFor("claude").guestDir!.files["managed-settings.json"]!)).toEqual({ env: { CLAUDE_CODE_NODE_SHELL_WRAPPER: "0", CLAUDE_CODE_FORCE_SH_FOR_BASH: "1" } });
    expect(s.env.CLAUDE_CODE_SHELL_PREFIX).toBe("true -;exec </dev/null 2>&1;. /home/agentos/.paperclip/claude-env.sh;eval");
    expect(s.env).toMatchObject({ ANTHROPIC_BASE_URL: "http://127.0.0.1:4567", ANTHROPIC_API_KEY: "pcgw-abc", ANTHROPIC_MODEL: "claude-opus-4-1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" });
    expect(s.promptPrefix).toContain("INSTRUCTIONS-MARK");
    // The scripted model is asked for under a Claude id Claude Code knows.
    expect(claudeEnv(scriptedGw).ANTHROPIC_MODEL).toMatch(/^claude-/);
  });

  test("a spare's run file: the run's env as shell exports (quotes kept, odd names and Claude Code's own config left out), then the token unset", () => {
    const spare = driverFor("claude").spare;
    if (spare?.session !== "ahead") throw new Error("Claude Code's spare opens its session ahead");
    const f = spare.runFile({ env: { HOME: "/home/agentos", PAPERCLIP_API_KEY: "pk-1", QUOTED: "it's $HOME `x`", "ODD NAME": "x", ANTHROPIC_API_KEY: "pcgw-abc", ANTHROPIC_BASE_URL: "http://127.0.0.1:4567" }, instructions: "I", endpoint: scriptedGw });
    expect(f.path).toBe(".paperclip/claude-env.sh");
    expect(f.content).toBe(["export HOME='/home/agentos'", "export PAPERCLIP_API_KEY='pk-1'", `export QUOTED='it'"'"'s $HOME \`x\`'`, "unset ANTHROPIC_API_KEY", ""].join("\n"));
    // The session opened ahead has the spare's endpoint and the prefix that sources the run file.
    expect(spare.env?.(scriptedGw)).toMatchObject({ ANTHROPIC_API_KEY: "pcgw-abc", ANTHROPIC_BASE_URL: "http://127.0.0.1:4567", CLAUDE_CODE_SHELL_PREFIX: "true -;exec </dev/null 2>&1;. /home/agentos/.paperclip/claude-env.sh;eval" });
  });
});

describe("Codex", () => {
  test("config.toml: the gateway as a Responses provider at localhost with the run's token, no approvals or sandbox, the instructions", () => {
    const s = setup("codex", { ...scriptedGw, provider: "openai", model: "gpt-5.1-codex" });
    const toml = s.files.find((f) => f.path === ".codex/config.toml")!.content;
    for (const line of ['model = "gpt-5.1-codex"', 'model_provider = "paperclip"', 'approval_policy = "never"', 'sandbox_mode = "danger-full-access"', 'base_url = "http://localhost:4567/v1"', 'experimental_bearer_token = "pcgw-abc"', 'wire_api = "responses"', "request_max_retries = 0"]) {
      expect(toml).toContain(line);
    }
    expect(toml).toContain('developer_instructions = "INSTRUCTIONS-MARK"');
    // No session variable holds the token: the commands Codex runs inherit codex-exec's whole env.
    expect(s.env).toEqual({});
    expect(toml).not.toContain("env_key");
  });

  test("instructions with quotes and newlines stay one TOML string", () => {
    const toml = codexConfigFiles(scriptedGw, 'say "hi"\nline two\\')[0]!.content;
    const line = toml.split("\n").find((l) => l.startsWith("developer_instructions"))!;
    expect(JSON.parse(line.slice(line.indexOf("=") + 1).trim())).toBe('say "hi"\nline two\\');
  });

  test("a spare's run file: the run's whole config, the token as the provider's bearer token, the run's env for its commands (not the token)", () => {
    const spare = driverFor("codex").spare;
    if (spare?.session !== "ahead") throw new Error("Codex's spare opens its session ahead");
    const f = spare.runFile({ env: { HOME: "/home/agentos", PAPERCLIP_API_KEY: "pk-1", "ODD NAME": "it's" }, instructions: "INSTRUCTIONS-MARK", endpoint: scriptedGw });
    // The bridge copies it over config.toml from where the package's env says.
    expect(`/home/agentos/${f.path}`).toBe(JSON.parse(CODEX_ACP_PACKAGE.files["agentos-package.json"]!).agent.env.PAPERCLIP_CODEX_RUN_CONFIG);
    expect(f.content).toContain('developer_instructions = "INSTRUCTIONS-MARK"');
    expect(f.content).toContain('experimental_bearer_token = "pcgw-abc"');
    expect(f.content).not.toContain("env_key");
    const shellEnv = f.content.slice(f.content.indexOf("[shell_environment_policy.set]"));
    expect(shellEnv).toContain('"PAPERCLIP_API_KEY" = "pk-1"');
    expect(shellEnv).toContain(`"ODD NAME" = "it's"`);
    expect(shellEnv).not.toContain("pcgw-abc");
    // Made before any run: no instructions, no env, the spare's own token.
    const before = spare.files(scriptedGw)[0]!.content;
    expect(before).toContain('developer_instructions = ""');
    expect(before).not.toContain("PAPERCLIP_API_KEY");
  });

  test("the ACP bridge is a package directory whose entrypoint is its own command", () => {
    const manifest = JSON.parse(CODEX_ACP_PACKAGE.files["agentos-package.json"]!);
    expect(manifest.agent.acpEntrypoint).toBe("codex-acp");
    expect(CODEX_ACP_PACKAGE.bin["codex-acp"]).toBe("codex-acp.mjs");
    expect(CODEX_ACP_PACKAGE.files["codex-acp.mjs"]).toContain("--session-turn");
    expect(manifest.name).toBe(driverFor("codex").acpAgent);
  });
});

describe("model check (before anything boots)", () => {
  test("each agent takes its providers' models and the scripted model; another provider is exit 2 naming who can", () => {
    for (const d of DRIVERS) {
      expect(refusal(() => checkModel(d, parseModelSpec("scripted:/x.json")))).toBeUndefined();
      for (const p of d.providers) expect(refusal(() => checkModel(d, parseModelSpec(`${p}/some-model`)))).toBeUndefined();
    }
    const r = refusal(() => checkModel(driverFor("claude"), parseModelSpec("openai/gpt-4.1")));
    expect(r).toMatchObject({ exitCode: 2 });
    expect(r!.message).toContain("Claude Code cannot use openai/gpt-4.1");
    expect(r!.hint).toContain("--agent pi");
    expect(refusal(() => checkModel(driverFor("codex"), parseModelSpec("anthropic/claude-sonnet-4-5")))?.exitCode).toBe(2);
  });
});

describe("instructions", () => {
  test("name the run, the workspace, the policy and the tools", () => {
    const text = paperclipInstructions({ runId: "run-7", tools: ["git.status (`agentos-paperclip git-status --json '{}'`)"], policySummary: ["read: /workspace/**"] });
    for (const s of ["run-7", "/workspace", "- read: /workspace/**", "agentos-paperclip git-status"]) expect(text).toContain(s);
  });

  test("tell the agent to start Node.js files by absolute path (a relative entry does not start in agentOS 0.2.21)", () => {
    expect(paperclipInstructions({ runId: "r", tools: [], policySummary: [] })).toContain("node /workspace/test.mjs");
  });
});

describe("ACP event mapping", () => {
  function mapped(events: object[], quirks?: AcpQuirks) {
    const sink = new EventSink(null);
    const out: any[] = [];
    sink.listen((e) => out.push(e));
    const m = new AcpMapper(sink, { quirks });
    for (const e of events) m.handle(e);
    return out;
  }

  test("Claude Code: a tool call announced twice (stream and message) is one call, emitted with the whole input; completion without output is a result", () => {
    const out = mapped([
      { type: "tool_call", toolCallId: "t1", title: "Bash", kind: "execute", status: "pending", rawInput: {} },
      { type: "tool_call", toolCallId: "t1", title: "Bash", kind: "execute", status: "pending", rawInput: { command: "echo hi > /workspace/x" } },
      { type: "agent_message_chunk", durability: "durable", content: { type: "text", text: "done" } },
      { type: "tool_call_update", toolCallId: "t1", kind: "execute", status: "completed" },
    ], driverFor("claude").acp);
    // The call comes before the text that follows it, not at the end of the turn.
    expect(out.map((e) => e.type)).toEqual(["tool_call", "assistant", "tool_result"]);
    expect(out.filter((e) => e.type === "tool_call")).toEqual([expect.objectContaining({ toolUseId: "t1", name: "Bash", input: { command: "echo hi > /workspace/x" } })]);
    expect(out.filter((e) => e.type === "tool_result")).toEqual([expect.objectContaining({ toolUseId: "t1", toolName: "Bash", isError: false })]);
    expect(out[1]).toMatchObject({ type: "assistant", text: "done" });
  });

  test("Pi: streamed input, output at completion, a policy denial in the output is a permission event", () => {
    const out = mapped([
      { type: "tool_call", toolCallId: "p1", title: "bash", status: "pending", rawInput: { command: "ec" } },
      { type: "tool_call_update", toolCallId: "p1", status: "in_progress", rawInput: { command: "echo x > /etc/x" } },
      { type: "tool_call_update", toolCallId: "p1", status: "failed", rawOutput: { content: [{ type: "text", text: "failed to redirect to /etc/x: Permission denied (os error 2)" }] } },
    ]);
    expect(out.find((e) => e.type === "tool_call")).toMatchObject({ name: "bash", input: { command: "echo x > /etc/x" } });
    expect(out.find((e) => e.type === "tool_result")).toMatchObject({ isError: true, content: "failed to redirect to /etc/x: Permission denied (os error 2)" });
    expect(out.some((e) => e.type === "permission" && e.decision === "deny")).toBe(true);
  });

  test("Claude Code and Codex: a denial in the tool result the model was sent is a permission event after its call, once", () => {
    const sink = new EventSink(null);
    const out: any[] = [];
    sink.listen((e) => out.push(e));
    const m = new AcpMapper(sink, { quirks: driverFor("claude").acp });
    // A result of an earlier turn (resumed history): no call of this run, no event.
    m.modelSawToolResult("old", "EACCES: permission denied, open '/workspace/.env'");
    // The result reaches the gateway before the agent announces the call: it waits for it.
    m.modelSawToolResult("c1", "EACCES: EACCES: permission denied, read '/workspace/.env': blocked by fs.read policy");
    m.handle({ type: "tool_call", toolCallId: "c1", title: "Read", kind: "read", status: "pending", rawInput: { file_path: "/workspace/.env" } });
    m.handle({ type: "tool_call", toolCallId: "c2", title: "Bash", kind: "execute", status: "pending", rawInput: { command: "echo x > /etc/f" } });
    m.modelSawToolResult("c2", "error: failed to redirect to /etc/f: Permission denied (os error 2)");
    // The same refusal in the agent's own output later is not reported again.
    m.handle({ type: "tool_call_update", toolCallId: "c2", status: "failed", rawOutput: { content: [{ type: "text", text: "error: failed to redirect to /etc/f: Permission denied (os error 2)" }] } });
    expect(out.map((e) => [e.type, e.toolUseId])).toEqual([
      ["tool_call", "c1"],
      ["permission", "c1"],
      ["tool_call", "c2"],
      ["permission", "c2"],
      ["tool_result", "c2"],
    ]);
    expect(out.filter((e) => e.type === "permission")).toEqual([
      expect.objectContaining({ decision: "deny", capability: "fs.read", target: "/workspace/.env" }),
      expect.objectContaining({ decision: "deny", capability: "fs.write", target: "/etc/f" }),
    ]);
  });

  test("a driver's toolName wins over the agent's title", () => {
    const out = mapped([{ type: "tool_call", toolCallId: "c1", title: "/bin/sh -lc 'ls'", kind: "execute", status: "in_progress", rawInput: { command: "ls" } }], { toolName: (e) => (e.kind === "execute" ? "shell" : undefined) });
    expect(out.find((e) => e.type === "tool_call")).toMatchObject({ name: "shell" });
  });
});
