import type { AgentOs, HostFunctionCollections } from "@rivet-dev/agentos-core";
import { createToolContext } from "./context.ts";
import { writeAllowanceBytes } from "../runtime/limits.ts";
import { toHostFunctions, type GateDecision, type ToolDenial } from "./host-functions.ts";
import { guestCommand } from "./names.ts";
import { withHostToolPermissions } from "./permissions.ts";
import type { ToolRegistry } from "./registry.ts";
import { builtinRegistry } from "./builtin/index.ts";
import type { ToolCallRecord, ToolContext } from "./types.ts";
import { vmServicesFor, type VmListener } from "./vm-services.ts";
import { dropBaseline, takeBaseline, type BaselineRecord } from "./baseline.ts";

export interface HostToolsOptions {
  /** Default: the built-in tools. */
  registry?: ToolRegistry;
  workspaceDir: string;
  stateDir?: string;
  runId?: string;
  /** The policy's verdict for one tool name (caps' evaluator for kind "tool"); asked once per tool and again on every call. */
  decide: (toolName: string) => GateDecision;
  /**
   * The agent's fs.read verdict for a guest path (caps' evaluate, mandatory denies included): every workspace file a
   * tool reads for the agent is decided with it (fs-policy.ts). Refusals reach onDenied as capability fs.read.
   */
  decideRead?: (guestPath: string) => GateDecision;
  onCall?: (record: ToolCallRecord) => void;
  onDenied?: (denial: ToolDenial) => void;
  /** Ports the policy lets the agent listen on: preview.status may probe only these; services.list probes them first. Unset: any port. */
  listenPorts?: number[];
  /** Record the workspace now as the run's start for workspace.diff (needs runId; `run` wants it, `exec` does not). */
  baseline?: boolean;
}

/** Everything a VM boot needs for tools, and what the runtime feeds back once the VM is up. */
export interface HostTools {
  ctx: ToolContext;
  /** For AgentOs.create / bootVm / execInVm `hostFunctions`: every tool, allowed or not, so a denied call is a clear permission error. */
  hostFunctions: HostFunctionCollections;
  /** The VM's permissions plus what the tools need to work (withHostToolPermissions): apply it to the boot's permissions. */
  permissions: typeof withHostToolPermissions;
  allowedTools: string[];
  /** name → the guest command line to tell the agent, e.g. `agentos-paperclip git-status --json '{}'`. */
  guestCommands: Record<string, string>;
  /** Give the tools the running VM (services.list, preview.status); call right after boot. */
  attachVm(vm: AgentOs): void;
  /** The VM's listeners now (empty before attachVm). */
  services(): Promise<VmListener[]>;
  /** The run-start baseline, when asked for. */
  baseline?: BaselineRecord;
  /** Drop the baseline, if one was taken (the run's artifacts stay): call when the run is over. */
  close(): Promise<void>;
}

export async function createHostTools(opts: HostToolsOptions): Promise<HostTools> {
  const ctx = await createToolContext({
    workspaceDir: opts.workspaceDir,
    stateDir: opts.stateDir,
    runId: opts.runId,
    previewPorts: opts.listenPorts,
  });
  if (opts.baseline && !opts.runId) throw new Error("createHostTools: a baseline needs a run id");
  const baseline = opts.baseline ? await takeBaseline({ workspaceDir: ctx.workspaceDir, stateDir: ctx.stateDir, runId: opts.runId! }) : undefined;
  ctx.storeAllowance = { left: writeAllowanceBytes() };
  if (opts.decideRead) {
    const decideRead = opts.decideRead;
    ctx.readPolicy = {
      decide: (path) => {
        const d = decideRead(path);
        return { allowed: d.allowed, reason: d.reason ?? (d.allowed ? "allowed" : "denied by the fs.read policy") };
      },
      onDenied: (d) => opts.onDenied?.({ capability: "fs.read", tool: d.tool, target: d.path, resource: `fs.read ${d.path}`, reason: d.reason, by: "host" }),
    };
  }
  const registry = opts.registry ?? builtinRegistry();
  const names = registry.names();
  const allowedTools = names.filter((n) => opts.decide(n).allowed);
  return {
    ctx,
    hostFunctions: await toHostFunctions(registry, ctx, { gate: opts.decide, onCall: opts.onCall, onDenied: opts.onDenied }),
    permissions: withHostToolPermissions,
    allowedTools,
    guestCommands: Object.fromEntries(names.map((n) => [n, `${guestCommand(n)} --json '{}'`])),
    attachVm(vm) {
      ctx.vm = vmServicesFor(vm, { candidatePorts: opts.listenPorts });
    },
    async services() {
      return ctx.vm ? ctx.vm.listeners() : [];
    },
    ...(baseline ? { baseline } : {}),
    async close() {
      if (baseline) await dropBaseline(ctx.stateDir, baseline.runId);
    },
  };
}
