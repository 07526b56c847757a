import { type DialectCodec, type RequestShape, requestShape, type ResponseMeter, resultText, type SentToolResult, type StreamError } from "./dialect.ts";
import { openaiError, openaiErrorType } from "./openai.ts";
import type { TokenCounts } from "./prices.ts";
import { chunks, contentText, halves, isRecord, num, type Reply, sseEvent } from "./reply.ts";

/**
 * OpenAI Responses API (`POST /v1/responses`): rendering scripted replies and errors, and reading usage from responses.
 * Codex speaks only this API, and so does OpenCode's OpenAI provider. The event shapes follow what the real clients
 * read (docs/gateway.md lists them): Codex acts on response.output_item.done items and needs response.completed with
 * `response.id` (and, when usage is given, `total_tokens`); OpenCode's AI SDK parser needs ids on every item, `item_id`
 * on deltas and `status: "completed"` on finished function calls; pi-ai needs content_part.added before text deltas and
 * reasoning_summary_part.added before reasoning deltas. Errors have chat completions' shape ({error:{message,type,...}}).
 */

/** OpenAI counts cached tokens inside input_tokens; our TokenCounts keep them apart. */
function usageBody(u: TokenCounts): object {
  const input = u.inputTokens + u.cachedInputTokens;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cachedInputTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + u.outputTokens,
  };
}

type Item = Record<string, unknown>;

/** The output items of a reply in their finished form, with the id each carries. */
function outputItems(r: Reply): Item[] {
  const items: Item[] = [];
  const suffix = r.id.replace(/^resp_/, "");
  if (r.thinking !== undefined) items.push({ type: "reasoning", id: `rs_${suffix}`, summary: [{ type: "summary_text", text: r.thinking }] });
  if (r.text !== undefined)
    items.push({
      type: "message",
      id: `msg_${suffix}`,
      status: "completed",
      role: "assistant",
      content: [{ type: "output_text", text: r.text, annotations: [], logprobs: [] }],
    });
  const t = r.tool;
  if (t?.format === "custom") items.push({ type: "custom_tool_call", id: `ctc_${suffix}`, call_id: t.id, name: t.name, input: String(t.input.input ?? ""), status: "completed" });
  else if (t?.format === "local_shell")
    items.push({ type: "local_shell_call", id: `lsh_${suffix}`, call_id: t.id, status: "completed", action: { type: "exec", command: t.input.command ?? [] } });
  else if (t) items.push({ type: "function_call", id: `fc_${suffix}`, call_id: t.id, name: t.name, arguments: JSON.stringify(t.input), status: "completed" });
  return items;
}

function responseObject(r: Reply, created: number, status: "in_progress" | "completed", output: Item[], usage: object | null): object {
  return {
    id: r.id,
    object: "response",
    created_at: created,
    status,
    ...(status === "completed" ? { completed_at: created } : {}),
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model: r.model,
    output,
    parallel_tool_calls: false,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: null,
    text: { format: { type: "text" } },
    tool_choice: "auto",
    tools: [],
    top_p: null,
    truncation: "disabled",
    usage,
    metadata: {},
  };
}

function responsesJson(r: Reply, created: number): object {
  return { ...responseObject(r, created, "completed", outputItems(r), usageBody(r.usage)), output_text: r.text ?? "" };
}

/** The events of one output item, from output_item.added to output_item.done. */
function itemEvents(item: Item, output_index: number, send: (type: string, data: Record<string, unknown>) => void): void {
  const item_id = item.id as string;
  const at = { item_id, output_index };
  switch (item.type) {
    case "reasoning": {
      const text = (item.summary as { text: string }[])[0]!.text;
      send("response.output_item.added", { output_index, item: { ...item, summary: [] } });
      send("response.reasoning_summary_part.added", { ...at, summary_index: 0, part: { type: "summary_text", text: "" } });
      for (const delta of chunks(text)) send("response.reasoning_summary_text.delta", { ...at, summary_index: 0, delta });
      send("response.reasoning_summary_text.done", { ...at, summary_index: 0, text });
      send("response.reasoning_summary_part.done", { ...at, summary_index: 0, part: { type: "summary_text", text } });
      break;
    }
    case "message": {
      const text = (item.content as { text: string }[])[0]!.text;
      send("response.output_item.added", { output_index, item: { ...item, status: "in_progress", content: [] } });
      send("response.content_part.added", { ...at, content_index: 0, part: { type: "output_text", text: "", annotations: [], logprobs: [] } });
      for (const delta of chunks(text)) send("response.output_text.delta", { ...at, content_index: 0, delta, logprobs: [] });
      send("response.output_text.done", { ...at, content_index: 0, text, logprobs: [] });
      send("response.content_part.done", { ...at, content_index: 0, part: { type: "output_text", text, annotations: [], logprobs: [] } });
      break;
    }
    case "function_call": {
      const args = item.arguments as string;
      send("response.output_item.added", { output_index, item: { ...item, arguments: "", status: "in_progress" } });
      for (const delta of halves(args)) if (delta) send("response.function_call_arguments.delta", { ...at, delta });
      send("response.function_call_arguments.done", { ...at, name: item.name, arguments: args });
      break;
    }
    case "custom_tool_call": {
      const input = item.input as string;
      send("response.output_item.added", { output_index, item: { ...item, input: "", status: "in_progress" } });
      for (const delta of halves(input)) if (delta) send("response.custom_tool_call_input.delta", { ...at, delta });
      send("response.custom_tool_call_input.done", { ...at, input });
      break;
    }
    default:
      send("response.output_item.added", { output_index, item: { ...item, status: "in_progress" } });
  }
  send("response.output_item.done", { output_index, item });
}

