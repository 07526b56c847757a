/**
 * The client's few touches of rivetkit, in one place: a client for the engine, the session actor's handle by key,
 * its connection (broadcasts, reconnects), and actions with a timeout of our own. rivetkit is loaded at run time
 * (modules.ts: it is no dependency of the default install).
 */
import { pathToFileURL } from "node:url";
import { dirname } from "node:path";
import { runtimeError } from "../errors.ts";
import { engineHealth } from "./engine.ts";
import { SESSION_ACTOR, sessionActorKey } from "./contract.ts";
import { loadRivet } from "./modules.ts";
import type { EngineConnParams } from "./token.ts";

/** The parts of rivetkit's ActorConnRaw / ActorHandleRaw used here (rivetkit's own .d.ts, client/mod.d.ts). */
interface RawCallable {
  action(opts: { name: string; args: unknown[]; signal?: AbortSignal }): Promise<unknown>;
}
interface RawConn extends RawCallable {
  on(event: string, cb: (...args: unknown[]) => void): () => void;
  onOpen(cb: () => void): () => void;
  onStatusChange(cb: (status: "idle" | "connecting" | "connected" | "disconnected") => void): () => void;
  dispose(): Promise<void>;
}
interface RawHandle extends RawCallable {
  connect(): RawConn;
}
interface RawClient {
  [actor: string]: { getOrCreate(key: string[], opts: { params: EngineConnParams }): RawHandle } | (() => Promise<void>);
  dispose(): Promise<void>;
}

export interface EngineConn {
  on(event: string, fn: (payload: unknown) => void): void;
  /** Called each time the connection opens again after it was lost (not the first time). */
  onReconnect(fn: () => void): void;
  action(name: string, input: unknown, timeoutMs: number): Promise<unknown>;
}

export interface EngineSession {
  /** A live connection to the session's actor (created if needed). */
  connect(): EngineConn;
  /** A stateless call: each resolves the actor anew, so it wakes the actor on a live runner when its own died. */
  action(name: string, input: unknown, timeoutMs: number): Promise<unknown>;
  close(): Promise<void>;
}

/** How long the engine gets to answer its health check before we call it unreachable. */
const HEALTH_TIMEOUT_MS = 5000;
/** Closing the connection and client may wait on a dead peer: not longer than this. */
const CLOSE_TIMEOUT_MS = 2000;

/**
 * A session on the engine at `url`: loads rivetkit (exit 3 when it is not installed), checks the engine answers (so
 * a wrong URL fails at once, not after the watchdog's bound), then gives the actor keyed by (agentId, taskKey), each
 * call and connection carrying the engine's shared `token`.
 */
export async function connectEngine(url: string, token: string, agentId: string, taskKey: string, debug = false): Promise<EngineSession> {
  const { createClient } = await loadClientModule(debug);
  if (!(await engineHealth(url, HEALTH_TIMEOUT_MS))) {
    throw runtimeError(`no Rivet engine answers at ${url}`, "start one with 'paperclip-aos engine start', or check --engine / PAPERCLIP_AOS_ENGINE", "engine_unreachable");
  }
  // JSON, not rivetkit's default bare (whose action arguments and answers are CBOR): under Bun 1.4.5 cbor-x's native
  // helper corrupts strings of ~256 bytes or more, and a run's status (its result line) failed to parse here
  // ("Unexpected end of buffer") or crashed the process, where the same answer in JSON came through.
  const client = createClient({ endpoint: url, devtools: false, encoding: "json" }) as RawClient;
  const accessor = client[SESSION_ACTOR] as { getOrCreate(key: string[], opts: { params: EngineConnParams }): RawHandle };
  // The token goes as connection params (token.ts): on every stateless call and every (re)connect of this handle.
  const handle = accessor.getOrCreate(sessionActorKey(agentId, taskKey), { params: { token } });
  const conns: SelfHealingConn[] = [];
  return {
    connect() {
      const conn = new SelfHealingConn(() => handle.connect());
      conns.push(conn);
      return conn;
    },
    action: (name, input, timeoutMs) => timed(handle, name, input, timeoutMs),
    async close() {
      const all = Promise.allSettled([...conns.map((c) => c.close()), client.dispose()]);
      await Promise.race([all, Bun.sleep(CLOSE_TIMEOUT_MS)]);
    },
  };
}

