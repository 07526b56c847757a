/**
 * `run --engine URL`: one heartbeat in the session's actor on a Rivet engine, seen from the machine that asked for it.
 * The request goes to the actor (contract.ts), the heartbeat's own NDJSON lines come back and are printed exactly as
 * a local run prints them, and the process ends with the result line's exit code. What a local run does on its own
 * (stop on a signal, --timeout, a dead parent, a closed stdout) becomes a `cancel` to the actor; what only a remote
 * run has (a lost broadcast, a dead runner, an engine that stops answering) is caught up from the actor's event log
 * or ends with a result of our own, so every heartbeat still ends with exactly one result line.
 */
import * as v from "valibot";
import { absoluteFlags, absoluteRequest, buildTag } from "../worker/index.ts";
import { resultEvent, stopOutcome, type EventSink, type RunRequest, type StopReason } from "../heartbeat/index.ts";
import { compileSandbox, isGatewayEnv, isSecretLookingEnv, secretLookingValue, type PermissionFlags } from "../caps/index.ts";
import type { RunEvent } from "../protocol/index.ts";
import { AosError, errorMessage, firstLine, runtimeError, usageError } from "../errors.ts";
import { logger } from "../log.ts";
import { connectEngine, type EngineConn, type EngineSession } from "./connect.ts";
import { ENGINE_TOKEN_ENV } from "./token.ts";
import type { EngineChoice } from "./choice.ts";
import {
  ACTION, ACTION_ERROR_CODES, CONTRACT_VERSION, EVENT, EventsOutput, FINISHED_STATES, LogLine, RunStatus, SILENCE_MS, Tick,
  type CancelInput, type StartInput,
} from "./contract.ts";

/** The errorCode of our own result when the engine did not answer for `lostAfterMs` (the actor's is `runner_lost`). */
export const ENGINE_UNREACHABLE_ERROR_CODE = "engine_unreachable";

export interface EngineTiming {
  /** No line and no tick for this long: ask the actor's status. */
  silenceMs: number;
  /** One status/events/cancel call gets this long (a call to a dead runner never answers on its own). */
  callTimeoutMs: number;
  /** Silence plus unanswered calls for this long: write our own result (the engine or every runner is gone). */
  lostAfterMs: number;
  /** After the result line, how long to wait for the actor to call the run finished (the next heartbeat needs it). */
  settleMs: number;
}

/**
 * The bound on a runner kill: SILENCE_MS of silence, then the actor wakes on another runner (measured 16-18 s on this
 * machine, the engine's own detection of the lost runner), marks the run interrupted and answers; lostAfterMs is what
 * we give all that before we stop asking.
 */
export const ENGINE_TIMING: EngineTiming = { silenceMs: SILENCE_MS, callTimeoutMs: 30_000, lostAfterMs: 120_000, settleMs: 10_000 };


/**
 * Nothing secret leaves this machine for the engine (action arguments pass through it and it may keep them; the
 * actor stores the request): the request's own `env` may hold no secret-looking name, and of the host environment
 * only the values the policy's env.read passes into the guest go, without the gateway's variables. A secret-looking
 * name the policy allows by an exact rule is refused rather than sent: put it in the worker's environment instead.
 * Exit 2 before anything starts, as any other invalid request. A policy that does not compile here sends nothing:
 * the actor compiles it again and fails the run with its result, as a local run does.
 */
export async function engineEnv(req: RunRequest, flags: PermissionFlags | undefined, hostEnv: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const secret = (name: string) => isSecretLookingEnv(name) || isGatewayEnv(name);
  const inRequest = Object.keys(req.env).filter(secret);
  if (inRequest.length) {
    throw usageError(
      `the request's env names ${inRequest.join(", ")}: a run through an engine sends no secrets (the actor stores the request)`,
      "set it in the worker's environment on the runner instead",
      "secret_to_engine",
    );
  }
  let guestEnv: Record<string, string>;
  try {
    const sandbox = await compileSandbox({ json: req.capabilities ?? undefined, preset: req.preset, flags, workspaceHostDir: req.cwd, gatewayPort: 1, hostEnv });
    guestEnv = sandbox.guestEnv;
  } catch {
    return {};
  }
  // A secret-looking value counts as a secret-looking name does (src/caps/env.ts): the actor would store it.
  const refused = Object.entries(guestEnv).filter(([name, value]) => secret(name) || secretLookingValue(value) !== undefined).map(([name]) => name);
  if (refused.length) {
    throw usageError(
      `the policy passes ${refused.join(", ")} from this machine's environment: a run through an engine sends no secrets`,
      "drop the exact --allow-env rule for it, or run locally (--engine off)",
      "secret_to_engine",
    );
  }
  return guestEnv;
}

