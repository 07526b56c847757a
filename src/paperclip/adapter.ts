import type { AdapterConfigSchema, AdapterModel, ServerAdapterModule } from "@paperclipai/adapter-utils";
import type { AdapterSessionManagement } from "@paperclipai/adapter-utils/session-compaction";
import { sessionCodec } from "./codec.ts";
import { testEnvironment } from "./environment.ts";
import { execute } from "./execute.ts";
import { ADAPTER_TYPE, AGENT_CHOICES } from "./request.ts";

/**
 * The agentos_local ServerAdapterModule. It runs inside Paperclip's Node server process, so this module and all it
 * imports use Node APIs only (no Bun, no valibot) and import nothing of @paperclipai/adapter-utils at run time.
 */
export interface AdapterOptions {
  /** How to start paperclip-aos: [absolute binary] or [bun, /abs/commands/cli.ts]. */
  command: string[];
}

export const PRESETS = ["workspace-write", "read-only", "networked", "none"] as const;

export const MODELS: AdapterModel[] = [
  { id: "anthropic/claude-sonnet-4-5", label: "Claude Sonnet 4.5 (ANTHROPIC_API_KEY)" },
  { id: "anthropic/claude-opus-4-5", label: "Claude Opus 4.5 (ANTHROPIC_API_KEY)" },
  { id: "anthropic/claude-haiku-4-5", label: "Claude Haiku 4.5 (ANTHROPIC_API_KEY)" },
  { id: "openai/gpt-5", label: "GPT-5 (OPENAI_API_KEY)" },
  { id: "openai/gpt-4.1", label: "GPT-4.1 (OPENAI_API_KEY)" },
  { id: "scripted:/path/to/script.json", label: "Scripted model (tests; bills nothing)" },
];

export function configSchema(): AdapterConfigSchema {
  return {
    fields: [
      {
        key: "agent",
        label: "Coding agent",
        type: "select",
        options: AGENT_CHOICES.map((a) => ({ label: a, value: a })),
        default: "pi",
        hint: "The agent that runs inside the agentOS VM",
        required: true,
      },
      {
        key: "model",
        label: "Model",
        type: "combobox",
        options: MODELS.map((m) => ({ label: m.label, value: m.id, group: m.id.split(/[/:]/)[0] })),
        default: "anthropic/claude-sonnet-4-5",
        hint: "provider/model (the key stays in the host-side gateway, never in the VM) or scripted:FILE",
        required: true,
      },
      {
        key: "preset",
        label: "Capability preset",
        type: "select",
        options: PRESETS.map((p) => ({ label: p, value: p })),
        default: "workspace-write",
        hint: "What the agent may do: read/write the workspace, network, processes. A policy below replaces it.",
      },
      {
        key: "capabilities",
        label: "Capability policy (JSON)",
        type: "textarea",
        hint: 'A paperclip-aos policy, e.g. {"version":1,"extends":"workspace-write","allow":{"network.fetch":["api.github.com"]}} (see `paperclip-aos caps schema`)',
      },
      { key: "snapshot", label: "Snapshot root", type: "text", hint: "Run on this snapshot (name or id, `paperclip-aos snapshot ls`) instead of the workspace" },
      { key: "timeoutSec", label: "Timeout (seconds)", type: "number", hint: "Stop the heartbeat after this long: the run ends timed_out" },
      {
        key: "engineUrl",
        label: "Rivet engine URL",
        type: "text",
        hint: "Run heartbeats on the workers of this Rivet engine (e.g. http://127.0.0.1:6420; `paperclip-aos engine start`, `paperclip-aos worker --engine URL`) instead of on the Paperclip host. Empty: on this host",
      },
    ],
  };
}

export const sessionManagement: AdapterSessionManagement = {
  supportsSessionResume: true,
  // The agent (Pi, OpenCode) manages its own context window inside the session.
  nativeContextManagement: "likely",
  defaultSessionCompaction: { enabled: true, maxSessionRuns: 200, maxRawInputTokens: 2_000_000, maxSessionAgeHours: 72 },
};

export const AGENT_CONFIGURATION_DOC = `# agentos_local

Runs a coding agent (pi, opencode, claude, codex) inside a Rivet agentOS VM through the \`paperclip-aos\` binary on the
Paperclip host. The workspace is mounted at /workspace; what the agent may touch is a capability policy, enforced by
agentOS; model keys stay on the host (a gateway outside the VM holds them). Sessions resume across heartbeats.

adapterConfig fields:
- agent: "pi" (default) | "opencode" | "claude" | "codex"
- model: "anthropic/claude-sonnet-4-5" (default), "openai/gpt-5", ... or "scripted:/abs/script.json" (tests; bills nothing)
- preset: "workspace-write" (default) | "read-only" | "networked" | "none"
- capabilities: a policy object (or its JSON text): {"version":1,"extends":"workspace-write","allow":{"network.fetch":["api.github.com"]}}
- snapshot: a snapshot root name or id to run on instead of the workspace
- timeoutSec: stop after this many seconds (the run ends timed_out)
- engineUrl: "http://127.0.0.1:6420": run each heartbeat on a worker of this Rivet engine (\`paperclip-aos run --engine URL\`;
  start it with \`paperclip-aos engine start\` and workers with \`paperclip-aos worker --engine URL\`); the session then lives in
  the engine's actor, so the next heartbeat may run on any worker. Empty (default): on the Paperclip host
- graceSec: after a cancel or timeout, seconds the run has to wind down (default 15)
- env: {"ANTHROPIC_API_KEY": ..., "PAPERCLIP_AOS_HOME": ...} for the paperclip-aos process (provider keys, state dir);
  names that choose code run on the host (BUN_OPTIONS, NODE_OPTIONS, LD_*, AGENTOS_SIDECAR_BIN) are not passed on
- promptTemplate, bootstrapPromptTemplate, instructionsFilePath: as for Paperclip's local adapters
- cwd: fallback workspace when Paperclip gives none

Example: {"agent":"pi","model":"anthropic/claude-sonnet-4-5","preset":"workspace-write","timeoutSec":900,
"env":{"ANTHROPIC_API_KEY":"..."}}
`;

export function createAgentosAdapter(opts: AdapterOptions): ServerAdapterModule {
  return {
    type: ADAPTER_TYPE,
    execute: (ctx) => execute(ctx, { command: opts.command }),
    testEnvironment: (ctx) => testEnvironment(ctx, opts.command),
    sessionCodec,
    sessionManagement,
    models: MODELS,
    getConfigSchema: configSchema,
    agentConfigurationDoc: AGENT_CONFIGURATION_DOC,
    supportsInstructionsBundle: true,
    instructionsPathKey: "instructionsFilePath",
  };
}
