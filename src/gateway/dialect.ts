import type { TokenCounts } from "./prices.ts";
import { contentText, isRecord, type Reply } from "./reply.ts";

/**
 * What the server needs from an API dialect (anthropic.ts, openai.ts implement it), so that the scripted and the
 * forwarding paths are written once for both.
 */
export interface DialectCodec {
  /** The API's name, for messages. */
  label: string;
  /** The request path; the gateway also serves it without the /v1 prefix. */
  path: string;
  /** Prefixes of scripted message ids and tool-call ids, shaped like the real API's. */
  replyIdPrefix: string;
  toolIdPrefix: string;
  requestShape(body: Record<string, unknown>): RequestShape;
  /** The tool results a request carries: what the agent tells the model each of its tool calls returned. */
  toolResults(body: Record<string, unknown>): SentToolResult[];
  /** The dialect's error type name for an HTTP status. */
  errorType(status: number): string;
  /** An error body in the dialect's shape (`type` defaults to errorType(status)). */
  error(status: number, message: string, type?: string): object;
  json(r: Reply, created: number): object;
  /** The events of a streamed reply; `body` is the request (OpenAI sends a usage chunk only when asked). */
  sse(r: Reply, created: number, body: Record<string, unknown>): string[];
  meter(): ResponseMeter;
}

/** One tool result as the agent sent it to the model: the call's id (the model's tool-use id) and its text. */
export interface SentToolResult {
  id: string;
  text: string;
}

/** A tool result's content, a string or the dialect's list of text parts. */
export function resultText(content: unknown): string {
  return typeof content === "string" ? content : contentText(content);
}

export interface StreamError {
  type?: string;
  message: string;
}

/** Reads the usage (and an in-stream error) of a provider's answer: `event` per SSE data, `body` for a JSON response. */
export interface ResponseMeter {
  error: StreamError | null;
  event(data: unknown): void;
  body(data: unknown): void;
  usage(): TokenCounts;
}

export interface OfferedTool {
  name: string;
  required: string[];
  /** How a call to it is answered: a function call (JSON arguments), a custom tool call (free text, Responses only)
   *  or a built-in tool's own item (Responses' local_shell). */
  kind: "function" | "custom" | "builtin";
}

/** The dialect-neutral facts of a request that the gateway decides on. */
export interface RequestShape {
  hasTools: boolean;
  /** The tools the agent offered the model, with their required input keys. */
  tools: OfferedTool[];
  system: string;
  firstUser: string;
  stream: boolean;
  model: string;
}

/**
 * A request's shape from the parts the dialects share (tools, stream, model) and the ones each reads its own way:
 * `pick` returns [name, JSON schema] of one tool entry; `system` and `firstUser` are already text.
 */
export function requestShape(
  body: Record<string, unknown>,
  pick: (t: Record<string, unknown>) => [unknown, unknown],
  system: string,
  firstUser: string,
  kindOf: (t: Record<string, unknown>) => OfferedTool["kind"] = () => "function",
): RequestShape {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  return {
    hasTools: tools.length > 0,
    tools: tools.filter(isRecord).flatMap((t) => {
      const [name, schema] = pick(t);
      if (typeof name !== "string") return [];
      const required = isRecord(schema) && Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : [];
      return [{ name, required, kind: kindOf(t) }];
    }),
    system,
    firstUser,
    stream: body.stream === true,
    model: typeof body.model === "string" ? body.model : "",
  };
}
