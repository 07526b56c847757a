import { describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { complete, getModel } from "@mariozechner/pi-ai";
import { costUsd, type Gateway, type GatewayOptions, parseScript, SIDE_TITLE } from "../../src/gateway/index.ts";
import { gatewayFixture } from "./gateway-fixture.ts";

// The scripted gateway over real HTTP: fetch in both dialects, and pi-ai 0.60.0 (the exact client Pi runs in the VM).

const { start, tmp } = gatewayFixture("gw-test-");

function scripted(steps: unknown[], extra: Partial<GatewayOptions> = {}): Promise<Gateway> {
  return start({ model: "scripted", script: parseScript({ steps }), ...extra });
}

const TOOLS = [{ name: "bash", description: "run a command", input_schema: { type: "object", properties: { command: { type: "string" } } } }];
const OA_TOOLS = [{ type: "function", function: { name: "bash", description: "run", parameters: { type: "object", properties: { command: { type: "string" } } } } }];

function anthropic(gw: Gateway, body: Record<string, unknown>, headers: Record<string, string> = { "x-api-key": gw.token }) {
  return fetch(`${gw.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
    body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 1024, tools: TOOLS, messages: [{ role: "user", content: "hi" }], ...body }),
  });
}

function openai(gw: Gateway, body: Record<string, unknown>, headers: Record<string, string> = { authorization: `Bearer ${gw.token}` }) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "gpt-4.1", tools: OA_TOOLS, messages: [{ role: "user", content: "hi" }], ...body }),
  });
}

/** Parse an SSE body into [event, data] pairs. */
async function sse(res: Response): Promise<{ event?: string; data: any }[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((b) => b.trim())
    .map((b) => {
      const event = /^event: (.*)$/m.exec(b)?.[1];
      const data = /^data: (.*)$/m.exec(b)?.[1] ?? "";
      return { event, data: data === "[DONE]" ? "[DONE]" : JSON.parse(data) };
    });
}

describe("scripted gateway, Anthropic dialect", () => {
  test("answers steps in order (non-streaming): tool call, then final text; usage and cost add up", async () => {
    const gw = await scripted([
      { tool: "bash", input: { command: "echo hi > /workspace/a.txt" }, usage: { input: 1000, output: 50 } },
      { text: "Done.", usage: { input: 1200, output: 10, cached: 800 } },
    ]);
    const r1 = await anthropic(gw, {});
    expect(r1.status).toBe(200);
    const m1 = (await r1.json()) as any;
    expect(m1.type).toBe("message");
    expect(m1.stop_reason).toBe("tool_use");
    expect(m1.content).toEqual([{ type: "tool_use", id: expect.stringMatching(/^toolu_/), name: "bash", input: { command: "echo hi > /workspace/a.txt" } }]);
    expect(m1.usage).toMatchObject({ input_tokens: 1000, output_tokens: 50, cache_read_input_tokens: 0 });

    const m2 = (await (await anthropic(gw, {})).json()) as any;
    expect(m2.stop_reason).toBe("end_turn");
    expect(m2.content).toEqual([{ type: "text", text: "Done." }]);
    expect(m2.usage).toMatchObject({ input_tokens: 1200, output_tokens: 10, cache_read_input_tokens: 800 });

    const u = gw.usage();
    expect(u).toMatchObject({ inputTokens: 2200, outputTokens: 60, cachedInputTokens: 800 });
    // claude-sonnet-4-5 prices: $3 in, $15 out, $0.30 cached per million.
    expect(u.costUsd).toBeCloseTo((2200 * 3 + 60 * 15 + 800 * 0.3) / 1e6, 12);
    expect(u.costUsd).toBeCloseTo(costUsd("claude-sonnet-4-5", { inputTokens: 2200, outputTokens: 60, cachedInputTokens: 800 }), 12);
    expect(gw.requests()).toBe(2);
    expect(gw.stepsUsed()).toBe(2);
    expect(gw.lastError()).toBeNull();
    expect(gw.provider).toBe("scripted");
    expect(gw.biller).toBe("scripted");
    expect(gw.billingType).toBe("unknown");
    expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test("streams text in several deltas and tool input as input_json_delta", async () => {
    const text = "I looked at the code and the failing test is fixed now.";
    const gw = await scripted([
      { thinking: "First read the file.", text: "Reading it.", tool: "read", input: { path: "/workspace/src/sum.js" }, usage: { input: 10, output: 5 } },
      { text, usage: { input: 20, output: 7 } },
    ]);
    const read = { name: "read", input_schema: { type: "object", properties: { path: { type: "string" } } } };
    const ev1 = await sse(await anthropic(gw, { stream: true, tools: [...TOOLS, read] }));
    expect(ev1.map((e) => e.event)).toEqual([
      "message_start",
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", // thinking + signature
      "content_block_start", "content_block_delta", "content_block_stop", // short text: one delta
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", // tool_use
      "message_delta", "message_stop",
    ]);
    const toolStart = ev1.find((e) => e.data.content_block?.type === "tool_use")!.data;
    const json = ev1.filter((e) => e.data.delta?.type === "input_json_delta").map((e) => e.data.delta.partial_json).join("");
    expect(JSON.parse(json)).toEqual({ path: "/workspace/src/sum.js" });
    expect(toolStart.content_block.name).toBe("read");
    expect(ev1.at(-2)!.data).toMatchObject({ delta: { stop_reason: "tool_use" }, usage: { output_tokens: 5 } });

    const ev2 = await sse(await anthropic(gw, { stream: true }));
    const deltas = ev2.filter((e) => e.data.delta?.type === "text_delta").map((e) => e.data.delta.text);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe(text);
    expect(ev2[0]!.data.message.usage.input_tokens).toBe(20);
    expect(ev2.at(-2)!.data).toMatchObject({ delta: { stop_reason: "end_turn" }, usage: { output_tokens: 7 } });
    expect(gw.usage()).toMatchObject({ inputTokens: 30, outputTokens: 12 });
  });

  test("a tool step that does not fit the offered tools is sent anyway and noted; Pi's bash gets the description OpenCode's needs", async () => {
    const gw = await scripted([
      { tool: "bash", input: { command: "ls" } },
      { tool: "glob", input: {} },
      { tool: "write", input: { content: "no path" } },
      { tool: "bash", input: { command: "ls" } },
    ]);
    const strict = [
      { name: "bash", input_schema: { type: "object", properties: { command: {}, description: {} }, required: ["command", "description"] } },
      { name: "write", input_schema: { type: "object", properties: { filePath: {}, content: {} }, required: ["filePath", "content"] } },
    ];
    const m = (await (await anthropic(gw, { tools: strict })).json()) as any;
    expect(m.content[0]).toMatchObject({ type: "tool_use", name: "bash", input: { command: "ls", description: "ls" } });
    await anthropic(gw, { tools: strict });
    await anthropic(gw, { tools: strict });
    expect(gw.notes).toContain('script step 1: calls tool "glob" but the agent offers bash, write');
    expect(gw.notes).toContain('script step 2: tool "write" input lacks required filePath (the agent\'s write takes filePath, content)');
    await anthropic(gw, {});
    expect(gw.notes).toHaveLength(3); // the scripted-price note plus the two above; a fitting call adds nothing
  });

  test("tool-use ids are unique across a run", async () => {
    const gw = await scripted(Array.from({ length: 5 }, (_, i) => ({ tool: "bash", input: { command: `echo ${i}` } })));
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const m = (await (await anthropic(gw, {})).json()) as any;
      ids.add(m.content[0].id);
    }
    expect(ids.size).toBe(5);
  });

  test("a request past the last step fails with script_exhausted (400, not retried) and is not metered", async () => {
    const gw = await scripted([{ text: "only one", usage: { input: 5, output: 5 } }]);
    await anthropic(gw, {});
    expect(gw.lastError()).toBeNull();
    const r = await anthropic(gw, {});
    expect(r.status).toBe(400);
    expect(r.headers.get("x-should-retry")).toBe("false");
    const body = (await r.json()) as any;
    expect(body).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    expect(body.error.message).toContain("no step left");
    expect(gw.lastError()).toMatchObject({ errorCode: "script_exhausted", family: "bad_request", status: 400, source: "scripted" });
    expect(gw.usage()).toMatchObject({ inputTokens: 5, outputTokens: 5 });
    expect(gw.stepsUsed()).toBe(1);
  });

  test("an agent retrying a scripted failure past the last step: the turn's failure stays the injected one", async () => {
    const gw = await scripted([{ error: { status: 529, message: "Overloaded", retryAfter: 30 } }]);
    expect((await anthropic(gw, {})).status).toBe(529);
    // The retry (OpenCode and Claude Code make it despite x-should-retry: false) finds no step left.
    expect((await anthropic(gw, {})).status).toBe(400);
    expect((await anthropic(gw, {})).status).toBe(400);
    expect(gw.lastError()).toMatchObject({ errorCode: "upstream_overloaded", family: "overloaded", status: 529, source: "scripted" });
    expect(gw.lastError()?.retryNotBefore).toBeString();
    expect(gw.errors().map((e) => e.errorCode)).toEqual(["upstream_overloaded", "script_exhausted", "script_exhausted"]);
  });

  test("an SDK retrying a request whose answer it lost gets the same step again; the turn's next request gets the next one", async () => {
    const gw = await scripted([{ tool: "bash", input: { command: "ls" } }, { text: "done" }]);
    // The Anthropic SDK (the one pi-ai runs in Pi) over a connection that loses the first answer after the gateway
    // sent it: the SDK tries again with x-stainless-retry-count 1 and the same body.
    let lost = 0;
    const lossy = async (input: string | URL | Request, init?: RequestInit) => {
      const r = await fetch(input, init);
      if (lost++ > 0) return r;
      await r.arrayBuffer();
      throw new TypeError("fetch failed: the connection was reset");
    };
    const client = new Anthropic({ apiKey: gw.token, baseURL: gw.url, fetch: lossy as typeof fetch, maxRetries: 2 });
    const ask = (messages: Anthropic.MessageParam[]) => client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 100, tools: TOOLS as never, messages });
    const first = await ask([{ role: "user", content: "hi" }]);
    expect(lost).toBe(2);
    expect(first.content.find((b) => b.type === "tool_use")).toMatchObject({ name: "bash", input: { command: "ls" } });
    const tool = first.content.find((b) => b.type === "tool_use")!;
    const second = await ask([
      { role: "user", content: "hi" },
      { role: "assistant", content: first.content as never },
      { role: "user", content: [{ type: "tool_result", tool_use_id: (tool as { id: string }).id, content: "a.txt" }] },
    ]);
    expect(second.content).toEqual([expect.objectContaining({ type: "text", text: "done" })]);
    expect(gw.lastError()).toBeNull();
    expect(gw.stepsUsed()).toBe(2);
  });

  test("a script that ends with a success and then runs out reports script_exhausted, not an earlier failure", async () => {
    const gw = await scripted([{ error: { status: 529, message: "Overloaded" } }, { text: "recovered" }]);
    expect((await anthropic(gw, {})).status).toBe(529);
    expect((await anthropic(gw, {})).status).toBe(200);
    expect((await anthropic(gw, {})).status).toBe(400);
    expect(gw.lastError()).toMatchObject({ errorCode: "script_exhausted" });
  });

  test("an error step returns its status in Anthropic's error shape, sets lastError, and a later success clears it", async () => {
    const gw = await scripted([
      { error: { status: 529, message: "Overloaded" } },
      { error: { status: 401, message: "invalid x-api-key" } },
      { error: { status: 429, message: "Number of request tokens has exceeded your per-minute rate limit" } },
      { error: { status: 400, message: "Your credit balance is too low to access the Anthropic API." } },
      { error: { status: 400, message: "messages: field required" } },
      { error: { status: 500, message: "Internal server error" } },
      { text: "recovered" },
    ]);
    const expected = [
      [529, "overloaded_error", "overloaded", "upstream_overloaded"],
      [401, "authentication_error", "auth", "upstream_auth"],
      [429, "rate_limit_error", "quota", "upstream_rate_limited"],
      [400, "invalid_request_error", "quota", "upstream_quota_exceeded"],
      [400, "invalid_request_error", "bad_request", "upstream_bad_request"],
      [500, "api_error", "upstream", "upstream_error"],
    ] as const;
    for (const [status, type, family, code] of expected) {
      const r = await anthropic(gw, { stream: true });
      expect(r.status).toBe(status);
      expect(r.headers.get("x-should-retry")).toBe("false");
      const body = (await r.json()) as any;
      expect(body).toEqual({ type: "error", error: { type, message: expect.any(String) } });
      expect(gw.lastError()).toMatchObject({ family, errorCode: code, status, source: "scripted" });
    }
    expect(gw.errors()).toHaveLength(6);
    expect((await anthropic(gw, {})).status).toBe(200);
    expect(gw.lastError()).toBeNull();
    expect(gw.usage().inputTokens).toBeGreaterThan(0); // only the success is metered
  });

  test("OpenCode's title request is answered without consuming a step", async () => {
    const gw = await scripted([{ text: "step one", usage: { input: 3, output: 4 } }]);
    const title = await anthropic(gw, {
      tools: undefined,
      system: [{ type: "text", text: "You are a title generator. You output ONLY a thread title. Nothing else." }],
      messages: [{ role: "user", content: "Generate a title for this conversation:\n" }, { role: "user", content: "fix the test" }],
      stream: true,
    });
    const ev = await sse(title);
    expect(ev.filter((e) => e.data.delta?.type === "text_delta").map((e) => e.data.delta.text).join("")).toBe(SIDE_TITLE);
    expect(gw.stepsUsed()).toBe(0);
    const m = (await (await anthropic(gw, {})).json()) as any;
    expect(m.content[0].text).toBe("step one");
    // The same prompt with tools is a turn, not a side request.
    const withTools = await anthropic(gw, { system: "You are a title generator." });
    expect(withTools.status).toBe(400);
    expect(gw.lastError()?.errorCode).toBe("script_exhausted");
    expect(gw.usage()).toMatchObject({ inputTokens: 3, outputTokens: 4 });
  });

  test("Claude Code's title and tool-label requests are side requests too: a JSON title and a label, no step used", async () => {
    const gw = await scripted([{ text: "the turn" }]);
    const side = async (system: string) => {
      const r = await anthropic(gw, { tools: undefined, system: [{ type: "text", text: "x-anthropic-billing-header: cc_version=2.1.87" }, { type: "text", text: system }] });
      return ((await r.json()) as any).content[0].text as string;
    };
    expect(JSON.parse(await side("Generate a concise, sentence-case title (3-7 words) that captures the main topic"))).toEqual({ title: SIDE_TITLE });
    expect(await side("Write a short summary label describing what these tool calls accomplished. It appears as a single-line row")).toBe("Ran scripted steps");
    expect(gw.stepsUsed()).toBe(0);
    expect(((await (await anthropic(gw, {})).json()) as any).content[0].text).toBe("the turn");
  });

  test("a step without usage is metered with a deterministic estimate (chars / 4)", async () => {
    const a = await scripted([{ text: "twelve chars" }]);
    const b = await scripted([{ text: "twelve chars" }]);
    await anthropic(a, {});
    await anthropic(b, {});
    expect(a.usage()).toEqual(b.usage());
    expect(a.usage().outputTokens).toBe(3);
    expect(a.usage().inputTokens).toBeGreaterThan(20);
  });

  test("the estimate: request body JSON chars / 4 in; thinking + text + tool name + tool input JSON chars / 4 out; at least 1", async () => {
    const input = { command: "ls -la /workspace" };
    const gw = await scripted([{ thinking: "look first", text: "Listing.", tool: "bash", input }, { text: "" }]);
    // The body the anthropic() helper sends, key for key.
    const body = { model: "claude-sonnet-4-5", max_tokens: 1024, tools: TOOLS, messages: [{ role: "user", content: "hi" }] };
    await anthropic(gw, {});
    const answer = "look first".length + "Listing.".length + "bash".length + JSON.stringify(input).length;
    expect(gw.usage()).toMatchObject({ inputTokens: Math.ceil(JSON.stringify(body).length / 4), outputTokens: Math.ceil(answer / 4) });
    const before = gw.usage().outputTokens;
    await anthropic(gw, {});
    expect(gw.usage().outputTokens - before).toBe(1);
  });

  test("rejects requests without the run token (401, Anthropic shape) and accepts Bearer", async () => {
    const gw = await scripted([{ text: "ok" }]);
    // Wrong tokens of the token's own length too (last character changed, first changed): a compare that checks the
    // length only, or a prefix, must fail here.
    const flip = (c: string) => (c === "0" ? "1" : "0");
    const sameLength = [`${gw.token.slice(0, -1)}${flip(gw.token.at(-1)!)}`, `${flip(gw.token[0]!)}${gw.token.slice(1)}`];
    for (const t of sameLength) expect(t.length).toBe(gw.token.length);
    const bad: Record<string, string>[] = [
      {},
      { "x-api-key": "wrong" },
      { authorization: "Bearer nope" },
      { "x-api-key": `${gw.token}x` },
      ...sameLength.map((t) => ({ "x-api-key": t })),
      ...sameLength.map((t) => ({ authorization: `Bearer ${t}` })),
    ];
    for (const headers of bad) {
      const r = await anthropic(gw, {}, headers);
      expect(r.status).toBe(401);
      expect(((await r.json()) as any).error.type).toBe("authentication_error");
    }
    expect(gw.lastError()).toMatchObject({ errorCode: "gateway_unauthorized", family: "auth" });
    expect(gw.stepsUsed()).toBe(0);
    const ok = await anthropic(gw, {}, { authorization: `Bearer ${gw.token}` });
    expect(ok.status).toBe(200);
    expect(gw.token).toMatch(/^pcgw-[0-9a-f]{48}$/);
  });

  test("accepts /messages without /v1, and answers 404 for other paths", async () => {
    const gw = await scripted([{ text: "short path" }]);
    const r = await fetch(`${gw.url}/messages`, {
      method: "POST",
      headers: { "x-api-key": gw.token, "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }),
    });
    expect(((await r.json()) as any).content[0].text).toBe("short path");
    expect((await fetch(`${gw.url}/v1/models`, { headers: { "x-api-key": gw.token } })).status).toBe(404);
  });

  test("delayMs holds the answer back", async () => {
    const gw = await scripted([{ text: "late", delayMs: 400 }]);
    const t0 = performance.now();
    const m = (await (await anthropic(gw, {})).json()) as any;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(380);
    expect(m.content[0].text).toBe("late");
  });
});

describe("scripted gateway, OpenAI dialect", () => {
  test("non-streaming: tool_calls then content, usage in OpenAI's shape", async () => {
    const gw = await scripted([
      { tool: "bash", input: { command: "ls" }, usage: { input: 100, output: 10, cached: 60 } },
      { text: "Listed.", usage: { input: 200, output: 5 } },
    ]);
    const c1 = (await (await openai(gw, {})).json()) as any;
    expect(c1.object).toBe("chat.completion");
    expect(c1.choices[0].finish_reason).toBe("tool_calls");
    const call = c1.choices[0].message.tool_calls[0];
    expect(call).toMatchObject({ type: "function", id: expect.stringMatching(/^call_/), function: { name: "bash" } });
    expect(JSON.parse(call.function.arguments)).toEqual({ command: "ls" });
    // prompt_tokens includes cached tokens in OpenAI's accounting.
    expect(c1.usage).toMatchObject({ prompt_tokens: 160, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 60 } });
    const c2 = (await (await openai(gw, {})).json()) as any;
    expect(c2.choices[0]).toMatchObject({ finish_reason: "stop", message: { role: "assistant", content: "Listed." } });
    expect(gw.usage()).toMatchObject({ inputTokens: 300, outputTokens: 15, cachedInputTokens: 60 });
  });

  test("streaming: content deltas, a usage chunk when asked for, [DONE]", async () => {
    const text = "The answer is forty two, as computed by the script.";
    const gw = await scripted([{ text, usage: { input: 9, output: 8 } }, { tool: "edit", input: { path: "a", oldText: "x", newText: "y" } }]);
    const ev = await sse(await openai(gw, { stream: true, stream_options: { include_usage: true } }));
    expect(ev.at(-1)!.data).toBe("[DONE]");
    const content = ev.map((e) => e.data.choices?.[0]?.delta?.content ?? "").filter(Boolean);
    expect(content.length).toBeGreaterThan(1);
    expect(content.join("")).toBe(text);
    expect(ev.at(-2)!.data).toMatchObject({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 8 } });

    const edit = { type: "function", function: { name: "edit", parameters: { type: "object", properties: { path: {}, oldText: {}, newText: {} } } } };
    const ev2 = await sse(await openai(gw, { stream: true, tools: [...OA_TOOLS, edit] }));
    expect(ev2.some((e) => e.data.usage)).toBe(false);
    const args = ev2.flatMap((e) => e.data.choices?.[0]?.delta?.tool_calls ?? []).map((t: any) => t.function.arguments).join("");
    expect(JSON.parse(args)).toEqual({ path: "a", oldText: "x", newText: "y" });
    expect(ev2.find((e) => e.data.choices?.[0]?.finish_reason)!.data.choices[0].finish_reason).toBe("tool_calls");
  });

  test("error steps and auth failures use OpenAI's error shape", async () => {
    const gw = await scripted([{ error: { status: 429, message: "You exceeded your current quota", type: "insufficient_quota" } }]);
    const r = await openai(gw, { stream: true });
    expect(r.status).toBe(429);
    expect(((await r.json()) as any).error).toMatchObject({ message: "You exceeded your current quota", type: "insufficient_quota" });
    expect(gw.lastError()).toMatchObject({ family: "quota", errorCode: "upstream_quota_exceeded" });
    const denied = await openai(gw, {}, { authorization: "Bearer sk-something" });
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as any).error.type).toBe("authentication_error");
  });
});

describe("scripted gateway with pi-ai (Pi's model client)", () => {
  const bash = { name: "bash", description: "Run a command", parameters: { type: "object", properties: { command: { type: "string" } }, required: ["command"] } };

  test("anthropic-messages: a tool loop, thinking, text, usage as Pi sees it", async () => {
    const gw = await scripted([
      { thinking: "Check the files.", tool: "bash", input: { command: "ls /workspace" }, usage: { input: 500, output: 40, cached: 100 } },
      { text: "There are two files in the workspace.", usage: { input: 600, output: 12 } },
    ]);
    const model = { ...getModel("anthropic", "claude-sonnet-4-5"), baseUrl: gw.url };
    const context: any = { systemPrompt: "You are Pi.", messages: [{ role: "user", content: "what is here?", timestamp: Date.now() }], tools: [bash] };
    const m1 = await complete(model, context, { apiKey: gw.token });
    expect(m1.stopReason).toBe("toolUse");
    expect(m1.content.map((c) => c.type)).toEqual(["thinking", "toolCall"]);
    const call = m1.content.find((c) => c.type === "toolCall") as any;
    expect(call.arguments).toEqual({ command: "ls /workspace" });
    expect(m1.usage).toMatchObject({ input: 500, output: 40, cacheRead: 100 });
    context.messages.push(m1, { role: "toolResult", toolCallId: call.id, toolName: "bash", content: [{ type: "text", text: "a b" }], isError: false, timestamp: Date.now() });
    const m2 = await complete(model, context, { apiKey: gw.token });
    expect(m2.stopReason).toBe("stop");
    expect(m2.content).toEqual([{ type: "text", text: "There are two files in the workspace." }]);
    expect(gw.usage()).toMatchObject({ inputTokens: 1100, outputTokens: 52, cachedInputTokens: 100 });
  });

  test("anthropic-messages: an error step reaches Pi once (no SDK retries) as an error message", async () => {
    const gw = await scripted([{ error: { status: 529, message: "Overloaded" } }, { text: "would be consumed by a retry" }]);
    const model = { ...getModel("anthropic", "claude-sonnet-4-5"), baseUrl: gw.url };
    const m = await complete(model, { messages: [{ role: "user", content: "hi", timestamp: Date.now() }] }, { apiKey: gw.token });
    expect(m.stopReason).toBe("error");
    expect(m.errorMessage).toContain("Overloaded");
    expect(gw.requests()).toBe(1);
    expect(gw.stepsUsed()).toBe(1);
  });

  test("openai-completions: tool call and streamed text", async () => {
    const gw = await scripted([
      { tool: "bash", input: { command: "pwd" }, usage: { input: 50, output: 5, cached: 20 } },
      { text: "You are in the workspace directory now.", usage: { input: 70, output: 9 } },
    ]);
    const model = {
      id: "scripted", name: "scripted", api: "openai-completions" as const, provider: "paperclip", baseUrl: `${gw.url}/v1`, reasoning: false,
      input: ["text" as const], cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, contextWindow: 128000, maxTokens: 4096,
      compat: { supportsDeveloperRole: false, supportsReasoningEffort: false },
    };
    const context: any = { messages: [{ role: "user", content: "where am I?", timestamp: Date.now() }], tools: [bash] };
    const m1 = await complete(model, context, { apiKey: gw.token });
    expect(m1.stopReason).toBe("toolUse");
    const call = m1.content.find((c) => c.type === "toolCall") as any;
    expect(call).toMatchObject({ name: "bash", arguments: { command: "pwd" } });
    expect(m1.usage).toMatchObject({ input: 50, output: 5, cacheRead: 20 });
    context.messages.push(m1, { role: "toolResult", toolCallId: call.id, toolName: "bash", content: [{ type: "text", text: "/workspace" }], isError: false, timestamp: Date.now() });
    const m2 = await complete(model, context, { apiKey: gw.token });
    expect(m2.content).toEqual([{ type: "text", text: "You are in the workspace directory now." }]);
    expect(gw.usage()).toMatchObject({ inputTokens: 120, outputTokens: 14, cachedInputTokens: 20 });
  });
});

describe("record file", () => {
  test("one NDJSON line per request with body and answer, token redacted", async () => {
    const dir = await tmp();
    const file = join(dir, "requests.ndjson"); // its directory exists: the recorder never creates one
    const gw = await scripted([{ text: "a", usage: { input: 1, output: 1 } }, { error: { status: 503, message: "down" } }], { recordFile: file });
    await anthropic(gw, { messages: [{ role: "user", content: "first prompt" }] });
    await openai(gw, {});
    await anthropic(gw, {}, { "x-api-key": "bad-token-value" });
    await anthropic(gw, { system: "You are a title generator.", tools: undefined });
    // A path the gateway does not serve is a line too: an agent that only ever asks for one has a record saying so.
    expect((await fetch(`${gw.url}/v1/models`, { headers: { "x-api-key": gw.token } })).status).toBe(404);
    await gw.close();
    const text = await readFile(file, "utf8");
    expect(text).not.toContain(gw.token);
    const lines = text.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.seq, l.dialect ?? null, l.status, l.answeredBy ?? null])).toEqual([
      [1, "anthropic", 200, "step"],
      [2, "openai", 503, "step"],
      [3, "anthropic", 401, null],
      [4, "anthropic", 200, "side"],
      [5, null, 404, null],
    ]);
    expect(lines[4]).toMatchObject({ method: "GET", path: "/v1/models" });
    expect(lines[0].body.messages[0].content).toBe("first prompt");
    expect(lines[0].headers["x-api-key"]).toBe("[REDACTED]");
    expect(lines[1].headers.authorization).toBe("[REDACTED]");
    expect(lines[0].usage).toMatchObject({ inputTokens: 1, outputTokens: 1, costUsd: expect.any(Number) });
  });

  test("secret-looking host env values are redacted too, also where JSON escaping changed them", async () => {
    const dir = await tmp();
    const file = join(dir, "requests.ndjson");
    const github = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
    const quoted = 'pass"word\\with-escapes-42';
    const gw = await scripted([{ text: "ok" }], { recordFile: file, env: { GITHUB_TOKEN: github, DB_PASSWORD: quoted, HOME: "/home/someone" } });
    await anthropic(gw, { messages: [{ role: "user", content: `token ${github}, password ${quoted}, home /home/someone` }] });
    await gw.close();
    const text = await readFile(file, "utf8");
    expect(text).not.toContain(github);
    expect(text).not.toContain(JSON.stringify(quoted).slice(1, -1));
    const line = JSON.parse(text.trim());
    expect(line.body.messages[0].content).toBe("token [REDACTED], password [REDACTED], home /home/someone");
  });
});

describe("the tool results an agent sends the model", () => {
  test("Anthropic tool_result blocks and OpenAI tool messages reach onToolResult once per call id, redacted", async () => {
    const github = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
    const gw = await scripted([{ text: "a" }, { text: "b" }, { text: "c" }], { env: { GITHUB_TOKEN: github } });
    const seen: { id: string; text: string }[] = [];
    const off = gw.onToolResult((r) => seen.push(r));
    const first = [
      { role: "user", content: "hi" },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "cat .env" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", is_error: true, content: "EACCES: permission denied, read '/workspace/.env'" }] },
    ];
    await anthropic(gw, { messages: first });
    // The next request repeats the first result and adds one whose content is a list of text parts.
    const second = [...first, { role: "assistant", content: [{ type: "tool_use", id: "toolu_2", name: "Read", input: {} }] }, { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: `token ${github}` }] }] }];
    await anthropic(gw, { messages: second });
    off();
    await openai(gw, { messages: [{ role: "user", content: "hi" }, { role: "tool", tool_call_id: "call_9", content: "late" }] });
    expect(seen).toEqual([
      { id: "toolu_1", text: "EACCES: permission denied, read '/workspace/.env'" },
      { id: "toolu_2", text: "token [REDACTED]" },
    ]);
    const oa: { id: string; text: string }[] = [];
    gw.onToolResult((r) => oa.push(r));
    await openai(gw, { messages: [{ role: "user", content: "hi" }, { role: "tool", tool_call_id: "call_10", content: [{ type: "text", text: "Permission denied" }] }] });
    expect(oa).toEqual([{ id: "call_10", text: "Permission denied" }]);
  });
});
