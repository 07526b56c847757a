import { realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import type { PermissionFlags } from "../caps/index.ts";
import { withoutGatewayEnv } from "../caps/index.ts";
import { bindHostTools, EventSink, requestSandbox, resultEvent, runHeartbeat, SessionSlot, stopOutcome, type RunRequest, type StopReason } from "../heartbeat/index.ts";
import type { SidecarPool, Slots } from "../worker/index.ts";
import { firstLine, isAosError } from "../errors.ts";
import { logger } from "../log.ts";
import { ActorSessionFiles } from "./actor-files.ts";
import type { ActorCtx } from "./rivetkit-types.ts";
import type { ActorStore } from "./actor-store.ts";
import { EVENT, ORPHAN_MS, TICK_MS, WORKSPACE_NOT_SHARED_ERROR_CODE, WORKSPACE_OUTSIDE_ROOTS_ERROR_CODE, type RunState, type StartInput } from "./contract.ts";

/** What a runner process shares with every session actor it hosts. */
export interface RunnerHost {
  /** The worker's --name: in run rows, ticks and logs. */
  name: string;
  /** The runner's state dir: each heartbeat's scratch slot lives under <state>/rivet/<name>/ while it runs. */
  stateDir: string;
  pool: SidecarPool;
  slots: Slots;
  debug: boolean;
  /** The heartbeat each actor is running in this process (one writer per session). */
  active: Map<string, ActiveRun>;
  /** --workspace-root directories (real paths): a workspace must be under one of them; none: any. */
  workspaceRoots: string[];
  /** Set by a SIGTERM: no new heartbeat starts. */
  stopping: boolean;
  /** Told each actor runtime socket rivetkit makes, so that what it leaves is removed at stop (native-tmpdir.ts). */
  runtimeSockets?: { track(socketPath: string): void };
}

export interface ActiveRun {
  runId: string;
  stop: AbortController;
  /** Its result line is in the log: what is left is winding down (the VM's teardown, the session files). */
  finished: boolean;
  /** Settles when the heartbeat is really over (its VM closed), which may be after its result was written. */
  done: Promise<void>;
}

/**
 * Start a heartbeat in the background of the actor: the same runHeartbeat, policy, host tools and gateway as a local
 * run (the gateway here, on the runner, with the runner's provider keys), the VM on the runner's warm sidecar with
 * agentOS's sessions in the actor's SQLite. Every line goes to the actor's event log, then out as a broadcast.
 */
export function startInActor(c: ActorCtx, store: ActorStore, host: RunnerHost, input: StartInput, after?: ActiveRun): ActiveRun {
  const req = input.request as unknown as RunRequest;
  const stop = new AbortController();
  const run: ActiveRun = { runId: req.runId, stop, finished: false, done: Promise.resolve() };
  // A previous heartbeat that wrote its result may still be winding down: this one starts once it is gone, so the
  // session never has two at once (the client calls a session free once its result is written).
  const previous = after ? Promise.race([after.done, Bun.sleep(30_000)]) : Promise.resolve();
  run.done = c.keepAwake(previous.then(() => heartbeatInActor(c, store, host, input, req, run))).finally(() => {
    if (host.active.get(c.actorId) === run) host.active.delete(c.actorId);
  });
  host.active.set(c.actorId, run);
  return run;
}

/** A sink whose lines go to the actor's log (in order, each stored before it is broadcast). */
function logSink(c: ActorCtx, store: ActorStore, run: ActiveRun): { sink: EventSink; flushed: () => Promise<void>; lastSeq: () => number } {
  const { runId } = run;
  let chain: Promise<void> = Promise.resolve();
  let lastSeq = 0;
  const sink = new EventSink((text) => {
    const line = text.endsWith("\n") ? text.slice(0, -1) : text;
    const event = JSON.parse(line) as { seq: number; type: string; exitCode?: number };
    const result = event.type === "result" ? { exitCode: event.exitCode ?? 1, finalState: "done" as RunState } : undefined;
    chain = chain
      .then(() => store.append(runId, event.seq, line, result))
      .then(() => {
        lastSeq = Math.max(lastSeq, event.seq);
        if (result) run.finished = true;
        c.broadcast(EVENT.line, { runId, seq: event.seq, line });
      })
      .catch((e) => logger.error(`worker: run ${runId}: could not store line ${event.seq}: ${firstLine(e)}`));
  });
  return { sink, flushed: () => chain, lastSeq: () => lastSeq };
}

async function heartbeatInActor(c: ActorCtx, store: ActorStore, host: RunnerHost, input: StartInput, req: RunRequest, run: ActiveRun): Promise<void> {
  const { stop } = run;
  const { sink, flushed, lastSeq } = logSink(c, store, run);
  const end = (f: Parameters<typeof resultEvent>[0]) => sink.emit(resultEvent({ model: req.model, ...f }));
  const timers: ReturnType<typeof setTimeout>[] = [];
  let state: RunState = "accepted";
  let files: ActorSessionFiles | undefined;
  let lastConn = Date.now();
  const ticker = setInterval(() => {
    try {
      c.broadcast(EVENT.tick, { runId: req.runId, state, lastSeq: lastSeq(), runner: host.name, at: new Date().toISOString() });
    } catch {
      // the actor is stopping (its runner is leaving the engine): its clients will ask the next one
    }
    void files?.sync();
    // A run nobody listens to any more (its client died without a cancel) is stopped, as a local run whose parent died.
    if (c.conns.size > 0) lastConn = Date.now();
    else if (Date.now() - lastConn > ORPHAN_MS && !stop.signal.aborted) stop.abort("parent_died" satisfies StopReason);
  }, TICK_MS);
  // The actor keeps the request's timeout itself, and a run that does not wind down within graceSec of a stop gets
  // the fallback result a local run's supervisor writes (src/heartbeat/supervise.ts).
  if (req.timeoutSec) timers.push(setTimeout(() => stop.abort("timeout" satisfies StopReason), req.timeoutSec * 1000));
  stop.signal.addEventListener("abort", () => {
    const reason = stop.signal.reason as StopReason;
    timers.push(
      setTimeout(() => {
        if (!sink.finished) end({ ...stopOutcome(reason, req.timeoutSec), errorMessage: `stopped (${reason}); the runtime did not wind down within the grace period` });
      }, Math.max(1, req.graceSec) * 1000),
    );
  });
  let freeSlot: (() => void) | undefined;
  let lease: Awaited<ReturnType<SidecarPool["acquire"]>> | undefined;
  try {
    try {
      freeSlot = await host.slots.acquire(stop.signal);
    } catch (e) {
      if (stop.signal.aborted) end(stopOutcome(stop.signal.reason as StopReason, req.timeoutSec));
      else end({ subtype: "error", exitCode: 1, errorCode: isAosError(e) ? e.code : "worker_busy", errorMessage: `worker ${host.name}: ${firstLine(e)}` });
      return;
    }
    state = "running";
    await store.markRunning(req.runId);
    const refused = await refuseWorkspace(host, req);
    if (refused) {
      end({ subtype: "config_invalid", exitCode: 2, ...refused });
      return;
    }
    try {
      lease = await host.pool.acquire();
    } catch (e) {
      end({ subtype: "error", exitCode: 1, errorCode: isAosError(e) ? e.code : "sidecar_failed", errorMessage: firstLine(e) });
      return;
    }
    const slot = await actorSlot(c, store, host, req);
    files = new ActorSessionFiles(slot, scratchRoot(host, c.actorId), store);
    await files.restore();
    const env = withoutGatewayEnv(input.env ?? {});
    await runHeartbeat(req, {
      sink,
      stop: stop.signal,
      debug: input.debug ?? host.debug,
      sidecar: lease.sidecar,
      sandbox: requestSandbox(req, input.permissionFlags as PermissionFlags | undefined, env),
      tools: bindHostTools,
      slot,
    });
  } catch (e) {
    // runHeartbeat ends every run with a result; this is for what failed around it (the actor's storage).
    logger.error(`worker ${host.name}: run ${req.runId} failed: ${firstLine(e)}`);
    end({ subtype: "error", exitCode: 1, errorCode: "worker_failed", errorMessage: firstLine(e) });
  } finally {
    clearInterval(ticker);
    for (const t of timers) clearTimeout(t);
    await files?.close().catch((e) => logger.warn(`worker ${host.name}: run ${req.runId}: session files: ${firstLine(e)}`));
    lease?.release();
    freeSlot?.();
    await flushed();
  }
}

/** The session's slot for this heartbeat: files in a scratch dir, agentOS's sessions and the VM's root in the actor. */
async function actorSlot(c: ActorCtx, store: ActorStore, host: RunnerHost, req: RunRequest): Promise<SessionSlot> {
  const slot = new SessionSlot(req.agentId, req.taskKey, scratchRoot(host, c.actorId));
  const { path } = await c.actorRuntimeSocket();
  host.runtimeSockets?.track(path);
  slot.agentosDb = store.agentosSessions();
  // agentOS's sessions and their events live in the actor's SQLite (through its runtime socket). The VM's root stays
  // the ephemeral one of a local run: agentOS's durable root in the actor (chunked_actor_sqlite) stalls the agent's
  // tool calls for 30 s each and then fails them (docs/rivet.md, "The VM's own files").
  slot.vmStorage = { database: { type: "actor_uds", path } };
  return slot;
}

function scratchRoot(host: RunnerHost, actorId: string): string {
  return join(host.stateDir, "rivet", host.name.replace(/[^A-Za-z0-9_.-]/g, "_"), actorId.replace(/[^A-Za-z0-9_.-]/g, "_"));
}

/**
 * The workspace must be on the worker at the request's path (shared storage), and under one of the worker's
 * --workspace-root directories when it has any (a client of the engine names any path; the roots bound what it can
 * mount). Symlinks are resolved first, so a link under a root cannot lead out of it.
 */
async function refuseWorkspace(host: RunnerHost, req: RunRequest): Promise<{ errorCode: string; errorMessage: string } | undefined> {
  if (req.snapshot) return undefined;
  const real = await realpath(req.cwd).catch(() => null);
  if (!real || !(await stat(real)).isDirectory()) {
    return {
      errorCode: WORKSPACE_NOT_SHARED_ERROR_CODE,
      errorMessage: `the workspace ${req.cwd} does not exist on worker ${host.name} (put Paperclip's execution workspaces on storage every worker mounts at the same path, e.g. NFS)`,
    };
  }
  if (host.workspaceRoots.length && !host.workspaceRoots.some((root) => real === root || real.startsWith(`${root}/`))) {
    return {
      errorCode: WORKSPACE_OUTSIDE_ROOTS_ERROR_CODE,
      errorMessage: `the workspace ${req.cwd} is outside worker ${host.name}'s workspace roots (${host.workspaceRoots.join(", ")})`,
    };
  }
  return undefined;
}
