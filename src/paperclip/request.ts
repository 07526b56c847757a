import type { AdapterExecutionContext } from "@paperclipai/adapter-utils";
import type * as ServerUtils from "@paperclipai/adapter-utils/server-utils";

/**
 * Paperclip's execution context → the JSON request `paperclip-aos run --input -` reads (src/heartbeat/request.ts).
 * Pure: the prompt helpers come in as an argument (the host server's own copy at run time, see host.ts), so the
 * prompt is assembled exactly the way Paperclip's local adapters assemble theirs.
 */
export type PromptHelpers = Pick<
  typeof ServerUtils,
  | "renderTemplate"
  | "joinPromptSections"
  | "renderPaperclipWakePrompt"
  | "selectPaperclipTaskMarkdown"
  | "isPaperclipRecoveryWakePayload"
  | "DEFAULT_PAPERCLIP_AGENT_PROMPT_TEMPLATE"
  | "DEFAULT_PAPERCLIP_CONVERSATION_PROMPT_TEMPLATE"
>;

export const ADAPTER_TYPE = "agentos_local";
export const AGENT_CHOICES = ["pi", "opencode", "claude", "codex"] as const;

/** What `run` reads; a subset of its RunRequestSchema (which rejects unknown keys, so only known ones are set). */
export interface AosRunRequest {
  protocol: "paperclip-aos/1";
  runId: string;
  agentId: string;
  agent?: string;
  taskKey?: string;
  cwd: string;
  prompt: string;
  /** null: start fresh (Paperclip reset the session). */
  session: Record<string, unknown> | null;
  model?: string;
  capabilities?: unknown;
  preset?: string;
  snapshot?: string;
  timeoutSec?: number;
  graceSec?: number;
  wakeReason?: string | null;
  wakeCommentId?: string | null;
  record?: string;
}

export interface BuiltRequest {
  request: AosRunRequest;
  /** Extra environment for the paperclip-aos process (the agent's config.env: state dir, provider keys). */
  env: Record<string, string>;
  /** adapterConfig.engineUrl: run the heartbeat on this Rivet engine (`run --engine URL`) instead of on this host. */
  engine?: string;
  notes: string[];
  promptMetrics: Record<string, number>;
}

export type ExecutionInput = Pick<AdapterExecutionContext, "runId" | "agent" | "runtime" | "config" | "context">;

const rec = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const text = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
const positive = (v: unknown): number | undefined => {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined;
};

/**
 * config.env names that would let an agent's config pick code the host runs outside the VM: Bun applies
 * BUN_OPTIONS (`--preload`) even in the compiled binary, the dynamic loader reads LD_*, Node NODE_OPTIONS (the host
 * CLIs), agentOS AGENTOS_SIDECAR_BIN (the sidecar binary). config.env is data Paperclip stores per agent and may let
 * agents edit through its API, so these are never passed on; the server's own environment is the operator's and is
 * inherited as it is (set them there).
 */
const HOST_CODE_ENV = /^(BUN_OPTIONS|BUN_BE_BUN|NODE_OPTIONS|LD_[A-Z0-9_]*|AGENTOS_SIDECAR_BIN)$/;

/** The names in config.env that configEnv leaves out (HOST_CODE_ENV), for a note or a check that says so. */
export function hostCodeEnvNames(config: Record<string, unknown>): string[] {
  return Object.keys(rec(config.env)).filter((k) => HOST_CODE_ENV.test(k));
}

/** config.env holds plain strings or `{type: "plain"|"secret", value}` bindings (resolved by the server). */
export function configEnv(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec(config.env))) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || HOST_CODE_ENV.test(k)) continue;
    if (typeof v === "string") out[k] = v;
    else if (typeof rec(v).value === "string") out[k] = rec(v).value as string;
  }
  return out;
}

/**
 * The environment paperclip-aos inherits from Paperclip's server: everything but the server's own settings and
 * secrets (its PAPERCLIP_* variables, e.g. the agent JWT secret, and its database and auth settings), which the run
 * has no use for. PAPERCLIP_AOS_* (our state and cache dirs) and provider keys set for the server stay.
 */
const SERVER_ONLY = /^(PAPERCLIP_(?!AOS_)|DATABASE_|BETTER_AUTH_|SERVE_UI$|PORT$)/;
export function inheritedEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !SERVER_ONLY.test(k)) out[k] = v;
  return out;
}

/**
 * The session to resume, by what Paperclip hands in: its stored sessionParams; on a keyless wake (no task) only the
 * legacy runtime.sessionId; on a handoff wake `{sessionId}` without cwd. Both ids absent means Paperclip reset the
 * session (clearSession, compaction rotation, a config change, forceFreshSession): null, which `run` treats as fresh.
 */
export function priorSession(runtime: ExecutionInput["runtime"]): Record<string, unknown> | null {
  const params = rec(runtime.sessionParams);
  const id = text(params.sessionId) ?? text(runtime.sessionId);
  if (!id) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) if (!k.startsWith("__paperclip") && v !== undefined) out[k] = v;
  out.sessionId = id;
  return out;
}

/** A capability policy in config: an object, or JSON text from the UI's textarea. */
export function configPolicy(config: Record<string, unknown>): { capabilities?: unknown; preset?: string; error?: string } {
  const preset = text(config.preset);
  const raw = config.capabilities ?? config.policy;
  if (raw === undefined || raw === null || raw === "") return { preset };
  if (typeof raw === "string") {
    const t = raw.trim();
    if (!t.startsWith("{")) return { preset: preset ?? t };
    try {
      return { capabilities: JSON.parse(t), preset };
    } catch (e) {
      return { preset, error: `adapterConfig.capabilities is not valid JSON: ${(e as Error).message}` };
    }
  }
  return { capabilities: raw, preset };
}

