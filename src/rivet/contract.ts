import * as v from "valibot";

/**
 * The contract between `run --engine URL` (the client, src/rivet/client.ts) and the session actor that
 * `worker --engine URL` hosts (src/rivet/actor.ts). Both sides import this file; rivetkit itself is loaded at run time
 * (src/rivet/modules.ts), so this file imports nothing of it.
 *
 * One actor per session: actor `SESSION_ACTOR`, key `sessionActorKey(agentId, taskKey)` (the request's own fields).
 * The actor is the one writer of its session: one heartbeat at a time, on whichever runner holds it; it keeps a runs
 * table and an event log in its durable storage, so a client that lost its connection, or whose runner died, can ask
 * again. Every action takes one object, validated with the schema below; the actor answers errors in the input
 * (and only those) by throwing a rivetkit `UserError` whose `code` is one of `ActionErrorCode`. Everything that goes
 * wrong once a run is accepted ends, as in a local run, as that run's `result` line.
 *
 * A heartbeat, seen from the client:
 *  1. `conn = client[SESSION_ACTOR].getOrCreate(sessionActorKey(req.agentId, req.taskKey)).connect()`; subscribe
 *     `conn.on(EVENT.line, (l: LogLine) => ...)` and `conn.on(EVENT.tick, (t: Tick) => ...)` BEFORE starting.
 *  2. `conn.start(StartInput)` returns at once with the run's `RunStatus` (state `accepted`); the heartbeat runs in
 *     the actor in the background (the same runHeartbeat, policy, gateway and caps as a local run, on the runner).
 *     A `start` with a runId the actor already knows starts nothing: it answers that run's status (a retry is safe).
 *     A `start` while another run of the session is accepted or running is accepted too, and its run ends at once
 *     with a result line errorCode `session_busy` (exit 1), as a local run of a locked session does; a runner whose
 *     `--concurrency` slots and queue are full ends it with `worker_busy` (exit 1). A queued run stays `accepted`, and
 *     so does one started while the previous run, its result written, is still winding down (its VM's teardown).
 *  3. Each NDJSON line the heartbeat writes is appended to the log with `seq` (1, 2, 3, ... per run: the line's own
 *     `seq` field) and then broadcast as `EVENT.line`. The `result` line is always the last, exactly once per run.
 *     Print `line` + "\n" for each seq you have not printed yet, in order: a broadcast can be missed (reconnect), so
 *     on a gap (seq > last + 1) or after a reconnect call `events({runId, afterSeq: last})` until `more` is false
 *     and drop any seq <= last (no gaps, no repeats).
 *  4. While a run is `accepted` or `running` the actor broadcasts `EVENT.tick` every `TICK_MS` with its `lastSeq`
 *     (a tick whose lastSeq is past what you printed is a gap: catch up with `events`). Silence (no line and no tick)
 *     for `SILENCE_MS` means the runner may be gone: an in-flight call to a dead runner never resolves, so do not wait
 *     on it; call `status({runId})` (with a timeout of your own, and again while it fails). Calling it wakes the
 *     actor on a live runner; waking, the actor marks every run it finds `accepted`/`running` as `interrupted` and
 *     appends its result line (errorCode `INTERRUPTED_ERROR_CODE`, exit 1), so `status` then carries that result and
 *     `events` the line. The session stays resumable: the next heartbeat resumes it on that runner with the earlier
 *     transcript and agentOS session (the workspace is shared storage; the VM's other files are not kept, as in a local
 *     run). (Measured with a SIGKILLed runner: status answered `interrupted` ~16 s after the kill.)
 *  5. SIGTERM/SIGINT/--timeout at the client: `cancel({runId, reason})`; the heartbeat stops the way a local one does
 *     (reason `SIGTERM` -> exit 143, `SIGINT` -> 130, `timeout` -> 124, errorCode `cancelled`/`timeout`) and its
 *     result line arrives as usual. The actor also enforces the request's `timeoutSec` itself and writes a fallback
 *     result if the heartbeat does not wind down within `graceSec`, so a client that vanished cannot leave a run
 *     going for ever. A client's disconnect alone does not cancel (it may reconnect), but a run with no connection
 *     to the actor for `ORPHAN_MS` is cancelled with reason `parent_died`.
 *  6. The process exits with the result line's `exitCode`, exactly as a local run would.
 *
 * Every connection and every action must carry the engine's shared token (token.ts, `PAPERCLIP_AOS_ENGINE_TOKEN`) as
 * rivetkit connection params: `getOrCreate(key, {params: {token}})`; without it, or with another, the actor refuses
 * with `engine_unauthorized` (the engine's own admin token guards runner registration only).
 *
 * What stays where: the provider key is the runner's environment (the gateway runs on the runner, next to the VM),
 * never the client's, never sent, never stored. `StartInput.env` is the client's environment for the policy's
 * `env.read` only: the actor holds it in memory for the run and never stores it; the gateway's variables and provider
 * keys in it are dropped. The workspace (`request.cwd`) must exist at the same path on the runner (shared storage,
 * e.g. NFS): when it does not, the run ends with errorCode `workspace_not_shared` (exit 2); outside the worker's
 * `--workspace-root` directories (when it has any), with `workspace_outside_roots` (exit 2).
 *
 * Stable: change only additively; bump CONTRACT_VERSION for anything else (the actor refuses another version).
 */