export interface EngineRunOptions {
  engine: EngineChoice;
  /** The engine's shared token (token.ts engineToken): sent as connection params, never as an argument. */
  token: string;
  request: RunRequest;
  permissionFlags?: PermissionFlags;
  debug?: boolean;
  /** Where the events go: the same sink a local run writes to (stdout, and the demo's renderer). */
  sink: EventSink;
  /** Aborted by the supervisor (signal, --timeout, dead parent, closed stdout); the reason goes to the actor. */
  stop: AbortSignal;
  timing?: Partial<EngineTiming>;
}

/**
 * One heartbeat through the engine. Resolves with the result line's exit code, once the actor calls the run finished
 * (or settleMs passed): the next heartbeat of the session must find it free. Rejects only for what is wrong before
 * the run is asked for (bad input: exit 2, with no line printed).
 */
export async function runViaEngine(o: EngineRunOptions): Promise<number> {
  const env = await engineEnv(o.request, o.permissionFlags, process.env);
  const start: StartInput = {
    contract: CONTRACT_VERSION,
    build: buildTag(),
    request: absoluteRequest(o.request) as unknown as StartInput["request"],
    permissionFlags: absoluteFlags(o.permissionFlags),
    env,
    ...(o.debug ? { debug: true } : {}),
  };
  const run = new RemoteRun(o, { ...ENGINE_TIMING, ...o.timing });
  return run.go(start);
}

/** What the actor answered wrong in a way no retry fixes: its UserError code (contract.ts ACTION_ERROR_CODES). */
class Refused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** One run's client side: what was printed, the watchdog, catch-up and cancel. */
class RemoteRun {
  private readonly runId: string;
  /** The seq of the last line printed (lines are printed in seq order, each once). */
  private printed = 0;
  private exitCode: number | undefined;
  private lastHeard = Date.now();
  /** When the current silence began to be answered by nothing at all (undefined: the actor answers). */
  private unansweredSince: number | undefined;
  private catchingUp: Promise<void> | undefined;
  private catchUpAgain = false;
  private probing = false;
  private cancelled = false;
  /** The actor took the run (start answered): from then on silence means something. */
  private accepted = false;
  private session!: EngineSession;
  private conn: EngineConn | undefined;
  private readonly done = Promise.withResolvers<number>();

  constructor(
    private readonly o: EngineRunOptions,
    private readonly t: EngineTiming,
  ) {
    this.runId = o.request.runId;
  }

  async go(start: StartInput): Promise<number> {
    const { request } = this.o;
    try {
      this.session = await connectEngine(this.o.engine.url, this.o.token, request.agentId, request.taskKey, this.o.debug);
    } catch (e) {
      if (e instanceof AosError && e.code === "engine_not_installed") throw e;
      return this.ownResult(ENGINE_UNREACHABLE_ERROR_CODE, `cannot use the engine at ${this.o.engine.url} (${this.o.engine.from}): ${firstLine(e)}`);
    }
    const watchdog = setInterval(() => this.watch(), 1000);
    const onStop = () => void this.cancel(String(this.o.stop.reason as StopReason));
    try {
      this.subscribe();
      const accepted = await this.startRun(start);
      if (accepted === undefined) return this.exitCode ?? (await this.done.promise);
      logger.debug(`engine: run ${this.runId} ${accepted.state} on runner ${accepted.runner}`);
      this.accepted = true;
      this.heard();
      this.o.stop.addEventListener("abort", onStop, { once: true });
      if (this.o.stop.aborted) onStop();
      if (accepted.lastSeq > this.printed) this.catchUp();
      const code = await this.done.promise;
      await this.settle();
      return code;
    } finally {
      clearInterval(watchdog);
      this.o.stop.removeEventListener("abort", onStop);
      await this.session.close();
    }
  }

  /** Lines and ticks from the actor's broadcasts; a reconnect may have missed some: catch up from the log. */
  private subscribe(): void {
    const conn = (this.conn = this.session.connect());
    conn.on(EVENT.line, (raw) => {
      const l = v.safeParse(LogLine, raw);
      if (!l.success || l.output.runId !== this.runId) return;
      this.heard();
      if (l.output.seq === this.printed + 1) this.print(l.output);
      else if (l.output.seq > this.printed + 1) this.catchUp();
    });
    conn.on(EVENT.tick, (raw) => {
      const t = v.safeParse(Tick, raw);
      if (!t.success || t.output.runId !== this.runId) return;
      this.heard();
      if (t.output.lastSeq > this.printed) this.catchUp();
    });
    conn.onReconnect(() => {
      logger.debug(`engine: reconnected, catching up after seq ${this.printed}`);
      this.catchUp();
    });
  }

