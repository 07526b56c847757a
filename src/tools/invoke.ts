import * as v from "valibot";
import { errorMessage, isAosError } from "../errors.ts";
import { errorInfo, inputError, toolError } from "./errors.ts";
import type { ToolRegistry } from "./registry.ts";
import type { AnyTool, ToolCallRecord, ToolContext } from "./types.ts";

export interface InvokeHooks {
  via?: ToolCallRecord["via"];
  callId?: string;
  /** Called once per call, after it finished or failed (also for invalid input). */
  onCall?: (record: ToolCallRecord) => void;
}

/** Validate raw input against the tool's schema: nothing on the host happens before this passes. */
function parseToolInput(tool: AnyTool, raw: unknown): unknown {
  const r = v.safeParse(tool.input, raw ?? {});
  if (!r.success) throw inputError(tool.name, r.issues);
  return r.output;
}

let calls = 0;
export function nextCallId(): string {
  return `tool-${process.pid}-${++calls}`;
}

/**
 * One call, the same for the host CLI and for the agent in the VM: look the tool up, validate the input, run it,
 * check the output against its schema (a mismatch is our bug, not the caller's), and report the call.
 */
export async function invokeTool(registry: ToolRegistry, name: string, raw: unknown, ctx: ToolContext, hooks: InvokeHooks = {}): Promise<unknown> {
  const started = performance.now();
  const call = { via: hooks.via ?? "host", callId: hooks.callId ?? nextCallId() } as const;
  const record = (r: Partial<ToolCallRecord>) =>
    hooks.onCall?.({ ...call, name, input: raw, durationMs: Math.round(performance.now() - started), ...r });
  try {
    const tool = registry.require(name);
    const input = parseToolInput(tool, raw);
    let output: unknown;
    try {
      output = await tool.execute(input, ctx, call);
    } catch (e) {
      throw isAosError(e) ? e : toolError("tool_failed", `${name} failed: ${errorMessage(e)}`, undefined, e);
    }
    const checked = v.safeParse(tool.output, output);
    if (!checked.success) {
      const path = v.getDotPath(checked.issues[0]) ?? "";
      throw toolError("invalid_output", `${name} returned output that does not match its schema at '${path}': ${checked.issues[0].message}`, "this is a bug in paperclip-aos; please report it");
    }
    record({ output: checked.output });
    return checked.output;
  } catch (e) {
    record({ error: errorInfo(e) });
    throw e;
  }
}
