import type { AgentConfigFile, AgentId } from "../agents/index.ts";
import type { Gateway, GatewayOptions } from "../gateway/index.ts";
import type { BootOptions, VmHandle } from "../runtime/index.ts";
import type { SessionSlot } from "./sessions.ts";

/**
 * What a long-lived worker (src/worker) lends a heartbeat: gateways on its one long-lived port, and VMs prepared ahead
 * (spares: booted, first shell run, the agent configured, a session open). Kept abstract here so a heartbeat works
 * without it (in-process `run`).
 */
export interface WarmStart {
  /** The loopback port every gateway of the worker answers on: the one the policy opens for the agent. */
  gatewayPort: number;
  /** This run's gateway on that port: with a spare's token when the run took a spare, else a fresh one. */
  openGateway(opts: GatewayOptions): Promise<Gateway>;
  /** A spare VM booted exactly as `need.boot` asks (permissions, loopback ports, host tools), or undefined. */
  takeSpare(need: SpareNeed): Promise<SpareVm | undefined>;
  /**
   * The session's next VM, prepared after its last heartbeat (src/worker/resumable.ts), claimed together with the
   * session's lock; undefined when there is none (the run locks the session itself).
   */
  claimSession?(slot: SessionSlot, runId: string, pids: number[]): Promise<ClaimedSession | undefined>;
  /** The run is over and its session unlocked: the worker may prepare the session's next VM. */
  sessionDone?(next: NextSession): void;
  /**
   * Cleanup that need not delay the run's end (its client waits for it): the worker finishes it in the background,
   * and before it stops.
   */
  later?(cleanup: Promise<unknown>): void;
}

/** A session's prepared VM, claimed by a heartbeat of the session: it holds the session's lock for the run now. */
export interface ClaimedSession {
  /** The session's lock, the run's now. */
  unlock(): Promise<void>;
  /** The stored session it was opened with. */
  sessionId: string;
  /** The VM as the run's, if the run's plan is the one it was made for; else it is discarded first (undefined). */
  take(need: SpareNeed): Promise<SpareVm | undefined>;
  /** The run does not resume it (a fresh session, another plan, a failure): resolves once it let go of the database. */
  discard(): Promise<void>;
}

/** What the next VM of a session is made from: the session, and the plan of its last heartbeat. */
export interface NextSession {
  slot: SessionSlot;
  sessionId: string;
  need: SpareNeed;
}

export interface SpareNeed {
  agent: AgentId;
  /** The run's model (a spare's agent config names the provider and model). */
  model: string;
  /** The run's VM plan: what agentOS fixes at create must be what the spare was created with. */
  boot: BootOptions;
  /** Where this run's session lives (a fresh one's: the spare's session database is linked there). */
  databasePath: string;
}

/** A spare taken by a run: never handed to another. */
export interface SpareVm {
  /** The gateway token its agent was configured with (the run's gateway is opened with it). */
  token: string;
  /** The session opened ahead: the run's session id (unused when the agent's session opens at request time, SpareSetup `at-run`). */
  sessionId: string;
  /** Make it the run's VM: mount the workspace, bind the run's host tools, write the run file (none: `at-run`). */
  attach(run: { workspaceDir: string; readOnly: boolean; hostFunctions?: BootOptions["hostFunctions"]; runFile?: AgentConfigFile }): Promise<VmHandle>;
  /** The run is over (or never attached): the VM goes, its sidecar is released. */
  release(): Promise<void>;
}