/**
 * rivetkit's connection reconnects by itself after a lost socket, but gives up for good ("idle") when a reconnect
 * attempt fails outright (the engine refused the socket during a network cut): then this opens a new one, with the
 * same subscriptions, after a short pause. Every open after the first is a reconnect (lines may have been missed).
 */
class SelfHealingConn implements EngineConn {
  private raw!: RawConn;
  private readonly listeners: [string, (payload: unknown) => void][] = [];
  private readonly reconnects: (() => void)[] = [];
  private opens = 0;
  private failures = 0;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly open: () => RawConn) {
    this.connect();
  }

  private connect(): void {
    const raw = (this.raw = this.open());
    for (const [event, fn] of this.listeners) raw.on(event, (payload) => fn(payload));
    raw.onOpen(() => {
      this.failures = 0;
      if (this.opens++ > 0) for (const fn of this.reconnects) fn();
    });
    raw.onStatusChange((status) => {
      if (status !== "idle" || this.closed || raw !== this.raw) return;
      void raw.dispose().catch(() => {});
      const pause = Math.min(REOPEN_MAX_MS, REOPEN_MIN_MS * 2 ** this.failures++);
      this.timer = setTimeout(() => this.closed || this.connect(), pause);
      if (this.opens === 0) this.opens = 1; // the next open catches up whatever was missed meanwhile
    });
  }

  on(event: string, fn: (payload: unknown) => void): void {
    this.listeners.push([event, fn]);
    this.raw.on(event, (payload) => fn(payload));
  }

  onReconnect(fn: () => void): void {
    this.reconnects.push(fn);
  }

  action(name: string, input: unknown, timeoutMs: number): Promise<unknown> {
    return timed(this.raw, name, input, timeoutMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.raw.dispose();
  }
}

const REOPEN_MIN_MS = 500;
const REOPEN_MAX_MS = 2000;

async function timed(target: RawCallable, name: string, input: unknown, timeoutMs: number): Promise<unknown> {
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`${name} got no answer within ${Math.round(timeoutMs / 1000)}s`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([target.action({ name, args: [input], signal: abort.signal }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** rivetkit/client as the engine install has it (modules.ts), with its logging kept off our stdout. */
async function loadClientModule(debug: boolean): Promise<{ createClient(config: Record<string, unknown>): unknown }> {
  const rivet = await loadRivet();
  const from = (spec: string, dir: string) => import(pathToFileURL(Bun.resolveSync(spec, dir)).href);
  const logEntry = Bun.resolveSync("rivetkit/log", rivet.location.dir);
  // pino as rivetkit itself resolves it (it may be nested under rivetkit's node_modules).
  const [log, pino] = await Promise.all([from(logEntry, rivet.location.dir), debug ? from("pino", dirname(logEntry)) : undefined]);
  quietLogs(log, pino);
  return rivet.client as unknown as { createClient(config: Record<string, unknown>): unknown };
}

/**
 * rivetkit logs to stdout, where our NDJSON goes: silence it, or with --debug send it to stderr. Its logger module is
 * the one its client uses (one shared chunk), so configuring it here configures the client.
 */
function quietLogs(log: { configureBaseLogger(l: unknown): void; configureDefaultLogger(level: string): void }, pino: { default: (o: object, dest: unknown) => unknown; destination(fd: number): unknown } | undefined): void {
  if (pino) log.configureBaseLogger(pino.default({ level: "debug", base: {} }, pino.destination(2)));
  else log.configureDefaultLogger("silent");
}