function responsesSse(r: Reply, created: number): string[] {
  const out: string[] = [];
  let sequence_number = 0;
  const send = (type: string, data: Record<string, unknown>) => out.push(sseEvent(type, { type, sequence_number: sequence_number++, ...data }));
  send("response.created", { response: responseObject(r, created, "in_progress", [], null) });
  send("response.in_progress", { response: responseObject(r, created, "in_progress", [], null) });
  const output = outputItems(r);
  output.forEach((item, i) => itemEvents(item, i, send));
  send("response.completed", { response: responseObject(r, created, "completed", output, usageBody(r.usage)) });
  return out;
}

/**
 * Reads usage from a Response body or from the response.completed / response.incomplete / response.failed event of
 * a stream, and an in-stream failure from response.failed or an `error` event.
 */
class ResponsesMeter implements ResponseMeter {
  private u: TokenCounts = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
  error: StreamError | null = null;

  event(data: unknown): void {
    if (!isRecord(data)) return;
    if (data.type === "error") {
      // OpenAI sends {type:"error", code, message}; some servers nest it as {error:{code, message}}.
      const e = isRecord(data.error) ? data.error : data;
      this.error = { type: String(e.code ?? e.type ?? ""), message: String(e.message ?? "stream error") };
      return;
    }
    if (typeof data.type === "string" && data.type.startsWith("response.") && isRecord(data.response)) this.body(data.response);
  }

  body(data: unknown): void {
    if (!isRecord(data)) return;
    if (isRecord(data.usage)) {
      const u = data.usage;
      const details = isRecord(u.input_tokens_details) ? u.input_tokens_details : {};
      const cached = num(details.cached_tokens);
      this.u = { inputTokens: Math.max(0, num(u.input_tokens) - cached), outputTokens: num(u.output_tokens), cachedInputTokens: cached };
    }
    if (data.status === "failed" || isRecord(data.error)) {
      const e = isRecord(data.error) ? data.error : {};
      this.error = { type: String(e.code ?? e.type ?? ""), message: String(e.message ?? "the response failed") };
    }
  }

  usage(): TokenCounts {
    return { ...this.u };
  }
}

/** Text of `instructions` plus system/developer input messages; the first user input message. */
function responsesRequestShape(body: Record<string, unknown>): RequestShape {
  const input = Array.isArray(body.input) ? body.input.filter(isRecord) : [];
  const messages = input.filter((m) => m.type === undefined || m.type === "message");
  const system = [typeof body.instructions === "string" ? body.instructions : "", ...messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => contentText(m.content))]
    .filter(Boolean)
    .join("\n");
  const firstUser = typeof body.input === "string" ? body.input : contentText(messages.find((m) => m.role === "user")?.content);
  // Function tools carry name and parameters at the top level; built-in tools (local_shell, web_search) only a type.
  return requestShape(body, (t) => [t.name ?? t.type, t.type === "function" ? t.parameters : undefined], system, firstUser, (t) =>
    t.type === "function" || t.type === undefined ? "function" : t.type === "custom" ? "custom" : "builtin",
  );
}

/** The output items of function, custom and local-shell calls in the input. */
const OUTPUT_ITEMS = new Set(["function_call_output", "custom_tool_call_output", "local_shell_call_output"]);
function responsesToolResults(body: Record<string, unknown>): SentToolResult[] {
  const input = Array.isArray(body.input) ? body.input.filter(isRecord) : [];
  return input.flatMap((i) => (OUTPUT_ITEMS.has(String(i.type)) && typeof i.call_id === "string" ? [{ id: i.call_id, text: resultText(i.output) }] : []));
}

export const responsesDialect: DialectCodec = {
  label: "OpenAI Responses",
  path: "/v1/responses",
  replyIdPrefix: "resp_",
  toolIdPrefix: "call_",
  requestShape: responsesRequestShape,
  toolResults: responsesToolResults,
  errorType: openaiErrorType,
  error: openaiError,
  json: responsesJson,
  sse: (r, created) => responsesSse(r, created),
  meter: () => new ResponsesMeter(),
};
