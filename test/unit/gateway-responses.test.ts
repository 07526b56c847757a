import { afterEach, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createOpenAI } from "@ai-sdk/openai";
import { complete, getModel } from "@mariozechner/pi-ai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import OpenAI from "openai";
import { type Gateway, type GatewayOptions, parseScript } from "../../src/gateway/index.ts";
import { gatewayFixture } from "./gateway-fixture.ts";

// The OpenAI Responses dialect (Codex, and OpenCode's OpenAI provider) over real HTTP: fetch, the official openai
// client, pi-ai's openai-responses provider and the AI SDK's (ai 6.0.138 + @ai-sdk/openai 3.0.48, the versions
// OpenCode's agentOS build bundles) against the scripted gateway, and forwarding to a real local upstream (a second
// scripted gateway, or a Bun server sending what a provider can send mid-stream).

const { start, tmp } = gatewayFixture("gw-resp-");
const OPENAI_KEY = "sk-proj-FAKE-host-openai-key-0123456789";

function scripted(steps: unknown[], extra: Partial<GatewayOptions> = {}): Promise<Gateway> {
  return start({ model: "scripted", script: parseScript({ steps }), ...extra });
}

const fnTool = (name: string, properties: Record<string, unknown>, required: string[]) => ({
  type: "function",
  name,
  description: name,
  strict: false,
  parameters: { type: "object", properties, required },
});
/** Part of what agentOS's Codex (configured with gpt-5-codex) offers, as recorded from it: unified exec, a freeform
 *  apply_patch, the built-in web_search. */
const CODEX_TOOLS = [
  fnTool("exec_command", { cmd: { type: "string" }, workdir: { type: "string" }, yield_time_ms: { type: "number" } }, ["cmd"]),
  fnTool("write_stdin", { session_id: { type: "number" }, chars: { type: "string" } }, ["session_id"]),
  fnTool("update_plan", { plan: { type: "array" } }, ["plan"]),
  { type: "custom", name: "apply_patch", description: "patch", format: { type: "grammar", syntax: "lark", definition: "start: begin_patch hunk+ end_patch" } },
  { type: "web_search" },
];

function responses(gw: Gateway, body: Record<string, unknown>, headers: Record<string, string> = { authorization: `Bearer ${gw.token}` }, path = "/v1/responses") {
  return fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "gpt-5-codex", instructions: "You are Codex.", input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }], tools: CODEX_TOOLS, ...body }),
  });
}

async function events(res: Response): Promise<{ event: string; data: any }[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((b) => b.trim())
    .map((b) => ({ event: /^event: (.*)$/m.exec(b)![1]!, data: JSON.parse(/^data: (.*)$/m.exec(b)![1]!) }));
}

