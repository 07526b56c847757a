import { anthropicErrorType } from "./failure.ts";
import type { TokenCounts } from "./prices.ts";
import { chunks, contentText, isRecord, num, type Reply, sseEvent } from "./reply.ts";

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

export function anthropicJson(r: Reply): object {
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

export function anthropicSse(r: Reply): string[] {
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
    const json = JSON.stringify(r.tool.input);
    const half = Math.ceil(json.length / 2);
    for (const part of [json.slice(0, half), json.slice(half)]) {
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

export function anthropicError(status: number, message: string, type?: string): object {
  return { type: "error", error: { type: type ?? anthropicErrorType(status), message } };
}

/** Follows an Anthropic stream's events and keeps the latest usage (message_delta counts are cumulative). */
export class AnthropicMeter {
  private input = 0;
  private write = 0;
  private cached = 0;
  private output = 0;
  error: { type?: string; message: string } | null = null;

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

export interface OfferedTool {
  name: string;
  required: string[];
}

export interface RequestShape {
  hasTools: boolean;
  /** The tools the agent offered the model, with their required input keys. */
  tools: OfferedTool[];
  system: string;
  firstUser: string;
  stream: boolean;
  model: string;
}

export function anthropicRequestShape(body: Record<string, unknown>): RequestShape {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const firstUser = messages.find((m) => isRecord(m) && m.role === "user");
  return {
    hasTools: Array.isArray(body.tools) && body.tools.length > 0,
    tools: offeredTools(body.tools, (t) => [t.name, t.input_schema]),
    system: contentText(body.system),
    firstUser: isRecord(firstUser) ? contentText(firstUser.content) : "",
    stream: body.stream === true,
    model: typeof body.model === "string" ? body.model : "",
  };
}

/** Tool names and required keys from a request's tool list; `pick` returns [name, JSON schema] for one entry. */
export function offeredTools(tools: unknown, pick: (t: Record<string, unknown>) => [unknown, unknown]): OfferedTool[] {
  if (!Array.isArray(tools)) return [];
  return tools.filter(isRecord).flatMap((t) => {
    const [name, schema] = pick(t);
    if (typeof name !== "string") return [];
    const req = isRecord(schema) && Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : [];
    return [{ name, required: req }];
  });
}
