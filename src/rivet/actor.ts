import * as v from "valibot";
import { fitLine, resultEvent } from "../heartbeat/index.ts";
import { logger } from "../log.ts";
import { ActorStore } from "./actor-store.ts";
import { startInActor, type RunnerHost } from "./actor-run.ts";
import { ENGINE_TOKEN_ENV, tokenMatches } from "./token.ts";
import type { ActionCtx, ActorCtx, ActorDb, RivetActorDefinition, RivetkitDbModule, RivetkitModule } from "./rivetkit-types.ts";
import {
  CancelInput, CONTRACT_VERSION, EVENTS_PAGE, EventsInput, FINISHED_STATES, INTERRUPTED_ERROR_CODE, StartInput, StatusInput,
  type ActionErrorCode, type EventsOutput, type RunStatus,
} from "./contract.ts";

/** Request fields that name a path on the machine that runs the heartbeat for it to write: not through the engine. */
const LOCAL_ONLY_FIELDS = ["record", "keepChanges", "commitSnapshot"] as const;

/**
 * The session actor (src/rivet/contract.ts is its contract): one per session, keyed by agent id and task key, the
 * one writer of its session. Its SQLite holds agentOS's sessions and their events (through the actor runtime socket),
 * our session record, transcript, runs and event log (actor-store.ts).
 */
export function sessionActor(rivetkit: RivetkitModule, rivetDb: RivetkitDbModule, host: RunnerHost, token: string): RivetActorDefinition {
  const userError = (code: ActionErrorCode, message: string) => new rivetkit.UserError(message, { code });
  // Checked on the connection (onBeforeConnect) and again in every action (a stateless action is a connection of its
  // own, but the action must not depend on that): the token is the only thing that guards the session.
  const authorize = (params: unknown): void => {
    if (!tokenMatches(token, params)) throw userError("engine_unauthorized", `this engine's session actors need its shared token: set ${ENGINE_TOKEN_ENV} to the workers' token`);
  };
  const parse = <S extends v.GenericSchema>(schema: S, input: unknown, what: string): v.InferOutput<S> => {
    const r = v.safeParse(schema, input);
    if (r.success) return r.output;
    const issue = r.issues[0];
    throw userError("invalid_request", `${what}: ${v.getDotPath(issue) ? `field '${v.getDotPath(issue)}': ` : ""}${issue.message}`);
  };
  const known = async (store: ActorStore, runId: string): Promise<RunStatus> => {
    const s = await store.run(runId);
    if (!s) throw userError("run_not_found", `this session has no run ${runId}`);
    return s;
  };

  return rivetkit.actor({
    options: {
      enableActorRuntimeSocket: true,
      // Actions answer at once; the heartbeat runs in the background (keepAwake holds the actor meanwhile).
      actionTimeout: 60_000,
      // A hibernatable websocket keeps its connection (params included, i.e. the token) in the actor's storage.
      canHibernateWebSocket: false,
    },
    onBeforeConnect: (_c: ActorCtx, params: unknown) => authorize(params),
    db: rivetDb.db({ onMigrate: (db: ActorDb) => new ActorStore(db).migrate() }),
    // Waking (a new runner, or after sleep), no heartbeat of this actor can be running: any run left accepted or
    // running was its previous runner's, which is gone. Each gets its result line now (runner_lost), so the client
    // that asks gets a result, and the session stays resumable (agentOS committed what the agent finished).
    onWake: async (c: ActorCtx) => {
      const store = new ActorStore(c.db);
      for (const run of await store.unfinishedRuns()) {
        if (host.active.get(c.actorId)?.runId === run.runId) continue;
        await interrupt(store, run, host.name);
        logger.info(`worker ${host.name}: run ${run.runId} of ${c.key.join("/")} was left ${run.state} by worker ${run.runner}: interrupted`);
      }
    },
    actions: {
      start: async (c: ActionCtx, raw: unknown): Promise<RunStatus> => {
        authorize(c.conn.params);
        const input = parse(StartInput, raw, "start");
        if (input.contract !== CONTRACT_VERSION) {
          throw userError("contract_mismatch", `the worker speaks contract ${CONTRACT_VERSION}, the client ${input.contract} (paperclip-aos ${input.build}): use the same paperclip-aos version on both`);
        }
        const req = input.request;
        if (req.agentId !== c.key[0] || req.taskKey !== c.key[1]) {
          throw userError("wrong_session", `run ${req.runId} is for ${req.agentId}/${req.taskKey}, this actor holds ${c.key.join("/")}`);
        }
        for (const f of LOCAL_ONLY_FIELDS) {
          if (req[f] !== undefined) throw userError("invalid_request", `'${f}' names a path on the worker for it to write: not supported through the engine`);
        }
        const store = new ActorStore(c.db);
        const existing = await store.run(req.runId);
        if (existing) return existing;
        // Stored without the values of its env (they may be secrets); the names stay for the record.
        const stored = { ...req, env: Object.fromEntries(Object.keys((req.env as Record<string, string> | undefined) ?? {}).map((k) => [k, ""])) };
        const status = await store.addRun({ runId: req.runId, request: stored, runner: host.name, build: input.build });
        const previous = host.active.get(c.actorId);
        const busy = previous && !previous.finished ? previous : undefined;
        if (busy || host.stopping) {
          const [code, message] = busy
            ? ["session_busy", `another heartbeat (run ${busy.runId}) is using this session`]
            : ["worker_stopping", `worker ${host.name} is shutting down`];
          await store.append(req.runId, 1, fitLine({ ...resultEvent({ subtype: "error", exitCode: 1, errorCode: code, errorMessage: message, model: req.model }), ts: new Date().toISOString(), seq: 1 }).trimEnd(), { exitCode: 1, finalState: "done" });
          return (await store.run(req.runId))!;
        }
        startInActor(c, store, host, input, previous);
        return status;
      },
      events: async (c: ActionCtx, raw: unknown): Promise<EventsOutput> => {
        authorize(c.conn.params);
        const input = parse(EventsInput, raw, "events");
        const store = new ActorStore(c.db);
        const s = await known(store, input.runId);
        const page = await store.events(input.runId, input.afterSeq, input.limit ?? EVENTS_PAGE);
        return { runId: input.runId, ...page, state: s.state, lastSeq: s.lastSeq };
      },
      status: async (c: ActionCtx, raw: unknown): Promise<RunStatus> => {
        authorize(c.conn.params);
        const input = parse(StatusInput, raw, "status");
        return known(new ActorStore(c.db), input.runId);
      },
      cancel: async (c: ActionCtx, raw: unknown): Promise<RunStatus> => {
        authorize(c.conn.params);
        const input = parse(CancelInput, raw, "cancel");
        const store = new ActorStore(c.db);
        const s = await known(store, input.runId);
        const active = host.active.get(c.actorId);
        if (active?.runId === input.runId && !FINISHED_STATES.includes(s.state)) active.stop.abort(input.reason);
        return s;
      },
    },
  });
}

