import type { ModelSpec, Provider } from "../gateway/index.ts";

/** Where the agent inside the VM reaches the model: the gateway's URL and this run's token (never a provider key). */
export interface GatewayEndpoint {
  url: string;
  token: string;
  provider: Provider;
  model: string;
}

export interface AgentConfigFile {
  /** Relative to the guest HOME, e.g. ".pi/agent/models.json". */
  path: string;
  content: string;
}

/**
 * How a session continues in the next heartbeat (a new process): `native`, the agent loads its own session;
 * `agentos-fallback`, agentOS restores the session from its event log and hands the agent a transcript preamble;
 * `transcript-replay`, the agent gets a new agentOS session each heartbeat and our own transcript as context.
 */
export const RESUME_MODES = ["native", "agentos-fallback", "transcript-replay"] as const;
export type ResumeMode = (typeof RESUME_MODES)[number];

export interface SetupContext {
  endpoint: GatewayEndpoint;
  /** Paperclip's instructions for this run (src/agents/instructions.ts). */
  instructions: string;
}

/** What one heartbeat hands the agent. */
export interface AgentSetup {
  /** Written under the guest HOME before the session opens; rewritten every heartbeat. */
  files: AgentConfigFile[];
  /**
   * Session variables on top of the plan's guest env, for agents configured by environment. agentOS stores a
   * session's env in plaintext and replays it on resume, so the heartbeat writes it in before a resume and scrubs
   * it after every run (src/agents/agentos-session.ts): a token here lives only as long as its run.
   */
  env: Record<string, string>;
  /** agentOS's sessions.open additionalInstructions (read when the session opens). */
  additionalInstructions?: string;
  /** Put before this heartbeat's prompt, for an agent that has no other way to receive Paperclip's instructions. */
  promptPrefix?: string;
}

/**
 * How the worker prepares a VM for this agent before any run is known (its spare VMs, src/worker/spares.ts): booted
 * with the run's policy, its first shell run, and then either
 * - `ahead`: the agent configured and its session opened too. What a run brings (its env, Paperclip's instructions)
 *   then has to reach the running agent another way: files under HOME that the agent reads when its turn starts.
 * - `at-run`: the session opened at request time as on a VM booted for the run (the run's config, env and
 *   instructions as ever), for an agent that cannot take a run's env once its process runs.
 */
export type SpareSetup =
  | {
      readonly session: "ahead";
      /** Written under HOME before the session opens: the gateway endpoint (the spare's own token) and the run file's reader. */
      files(endpoint: GatewayEndpoint): AgentConfigFile[];
      /** Session variables the session opened ahead needs besides HOME (an agent configured by env: the spare's token). */
      env?(endpoint: GatewayEndpoint): Record<string, string>;
      /**
       * This run's file, under HOME in a directory of its own (the spare mounts that directory, and the file appears
       * in it when a run takes the spare); `endpoint` is the run's gateway, the spare's URL and token.
       */
      runFile(run: { env: Record<string, string>; instructions: string; endpoint: GatewayEndpoint }): AgentConfigFile;
      /**
       * Workspace paths (relative) the agent reads only when its session opens (its project config): a session opened
       * ahead, on a stand-in workspace, never saw them, so a run whose workspace has one takes no VM opened ahead.
       */
      readonly sessionOpenReads?: readonly string[];
      /**
       * A directory under HOME where the agent, once started, writes a file of its own, for an agent whose session
       * open returns before it has started (agentOS only spawns it): the VM counts as ready once a file there is new
       * or rewritten, so a run that takes it does not wait for the rest of the agent's start.
       */
      readonly startedDir?: string;
    }
  | { readonly session: "at-run" };

/** Where an agent's ACP events differ from the common reading in src/heartbeat/acp.ts. */
export interface AcpQuirks {
  /** Our tool name for a tool event, where the agent's title is not it (default: title, then kind). */
  toolName?(e: AcpToolEvent): string | undefined;
  /** The tool call's input is complete in this event although its status is still `pending`. */
  inputFinal?(e: AcpToolEvent): boolean;
}

/** An ACP tool event (`tool_call` / `tool_call_update`) as agentOS delivers it. */
export interface AcpToolEvent {
  type: "tool_call" | "tool_call_update";
  toolCallId?: string;
  title?: string;
  kind?: string;
  status?: string;
  rawInput?: unknown;
  rawOutput?: unknown;
  content?: unknown;
}

/**
 * An agentOS package this project builds: a package directory (agentos-package.json, package.json with its `bin`,
 * the files), written into the cache dir on first use, so it travels inside the compiled binary as source text.
 */
export interface LocalPackage {
  name: string;
  version: string;
  /** Relative path → content; `bin` entries are made executable. */
  files: Record<string, string>;
  bin: Record<string, string>;
  /**
   * Files that differ on a sidecar without the embedded one's fixes of agentOS (run from source, or a user's
   * AGENTOS_SIDECAR_BIN: src/runtime/sidecar-patch.ts), where what the package does would stall the sidecar.
   */
  unpatchedSidecarFiles?: Record<string, string>;
}

/**
 * What "being Pi" (or OpenCode, Claude Code, Codex) means to paperclip-aos. One file per agent in src/agents; the
 * heartbeat only ever talks to this interface.
 */
export interface AgentDriver {
  /** The id on the command line, in run requests and in sessionParams. */
  readonly id: string;
  readonly title: string;
  /**
   * A directory outside HOME that every VM of this agent has before its session opens: read-only, held in the host
   * process and mounted through agentOS's js_bridge (the guest cannot change it), e.g. Claude Code's managed settings.
   */
  readonly guestDir?: { readonly path: string; readonly files: Readonly<Record<string, string>> };
  /** The agentOS software packages it needs (`@agentos-software/<name>`), embedded in the compiled binary. */
  readonly packages: readonly string[];
  /** Packages of our own it needs besides (e.g. Codex's ACP bridge). */
  readonly localPackages?: readonly LocalPackage[];
  /** agentOS's agent id (sessions.open's `agent`). */
  readonly acpAgent: string;
  readonly resume: ResumeMode;
  /** Model providers it can talk to through the gateway (the scripted model answers in the agent's own dialect). */
  readonly providers: readonly Exclude<Provider, "scripted">[];
  /** Why it cannot use this model beyond the provider (or undefined). Checked before anything boots. */
  modelProblem?(spec: ModelSpec): { message: string; hint: string } | undefined;
  setup(ctx: SetupContext): AgentSetup;
  /** How a session opened ahead of its run (the worker's spare VMs) is configured; absent: no spares for this agent. */
  readonly spare?: SpareSetup;
  readonly acp?: AcpQuirks;
  /** The agent's own CLI on the host, as Paperclip's *_local adapter runs it: the baseline of eval and the bench. */
  readonly hostCli?: HostCli;
}

/**
 * How the agent's CLI runs one heartbeat on the host against a gateway (src/eval/host-baseline.ts runs it). The
 * executable is `bin` on PATH, else `nodeModulesPath` in a source checkout's node_modules (a devDependency).
 */
export interface HostCli {
  /** How reports name it. */
  readonly command: string;
  readonly bin: string;
  readonly nodeModulesPath: string;
  args(o: { resume: boolean; prompt: string; home: string }): string[];
  env(o: { home: string; gw: GatewayEndpoint }): Record<string, string>;
  /** Config files under HOME that point it at the gateway (the same writers as in the VM where it reads the same files). */
  files?(gw: GatewayEndpoint): AgentConfigFile[];
}
