/**
 * Paperclip's `./ui-parser` for agentos_local: one NDJSON line of `paperclip-aos run` → transcript entries.
 *
 * Built to CommonJS (`module.exports = { parseStdoutLine }`, scripts/build.ts): Paperclip's UI evaluates the served
 * source with `new Function` inside a locked-down Web Worker, so it must import nothing, keep no state, never throw
 * and stay small. Type imports are erased by the build. What the operator sees:
 * - the assistant's answer once: streamed deltas are skipped, only the whole message is shown;
 * - each tool call with its input, then its result;
 * - a failed run's readable error (never a raw upstream body, never a raw `{"type":...}` line);
 * - the run's usage and (zero, for the scripted model) cost on the final result row.
 */
import type { TranscriptEntry } from "@paperclipai/adapter-utils";

type Line = Record<string, unknown>;

const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

export function parseStdoutLine(line: string, ts: string): TranscriptEntry[] {
  try {
    return parse(line, ts);
  } catch {
    return [];
  }
}

function parse(line: string, ts: string): TranscriptEntry[] {
  const text = line.trim();
  if (!text) return [];
  if (text[0] !== "{") return [{ kind: "stdout", ts, text }];
  let e: Line;
  try {
    e = JSON.parse(text) as Line;
  } catch {
    return [{ kind: "stdout", ts, text }];
  }
  if (!e || typeof e !== "object") return [];
  const at = str(e.ts, ts);
  switch (e.type) {
    case "init":
      return [
        { kind: "init", ts: at, model: str(e.model), sessionId: str(e.sessionId) },
        {
          kind: "system",
          ts: at,
          text: `agentOS · ${str(e.agent, "agent")} · ${e.resumed ? `resumed session (${str(e.resumeMode)})` : "fresh session"} · ${str(e.cwd)}`,
        },
      ];
    case "assistant":
      return e.delta ? [] : [{ kind: "assistant", ts: at, text: str(e.text) }];
    case "thinking":
      return e.delta ? [] : [{ kind: "thinking", ts: at, text: str(e.text) }];
    case "tool_call":
      return [{ kind: "tool_call", ts: at, name: str(e.name, "tool"), input: e.input ?? {}, toolUseId: str(e.toolUseId) }];
    case "tool_result":
      return [
        { kind: "tool_result", ts: at, toolUseId: str(e.toolUseId), toolName: str(e.toolName), content: str(e.content), isError: e.isError === true },
      ];
    case "permission": {
      const reason = str(e.reason);
      return [{ kind: "system", ts: at, text: `permission ${str(e.decision)}: ${str(e.capability)} ${str(e.target)}${reason ? ` (${reason})` : ""}` }];
    }
    case "service":
      return [{ kind: "system", ts: at, text: `service ${str(e.serviceName)} ${str(e.status)}${e.url ? ` at ${str(e.url)}` : e.port ? ` on port ${num(e.port)}` : ""}` }];
    case "system":
      return [{ kind: "system", ts: at, text: `${e.level === "warn" || e.level === "error" ? `${e.level}: ` : ""}${str(e.text)}` }];
    case "workspace_change":
      return [workspaceChange(e, at)];
    case "usage":
      return []; // running totals; the result row carries the final ones
    case "result":
      return result(e, at);
    default:
      return []; // a newer event kind this parser does not know: shown nowhere rather than as raw JSON
  }
}

function workspaceChange(e: Line, ts: string): TranscriptEntry {
  const files = (Array.isArray(e.files) ? e.files : []).map((f: Line) => ({
    path: str(f.path),
    operation: (["create", "modify", "delete", "rename", "mode_change"].includes(str(f.operation)) ? f.operation : "modify") as "modify",
    previousPath: typeof f.previousPath === "string" ? f.previousPath : null,
    additions: typeof f.additions === "number" ? f.additions : null,
    deletions: typeof f.deletions === "number" ? f.deletions : null,
    binary: f.binary === true,
    diff: typeof f.diff === "string" ? f.diff : null,
  }));
  return {
    kind: "workspace_change",
    ts,
    changeSetId: str(e.changeSetId, "workspace"),
    revision: num(e.revision) || 1,
    source: "runner_verified",
    complete: e.complete !== false,
    files,
    totals: { files: files.length, additions: null, deletions: null },
    patchArtifactRef: null,
  };
}

function result(e: Line, ts: string): TranscriptEntry[] {
  const usage = (e.usage && typeof e.usage === "object" ? e.usage : {}) as Line;
  const isError = e.isError === true;
  const error = str(e.errorMessage);
  // On success the answer was already shown as the assistant's message: the result row carries usage only.
  const text = isError ? error || `run ended: ${str(e.subtype, "error")}` : "";
  const entries: TranscriptEntry[] = [
    {
      kind: "result",
      ts,
      text,
      inputTokens: num(usage.inputTokens),
      outputTokens: num(usage.outputTokens),
      cachedTokens: num(usage.cachedInputTokens),
      costUsd: num(e.costUsd),
      subtype: str(e.subtype, isError ? "error" : "success"),
      isError,
      errors: isError && error ? [error] : [],
    },
  ];
  if (isError) {
    entries.push({
      kind: "run_terminal",
      ts,
      turnState: e.subtype === "cancelled" ? "cancelled" : e.subtype === "timeout" ? "interrupted" : "failed",
      runState: e.subtype === "cancelled" ? "cancelled" : "failed",
      disposition: "blocked",
      stopReason: str(e.errorCode, str(e.subtype)),
    });
  }
  return entries;
}