export const CONTRACT_VERSION = 1;

/** The actor's name in the registry; every runner of a pool registers it. */
export const SESSION_ACTOR = "paperclipSession";

/** The actor key of a session: the request's agent id and task key, as a local run's session slot (src/heartbeat/sessions.ts). */
export function sessionActorKey(agentId: string, taskKey: string): [string, string] {
  return [agentId, taskKey];
}

export const ACTION = { start: "start", events: "events", status: "status", cancel: "cancel" } as const;
export const EVENT = { line: "line", tick: "tick" } as const;

/** While a run is accepted or running, a tick every this many ms. */
export const TICK_MS = 2000;
/** No line and no tick for this long: ask `status` (the runner may be gone). */
export const SILENCE_MS = 10_000;
/** A running heartbeat with no client connected for this long is cancelled (reason `parent_died`). */
export const ORPHAN_MS = 60_000;
/** `events` answers at most this many lines per call (`more` says whether there are others). */
export const EVENTS_PAGE = 500;
/** The errorCode of the result the actor writes for a run its runner did not finish (killed, lost). */
export const INTERRUPTED_ERROR_CODE = "runner_lost";
/** The errorCode of a run whose workspace path does not exist on the runner. */
export const WORKSPACE_NOT_SHARED_ERROR_CODE = "workspace_not_shared";
/** The errorCode of a run whose workspace is outside the worker's `--workspace-root` directories (exit 2). */
export const WORKSPACE_OUTSIDE_ROOTS_ERROR_CODE = "workspace_outside_roots";

/**
 * accepted: recorded, waiting for the runner's slot (or about to start) · running: the heartbeat is on · done: its
 * result line is in the log (whatever its exit code: success, failure, cancelled, timeout) · interrupted: its runner
 * went away mid-run; the actor wrote the result line (errorCode `runner_lost`) when it woke.
 */
export const RUN_STATES = ["accepted", "running", "done", "interrupted"] as const;
export type RunState = (typeof RUN_STATES)[number];
export const FINISHED_STATES: readonly RunState[] = ["done", "interrupted"];

/** Why a client cancels: the local run's stop reasons (src/heartbeat/result.ts StopReason). */
export const CANCEL_REASONS = ["SIGTERM", "SIGINT", "SIGHUP", "timeout", "stdout_closed", "parent_died"] as const;

/**
 * `code` of the UserError an action throws for bad input (nothing else throws on purpose). `engine_unauthorized`: the
 * connection params carry no token or a wrong one (token.ts); every action and every connection is refused with it,
 * before the input is read, and answers nothing of the session.
 */
export const ACTION_ERROR_CODES = ["contract_mismatch", "invalid_request", "wrong_session", "run_not_found", "engine_unauthorized"] as const;
export type ActionErrorCode = (typeof ACTION_ERROR_CODES)[number];

