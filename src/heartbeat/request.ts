import * as v from "valibot";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { SessionParamsSchema } from "../protocol/index.ts";
import { usageError } from "../errors.ts";
import { closest } from "../suggest.ts";
import { checkPromptSize, checkRecordPath } from "./input.ts";
import { AGENTS, DEFAULT_AGENT, type AgentId } from "../agents/index.ts";

/**
 * One heartbeat's input. Sources, each filling what the previous left empty: a JSON request (`--input -` or a file),
 * then flags, then Paperclip's environment (the env fallbacks Paperclip's adapters set; README.md, "run"). Unknown keys in the JSON are errors.
 */

/** Wake reasons after which Paperclip's own adapters start a fresh session (shouldResetTaskSessionForWake). */
export const FRESH_WAKE_REASONS = ["issue_assigned", "execution_review_requested", "execution_approval_requested", "execution_changes_requested"];

const PriorSessionSchema = v.looseObject({
  ...v.partial(v.object(SessionParamsSchema.entries)).entries,
  sessionId: v.pipe(v.string(), v.minLength(1, "sessionId must not be empty")),
});

export const RunRequestSchema = v.strictObject({
  protocol: v.optional(v.literal("paperclip-aos/1")),
  runId: v.optional(v.pipe(v.string(), v.minLength(1))),
  agent: v.optional(v.picklist(AGENTS, `agent must be one of ${AGENTS.join(", ")}`)),
  agentId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  taskKey: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(500))),
  cwd: v.optional(v.pipe(v.string(), v.minLength(1))),
  prompt: v.optional(v.string()),
  session: v.optional(v.nullable(PriorSessionSchema)),
  model: v.optional(v.pipe(v.string(), v.minLength(1))),
  capabilities: v.optional(v.nullable(v.unknown())),
  preset: v.optional(v.string()),
  snapshot: v.optional(v.nullable(v.string())),
  keepChanges: v.optional(v.string()),
  commitSnapshot: v.optional(v.string()),
  env: v.optional(v.record(v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names are letters, digits and _")), v.string())),
  timeoutSec: v.optional(v.pipe(v.number(), v.minValue(0.1, "timeoutSec must be positive"))),
  graceSec: v.optional(v.pipe(v.number(), v.minValue(0, "graceSec must not be negative"))),
  wakeReason: v.optional(v.nullable(v.string())),
  wakeCommentId: v.optional(v.nullable(v.string())),
  record: v.optional(v.string()),
});
export type RunRequestInput = v.InferOutput<typeof RunRequestSchema>;

export interface RunRequest {
  runId: string;
  agent: AgentId;
  agentId: string;
  taskKey: string;
  cwd: string;
  prompt: string;
  /** The previous session to resume; null: start fresh (Paperclip reset it); undefined: the one stored for the task. */
  session: v.InferOutput<typeof PriorSessionSchema> | null | undefined;
  model: string;
  capabilities: unknown;
  preset: string | undefined;
  snapshot: string | null;
  /** With a snapshot: export the run's changes to this directory / store them as a new snapshot. */
  keepChanges: string | undefined;
  commitSnapshot: string | undefined;
  env: Record<string, string>;
  timeoutSec: number | undefined;
  graceSec: number;
  wakeReason: string | null;
  record: string | undefined;
}

export const DEFAULT_MODEL = "anthropic/claude-sonnet-4-5";
export const DEFAULT_GRACE_SEC = 15;

/** Validate a JSON request; every problem names its field path. */
export function parseRunRequest(json: unknown, source: string): RunRequestInput {
  const r = v.safeParse(RunRequestSchema, json);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const path = v.getDotPath(issue) ?? "";
  let hint: string | undefined;
  if (issue.type === "strict_object" && typeof issue.input === "string") {
    // The offending key is the last path segment; suggest the closest known one.
    const key = String(issue.path?.[issue.path.length - 1]?.key ?? "");
    const near = closest(key, Object.keys(RunRequestSchema.entries));
    hint = near ? `did you mean '${near}'?` : `known fields: ${Object.keys(RunRequestSchema.entries).join(", ")}`;
    throw usageError(`${source}: unknown field '${path}'`, hint, "invalid_request");
  }
  throw usageError(`${source}: ${path ? `field '${path}': ` : ""}${issue.message}`, "see 'paperclip-aos run --help' for the request fields", "invalid_request");
}

export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw usageError(`${source} is not valid JSON: ${(e as Error).message}`, "pass one JSON object", "invalid_request");
  }
}

/** The workspace a run will use (flags, the request, PAPERCLIP_WORKSPACE_CWD, else cwdDefault): where its project config is looked up. */
export function requestCwd(fromJson: RunRequestInput | undefined, fromFlags: Partial<RunRequestInput>, env: NodeJS.ProcessEnv, cwdDefault: string): string {
  return resolve(fromFlags.cwd ?? fromJson?.cwd ?? env.PAPERCLIP_WORKSPACE_CWD ?? cwdDefault);
}

/** The defaults a config file may set (src/config): below flags, the request and Paperclip's environment. */
export type RunDefaults = Partial<Pick<RunRequestInput, "agent" | "model" | "timeoutSec" | "graceSec">>;

/**
 * Merge the sources into a complete request. Precedence, highest first: flags (a person typing one means it), the
 * request JSON, Paperclip's environment, the config files' defaults, the built-in defaults.
 */
export function buildRunRequest(
  fromJson: RunRequestInput | undefined,
  fromFlags: Partial<RunRequestInput>,
  env: NodeJS.ProcessEnv,
  cwdDefault: string,
  defaults: RunDefaults = {},
): RunRequest {
  const pick = <K extends keyof RunRequestInput>(k: K): RunRequestInput[K] | undefined => (fromFlags[k] !== undefined ? fromFlags[k] : fromJson?.[k]);
  const prompt = pick("prompt") ?? env.PAPERCLIP_PROMPT;
  if (prompt === undefined || prompt.trim() === "") {
    throw usageError("no prompt given", "pass --prompt TEXT, a request with a 'prompt' field (--input FILE|-), or --demo", "missing_prompt");
  }
  checkPromptSize(prompt);
  const record = pick("record");
  if (record !== undefined) checkRecordPath(record);
  const session = pick("session");
  return {
    runId: pick("runId") ?? env.PAPERCLIP_RUN_ID ?? randomUUID(),
    agent: pick("agent") ?? defaults.agent ?? DEFAULT_AGENT,
    agentId: pick("agentId") ?? env.PAPERCLIP_AGENT_ID ?? "local",
    taskKey: pick("taskKey") ?? env.PAPERCLIP_TASK_ID ?? "__heartbeat__",
    cwd: requestCwd(fromJson, fromFlags, env, cwdDefault),
    prompt,
    session,
    model: pick("model") ?? env.PAPERCLIP_AOS_MODEL ?? defaults.model ?? DEFAULT_MODEL,
    capabilities: pick("capabilities") ?? null,
    preset: pick("preset"),
    snapshot: pick("snapshot") ?? null,
    keepChanges: pick("keepChanges"),
    commitSnapshot: pick("commitSnapshot"),
    env: pick("env") ?? {},
    timeoutSec: pick("timeoutSec") ?? defaults.timeoutSec,
    graceSec: pick("graceSec") ?? defaults.graceSec ?? DEFAULT_GRACE_SEC,
    wakeReason: pick("wakeReason") ?? env.PAPERCLIP_WAKE_REASON ?? null,
    record,
  };
}