/** The result line of a run whose runner went away: exit 1, runner_lost, the session as it was stored. */
async function interrupt(store: ActorStore, run: RunStatus, by: string): Promise<void> {
  const req = (await store.request(run.runId)) ?? {};
  const record = await store.sessionRecord();
  const session = record ? (JSON.parse(record) as Record<string, unknown>) : null;
  const seq = run.lastSeq + 1;
  const result = resultEvent({
    subtype: "error",
    exitCode: 1,
    errorCode: INTERRUPTED_ERROR_CODE,
    errorMessage: `the worker running this heartbeat (${run.runner}) went away mid-run; the session keeps what the agent finished (noticed by worker ${by})`,
    model: typeof req.model === "string" ? req.model : "unknown",
    ...(session && session.cwd === req.cwd
      ? {
          sessionParams: { sessionId: String(session.sessionId), cwd: String(session.cwd), agent: session.agent as never, agentId: String(session.agentId), taskKey: String(session.taskKey), runtime: "agentos", snapshot: (session.snapshot as string | null) ?? null },
          sessionDisplayId: String(session.sessionId),
        }
      : {}),
  });
  await store.append(run.runId, seq, fitLine({ ...result, ts: new Date().toISOString(), seq }).trimEnd(), { exitCode: 1, finalState: "interrupted" });
}
