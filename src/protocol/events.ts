import * as v from "valibot";
import { AGENTS, RESUME_MODES } from "../agents/index.ts";

/**
 * The NDJSON `run` writes on stdout, one event per line, each with `type`, `ts` (ISO-8601) and `seq` (1, 2, ...).
 * The kinds mirror Paperclip's transcript kinds so its UI parser stays trivial; the last line is always one `result`
 * whose fields map 1:1 onto Paperclip's AdapterExecutionResult. This is a public interface: change it additively.
 */
export const PROTOCOL = "paperclip-aos/1";

const base = { ts: v.string(), seq: v.number() };

export const UsageSchema = v.strictObject({
  inputTokens: v.number(),
  outputTokens: v.number(),
  cachedInputTokens: v.number(),
});

export const SessionParamsSchema = v.strictObject({
  sessionId: v.string(),
  cwd: v.string(),
  agent: v.picklist(AGENTS),
  agentId: v.string(),
  taskKey: v.string(),
  runtime: v.literal("agentos"),
  snapshot: v.optional(v.nullable(v.string())),
  workspaceId: v.optional(v.nullable(v.string())),
});
export type SessionParams = v.InferOutput<typeof SessionParamsSchema>;

export const ResumeModeSchema = v.picklist(["fresh", ...RESUME_MODES]);
export type ResumeMode = v.InferOutput<typeof ResumeModeSchema>;

export const RuntimeServiceSchema = v.strictObject({
  serviceName: v.string(),
  status: v.picklist(["starting", "running", "stopped", "failed"]),
  lifecycle: v.picklist(["shared", "ephemeral"]),
  scopeType: v.literal("run"),
  scopeId: v.string(),
  port: v.optional(v.number()),
  url: v.optional(v.string()),
  command: v.optional(v.string()),
  healthStatus: v.optional(v.picklist(["unknown", "healthy", "unhealthy"])),
});
export type RuntimeService = v.InferOutput<typeof RuntimeServiceSchema>;

export const InitEventSchema = v.strictObject({
  ...base,
  type: v.literal("init"),
  protocol: v.literal(PROTOCOL),
  version: v.string(),
  runId: v.string(),
  runtime: v.literal("agentos"),
  agent: v.picklist(AGENTS),
  sessionId: v.string(),
  resumed: v.boolean(),
  resumeMode: ResumeModeSchema,
  model: v.string(),
  provider: v.string(),
  cwd: v.string(),
  snapshot: v.nullable(v.string()),
  capabilities: v.unknown(),
});
export const AssistantEventSchema = v.strictObject({ ...base, type: v.literal("assistant"), text: v.string(), delta: v.optional(v.boolean()) });
export const ThinkingEventSchema = v.strictObject({ ...base, type: v.literal("thinking"), text: v.string(), delta: v.optional(v.boolean()) });
export const ToolCallEventSchema = v.strictObject({ ...base, type: v.literal("tool_call"), toolUseId: v.string(), name: v.string(), input: v.unknown() });
export const ToolResultEventSchema = v.strictObject({
  ...base,
  type: v.literal("tool_result"),
  toolUseId: v.string(),
  toolName: v.string(),
  content: v.string(),
  isError: v.boolean(),
});
export const PermissionEventSchema = v.strictObject({
  ...base,
  type: v.literal("permission"),
  capability: v.string(),
  target: v.string(),
  decision: v.picklist(["allow", "deny"]),
  reason: v.optional(v.string()),
  toolUseId: v.optional(v.string()),
});
export const UsageEventSchema = v.strictObject({
  ...base,
  type: v.literal("usage"),
  ...UsageSchema.entries,
  costUsd: v.number(),
  basis: v.literal("per_run"),
});
export const ServiceEventSchema = v.strictObject({ ...base, type: v.literal("service"), ...RuntimeServiceSchema.entries });
export const SystemEventSchema = v.strictObject({
  ...base,
  type: v.literal("system"),
  text: v.string(),
  level: v.optional(v.picklist(["info", "warn", "error"])),
  code: v.optional(v.string()),
});

/** What a snapshot run changed in its tree (Paperclip's `workspace_change` transcript kind); directories are left out. */
export const WorkspaceChangeEventSchema = v.strictObject({
  ...base,
  type: v.literal("workspace_change"),
  changeSetId: v.string(),
  files: v.array(v.strictObject({ path: v.string(), operation: v.picklist(["create", "modify", "delete"]) })),
  /** False when the list was cut (MAX_CHANGED_FILES); the totals in `system` still count them all. */
  complete: v.boolean(),
});

export const ResultSubtypeSchema = v.picklist(["success", "error", "timeout", "cancelled", "config_invalid"]);
export const ResultEventSchema = v.strictObject({
  ...base,
  type: v.literal("result"),
  subtype: ResultSubtypeSchema,
  isError: v.boolean(),
  exitCode: v.number(),
  signal: v.nullable(v.string()),
  timedOut: v.boolean(),
  errorCode: v.nullable(v.string()),
  errorMessage: v.nullable(v.string()),
  /** Paperclip's vocabulary: transient_upstream and provider_quota get a retry, model_refusal does not; absent otherwise. */
  errorFamily: v.optional(v.nullable(v.picklist(["transient_upstream", "provider_quota", "model_refusal"]))),
  /** When to retry (ISO time), from the provider's Retry-After. */
  retryNotBefore: v.optional(v.nullable(v.string())),
  usage: UsageSchema,
  usageBasis: v.literal("per_run"),
  /** What was billed: 0 for the scripted model. */
  costUsd: v.number(),
  /** The scripted model only: what the tokens would have cost (costUsd stays 0). */
  notionalCostUsd: v.optional(v.number()),
  provider: v.string(),
  biller: v.string(),
  model: v.string(),
  billingType: v.string(),
  sessionParams: v.nullable(SessionParamsSchema),
  sessionDisplayId: v.nullable(v.string()),
  clearSession: v.boolean(),
  summary: v.string(),
  runtimeServices: v.array(RuntimeServiceSchema),
  durationMs: v.number(),
});

export const RunEventSchema = v.variant("type", [
  InitEventSchema,
  AssistantEventSchema,
  ThinkingEventSchema,
  ToolCallEventSchema,
  ToolResultEventSchema,
  PermissionEventSchema,
  UsageEventSchema,
  ServiceEventSchema,
  SystemEventSchema,
  WorkspaceChangeEventSchema,
  ResultEventSchema,
]);
export type RunEvent = v.InferOutput<typeof RunEventSchema>;
export type ResultEvent = v.InferOutput<typeof ResultEventSchema>;
/** An event before the sink stamps `ts` and `seq`. */
export type EventInput<T extends RunEvent = RunEvent> = T extends RunEvent ? Omit<T, "ts" | "seq"> : never;