describe("scripted gateway, Responses dialect", () => {
  test("non-streaming: a function call, then a message; usage in Responses' shape (cached inside input_tokens)", async () => {
    const gw = await scripted([
      { tool: "exec_command", input: { cmd: "echo hi > /workspace/x" }, usage: { input: 900, output: 40, cached: 100 } },
      { text: "Wrote x.", usage: { input: 1000, output: 5 } },
    ]);
    const r1 = await responses(gw, {});
    expect(r1.status).toBe(200);
    const b1 = (await r1.json()) as any;
    expect(b1).toMatchObject({ object: "response", status: "completed", model: "gpt-5-codex", id: expect.stringMatching(/^resp_/) });
    expect(b1.output).toEqual([
      { type: "function_call", id: expect.stringMatching(/^fc_/), call_id: expect.stringMatching(/^call_/), name: "exec_command", arguments: '{"cmd":"echo hi > /workspace/x"}', status: "completed" },
    ]);
    expect(b1.usage).toEqual({ input_tokens: 1000, input_tokens_details: { cached_tokens: 100 }, output_tokens: 40, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 1040 });

    const b2 = (await (await responses(gw, {})).json()) as any;
    expect(b2.output).toEqual([{ type: "message", id: expect.stringMatching(/^msg_/), status: "completed", role: "assistant", content: [{ type: "output_text", text: "Wrote x.", annotations: [], logprobs: [] }] }]);
    expect(b2.output_text).toBe("Wrote x.");
    expect(gw.usage()).toMatchObject({ inputTokens: 1900, outputTokens: 45, cachedInputTokens: 100 });
    expect(gw.usage().costUsd).toBeCloseTo((1900 * 3 + 45 * 15 + 100 * 0.3) / 1e6, 12);
    expect(gw.stepsUsed()).toBe(2);
  });

  test("streaming: the event sequence the clients read, ids on every item and delta, usage in response.completed", async () => {
    const text = "The file now holds hi, as asked, and nothing else.";
    const gw = await scripted([
      { thinking: "I should write the file first", text: "Writing it.", tool: "bash", input: { command: "echo hi > /workspace/x" }, usage: { input: 50, output: 9 } },
      { text, usage: { input: 60, output: 12, cached: 30 } },
    ]);
    const ev = await events(await responses(gw, { stream: true }));
    expect(ev.every((e) => e.event === e.data.type)).toBe(true);
    expect(ev.map((e) => e.data.sequence_number)).toEqual(ev.map((_, i) => i));
    expect(ev.map((e) => e.event)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      ...ev.filter((e) => e.event === "response.reasoning_summary_text.delta").map(() => "response.reasoning_summary_text.delta"),
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const created = ev[0]!.data.response;
    const createdId: string = created.id;
    expect(created).toMatchObject({ id: expect.stringMatching(/^resp_/), status: "in_progress", model: "gpt-5-codex", created_at: expect.any(Number), output: [] });
    // Script bash becomes Codex's exec_command; its arguments stream in two parts that join to the call.
    const fcAdded = ev.find((e) => e.event === "response.output_item.added" && e.data.item.type === "function_call")!.data;
    expect(fcAdded).toMatchObject({ output_index: 2, item: { name: "exec_command", arguments: "", status: "in_progress" } });
    const args = ev.filter((e) => e.event === "response.function_call_arguments.delta");
    expect(args.every((e) => e.data.item_id === fcAdded.item.id && e.data.output_index === 2)).toBe(true);
    expect(JSON.parse(args.map((e) => e.data.delta).join(""))).toEqual({ cmd: "echo hi > /workspace/x" });
    const done = ev.at(-1)!.data.response;
    expect(done.id).toBe(createdId);
    expect(done.status).toBe("completed");
    expect(done.output.map((i: any) => i.type)).toEqual(["reasoning", "message", "function_call"]);
    expect(done.output[0].summary).toEqual([{ type: "summary_text", text: "I should write the file first" }]);
    expect(done.usage).toMatchObject({ input_tokens: 50, output_tokens: 9, total_tokens: 59 });

    const ev2 = await events(await responses(gw, { stream: true }));
    const deltas = ev2.filter((e) => e.event === "response.output_text.delta");
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((e) => e.data.delta).join("")).toBe(text);
    const msgId = ev2.find((e) => e.event === "response.output_item.added")!.data.item.id;
    expect(deltas.every((e) => e.data.item_id === msgId && e.data.content_index === 0)).toBe(true);
    expect(ev2.at(-1)!.data.response.usage).toMatchObject({ input_tokens: 90, input_tokens_details: { cached_tokens: 30 }, output_tokens: 12 });
    expect(gw.usage()).toMatchObject({ inputTokens: 110, outputTokens: 21, cachedInputTokens: 30 });
  });

  test("script bash maps to whichever shell tool Codex offers: exec_command, shell_command, shell or local_shell", async () => {
    const gw = await scripted(Array.from({ length: 4 }, () => ({ tool: "bash", input: { command: "ls -la" } })));
    const out = async (tools: unknown[]) => ((await (await responses(gw, { tools })).json()) as any).output[0];
    expect(await out(CODEX_TOOLS)).toMatchObject({ type: "function_call", name: "exec_command", arguments: JSON.stringify({ cmd: "ls -la" }) });
    expect(await out([fnTool("shell_command", { command: { type: "string" } }, ["command"])])).toMatchObject({ name: "shell_command", arguments: JSON.stringify({ command: "ls -la" }) });
    expect(await out([fnTool("shell", { command: { type: "array" } }, ["command"])])).toMatchObject({ name: "shell", arguments: JSON.stringify({ command: ["bash", "-lc", "ls -la"] }) });
    expect(await out([{ type: "local_shell" }])).toMatchObject({ type: "local_shell_call", call_id: expect.stringMatching(/^call_/), status: "completed", action: { type: "exec", command: ["bash", "-lc", "ls -la"] } });
    expect(gw.notes).toHaveLength(1); // only the scripted-price note: every step fitted
  });

  test("script read, write and edit become bash-builtin commands for Codex that do what the step says (run here by bash)", async () => {
    const dir = await tmp();
    const file = join(dir, "it's a file.js");
    const [oldText, newText] = ["const add = (a, b) => a - b;\n", 'const add = (a, b) => a + b; // & "$HOME" `x` \\n * ?\n'];
    const content = `// header\n${oldText}export { add };\n`;
    const gw = await scripted([
      { tool: "write", input: { path: file, content } },
      { tool: "edit", input: { path: file, oldText, newText } },
      { tool: "read", input: { path: file } },
      { tool: "edit", input: { path: file, oldText: "not there", newText: "x" } },
    ]);
    const bash = async () => {
      const call = ((await (await responses(gw, {})).json()) as any).output[0];
      expect(call.name).toBe("exec_command");
      const p = Bun.spawn(["bash", "-c", JSON.parse(call.arguments).cmd], { stdout: "pipe", stderr: "pipe" });
      return { code: await p.exited, stdout: await new Response(p.stdout).text(), stderr: await new Response(p.stderr).text() };
    };
    expect((await bash()).code).toBe(0);
    expect(await readFile(file, "utf8")).toBe(content);
    expect((await bash()).code).toBe(0);
    const edited = `// header\n${newText}export { add };\n`;
    expect(await readFile(file, "utf8")).toBe(edited);
    expect(await bash()).toMatchObject({ code: 0, stdout: edited });
    const miss = await bash();
    expect(miss.code).toBe(1);
    expect(miss.stderr).toContain("the text to replace is not in");
    expect(await readFile(file, "utf8")).toBe(edited);
    expect(gw.notes).toHaveLength(1);
  });

  test("an error step is an HTTP error in OpenAI's shape; a request past the last step fails with script_exhausted", async () => {
    const gw = await scripted([{ error: { status: 429, message: "Rate limit reached" } }, { text: "ok" }]);
    const r1 = await responses(gw, { stream: true });
    expect(r1.status).toBe(429);
    expect(r1.headers.get("x-should-retry")).toBe("false");
    expect(await r1.json()).toEqual({ error: { message: "Rate limit reached", type: "rate_limit_exceeded", param: null, code: null } });
    expect(gw.lastError()).toMatchObject({ errorCode: "upstream_rate_limited", family: "quota", status: 429, source: "scripted" });
    expect((await responses(gw, {})).status).toBe(200);
    expect(gw.lastError()).toBeNull();
    const r3 = await responses(gw, { stream: true });
    expect(r3.status).toBe(400);
    expect(((await r3.json()) as any).error).toMatchObject({ type: "invalid_request_error", message: expect.stringContaining("no step left") });
    expect(gw.lastError()).toMatchObject({ errorCode: "script_exhausted", family: "bad_request" });
    expect(gw.stepsUsed()).toBe(2);
  });

  test("without the run token: 401 in OpenAI's shape, no step used; /responses without /v1 is served too", async () => {
    const gw = await scripted([{ text: "secret answer" }]);
    for (const headers of [{}, { authorization: "Bearer wrong-token-0123456789" }, { authorization: `Basic ${gw.token}` }] as Record<string, string>[]) {
      const r = await responses(gw, {}, headers);
      expect(r.status).toBe(401);
      expect(((await r.json()) as any).error.type).toBe("authentication_error");
    }
    expect(gw.lastError()).toMatchObject({ errorCode: "gateway_unauthorized", family: "auth" });
    expect(gw.stepsUsed()).toBe(0);
    expect(((await (await responses(gw, {}, undefined, "/responses")).json()) as any).output_text).toBe("secret answer");
  });

  test("OpenCode's title request over Responses does not consume a step", async () => {
    const gw = await scripted([{ text: "the turn" }]);
    const title = (await (
      await responses(gw, {
        tools: undefined,
        instructions: undefined,
        input: [
          { role: "system", content: "You are a title generator. You output ONLY a thread title." },
          { role: "user", content: [{ type: "input_text", text: "Generate a title for this conversation:\n" }] },
        ],
      })
    ).json()) as any;
    expect(title.output_text).toBe("Scripted session");
    expect(gw.stepsUsed()).toBe(0);
  });
});

