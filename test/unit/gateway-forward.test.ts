import { describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { complete, getModel } from "@mariozechner/pi-ai";
import { isAosError } from "../../src/errors.ts";
import { compileSandbox, grantsEveryHost, parsePermissionFlags } from "../../src/caps/index.ts";
import { type Gateway, parseScript, startGateway, withoutProviderNetwork } from "../../src/gateway/index.ts";
import { gatewayFixture } from "./gateway-fixture.ts";

// Forwarding to a real provider, with a second (scripted) gateway playing the provider: it accepts only the fake
// provider key as its token, so a 200 proves the key was swapped in, and its record file shows what went upstream.

const ANTHROPIC_KEY = "sk-ant-api03-FAKE-host-key-0123456789abcdef";
const OPENAI_KEY = "sk-proj-FAKE-host-openai-key-0123456789";

const { start, tmp } = gatewayFixture("gw-fwd-");

async function upstream(steps: unknown[], token: string, recordFile?: string): Promise<Gateway> {
  return start({ model: "scripted", script: parseScript({ steps }), token, recordFile });
}

function post(gw: Gateway, path: string, body: Record<string, unknown>, auth: Record<string, string>) {
  return fetch(`${gw.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify(body) });
}

const userMsg = [{ role: "user", content: "hello upstream" }];

describe("forwarding to Anthropic", () => {
  test("streams through, meters usage from the SSE, rewrites the model, and keeps the key out of everything it writes", async () => {
    const dir = await tmp();
    const up = await upstream(
      [
        { tool: "bash", input: { command: "ls" }, usage: { input: 1000, output: 40, cached: 3000 } },
        { text: "All good here, nothing else to do.", usage: { input: 200, output: 25 } },
      ],
      ANTHROPIC_KEY,
      join(dir, "upstream.ndjson"),
    );
    const deltas: number[] = [];
    const gw = await start({
      model: "anthropic/claude-sonnet-4-5",
      env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: up.url },
      recordFile: join(dir, "gateway.ndjson"),
      onUsage: (u) => deltas.push(u.costUsd),
    });
    expect(gw).toMatchObject({ provider: "anthropic", biller: "anthropic", model: "claude-sonnet-4-5", billingType: "api" });
    expect(gw.token).not.toBe(ANTHROPIC_KEY);

    const r1 = await post(gw, "/v1/messages", { model: "claude-opus-4-6", max_tokens: 100, stream: true, messages: userMsg }, { "x-api-key": gw.token });
    expect(r1.status).toBe(200);
    expect(r1.headers.get("content-type")).toContain("text/event-stream");
    const text1 = await r1.text();
    expect(text1).toContain('"type":"tool_use"');
    const r2 = await post(gw, "/v1/messages", { model: "claude-opus-4-6", max_tokens: 100, messages: userMsg }, { authorization: `Bearer ${gw.token}` });
    const m2 = (await r2.json()) as any;
    expect(m2.content[0].text).toBe("All good here, nothing else to do.");

    expect(gw.usage()).toMatchObject({ inputTokens: 1200, outputTokens: 65, cachedInputTokens: 3000 });
    expect(gw.usage().costUsd).toBeCloseTo((1200 * 3 + 65 * 15 + 3000 * 0.3) / 1e6, 12);
    expect(deltas).toHaveLength(2);
    expect(gw.lastError()).toBeNull();
    await gw.close();
    await up.close();

    const upLines = (await readFile(join(dir, "upstream.ndjson"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(upLines.map((l) => l.body.model)).toEqual(["claude-sonnet-4-5", "claude-sonnet-4-5"]);
    expect(upLines.map((l) => l.status)).toEqual([200, 200]);
    const gwRecord = await readFile(join(dir, "gateway.ndjson"), "utf8");
    expect(gwRecord).not.toContain(ANTHROPIC_KEY);
    expect(gwRecord).not.toContain(gw.token);
    expect(gwRecord.trim().split("\n")).toHaveLength(2);
  });

  test("Pi's client works through the forwarding gateway (tool loop, usage as reported upstream)", async () => {
    const up = await upstream(
      [
        { tool: "read", input: { path: "README.md" }, usage: { input: 300, output: 20 } },
        { text: "Read it.", usage: { input: 350, output: 4, cached: 250 } },
      ],
      ANTHROPIC_KEY,
    );
    const gw = await start({ model: "anthropic/claude-haiku-4-5", env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: `${up.url}/` } });
    const model = { ...getModel("anthropic", "claude-sonnet-4-5"), baseUrl: gw.url };
    const read = { name: "read", description: "Read a file", parameters: { type: "object", properties: { path: { type: "string" } } } };
    const context: any = { messages: [{ role: "user", content: "read the readme", timestamp: Date.now() }], tools: [read] };
    const m1 = await complete(model, context, { apiKey: gw.token });
    const call = m1.content.find((c) => c.type === "toolCall") as any;
    expect(call.arguments).toEqual({ path: "README.md" });
    context.messages.push(m1, { role: "toolResult", toolCallId: call.id, toolName: "read", content: [{ type: "text", text: "# hi" }], isError: false, timestamp: Date.now() });
    const m2 = await complete(model, context, { apiKey: gw.token });
    expect(m2.content).toEqual([{ type: "text", text: "Read it." }]);
    expect(gw.usage()).toMatchObject({ inputTokens: 650, outputTokens: 24, cachedInputTokens: 250 });
    // claude-haiku-4-5: $1 in, $5 out, $0.10 cached.
    expect(gw.usage().costUsd).toBeCloseTo((650 * 1 + 24 * 5 + 250 * 0.1) / 1e6, 12);
  });

  test("upstream failures keep their status, map to a family, and never show the key", async () => {
    const up = await upstream(
      [
        { error: { status: 429, message: "rate limited" } },
        { error: { status: 529, message: "Overloaded" } },
        { error: { status: 400, message: `prompt is too long (your key ${ANTHROPIC_KEY} was fine)` } },
        { text: "fine again" },
      ],
      ANTHROPIC_KEY,
    );
    const gw = await start({ model: "anthropic/claude-sonnet-4-5", env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: up.url } });
    const send = () => post(gw, "/v1/messages", { model: "x", max_tokens: 10, stream: true, messages: userMsg }, { "x-api-key": gw.token });

    const r1 = await send();
    expect(r1.status).toBe(429);
    expect(((await r1.json()) as any).error.type).toBe("rate_limit_error");
    expect(gw.lastError()).toMatchObject({ family: "quota", errorCode: "upstream_rate_limited", status: 429, source: "upstream" });

    expect((await send()).status).toBe(529);
    expect(gw.lastError()).toMatchObject({ family: "overloaded", errorCode: "upstream_overloaded" });

    const r3 = await send();
    expect(r3.status).toBe(400);
    const body3 = await r3.text();
    expect(body3).not.toContain(ANTHROPIC_KEY);
    expect(body3).toContain("[REDACTED]");
    expect(gw.lastError()).toMatchObject({ family: "bad_request", errorCode: "upstream_bad_request" });
    expect(gw.lastError()!.message).not.toContain(ANTHROPIC_KEY);

    expect((await send()).status).toBe(200);
    expect(gw.lastError()).toBeNull();
    expect(gw.errors()).toHaveLength(3);
  });

  test("a wrong host key is an auth failure", async () => {
    const up = await upstream([{ text: "never" }], ANTHROPIC_KEY);
    const gw = await start({ model: "anthropic/claude-sonnet-4-5", env: { ANTHROPIC_API_KEY: "sk-ant-some-other-key-000000", ANTHROPIC_BASE_URL: up.url } });
    const r = await post(gw, "/v1/messages", { model: "x", max_tokens: 10, messages: userMsg }, { "x-api-key": gw.token });
    expect(r.status).toBe(401);
    expect(gw.lastError()).toMatchObject({ family: "auth", errorCode: "upstream_auth", status: 401 });
    expect(up.stepsUsed()).toBe(0);
  });

  test("an unreachable upstream is a 502 with upstream_unreachable", async () => {
    const dead = await upstream([], "x".repeat(16));
    const url = dead.url;
    await dead.close();
    const gw = await start({ model: "anthropic/claude-sonnet-4-5", env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: url } });
    const r = await post(gw, "/v1/messages", { model: "x", max_tokens: 10, messages: userMsg }, { "x-api-key": gw.token });
    expect(r.status).toBe(502);
    expect(((await r.json()) as any).type).toBe("error");
    expect(gw.lastError()).toMatchObject({ errorCode: "upstream_unreachable", family: "upstream" });
  });

  test("an OpenAI-dialect request to an Anthropic gateway is refused with a clear message", async () => {
    const gw = await start({ model: "anthropic/claude-sonnet-4-5", env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: "http://127.0.0.1:9" } });
    const r = await post(gw, "/v1/chat/completions", { model: "x", messages: userMsg }, { authorization: `Bearer ${gw.token}` });
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).error.message).toContain("forwards to anthropic");
    expect(gw.lastError()).toMatchObject({ errorCode: "gateway_dialect_mismatch" });
  });
});

describe("forwarding to OpenAI", () => {
  test("asks for usage in streams, meters prompt/cached/completion tokens, non-streaming too", async () => {
    const dir = await tmp();
    const up = await upstream(
      [
        { text: "streamed answer from the fake provider", usage: { input: 400, output: 30, cached: 600 } },
        { tool: "bash", input: { command: "true" }, usage: { input: 50, output: 5 } },
      ],
      OPENAI_KEY,
      join(dir, "up.ndjson"),
    );
    const gw = await start({ model: "openai/gpt-4.1", env: { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `${up.url}/v1` }, recordFile: join(dir, "gw.ndjson") });
    const r1 = await post(gw, "/v1/chat/completions", { model: "whatever", stream: true, messages: userMsg }, { authorization: `Bearer ${gw.token}` });
    const t1 = await r1.text();
    expect(t1).toContain("[DONE]");
    const c2 = (await (await post(gw, "/chat/completions", { model: "whatever", messages: userMsg }, { authorization: `Bearer ${gw.token}` })).json()) as any;
    expect(c2.choices[0].finish_reason).toBe("tool_calls");

    expect(gw.usage()).toMatchObject({ inputTokens: 450, outputTokens: 35, cachedInputTokens: 600 });
    // gpt-4.1: $2 in, $8 out, $0.50 cached.
    expect(gw.usage().costUsd).toBeCloseTo((450 * 2 + 35 * 8 + 600 * 0.5) / 1e6, 12);
    await gw.close();
    await up.close();
    const upLines = (await readFile(join(dir, "up.ndjson"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(upLines[0].body).toMatchObject({ model: "gpt-4.1", stream_options: { include_usage: true } });
    expect(upLines[1].body.model).toBe("gpt-4.1");
    const gwRecord = await readFile(join(dir, "gw.ndjson"), "utf8");
    expect(gwRecord).not.toContain(OPENAI_KEY);
  });

  test("an OpenRouter base URL bills to openrouter", async () => {
    const gw = await start({ model: "openai/gpt-4o-mini", env: { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: "https://openrouter.ai/api/v1" } });
    expect(gw).toMatchObject({ provider: "openai", biller: "openrouter", billingType: "api" });
  });
});

describe("start-up errors", () => {
  test("a missing provider key is a usage error naming the env var", async () => {
    for (const [model, envVar] of [["anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY"], ["openai/gpt-4.1", "OPENAI_API_KEY"]] as const) {
      const e = await startGateway({ model, env: {} }).catch((x: unknown) => x);
      expect(isAosError(e)).toBe(true);
      if (!isAosError(e)) continue;
      expect(e.exitCode).toBe(2);
      expect(e.code).toBe("missing_api_key");
      expect(e.message).toContain(envVar);
      expect(e.hint).toContain(envVar);
    }
  });

  test("a bad base URL or an unknown provider is a usage error", async () => {
    const e1 = await startGateway({ model: "anthropic/claude-sonnet-4-5", env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: "not a url" } }).catch((x: unknown) => x);
    expect(isAosError(e1) && e1.exitCode === 2 && e1.message.includes("ANTHROPIC_BASE_URL")).toBe(true);
    const e2 = await startGateway({ model: "mistral/large", env: {} }).catch((x: unknown) => x);
    expect(isAosError(e2) && e2.exitCode === 2 && e2.message.includes('unknown model provider "mistral"')).toBe(true);
  });

  test("an unknown model forwards but notes that its cost is unknown", async () => {
    const gw = await start({ model: "anthropic/claude-future-9", env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY } });
    expect(gw.notes.join(" ")).toContain("no price known for model claude-future-9");
  });
});

// What the agent may not make the provider do for it: reach the network (src/gateway/provider-network.ts). The e2e
// half (the agent's own request from inside the VM, through the worker) is in test/e2e/worker.test.ts.
describe("forwarding without the provider's network tools", () => {
  test("each dialect's networked tools and fields go, the agent's own tools stay; content by http(s) URL is refused, data URLs pass", () => {
    const own = { type: "function", name: "shell", parameters: { type: "object" } };
    const r = withoutProviderNetwork("responses", { tools: [own, { type: "web_search" }, { type: "web_search_preview_2025_03_11" }, { type: "mcp", server_url: "https://x.example" }, { type: "local_shell" }], input: "hi" });
    expect(r.body.tools).toEqual([own, { type: "local_shell" }]);
    expect(r.removed).toEqual(["tools[].type=web_search", "tools[].type=web_search_preview_2025_03_11", "tools[].type=mcp"]);
    expect(r.refused).toBeUndefined();
    const a = withoutProviderNetwork("anthropic", { mcp_servers: [{}], tools: [{ name: "Bash", input_schema: {} }, { type: "web_fetch_20250910", name: "web_fetch" }, { type: "mcp_toolset" }, { type: "bash_20250124", name: "bash" }], messages: [] });
    expect(a.body).toEqual({ tools: [{ name: "Bash", input_schema: {} }, { type: "bash_20250124", name: "bash" }], messages: [] });
    expect(a.removed).toEqual(["mcp_servers", "tools[].type=web_fetch_20250910", "tools[].type=mcp_toolset"]);
    expect(withoutProviderNetwork("openai", { web_search_options: {}, messages: [] })).toEqual({ body: { messages: [] }, removed: ["web_search_options"] });
    // A URL hidden in a tool result is found too; inline data is not a URL the provider opens.
    const nested = { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: [{ type: "document", source: { type: "url", url: "https://x.example/d.pdf" } }] }] };
    expect(withoutProviderNetwork("anthropic", { messages: [nested] }).refused).toContain("https://x.example/d.pdf");
    expect(withoutProviderNetwork("openai", { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "HTTPS://x.example/i.png" } }] }] }).refused).toContain("x.example");
    expect(withoutProviderNetwork("responses", { input: [{ role: "user", content: [{ type: "input_file", file_url: "http://x.example/f" }] }] }).refused).toContain("x.example");
    expect(withoutProviderNetwork("openai", { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }] }).refused).toBeUndefined();
    expect(withoutProviderNetwork("anthropic", { messages: [{ role: "user", content: "see https://x.example" }] }).refused).toBeUndefined();
  });

  test("a gateway told the policy grants every host forwards the provider's network tools as sent", async () => {
    const dir = await tmp();
    const record = join(dir, "upstream.ndjson");
    const up = await upstream([{ text: "a" }, { text: "b" }], ANTHROPIC_KEY, record);
    let everyHost = true;
    const gw = await start({ model: "anthropic/claude-sonnet-4-5", env: { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: up.url }, providerNetwork: () => everyHost });
    const body = { model: "claude-sonnet-4-5", max_tokens: 10, tools: [{ type: "web_search_20250305", name: "web_search" }], messages: userMsg };
    expect((await post(gw, "/v1/messages", body, { "x-api-key": gw.token })).status).toBe(200);
    everyHost = false;
    expect((await post(gw, "/v1/messages", body, { "x-api-key": gw.token })).status).toBe(200);
    const sent = (await readFile(record, "utf8")).trim().split("\n").map((l) => l.includes("web_search_20250305"));
    expect(sent).toEqual([true, false]);
    expect(gw.notes.join(" ")).toContain("took the provider's own network tools out");
  });
});

describe("grantsEveryHost: when the provider may reach the network for the agent", () => {
  test("only a policy that connects to every host and denies none", async () => {
    const grants = async (flags: string[]) => grantsEveryHost(await compileSandbox({ flags: parsePermissionFlags(flags), workspaceHostDir: await tmp() }));
    expect(await grants(["--allow-net"])).toBe(true);
    expect(await grants([])).toBe(false);
    expect(await grants(["--allow-net=api.github.com"])).toBe(false);
    expect(await grants(["--allow-net", "--deny-net=exfil.example"])).toBe(false);
    expect(await grants(["--preset=networked"])).toBe(false);
  });
});