  /**
   * Ask the actor to run the request. A lost connection or a timeout is retried (a start with a known runId starts
   * nothing: it answers that run's status) until lostAfterMs; a refusal ends the run before any line.
   */
  private async startRun(start: StartInput): Promise<RunStatus | undefined> {
    const since = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.call(ACTION.start, start, RunStatus, this.conn);
      } catch (e) {
        if (e instanceof Refused) {
          const exitCode = e.code === "contract_mismatch" ? 1 : 2;
          const hint =
            e.code === "contract_mismatch" ? "the worker runs another paperclip-aos version: use the same build on both sides"
            : e.code === "engine_unauthorized" ? `set ${ENGINE_TOKEN_ENV} to the token the engine's workers were started with`
            : undefined;
          throw new AosError(`the engine's session actor refused the run: ${e.message}`, { code: e.code, exitCode, hint });
        }
        if (this.exitCode !== undefined) return undefined;
        if (this.o.stop.aborted) {
          // Stopped before the actor answered: it may have taken the run all the same (the answer was lost), so tell
          // it, briefly (an orphaned run is also cancelled by the actor itself, contract.ts ORPHAN_MS).
          const reason = String(this.o.stop.reason as StopReason);
          await this.call(ACTION.cancel, { runId: this.runId, reason }, RunStatus, undefined, 2000).catch(() => {});
          this.ownResult(null, "", reason);
          return undefined;
        }
        if (Date.now() - since > this.t.lostAfterMs) {
          this.ownResult(ENGINE_UNREACHABLE_ERROR_CODE, `the engine at ${this.o.engine.url} did not take the run within ${Math.round(this.t.lostAfterMs / 1000)}s: ${firstLine(e)}`);
          return undefined;
        }
        logger.debug(`engine: start failed (${firstLine(e)}), retrying`);
        await Bun.sleep(Math.min(5000, 500 * 2 ** attempt));
      }
    }
  }

  private heard(): void {
    this.lastHeard = Date.now();
    this.unansweredSince = undefined;
  }

  /**
   * Print the next line. A broadcast must be the next seq (else we catch up); a line from the log is printed even past
   * a gap: the log is the actor's whole account, a seq missing there will never come.
   */
  private print(l: LogLine, fromLog = false): void {
    if (this.exitCode !== undefined || l.seq <= this.printed || (l.seq !== this.printed + 1 && !fromLog)) return;
    if (l.seq !== this.printed + 1) logger.warn(`engine: the actor's log of run ${this.runId} has no line ${this.printed + 1}${l.seq > this.printed + 2 ? `-${l.seq - 1}` : ""}`);
    let event: RunEvent;
    try {
      event = JSON.parse(l.line) as RunEvent;
    } catch {
      logger.warn(`engine: line ${l.seq} of run ${this.runId} is not JSON; skipped`);
      this.printed = l.seq;
      return;
    }
    this.printed = l.seq;
    this.o.sink.relay(l.line, event);
    if (event.type === "result") this.finish(event.exitCode);
  }

  private finish(exitCode: number): void {
    if (this.exitCode !== undefined) return;
    this.exitCode = exitCode;
    this.done.resolve(exitCode);
  }

  /** Print every line after `printed` from the actor's log, page by page; one catch-up at a time (a request during it runs again after). */
  private catchUp(): void {
    if (this.exitCode !== undefined) return;
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return;
    }
    this.catchingUp = (async () => {
      do {
        this.catchUpAgain = false;
        for (let more = true; more && this.exitCode === undefined; ) {
          const page = await this.call(ACTION.events, { runId: this.runId, afterSeq: this.printed }, EventsOutput);
          this.heard();
          for (const l of page.lines) if (l.seq > this.printed) this.print(l, true);
          more = page.more && page.lines.length > 0;
        }
      } while (this.catchUpAgain && this.exitCode === undefined);
    })()
      .catch((e) => logger.debug(`engine: catch-up failed: ${firstLine(e)}`))
      .finally(() => (this.catchingUp = undefined));
  }

  /**
   * Every second: after silenceMs without a line or a tick, ask the actor's status (calling it wakes the actor on a
   * live runner, which marks a lost run interrupted and logs its result line). A finished run is caught up from the
   * log; no answer for lostAfterMs ends the run with our own result.
   */
  private watch(): void {
    if (!this.accepted || this.exitCode !== undefined || this.probing || Date.now() - this.lastHeard < this.t.silenceMs) return;
    this.unansweredSince ??= this.lastHeard;
    this.probing = true;
    void (async () => {
      try {
        logger.debug(`engine: no word for ${Math.round((Date.now() - this.lastHeard) / 1000)}s: asking the actor`);
        const s = await this.call(ACTION.status, { runId: this.runId }, RunStatus);
        this.heard();
        if (s.lastSeq > this.printed) this.catchUp();
        await this.catchingUp;
        // The result is the log's last line; status carries it too (a catch-up that failed is tried again next time).
        if (this.exitCode === undefined && FINISHED_STATES.includes(s.state) && s.result && s.lastSeq === this.printed + 1) this.print({ runId: this.runId, seq: s.lastSeq, line: s.result });
      } catch (e) {
        logger.debug(`engine: status failed: ${firstLine(e)}`);
        if (this.exitCode === undefined && Date.now() - (this.unansweredSince ?? Date.now()) > this.t.lostAfterMs) {
          const secs = Math.round((Date.now() - this.unansweredSince!) / 1000);
          this.ownResult(ENGINE_UNREACHABLE_ERROR_CODE, `no word from the engine at ${this.o.engine.url} for ${secs}s (${firstLine(e)}); the session keeps what the agent finished`);
        }
      } finally {
        this.probing = false;
      }
    })();
  }

  /** SIGTERM, --timeout, a dead parent, a closed stdout: the actor stops the heartbeat and logs its result as usual. */
  private async cancel(reason: string): Promise<void> {
    if (this.cancelled || this.exitCode !== undefined) return;
    this.cancelled = true;
    const input: CancelInput = { runId: this.runId, reason: reason as CancelInput["reason"] };
    for (let attempt = 0; attempt < 5 && this.exitCode === undefined; attempt++) {
      try {
        await this.call(ACTION.cancel, input, RunStatus);
        return;
      } catch (e) {
        logger.debug(`engine: cancel failed (${firstLine(e)}), retrying`);
        await Bun.sleep(500);
      }
    }
  }

  /** The next heartbeat of this session is refused while the actor still calls this one running: wait for it, bounded. */
  private async settle(): Promise<void> {
    const until = Date.now() + this.t.settleMs;
    while (Date.now() < until) {
      try {
        const s = await this.call(ACTION.status, { runId: this.runId }, RunStatus, undefined, Math.max(1, until - Date.now()));
        if (FINISHED_STATES.includes(s.state)) return;
      } catch {
        return; // our result is out; an actor that does not answer now is the next heartbeat's problem
      }
      await Bun.sleep(200);
    }
  }

  /** A result of our own (the actor could not give one): exit 1 with errorCode, or the stop's outcome. */
  private ownResult(errorCode: string | null, message: string, stop?: string): number {
    if (this.exitCode !== undefined) return this.exitCode;
    const r = stop
      ? this.o.sink.emit(resultEvent({ ...stopOutcome(stop as StopReason, this.o.request.timeoutSec), model: this.o.request.model }))
      : this.o.sink.emit(resultEvent({ subtype: "error", exitCode: 1, errorCode, errorMessage: message, model: this.o.request.model }));
    this.finish(r.exitCode);
    return r.exitCode;
  }

  /**
   * One action with a timeout of our own (a call to a dead runner never answers), through the connection when given,
   * else a stateless request; the answer is checked against the contract. A UserError from the actor is Refused.
   */
  private async call<S extends v.GenericSchema>(name: string, input: unknown, schema: S, conn?: EngineConn, timeoutMs = this.t.callTimeoutMs): Promise<v.InferOutput<S>> {
    let answer: unknown;
    try {
      answer = await (conn ?? this.session).action(name, input, timeoutMs);
    } catch (e) {
      const { group, code } = e as { group?: unknown; code?: unknown };
      if (group === "user" && (ACTION_ERROR_CODES as readonly unknown[]).includes(code)) throw new Refused(String(code), errorMessage(e));
      throw e;
    }
    const r = v.safeParse(schema, answer);
    if (!r.success) throw runtimeError(`the engine's ${name} answer is off the contract: ${v.summarize(r.issues).split("\n")[0]}`, undefined, "engine_protocol");
    return r.output;
  }
}

