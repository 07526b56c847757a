import { offeredTools, type RequestShape } from "./anthropic.ts";
import { openaiErrorType } from "./failure.ts";
import type { TokenCounts } from "./prices.ts";
import { chunks, contentText, isRecord, num, type Reply, sseEvent } from "./reply.ts";

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

export function openaiJson(r: Reply, created: number): object {
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

export function openaiSse(r: Reply, created: number, includeUsage: boolean): string[] {
  const out: string[] = [];
  const chunk = (delta: object, finish: string | null = null) =>
    out.push(sseEvent(undefined, { id: r.id, object: "chat.completion.chunk", created, model: r.model, choices: [{ index: 0, delta, finish_reason: finish }] }));
  chunk({ role: "assistant", content: "" });
  if (r.thinking !== undefined) for (const c of chunks(r.thinking)) chunk({ reasoning_content: c });
  if (r.text !== undefined) for (const c of chunks(r.text)) chunk({ content: c });
  if (r.tool) {
    const args = JSON.stringify(r.tool.input);
    const half = Math.ceil(args.length / 2);
    chunk({ tool_calls: [{ index: 0, id: r.tool.id, type: "function", function: { name: r.tool.name, arguments: args.slice(0, half) } }] });
    if (args.length > half) chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] });
  }
  chunk({}, r.tool ? "tool_calls" : "stop");
  if (includeUsage)
    out.push(sseEvent(undefined, { id: r.id, object: "chat.completion.chunk", created, model: r.model, choices: [], usage: usageBody(r.usage) }));
  out.push(sseEvent(undefined, "[DONE]"));
  return out;
}

export function openaiError(status: number, message: string, type?: string): object {
  return { error: { message, type: type ?? openaiErrorType(status), param: null, code: type ?? null } };
}

/** Reads usage from chat.completion bodies or chunks; the last chunk carrying usage wins. */
export class OpenAIMeter {
  private u: TokenCounts = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
  error: { type?: string; message: string } | null = null;

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

export function openaiRequestShape(body: Record<string, unknown>): RequestShape {
  const messages = (Array.isArray(body.messages) ? body.messages : []).filter(isRecord);
  const system = messages
    .filter((m) => m.role === "system" || m.role === "developer")
    .map((m) => contentText(m.content))
    .join("\n");
  const firstUser = messages.find((m) => m.role === "user");
  return {
    hasTools: Array.isArray(body.tools) && body.tools.length > 0,
    tools: offeredTools(body.tools, (t) => (isRecord(t.function) ? [t.function.name, t.function.parameters] : [undefined, undefined])),
    system,
    firstUser: firstUser ? contentText(firstUser.content) : "",
    stream: body.stream === true,
    model: typeof body.model === "string" ? body.model : "",
  };
}