describe("real clients on the scripted gateway's Responses API", () => {
  test("the openai npm client: streamed tool call, the tool result sent back, a final message; no retry of an error step", async () => {
    const gw = await scripted([
      { tool: "bash", input: { command: "echo hi > /workspace/x" }, usage: { input: 300, output: 20, cached: 200 } },
      { text: "Done: x holds hi.", usage: { input: 340, output: 7 } },
      { error: { status: 500, message: "The server had an error" } },
      { text: "after the error" },
    ]);
    const client = new OpenAI({ apiKey: gw.token, baseURL: `${gw.url}/v1` });
    const tools = CODEX_TOOLS.filter((t) => t.type === "function") as any;
    const input: any[] = [{ role: "user", content: "write hi to x" }];

    const stream = client.responses.stream({ model: "gpt-5-codex", input, tools });
    const args: string[] = [];
    stream.on("response.function_call_arguments.delta", (e) => args.push(e.delta));
    const first = await stream.finalResponse();
    const call = first.output.find((o) => o.type === "function_call")!;
    expect(call).toMatchObject({ name: "exec_command", status: "completed" });
    expect(args.length).toBe(2);
    expect(JSON.parse(call.type === "function_call" ? call.arguments : "")).toEqual({ cmd: "echo hi > /workspace/x" });
    expect(first.usage).toMatchObject({ input_tokens: 500, input_tokens_details: { cached_tokens: 200 }, output_tokens: 20 });

    input.push(call, { type: "function_call_output", call_id: call.type === "function_call" ? call.call_id : "", output: "" });
    const second = await client.responses.create({ model: "gpt-5-codex", input, tools });
    expect(second.output_text).toBe("Done: x holds hi.");

    const failed = await client.responses.create({ model: "gpt-5-codex", input, tools }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OpenAI.APIError);
    expect((failed as InstanceType<typeof OpenAI.APIError>).status).toBe(500);
    expect(gw.stepsUsed()).toBe(3); // the client's default two retries did not replay the error against the next step
    expect(gw.usage()).toMatchObject({ inputTokens: 640, outputTokens: 27, cachedInputTokens: 200 });
  });

  test("pi-ai's openai-responses provider: a tool loop with thinking, usage as Pi sees it", async () => {
    const gw = await scripted([
      { thinking: "Reading first.", tool: "read", input: { path: "README.md" }, usage: { input: 400, output: 30, cached: 100 } },
      { text: "It says hi.", usage: { input: 450, output: 6 } },
    ]);
    const model = { ...getModel("openai", "gpt-5"), baseUrl: `${gw.url}/v1` };
    expect(model.api).toBe("openai-responses");
    const read = { name: "read", description: "Read a file", parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] } };
    const context: any = { messages: [{ role: "user", content: "read the readme", timestamp: Date.now() }], tools: [read] };
    const m1 = await complete(model as any, context, { apiKey: gw.token });
    expect(m1.stopReason).toBe("toolUse");
    expect(m1.content.find((c) => c.type === "thinking")).toMatchObject({ thinking: "Reading first." });
    const call = m1.content.find((c) => c.type === "toolCall") as any;
    expect(call).toMatchObject({ name: "read", arguments: { path: "README.md" } });
    expect(m1.usage).toMatchObject({ input: 400, output: 30, cacheRead: 100 });
    context.messages.push(m1, { role: "toolResult", toolCallId: call.id, toolName: "read", content: [{ type: "text", text: "hi" }], isError: false, timestamp: Date.now() });
    const m2 = await complete(model as any, context, { apiKey: gw.token });
    expect(m2.stopReason).toBe("stop");
    expect(m2.content).toEqual([expect.objectContaining({ type: "text", text: "It says hi." })]);
    expect(gw.usage()).toMatchObject({ inputTokens: 850, outputTokens: 36, cachedInputTokens: 100 });
  });
});

