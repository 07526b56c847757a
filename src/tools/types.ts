import type * as v from "valibot";
import type { VmServices } from "./vm-services.ts";

export type AnySchema = v.GenericSchema<any, any>;

/**
 * Everything a tool may touch. Paths are host paths, already resolved (realpath): a tool confines itself to
 * `workspaceDir` and `stateDir` and never looks anywhere else.
 */
export interface ToolContext {
  /** The workspace on the host (mounted at /workspace in the VM). */
  workspaceDir: string;
  stateDir: string;
  /** Set during `run` (and by `tool invoke --run-id`): selects the run's baseline and artifact dir. */
  runId?: string;
  /** Where artifacts.publish copies files: <stateDir>/runs/<runId>/artifacts, or <stateDir>/artifacts without a run. */
  artifactsDir: string;
  /** The live VM's listeners and HTTP access, fed by the runtime while a VM is up; absent on the host. */
  vm?: VmServices;
  /** Ports preview.status may probe; undefined means any loopback port (the host CLI). */
  previewPorts?: number[];
  /**
   * The agent's fs policy for reads a tool makes on its behalf (set when the VM calls; absent for the host CLI, which
   * acts for a person): asked with guest paths (/workspace/...), mandatory denies included. See fs-policy.ts.
   */
  readPolicy?: ReadPolicy;
  /**
   * Bytes the VM's calls may still add to the host's stores (artifacts.publish); set for the VM's calls (one context
   * a VM), absent for the host CLI, which acts for a person. Without it an agent could publish one file again and
   * again, changed a byte at a time, a copy each.
   */
  storeAllowance?: { left: number };
}

/** The caller's read permission, the same decision as the kernel's (caps' evaluate). */
export interface ReadPolicy {
  decide(guestPath: string): { allowed: boolean; reason: string };
  /** Told about each refused read (run turns it into a `permission` event). */
  onDenied?(denial: { tool: string; path: string; reason: string }): void;
}

export interface ToolExample<I> {
  description: string;
  input: I;
}

/** One typed tool: a valibot input and output schema and an execute function that runs on the host. */
export interface ToolDef<I extends AnySchema = AnySchema, O extends AnySchema = AnySchema> {
  /** Dotted lower-case words, e.g. `git.status`; the host function is `agentos-paperclip git-status`. */
  name: string;
  description: string;
  input: I;
  output: O;
  examples?: ToolExample<v.InferInput<I>>[];
  /** Host-function timeout inside the VM (agentOS default is 30 s). */
  timeoutMs?: number;
  execute(input: v.InferOutput<I>, ctx: ToolContext, call: ToolCallInfo): Promise<v.InferInput<O>>;
}

/** Who is calling: the host CLI (a person or a script) or the agent inside the VM through a host function. */
export interface ToolCallInfo {
  via: "host" | "vm";
  callId: string;
}

// Parameter types are contravariant, so a registry of mixed tools stores them with `any` input and output.
export type AnyTool = ToolDef<any, any>;

export function defineTool<I extends AnySchema, O extends AnySchema>(tool: ToolDef<I, O>): ToolDef<I, O> {
  return tool;
}

/** One finished call, for `run`'s tool_call/tool_result events. */
export interface ToolCallRecord {
  callId: string;
  name: string;
  input: unknown;
  output?: unknown;
  error?: ToolErrorInfo;
  durationMs: number;
  /** Where the call came from: the host CLI or the agent in the VM (host function). */
  via: "host" | "vm";
}

export interface ToolErrorInfo {
  code: string;
  message: string;
  hint?: string;
  /** For invalid input: the dotted path of the offending field ("" for the whole input). */
  path?: string;
}
