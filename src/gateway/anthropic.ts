import { type DialectCodec, type RequestShape, requestShape, type ResponseMeter, resultText, type SentToolResult, type StreamError } from "./dialect.ts";
import type { TokenCounts } from "./prices.ts";
import { chunks, contentText, halves, isRecord, num, type Reply, sseEvent } from "./reply.ts";

/** Anthropic Messages API: rendering scripted replies and errors, and reading usage from responses. */

function usageBody(u: TokenCounts): Record<string, number> {
  const write = u.cacheWriteTokens ?? 0;
  return {
    input_tokens: u.inputTokens - write,
    cache_creation_input_tokens: write,
    cache_read_input_tokens: u.cachedInputTokens,
    output_tokens: u.outputTokens,
  };
}

const SIGNATURE = "scripted-thinking-signature";

function anthropicJson(r: Reply): object {
  const content: object[] = [];
  if (r.thinking !== undefined) content.push({ type: "thinking", thinking: r.thinking, signature: SIGNATURE });
  if (r.text !== undefined) content.push({ type: "text", text: r.text });
  if (r.tool) content.push({ type: "tool_use", id: r.tool.id, name: r.tool.name, input: r.tool.input });
  return {
    id: r.id,
    type: "message",
    role: "assistant",
    model: r.model,
    content,
    stop_reason: r.tool ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: usageBody(r.usage),
  };
}

function anthropicSse(r: Reply): string[] {
  const out: string[] = [];
  const send = (type: string, data: Record<string, unknown>) => out.push(sseEvent(type, { type, ...data }));
  const startUsage = { ...usageBody(r.usage), output_tokens: Math.min(1, r.usage.outputTokens) };
  send("message_start", {
    message: { id: r.id, type: "message", role: "assistant", model: r.model, content: [], stop_reason: null, stop_sequence: null, usage: startUsage },
  });
  let index = 0;
  if (r.thinking !== undefined) {
    send("content_block_start", { index, content_block: { type: "thinking", thinking: "", signature: "" } });
    for (const c of chunks(r.thinking)) send("content_block_delta", { index, delta: { type: "thinking_delta", thinking: c } });
    send("content_block_delta", { index, delta: { type: "signature_delta", signature: SIGNATURE } });
    send("content_block_stop", { index });
    index++;
  }
  if (r.text !== undefined) {
    send("content_block_start", { index, content_block: { type: "text", text: "" } });
    for (const c of chunks(r.text)) send("content_block_delta", { index, delta: { type: "text_delta", text: c } });
    send("content_block_stop", { index });
    index++;
  }
  if (r.tool) {
    send("content_block_start", { index, content_block: { type: "tool_use", id: r.tool.id, name: r.tool.name, input: {} } });
    for (const part of halves(JSON.stringify(r.tool.input))) {
      if (part) send("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: part } });
    }
    send("content_block_stop", { index });
  }
  send("message_delta", {
    delta: { stop_reason: r.tool ? "tool_use" : "end_turn", stop_sequence: null },
    usage: { output_tokens: r.usage.outputTokens },
  });
  send("message_stop", {});
  return out;
}

/** Anthropic's error type names by status (https://docs.anthropic.com/en/api/errors). */
function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

function anthropicError(status: number, message: string, type?: string): object {
  return { type: "error", error: { type: type ?? anthropicErrorType(status), message } };
}

/** Follows an Anthropic stream's events and keeps the latest usage (message_delta counts are cumulative). */
export class AnthropicMeter implements ResponseMeter {
  private input = 0;
  private write = 0;
  private cached = 0;
  private output = 0;
  error: StreamError | null = null;

  event(data: unknown): void {
    if (!isRecord(data)) return;
    if (data.type === "message_start" && isRecord(data.message)) this.apply(data.message.usage);
    else if (data.type === "message_delta") this.apply(data.usage);
    else if (data.type === "error" && isRecord(data.error))
      this.error = { type: String(data.error.type ?? ""), message: String(data.error.message ?? "stream error") };
  }

  /** A non-streaming message body. */
  body(data: unknown): void {
    if (isRecord(data)) this.apply(data.usage);
  }

  /** A usage object of a message, message_start or message_delta; a field it lacks keeps its earlier count. */
  private apply(u: unknown): void {
    if (!isRecord(u)) return;
    if (u.input_tokens != null) this.input = num(u.input_tokens);
    if (u.cache_creation_input_tokens != null) this.write = num(u.cache_creation_input_tokens);
    if (u.cache_read_input_tokens != null) this.cached = num(u.cache_read_input_tokens);
    if (u.output_tokens != null) this.output = num(u.output_tokens);
  }

  usage(): TokenCounts {
    return { inputTokens: this.input + this.write, outputTokens: this.output, cachedInputTokens: this.cached, cacheWriteTokens: this.write };
  }
}

function anthropicRequestShape(body: Record<string, unknown>): RequestShape {
  const messages = (Array.isArray(body.messages) ? body.messages : []).filter(isRecord);
  const firstUser = messages.find((m) => m.role === "user");
  return requestShape(body, (t) => [t.name, t.input_schema], contentText(body.system), firstUser ? contentText(firstUser.content) : "");
}

/** `tool_result` blocks in the user messages. */
function anthropicToolResults(body: Record<string, unknown>): SentToolResult[] {
  const messages = (Array.isArray(body.messages) ? body.messages : []).filter(isRecord);
  return messages.flatMap((m) =>
    (Array.isArray(m.content) ? m.content : []).filter(isRecord).flatMap((b) => (b.type === "tool_result" && typeof b.tool_use_id === "string" ? [{ id: b.tool_use_id, text: resultText(b.content) }] : [])),
  );
}

export const anthropicDialect: DialectCodec = {
  label: "Anthropic Messages",
  path: "/v1/messages",
  replyIdPrefix: "msg_",
  toolIdPrefix: "toolu_",
  requestShape: anthropicRequestShape,
  toolResults: anthropicToolResults,
  errorType: anthropicErrorType,
  error: anthropicError,
  json: anthropicJson,
  sse: anthropicSse,
  meter: () => new AnthropicMeter(),
};
