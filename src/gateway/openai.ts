import { type DialectCodec, type RequestShape, requestShape, type ResponseMeter, resultText, type SentToolResult, type StreamError } from "./dialect.ts";
import type { TokenCounts } from "./prices.ts";
import { chunks, contentText, halves, isRecord, num, type Reply, sseEvent } from "./reply.ts";

/** OpenAI chat completions: rendering scripted replies and errors, and reading usage from responses. */

function usageBody(u: TokenCounts): object {
  const prompt = u.inputTokens + u.cachedInputTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.outputTokens,
    total_tokens: prompt + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens },
  };
}

function toolCall(r: Reply): object | undefined {
  if (!r.tool) return undefined;
  return { id: r.tool.id, type: "function", function: { name: r.tool.name, arguments: JSON.stringify(r.tool.input) } };
}

function openaiJson(r: Reply, created: number): object {
  const call = toolCall(r);
  return {
    id: r.id,
    object: "chat.completion",
    created,
    model: r.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: r.text ?? null,
          ...(r.thinking !== undefined ? { reasoning_content: r.thinking } : {}),
          ...(call ? { tool_calls: [call] } : {}),
        },
        finish_reason: r.tool ? "tool_calls" : "stop",
      },
    ],
    usage: usageBody(r.usage),
  };
}

function openaiSse(r: Reply, created: number, includeUsage: boolean): string[] {
  const out: string[] = [];
  const chunk = (delta: object, finish: string | null = null) =>
    out.push(sseEvent(undefined, { id: r.id, object: "chat.completion.chunk", created, model: r.model, choices: [{ index: 0, delta, finish_reason: finish }] }));
  chunk({ role: "assistant", content: "" });
  if (r.thinking !== undefined) for (const c of chunks(r.thinking)) chunk({ reasoning_content: c });
  if (r.text !== undefined) for (const c of chunks(r.text)) chunk({ content: c });
  if (r.tool) {
    const [head, tail] = halves(JSON.stringify(r.tool.input));
    chunk({ tool_calls: [{ index: 0, id: r.tool.id, type: "function", function: { name: r.tool.name, arguments: head } }] });
    if (tail) chunk({ tool_calls: [{ index: 0, function: { arguments: tail } }] });
  }
  chunk({}, r.tool ? "tool_calls" : "stop");
  if (includeUsage)
    out.push(sseEvent(undefined, { id: r.id, object: "chat.completion.chunk", created, model: r.model, choices: [], usage: usageBody(r.usage) }));
  out.push(sseEvent(undefined, "[DONE]"));
  return out;
}

/** OpenAI's error type names by status. */
export function openaiErrorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_exceeded";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}
export function openaiError(status: number, message: string, type?: string): object {
  return { error: { message, type: type ?? openaiErrorType(status), param: null, code: type ?? null } };
}

/** Reads usage from chat.completion bodies or chunks; the last chunk carrying usage wins. */
class OpenAIMeter implements ResponseMeter {
  private u: TokenCounts = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
  error: StreamError | null = null;

  event(data: unknown): void {
    if (!isRecord(data)) return;
    if (isRecord(data.error)) {
      this.error = { type: String(data.error.type ?? data.error.code ?? ""), message: String(data.error.message ?? "stream error") };
      return;
    }
    this.body(data);
  }

  body(data: unknown): void {
    if (!isRecord(data) || !isRecord(data.usage)) return;
    const u = data.usage;
    const details = isRecord(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
    const cached = num(details.cached_tokens);
    this.u = { inputTokens: Math.max(0, num(u.prompt_tokens) - cached), outputTokens: num(u.completion_tokens), cachedInputTokens: cached };
  }

  usage(): TokenCounts {
    return { ...this.u };
  }
}

function openaiRequestShape(body: Record<string, unknown>): RequestShape {
  const messages = (Array.isArray(body.messages) ? body.messages : []).filter(isRecord);
  const system = messages
    .filter((m) => m.role === "system" || m.role === "developer")
    .map((m) => contentText(m.content))
    .join("\n");
  const firstUser = messages.find((m) => m.role === "user");
  return requestShape(
    body,
    (t) => (isRecord(t.function) ? [t.function.name, t.function.parameters] : [undefined, undefined]),
    system,
    firstUser ? contentText(firstUser.content) : "",
  );
}

/** `tool` role messages. */
function openaiToolResults(body: Record<string, unknown>): SentToolResult[] {
  const messages = (Array.isArray(body.messages) ? body.messages : []).filter(isRecord);
  return messages.flatMap((m) => (m.role === "tool" && typeof m.tool_call_id === "string" ? [{ id: m.tool_call_id, text: resultText(m.content) }] : []));
}

export const openaiDialect: DialectCodec = {
  label: "OpenAI chat completions",
  path: "/v1/chat/completions",
  replyIdPrefix: "chatcmpl-",
  toolIdPrefix: "call_",
  requestShape: openaiRequestShape,
  toolResults: openaiToolResults,
  errorType: openaiErrorType,
  error: openaiError,
  json: openaiJson,
  sse: (r, created, body) => openaiSse(r, created, isRecord(body.stream_options) && body.stream_options.include_usage === true),
  meter: () => new OpenAIMeter(),
};