/** adapterConfig.engineUrl: an http(s) URL of a Rivet engine, or absent. */
export function configEngine(config: Record<string, unknown>): string | undefined {
  const raw = text(config.engineUrl);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`adapterConfig.engineUrl is not a URL: '${raw}' (for example http://127.0.0.1:6420)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`adapterConfig.engineUrl must be http:// or https://, got '${raw}'`);
  if (url.username || url.password) throw new Error("adapterConfig.engineUrl must not carry credentials");
  return raw.replace(/\/+$/, "");
}

/** The arguments of the paperclip-aos child: the request comes on stdin; the engine, when configured, in argv. */
export function runArgs(built: Pick<BuiltRequest, "engine">): string[] {
  return ["run", "--input", "-", ...(built.engine ? ["--engine", built.engine] : [])];
}

export function buildRequest(ctx: ExecutionInput, helpers: PromptHelpers, instructions?: string | null): BuiltRequest {
  const { config, context, runtime, agent, runId } = ctx;
  const notes: string[] = [];
  const workspace = rec(context.paperclipWorkspace);
  const session = priorSession(runtime);
  const cwd = text(workspace.cwd) ?? text(config.cwd) ?? text(session?.cwd);
  if (!cwd) throw new Error("no workspace: Paperclip gave no paperclipWorkspace.cwd and adapterConfig.cwd is not set");
  const resumed = session !== null;

  const conversation = context.conversationMode === true;
  const promptTemplate =
    text(config.promptTemplate) ?? (conversation ? helpers.DEFAULT_PAPERCLIP_CONVERSATION_PROMPT_TEMPLATE : helpers.DEFAULT_PAPERCLIP_AGENT_PROMPT_TEMPLATE);
  const data = { agentId: agent.id, companyId: agent.companyId, runId, company: { id: agent.companyId }, agent, run: { id: runId, source: "on_demand" }, context };
  const bootstrapTemplate = text(config.bootstrapPromptTemplate);
  const bootstrap = !resumed && bootstrapTemplate ? helpers.renderTemplate(bootstrapTemplate, data).trim() : "";
  const taskNote = conversation ? helpers.selectPaperclipTaskMarkdown(context, { resumedSession: resumed }) : "";
  const wake = helpers.renderPaperclipWakePrompt(context.paperclipWake, {
    conversationMode: conversation,
    resumedSession: resumed,
    suppressIssueDescription: taskNote.length > 0,
  });
  // A resumed session already holds the standing instructions: send only what changed (as Paperclip's own adapters do).
  const heartbeat = (resumed && wake) || helpers.isPaperclipRecoveryWakePayload(context.paperclipWake) ? "" : helpers.renderTemplate(promptTemplate, data);
  const handoff = text(context.paperclipSessionHandoffMarkdown) ?? "";
  const standing = !resumed && instructions ? instructions.trim() : "";
  let prompt = helpers.joinPromptSections([standing, bootstrap, wake, taskNote, handoff, heartbeat]);
  if (!prompt) prompt = helpers.renderTemplate(promptTemplate, data);

  const policy = configPolicy(config);
  if (policy.error) throw new Error(policy.error);
  const engine = configEngine(config);
  const agentKind = text(config.agent);
  const request: AosRunRequest = {
    protocol: "paperclip-aos/1",
    runId,
    agentId: agent.id,
    ...(agentKind ? { agent: agentKind } : {}),
    ...(text(runtime.taskKey) ? { taskKey: text(runtime.taskKey) } : {}),
    cwd,
    prompt,
    session,
    ...(text(config.model) ? { model: text(config.model) } : {}),
    ...(policy.capabilities !== undefined ? { capabilities: policy.capabilities } : {}),
    ...(policy.preset ? { preset: policy.preset } : {}),
    ...(text(config.snapshot) ? { snapshot: text(config.snapshot) } : {}),
    ...(positive(config.timeoutSec) ? { timeoutSec: positive(config.timeoutSec) } : {}),
    ...(positive(config.graceSec) ? { graceSec: positive(config.graceSec) } : {}),
    wakeReason: text(context.wakeReason) ?? null,
    wakeCommentId: text(context.wakeCommentId) ?? null,
    ...(text(config.record) ? { record: text(config.record) } : {}),
  };
  if (!text(workspace.cwd)) notes.push(`no Paperclip workspace for this run: using ${cwd}`);
  if (resumed) notes.push(`resuming session ${session!.sessionId as string}`);
  else notes.push("fresh session");
  if (engine) notes.push(`on the Rivet engine ${engine}`);
  const dropped = hostCodeEnvNames(config);
  if (dropped.length) notes.push(`adapter config env ${dropped.join(", ")} not passed on: it would choose code run on the host (set it in the Paperclip server's environment)`);
  return {
    request,
    env: configEnv(config),
    ...(engine ? { engine } : {}),
    notes,
    promptMetrics: {
      promptChars: prompt.length,
      instructionsChars: standing.length,
      bootstrapPromptChars: bootstrap.length,
      wakePromptChars: wake.length,
      taskContextChars: taskNote.length,
      sessionHandoffChars: handoff.length,
      heartbeatPromptChars: heartbeat.length,
    },
  };
}
