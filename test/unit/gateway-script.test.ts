import { describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getModels } from "@mariozechner/pi-ai";
import { type AosError, isAosError } from "../../src/errors.ts";
import {
  costUsd,
  loadScript,
  parseModelSpec,
  parseScript,
  priceFor,
  priceTable,
  scriptJsonSchema,
  startGateway,
} from "../../src/gateway/index.ts";
import { AnthropicMeter } from "../../src/gateway/anthropic.ts";
import { SseReader } from "../../src/gateway/sse.ts";
import { gatewayFixture } from "./gateway-fixture.ts";

const { start, tmp } = gatewayFixture("gw-script-");

function parseError(json: unknown): AosError {
  try {
    parseScript(json, "test.json");
  } catch (e) {
    if (isAosError(e)) return e;
    throw e;
  }
  throw new Error("expected parseScript to fail");
}

describe("script format", () => {
  test("accepts the documented step kinds and the extensions", () => {
    const s = parseScript({
      steps: [
        { text: "hi" },
        { tool: "bash", input: { command: "ls" }, usage: { input: 1, output: 2 } },
        { tool: "read", input: { path: "a" }, text: "let me read", thinking: "hmm", delayMs: 10 },
        { error: { status: 529, message: "Overloaded" }, usage: { input: 0, output: 0, cached: 0 } },
        { tool: "any_custom-tool" },
      ],
    });
    expect(s.steps).toHaveLength(5);
  });

  test("an unknown key in a step names its JSON path and suggests the right key", () => {
    const e = parseError({ steps: [{ text: "ok" }, { txet: "typo" }] });
    expect(e.exitCode).toBe(2);
    expect(e.code).toBe("invalid_script");
    expect(e.message).toContain('test.json: $.steps[1].txet: unknown key "txet" (did you mean "text"?)');
    expect(e.hint).toContain('"steps"');
    expect(parseError({ steps: [{ text: "a", usage: { input: 1, ouput: 2 } }] }).message).toContain('$.steps[0].usage.ouput: unknown key "ouput" (did you mean "output"?)');
    expect(parseError({ step: [] }).message).toContain('did you mean "steps"?');
  });

  test("wrong types and values name their path", () => {
    expect(parseError({ steps: [{ text: 42 }] }).message).toContain("$.steps[0].text: Invalid type: Expected string but received 42");
    expect(parseError({ steps: [{ text: "x", usage: { input: -1, output: 0 } }] }).message).toContain("$.steps[0].usage.input");
    expect(parseError({ steps: [{ error: { status: 200, message: "x" } }] }).message).toContain("$.steps[0].error.status");
    expect(parseError({ steps: [{ tool: "no spaces allowed" }] }).message).toContain("$.steps[0].tool");
    expect(parseError({ steps: {} }).message).toContain("$.steps: Invalid type");
    expect(parseError([]).message).toContain('$: expected an object {"steps":[...]}, got an array');
    expect(parseError({ description: "no steps" }).message).toContain("$.steps: missing (required)");
  });

  test("step shapes that cannot mean anything are rejected", () => {
    expect(parseError({ steps: [{}] }).message).toContain('$.steps[0]: a step needs "text", "tool" or "error"');
    expect(parseError({ steps: [{ input: { a: 1 } }] }).message).toContain('"input" needs "tool"');
    expect(parseError({ steps: [{ text: "a" }, { text: "b", error: { status: 500, message: "x" } }] }).message).toContain('$.steps[1]: "error" stands alone');
  });

  test("several problems are all counted", () => {
    const e = parseError({ steps: [{ txt: "a" }, { tool: 1 }, { text: "ok", usage: {} }] });
    expect(e.message).toMatch(/and \d+ more/);
  });

  test("loadScript reads a file and reports unreadable or non-JSON files", async () => {
    const d = await tmp();
    await writeFile(join(d, "ok.json"), JSON.stringify({ steps: [{ text: "from file" }] }));
    await writeFile(join(d, "bad.json"), "{ steps: ");
    expect((await loadScript(join(d, "ok.json"))).steps[0]!.text).toBe("from file");
    const e1 = await loadScript(join(d, "bad.json")).catch((x: unknown) => x);
    expect(isAosError(e1) && e1.exitCode === 2 && e1.message.includes("is not valid JSON")).toBe(true);
    const e2 = await loadScript(join(d, "missing.json")).catch((x: unknown) => x);
    expect(isAosError(e2) && e2.exitCode === 2 && e2.message.includes("cannot read script")).toBe(true);
    // startGateway loads scripted:FILE itself, and a bad file fails the start.
    const gw = await start({ model: `scripted:${join(d, "ok.json")}` });
    const r = await fetch(`${gw.url}/v1/messages`, { method: "POST", headers: { "x-api-key": gw.token }, body: JSON.stringify({ messages: [] }) });
    expect(((await r.json()) as any).content[0].text).toBe("from file");
    const e3 = await startGateway({ model: `scripted:${join(d, "bad.json")}` }).catch((x: unknown) => x);
    expect(isAosError(e3) && e3.exitCode === 2).toBe(true);
  });

  test("the JSON Schema describes steps", () => {
    const s = JSON.stringify(scriptJsonSchema());
    for (const k of ["steps", "text", "tool", "input", "error", "usage", "cached"]) expect(s).toContain(`"${k}"`);
  });
});

