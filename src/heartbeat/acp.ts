import type { EventSink } from "./events.ts";
import { findDenials } from "./denials.ts";
import type { AcpQuirks, AcpToolEvent } from "../agents/index.ts";

/**
 * Maps agentOS session events (ACP `session/update` payloads with the discriminator promoted to `type`) onto our
 * NDJSON kinds. Observed with Pi in 0.2.21: `tool_call` arrives first with a partial `rawInput` (streamed), then
 * `tool_call_update`s; the input is final once the status is `in_progress`, and the output arrives with `completed`
 * (or `failed`). Text streams as ephemeral `agent_message_chunk` deltas, then one durable chunk with the whole
 * message. We emit a delta per ephemeral chunk (`delta: true`) and the whole message once, so a consumer can use
 * either.
 */
interface ToolState {
  name: string;
  input: unknown;
  called: boolean;
  finished: boolean;
}


export class AcpMapper {
  private readonly tools = new Map<string, ToolState>();
  /** Tool results the model was sent for calls this run has not announced (yet): the history of earlier turns. */
  private readonly sentResults = new Map<string, string>();
  /** `toolUseId capability target` of each permission event emitted, so that two sources never report one twice. */
  private readonly denied = new Set<string>();
  /** The last whole assistant message: the run's summary. */
  lastAssistantText = "";

  /**
   * `quirks`: where the agent's events differ (its driver's AgentDriver.acp). `upstreamError(text)`: the readable
   * error when an assistant message is really a failed model call, else null.
   */
  constructor(
    private readonly sink: EventSink,
    private readonly opts: { quirks?: AcpQuirks; upstreamError?: (text: string) => string | null } = {},
  ) {}

  private get quirks(): AcpQuirks {
    return this.opts.quirks ?? {};
  }

  handle(raw: unknown): void {
    const e = raw as Record<string, any>;
    switch (e.type) {
      case "agent_message_chunk":
      case "agent_thought_chunk": {
        const text = textOf(e.content);
        if (!text) return;
        const type = e.type === "agent_message_chunk" ? "assistant" : "thinking";
        const failure = type === "assistant" ? this.opts.upstreamError?.(text) : null;
        if (failure) {
          if (e.durability !== "ephemeral") this.sink.emit({ type: "system", level: "error", code: "model_error", text: failure });
          return;
        }
        if (e.durability === "ephemeral") this.sink.emit({ type, text, delta: true });
        else {
          this.sink.emit({ type, text });
          if (type === "assistant") this.lastAssistantText = text;
        }
        return;
      }
      case "tool_call":
      case "tool_call_update":
        return this.tool(e);
      default:
        return; // user echo, plans, mode and config updates: nothing Paperclip shows
    }
  }

  private nameOf(e: Record<string, any>): string | undefined {
    return this.quirks.toolName?.(e as AcpToolEvent) ?? (e.title ? String(e.title) : undefined);
  }

  /**
   * A tool's output as the agent sent it to the model (the gateway's view): Claude Code and Codex refuse in there
   * ("EACCES: ... blocked by fs.read policy", "failed to redirect to /x: Permission denied") while their tool events
   * carry no output. Only calls of this run count; a result of an earlier turn waits for a call that never comes.
   */
  modelSawToolResult(id: string, text: string): void {
    if (this.tools.get(id)?.called) this.denials(id, text);
    else this.sentResults.set(id, text);
  }

  private denials(toolUseId: string, text: string): void {
    for (const d of findDenials(text)) {
      const key = `${toolUseId} ${d.capability} ${d.target}`;
      if (this.denied.has(key)) continue;
      this.denied.add(key);
      this.sink.emit({ type: "permission", decision: "deny", toolUseId, ...d });
    }
  }

  /** The agent's final message when its durable event never reached us. */
  finalMessage(text: string): void {
    if (this.opts.upstreamError?.(text)) return;
    this.sink.emit({ type: "assistant", text });
    this.lastAssistantText = text;
  }

  private tool(e: Record<string, any>): void {
    const id = String(e.toolCallId ?? "");
    if (!id) return;
    let t = this.tools.get(id);
    if (!t) {
      t = { name: this.nameOf(e) ?? String(e.kind ?? "tool"), input: e.rawInput ?? {}, called: false, finished: false };
      this.tools.set(id, t);
    }
    if (e.type === "tool_call" && !t.called) t.name = this.nameOf(e) ?? t.name;
    if (e.rawInput !== undefined) t.input = e.rawInput;
    const status = e.status as string | undefined;
    const done = status === "completed" || status === "failed";
    if (!t.called && (status === "in_progress" || done || this.quirks.inputFinal?.(e as AcpToolEvent))) {
      t.called = true;
      this.sink.emit({ type: "tool_call", toolUseId: id, name: t.name, input: t.input });
      const sent = this.sentResults.get(id);
      if (sent !== undefined) {
        this.sentResults.delete(id);
        this.denials(id, sent);
      }
    }
    if (done && !t.finished) {
      t.finished = true;
      const content = outputText(e);
      const isError = status === "failed" || e.rawOutput?.isError === true;
      this.sink.emit({ type: "tool_result", toolUseId: id, toolName: t.name, content, isError });
      this.denials(id, content);
    }
  }
}

/** The text of ACP content: a block, a list of blocks, or a wrapper holding either. */
export function textOf(content: unknown): string {
  if (!content) return "";
  if (Array.isArray(content)) return content.map(textOf).join("");
  const c = content as Record<string, any>;
  if (typeof c.text === "string") return c.text;
  if (c.content) return textOf(c.content);
  return "";
}

function outputText(e: Record<string, any>): string {
  const fromRaw = e.rawOutput?.content ? textOf(e.rawOutput.content) : typeof e.rawOutput === "string" ? e.rawOutput : "";
  return fromRaw || textOf(e.content);
}