describe("Claude Code's requests", () => {
  test("HEAD / answers 200 without a token; POST /v1/messages?beta=true is a model call; its tools (Bash, Read, Edit in agentOS) are mapped", async () => {
    const gw = await scripted([
      { tool: "bash", input: { command: "echo hi > /workspace/x" } },
      { tool: "edit", input: { path: "/workspace/a.js", oldText: "a - b", newText: "a + b" } },
      { tool: "write", input: { path: "/workspace/new.txt", content: "it's new" } },
    ]);
    const head = await fetch(`${gw.url}/`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(gw.requests()).toBe(0);
    const tool = (name: string, required: string[]) => ({ name, input_schema: { type: "object", properties: Object.fromEntries(required.map((k) => [k, {}])), required } });
    const call = async () => {
      const r = await fetch(`${gw.url}/v1/messages?beta=true`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": gw.token, "anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219" },
        body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user", content: "hi" }], tools: [tool("Bash", ["command"]), tool("Read", ["file_path"]), tool("Edit", ["file_path", "old_string", "new_string"])] }),
      });
      expect(r.status).toBe(200);
      return ((await r.json()) as any).content[0];
    };
    expect(await call()).toMatchObject({ type: "tool_use", name: "Bash", input: { command: "echo hi > /workspace/x" } });
    expect(await call()).toMatchObject({ name: "Edit", input: { file_path: "/workspace/a.js", old_string: "a - b", new_string: "a + b" } });
    // agentOS's Claude Code has no Write tool: a write goes through its Bash.
    expect(await call()).toMatchObject({ name: "Bash", input: { command: `printf '%s' 'it'\\''s new' > '/workspace/new.txt'` } });
    expect(gw.notes).toHaveLength(1);
  });
});