describe("model spec", () => {
  test("parses providers, bare ids and scripted files", () => {
    expect(parseModelSpec("anthropic/claude-sonnet-4-5")).toEqual({ provider: "anthropic", model: "claude-sonnet-4-5" });
    expect(parseModelSpec("openai/gpt-4.1")).toEqual({ provider: "openai", model: "gpt-4.1" });
    expect(parseModelSpec("claude-haiku-4-5")).toEqual({ provider: "anthropic", model: "claude-haiku-4-5" });
    expect(parseModelSpec("o4-mini")).toEqual({ provider: "openai", model: "o4-mini" });
    expect(parseModelSpec("scripted:/abs/s.json")).toEqual({ provider: "scripted", model: "scripted", scriptFile: "/abs/s.json" });
    expect(parseModelSpec("scripted:rel.json").scriptFile).toBe(join(process.cwd(), "rel.json"));
    for (const bad of ["scripted:", "llama3", "anthropic/"]) expect(() => parseModelSpec(bad)).toThrow();
  });
});

describe("prices", () => {
  test("dated and -latest variants price like their base; near misses do not", () => {
    expect(priceFor("claude-sonnet-4-5-20250929")).toBe(priceTable["claude-sonnet-4-5"]!);
    expect(priceFor("anthropic/claude-opus-4-1-20250805")).toBe(priceTable["claude-opus-4-1"]!);
    expect(priceFor("gpt-4o-2024-08-06")).toBe(priceTable["gpt-4o"]!);
    expect(priceFor("claude-3-7-sonnet-latest")).toBe(priceTable["claude-3-7-sonnet"]!);
    expect(priceFor("claude-opus-4-7")).toBeUndefined();
    expect(priceFor("gpt-4.1-mini")).toBe(priceTable["gpt-4.1-mini"]!);
    expect(priceFor("scripted")).toEqual(priceTable["claude-sonnet-4-5"]!);
  });

  test("every price agrees with the cost table of pi-ai 0.60.0 (the model list Pi uses) for each model both know", () => {
    const off: string[] = [];
    let compared = 0;
    for (const provider of ["anthropic", "openai"] as const)
      for (const m of getModels(provider)) {
        const p = priceFor(m.id);
        if (!p) continue;
        compared++;
        const pairs = [[p.input, m.cost.input], [p.output, m.cost.output], [p.cached, m.cost.cacheRead], [p.cacheWrite, m.cost.cacheWrite]];
        // pi-ai rounds to whole cents (OpenAI's $0.075 cached is 0.08 there).
        if (pairs.some(([ours, theirs]) => Math.abs(ours! - theirs!) > 0.0051)) off.push(`${m.id}: ours ${JSON.stringify(p)}, pi-ai ${JSON.stringify(m.cost)}`);
      }
    expect(off).toEqual([]);
    expect(compared).toBeGreaterThan(30);
  });

  test("cost arithmetic, cache writes at the write price, unknown models cost 0", () => {
    expect(costUsd("claude-sonnet-4-5", { inputTokens: 1_000_000, outputTokens: 1_000_000, cachedInputTokens: 1_000_000 })).toBeCloseTo(3 + 15 + 0.3, 10);
    expect(costUsd("claude-sonnet-4-5", { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 1_000_000 })).toBeCloseTo(3.75, 10);
    expect(costUsd("gpt-4.1", { inputTokens: 2_000_000, outputTokens: 500_000, cachedInputTokens: 0 })).toBeCloseTo(4 + 4, 10);
    expect(costUsd("my-local-model", { inputTokens: 5, outputTokens: 5, cachedInputTokens: 5 })).toBe(0);
  });
});

describe("stream metering", () => {
  test("Anthropic SSE usage survives arbitrary chunk boundaries; cache writes count as input; error events are caught", () => {
    const m = new AnthropicMeter();
    const reader = new SseReader((d) => m.event(d));
    const body =
      'event: message_start\r\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,"cache_creation_input_tokens":90,"cache_read_input_tokens":500,"output_tokens":1}}}\r\n\r\n' +
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}\n\n' +
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
    for (let i = 0; i < body.length; i += 7) reader.push(body.slice(i, i + 7));
    reader.finish();
    expect(m.usage()).toEqual({ inputTokens: 100, outputTokens: 42, cachedInputTokens: 500, cacheWriteTokens: 90 });
    expect(m.error).toEqual({ type: "overloaded_error", message: "Overloaded" });
    expect(costUsd("claude-sonnet-4-5", m.usage())).toBeCloseTo((10 * 3 + 90 * 3.75 + 500 * 0.3 + 42 * 15) / 1e6, 12);
  });
});