const RunId = v.pipe(v.string(), v.minLength(1), v.maxLength(200));

/**
 * A complete run request, as `run` builds it (src/heartbeat/request.ts RunRequest) with every path absolute. Its
 * agentId and taskKey must be the actor's key (else `wrong_session`). No secrets: the request is stored in the runs
 * table (its `env` values are not: see StartInput.env).
 */
export const RemoteRunRequest = v.looseObject({
  runId: RunId,
  agent: v.string(),
  agentId: v.string(),
  taskKey: v.string(),
  cwd: v.pipe(v.string(), v.startsWith("/", "cwd must be an absolute path")),
  prompt: v.string(),
  model: v.string(),
  graceSec: v.number(),
});

export const StartInput = v.object({
  /** CONTRACT_VERSION of the client (another version: `contract_mismatch`). */
  contract: v.number(),
  /** The client's build (`paperclip-aos --version`), for the runs table and logs. */
  build: v.string(),
  request: RemoteRunRequest,
  /** The --allow-X/--deny-X/--caps/--preset flags as src/caps parsed them, file paths absolute (as src/worker's wire). */
  permissionFlags: v.optional(v.unknown()),
  /** The client's environment, read by the policy's env.read only (held in memory for the run, never stored). */
  env: v.optional(v.record(v.string(), v.string())),
  /** Sidecar and agent stderr to the runner's stderr. */
  debug: v.optional(v.boolean()),
});
export type StartInput = v.InferOutput<typeof StartInput>;

export const EventsInput = v.object({
  runId: RunId,
  /** Lines with seq > afterSeq (0: from the first). */
  afterSeq: v.pipe(v.number(), v.integer(), v.minValue(0)),
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(EVENTS_PAGE))),
});
export type EventsInput = v.InferOutput<typeof EventsInput>;

export const StatusInput = v.object({ runId: RunId });
export type StatusInput = v.InferOutput<typeof StatusInput>;

export const CancelInput = v.object({ runId: RunId, reason: v.picklist(CANCEL_REASONS) });
export type CancelInput = v.InferOutput<typeof CancelInput>;

/** One line of a run's event log: `line` is the NDJSON text without its newline; its own `seq` field equals `seq`. */
export const LogLine = v.object({ runId: v.string(), seq: v.number(), line: v.string() });
export type LogLine = v.InferOutput<typeof LogLine>;

/** What `start`, `status` and `cancel` answer. */
export const RunStatus = v.object({
  runId: v.string(),
  state: v.picklist(RUN_STATES),
  /** The seq of the last line in the log (0: none yet). */
  lastSeq: v.number(),
  acceptedAt: v.string(),
  startedAt: v.nullable(v.string()),
  endedAt: v.nullable(v.string()),
  /** The result's exitCode once done or interrupted. */
  exitCode: v.nullable(v.number()),
  /** The result line (NDJSON, no newline) once done or interrupted; it is also the last line of the log. */
  result: v.nullable(v.string()),
  /** The `--name` of the worker that accepted the run. */
  runner: v.string(),
});
export type RunStatus = v.InferOutput<typeof RunStatus>;

export const EventsOutput = v.object({
  runId: v.string(),
  lines: v.array(LogLine),
  /** More lines after the last one given (call again with its seq). */
  more: v.boolean(),
  state: v.picklist(RUN_STATES),
  lastSeq: v.number(),
});
export type EventsOutput = v.InferOutput<typeof EventsOutput>;

export const Tick = v.object({ runId: v.string(), state: v.picklist(RUN_STATES), lastSeq: v.number(), runner: v.string(), at: v.string() });
export type Tick = v.InferOutput<typeof Tick>;

/** The actions as the client sees them (`handle.start(input)` ...). */
export interface SessionActions {
  start(input: StartInput): Promise<RunStatus>;
  events(input: EventsInput): Promise<EventsOutput>;
  status(input: StatusInput): Promise<RunStatus>;
  cancel(input: CancelInput): Promise<RunStatus>;
}