describe("forwarding Responses to OpenAI", () => {
  test("streamed and not: the key swapped in, the model rewritten, usage metered from response.completed", async () => {
    const dir = await tmp();
    const up = await start({
      model: "scripted",
      token: OPENAI_KEY,
      recordFile: join(dir, "up.ndjson"),
      script: parseScript({
        steps: [
          { tool: "exec_command", input: { cmd: "ls" }, usage: { input: 700, output: 30, cached: 1300 } },
          { text: "All listed.", usage: { input: 90, output: 4 } },
        ],
      }),
    });
    const gw = await start({ model: "openai/gpt-5.1", env: { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `${up.url}/v1` }, recordFile: join(dir, "gw.ndjson") });
    const client = new OpenAI({ apiKey: gw.token, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const tools = CODEX_TOOLS.filter((t) => t.type === "function") as any;
    const seen: string[] = [];
    for await (const e of await client.responses.create({ model: "gpt-5-codex", input: "list", tools, stream: true })) seen.push(e.type);
    expect(seen.at(-1)).toBe("response.completed");
    expect(seen).toContain("response.function_call_arguments.delta");
    const second = await client.responses.create({ model: "gpt-5-codex", input: "list", tools });
    expect(second.output_text).toBe("All listed.");

    expect(gw.usage()).toMatchObject({ inputTokens: 790, outputTokens: 34, cachedInputTokens: 1300 });
    // gpt-5.1: $1.25 in, $10 out, $0.125 cached.
    expect(gw.usage().costUsd).toBeCloseTo((790 * 1.25 + 34 * 10 + 1300 * 0.125) / 1e6, 12);
    expect(gw.lastError()).toBeNull();
    await gw.close();
    await up.close();
    const upLines = (await readFile(join(dir, "up.ndjson"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(upLines.map((l) => [l.dialect, l.path, l.body.model, l.status])).toEqual([
      ["responses", "/v1/responses", "gpt-5.1", 200],
      ["responses", "/v1/responses", "gpt-5.1", 200],
    ]);
    expect(upLines[0].body.stream_options).toBeUndefined();
    const gwRecord = await readFile(join(dir, "gw.ndjson"), "utf8");
    expect(gwRecord).not.toContain(OPENAI_KEY);
    expect(gwRecord).not.toContain(gw.token);
  });

  test("upstream HTTP errors keep their status and map to a family; a wrong host key is an auth failure", async () => {
    const up = await start({
      model: "scripted",
      token: OPENAI_KEY,
      script: parseScript({ steps: [{ error: { status: 429, message: "You exceeded your current quota", type: "insufficient_quota" } }, { error: { status: 400, message: `bad input (key ${OPENAI_KEY})` } }] }),
    });
    const gw = await start({ model: "openai/gpt-5.1", env: { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `${up.url}/v1` } });
    const r1 = await responses(gw, { stream: true });
    expect(r1.status).toBe(429);
    expect(((await r1.json()) as any).error.type).toBe("insufficient_quota");
    expect(gw.lastError()).toMatchObject({ errorCode: "upstream_quota_exceeded", family: "quota", status: 429, source: "upstream" });
    const r2 = await responses(gw, {});
    expect(r2.status).toBe(400);
    expect(await r2.text()).not.toContain(OPENAI_KEY);
    expect(gw.lastError()).toMatchObject({ errorCode: "upstream_bad_request", family: "bad_request" });

    const wrong = await start({ model: "openai/gpt-5.1", env: { OPENAI_API_KEY: "sk-proj-some-other-key-0000000", OPENAI_BASE_URL: `${up.url}/v1` } });
    expect((await responses(wrong, {})).status).toBe(401);
    expect(wrong.lastError()).toMatchObject({ errorCode: "upstream_auth", family: "auth", status: 401 });
    expect(up.stepsUsed()).toBe(2);
  });

  describe("a provider failing inside a 200 stream", () => {
    let server: ReturnType<typeof Bun.serve> | undefined;
    afterEach(() => {
      server?.stop(true);
      server = undefined;
    });
    /** A local upstream that answers every request with these SSE events (after checking the host key). */
    function provider(sse: object[]): string {
      server = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: (req) =>
          req.headers.get("authorization") !== `Bearer ${OPENAI_KEY}`
            ? new Response("no", { status: 401 })
            : new Response(sse.map((e: any) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(""), { headers: { "content-type": "text/event-stream" } }),
      });
      return `http://127.0.0.1:${server.port}/v1`;
    }

    test("response.failed is an upstream failure with its code, and its usage is still metered", async () => {
      const base = provider([
        { type: "response.created", response: { id: "resp_1", status: "in_progress", output: [] } },
        { type: "response.failed", response: { id: "resp_1", status: "failed", error: { code: "server_error", message: "The model crashed" }, usage: { input_tokens: 120, input_tokens_details: { cached_tokens: 20 }, output_tokens: 3, total_tokens: 123 } } },
      ]);
      const gw = await start({ model: "openai/gpt-5.1", env: { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: base } });
      const r = await responses(gw, { stream: true });
      expect(r.status).toBe(200);
      expect(await r.text()).toContain("The model crashed");
      expect(gw.lastError()).toMatchObject({ errorCode: "upstream_error", family: "upstream", source: "upstream", message: expect.stringContaining("The model crashed") });
      expect(gw.usage()).toMatchObject({ inputTokens: 100, outputTokens: 3, cachedInputTokens: 20 });
    });

    test("an error event (rate limit) maps like an HTTP 429", async () => {
      const base = provider([{ type: "error", code: "rate_limit_exceeded", message: "Rate limit reached, try again in 2s", param: null, sequence_number: 0 }]);
      const gw = await start({ model: "openai/gpt-5.1", env: { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: base } });
      await (await responses(gw, { stream: true })).text();
      expect(gw.lastError()).toMatchObject({ errorCode: "upstream_rate_limited", family: "quota" });
    });
  });

  test("an Anthropic gateway refuses a Responses request, naming what it speaks", async () => {
    const gw = await start({ model: "anthropic/claude-sonnet-4-5", env: { ANTHROPIC_API_KEY: "sk-ant-api03-FAKE-0123456789", ANTHROPIC_BASE_URL: "http://127.0.0.1:9" } });
    const r = await responses(gw, {});
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).error.message).toContain("speaks Anthropic Messages (/v1/messages)");
    expect(gw.lastError()).toMatchObject({ errorCode: "gateway_dialect_mismatch" });
  });
});

describe("OpenCode's model client (the AI SDK's OpenAI Responses provider, the versions OpenCode's agentOS build bundles)", () => {
  test("streamText with tools: the script's bash reaches OpenCode's bash with its description, then the text; usage as the SDK counts it", async () => {
    const gw = await scripted([
      { thinking: "Plan: write it.", tool: "bash", input: { command: "echo hi > /workspace/x" }, usage: { input: 500, output: 25, cached: 300 } },
      { text: "Wrote x with hi in it.", usage: { input: 560, output: 9 } },
    ]);
    const openai = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token });
    const calls: unknown[] = [];
    const bash = tool({
      description: "run a command",
      inputSchema: jsonSchema<{ command: string; description: string }>({
        type: "object",
        properties: { command: { type: "string" }, description: { type: "string" } },
        required: ["command", "description"],
      }),
      execute: async (input) => {
        calls.push(input);
        return "";
      },
    });
    const result = streamText({ model: openai.responses("gpt-5.1"), prompt: "write hi to x", tools: { bash }, stopWhen: stepCountIs(4) });
    expect(await result.text).toBe("Wrote x with hi in it.");
    expect(calls).toEqual([{ command: "echo hi > /workspace/x", description: "echo hi > /workspace/x" }]);
    const steps = await result.steps;
    expect(steps.map((s) => s.finishReason)).toEqual(["tool-calls", "stop"]);
    expect(steps[0]!.reasoningText).toBe("Plan: write it.");
    const usage = await result.totalUsage;
    expect(usage).toMatchObject({ inputTokens: 1360, outputTokens: 34 }); // input_tokens, the cached ones included
    expect(usage.inputTokenDetails?.cacheReadTokens).toBe(300);
    expect(gw.usage()).toMatchObject({ inputTokens: 1060, outputTokens: 34, cachedInputTokens: 300 });
  });

  test("generateText (not streamed), and an error step surfaces as the SDK's API error with its status", async () => {
    const gw = await scripted([{ text: "plain answer" }, { error: { status: 503, message: "Service unavailable" } }]);
    const openai = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token });
    const r = await generateText({ model: openai.responses("gpt-5.1"), prompt: "hi" });
    expect(r.text).toBe("plain answer");
    const e = await generateText({ model: openai.responses("gpt-5.1"), prompt: "hi", maxRetries: 0 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ statusCode: 503 });
    expect(gw.lastError()).toMatchObject({ errorCode: "upstream_overloaded", family: "overloaded" });
  });
});

describe("the tool results Codex sends the model", () => {
  test("function_call_output items reach onToolResult once per call id", async () => {
    const gw = await scripted([{ text: "a" }, { text: "b" }]);
    const seen: { id: string; text: string }[] = [];
    gw.onToolResult((r) => seen.push(r));
    const input = [
      { type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] },
      { type: "function_call", call_id: "call_1", name: "exec_command", arguments: '{"cmd":"echo x > /etc/f"}' },
      { type: "function_call_output", call_id: "call_1", output: "Process exited with code 1\nOutput:\nerror: failed to redirect to /etc/f: Permission denied (os error 2)\n" },
    ];
    await responses(gw, { input });
    await responses(gw, { input: [...input, { type: "custom_tool_call_output", call_id: "call_2", output: [{ type: "input_text", text: "patched" }] }] });
    expect(seen).toEqual([
      { id: "call_1", text: "Process exited with code 1\nOutput:\nerror: failed to redirect to /etc/f: Permission denied (os error 2)\n" },
      { id: "call_2", text: "patched" },
    ]);
  });
});
