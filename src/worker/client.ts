import { isAbsolute, resolve } from "node:path";
import type { Socket } from "node:net";
import type { PermissionFlags } from "../caps/index.ts";
// The heartbeat's light face: the client loads none of the in-process heartbeat (docs/worker.md).
import { resultEvent, type EventSink, type RunRequest, type StopReason } from "../heartbeat/light.ts";
import type { RunEvent } from "../protocol/index.ts";
import { AosError, firstLine, runtimeError } from "../errors.ts";
import { logger } from "../log.ts";
import { stateDir } from "../paths.ts";
import { buildTag } from "./build.ts";
import { connectSocket, defaultSocketPath, lineReader, probeSocket, workerLockOwner } from "./socket.ts";
import { WIRE_VERSION, WORKER_PREFIX, type WorkerLine } from "./wire.ts";

/** Values of --worker / PAPERCLIP_AOS_WORKER that mean "never use a worker, run in this process". */
const OFF = new Set(["off", "none", "no", "0", "false"]);

export interface WorkerChoice {
  path: string;
  /** Named by --worker or PAPERCLIP_AOS_WORKER: not reaching it is an error, not a quiet fallback. */
  explicit: boolean;
}

/**
 * The worker a run or exec should use: `--worker PATH`, else $PAPERCLIP_AOS_WORKER, else the state dir's socket
 * when a worker answers there. `off` (either place) runs in-process. A socket left by a killed worker is stale and
 * ignored (serve removes it when it starts).
 */
export async function findWorker(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<WorkerChoice | undefined> {
  const named = flag ?? env.PAPERCLIP_AOS_WORKER;
  if (named !== undefined && OFF.has(named.trim().toLowerCase())) return undefined;
  if (named !== undefined && named.trim() !== "") {
    const path = resolve(named);
    const probe = await probeSocket(path);
    if (probe !== "live") {
      const why = probe === "absent" ? "nothing is there" : probe === "refused" ? "we may not connect to it (another user's worker?)" : "no worker answers (stale socket)";
      throw runtimeError(`cannot use the worker at ${path}: ${why}`, "start one with 'paperclip-aos serve', or pass --worker off to run in this process", "worker_unavailable");
    }
    return { path, explicit: true };
  }
  const path = defaultSocketPath(stateDir(env));
  const probe = await probeSocket(path);
  if (probe === "live") return { path, explicit: false };
  if (probe === "stale") logger.debug(`worker socket ${path} is stale (its worker is gone): running in this process`);
  if (probe === "refused") logger.warn(`the worker socket ${path} refuses us: running in this process`);
  return undefined;
}

/** The request's paths made absolute: the worker resolves nothing against our cwd. */
export function absoluteRequest(req: RunRequest, cwd = process.cwd()): RunRequest {
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(cwd, p));
  const model = req.model.startsWith("scripted:") ? `scripted:${abs(req.model.slice("scripted:".length))}` : req.model;
  return { ...req, model, record: abs(req.record), keepChanges: abs(req.keepChanges) };
}

export function absoluteFlags(flags: PermissionFlags | undefined, cwd = process.cwd()): PermissionFlags | undefined {
  return flags && { ...flags, caps: flags.caps.map((f) => (isAbsolute(f) ? f : resolve(cwd, f))) };
}

function hostEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** What the worker said before the heartbeat started, when it will not run it (the caller then runs in-process). */
export class WorkerDeclined extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RemoteRunOptions {
  worker: WorkerChoice;
  request: RunRequest;
  permissionFlags?: PermissionFlags;
  debug?: boolean;
  /** Where the events go: the same sink an in-process run writes to (stdout, and the demo's renderer). */
  sink: EventSink;
  /** Aborted by the supervisor (signal, --timeout, dead parent, closed stdout); the reason goes to the worker. */
  stop: AbortSignal;
}

/**
 * One heartbeat through the worker: send the request, relay its events line for line, forward a stop as `cancel`.
 * We return when the worker closes the connection, after its VM is gone and the session unlocked (as an in-process
 * run exits only then): the next heartbeat of the same task must find the session free.
 * If the worker goes away before the result, write a result of our own (errorCode `worker_lost`, exit 1). Resolves
 * with the result's exit code; rejects with WorkerDeclined when the worker refuses before anything was written.
 */
export async function runViaWorker(o: RemoteRunOptions): Promise<number> {
  const conn = await connectSocket(o.worker.path).catch((e) => {
    throw new WorkerDeclined("worker_unavailable", `cannot connect to the worker at ${o.worker.path}: ${firstLine(e)}`);
  });
  return new Promise<number>((resolvePromise, reject) => {
    let exitCode: number | undefined;
    let workerPid: number | undefined;
    let failure: string | undefined;
    const onStop = () => send(conn, { type: "cancel", reason: String(o.stop.reason as StopReason) });
    o.stop.addEventListener("abort", onStop, { once: true });
    if (o.stop.aborted) onStop();
    conn.on(
      "data",
      lineReader((line) => {
        if (line.startsWith(WORKER_PREFIX)) {
          const w = JSON.parse(line) as WorkerLine;
          if (w.worker === "accepted") {
            workerPid = w.pid;
            if (w.queued) logger.info("the worker is busy: this heartbeat waits for a free slot");
          }
          else if (w.worker === "rejected") {
            conn.destroy();
            return reject(new WorkerDeclined(w.code, w.hint ? `${w.message} (${w.hint})` : w.message));
          } else if (w.worker === "error") failure = `${w.code}: ${w.message}`;
          return;
        }
        const event = JSON.parse(line) as RunEvent;
        o.sink.relay(line, event);
        if (event.type === "result") exitCode = event.exitCode;
      }),
    );
    conn.on("error", () => {});
    conn.on("close", () => {
      o.stop.removeEventListener("abort", onStop);
      if (exitCode !== undefined) return resolvePromise(exitCode);
      const who = workerPid ? `the worker (pid ${workerPid})` : "the worker";
      const r = o.sink.emit(
        resultEvent({
          subtype: "error",
          exitCode: 1,
          errorCode: "worker_lost",
          errorMessage: failure ? `${who} failed: ${failure}` : `${who} went away before the heartbeat's result; the session keeps what the agent finished`,
          model: o.request.model,
        }),
      );
      resolvePromise(r.exitCode);
    });
    send(conn, {
      type: "run",
      wire: WIRE_VERSION,
      build: buildTag(),
      stateDir: stateDir(),
      hostEnv: hostEnv(process.env),
      request: absoluteRequest(o.request),
      permissionFlags: absoluteFlags(o.permissionFlags),
      debug: o.debug,
    });
  });
}

function send(conn: Socket, msg: object): void {
  if (conn.writable) conn.write(`${JSON.stringify(msg)}\n`);
}

/** `serve --status`: the worker's own account of what is warm and what runs. */
export async function workerStatus(path: string): Promise<unknown> {
  const conn = await connectSocket(path).catch((e) => {
    // A worker warms its sidecar before it listens: a few seconds with its lock taken and no socket yet.
    const pid = workerLockOwner(path);
    if (pid !== undefined) {
      throw runtimeError(`the worker (pid ${pid}) is starting: it answers at ${path} once its sidecar is warm`, "ask again in a few seconds", "worker_starting");
    }
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" || code === "ECONNREFUSED" ? "" : `: ${firstLine(e)}`;
    throw runtimeError(`no worker runs at ${path}${why}`, "start one with 'paperclip-aos serve'", "worker_not_running");
  });
  return new Promise((resolvePromise, reject) => {
    let status: unknown;
    conn.on(
      "data",
      lineReader((line) => {
        const w = JSON.parse(line) as WorkerLine;
        if (w.worker === "status") status = w.status;
        else if (w.worker === "rejected") reject(new AosError(w.message, { code: w.code, exitCode: 1, hint: w.hint }));
      }),
    );
    conn.on("error", (e) => reject(runtimeError(`the worker at ${path} failed: ${firstLine(e)}`, undefined, "worker_failed")));
    conn.on("close", () => (status === undefined ? reject(runtimeError(`the worker at ${path} closed without an answer`, undefined, "worker_failed")) : resolvePromise(status)));
    send(conn, { type: "status", wire: WIRE_VERSION, build: buildTag() });
  });
}

export interface RemoteExecOptions {
  worker: WorkerChoice;
  command: string[];
  cwd: string;
  permissionFlags?: PermissionFlags;
  timeoutSec?: number;
  stdin?: AsyncIterable<Uint8Array> | Uint8Array;
  debug?: boolean;
  onStdout?: (chunk: Uint8Array) => void;
  onStderr?: (chunk: Uint8Array) => void;
}

export interface RemoteExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

/**
 * `exec` through the worker: the output comes back as it is produced (or captured, without onStdout), stdin goes
 * over as it arrives. An error the worker reports (a bad policy, a failed boot) is thrown as the AosError it was; a
 * worker that goes away mid-command is `worker_lost`, exit 1.
 */
export async function execViaWorker(o: RemoteExecOptions): Promise<RemoteExecResult> {
  const conn = await connectSocket(o.worker.path).catch((e) => {
    throw new WorkerDeclined("worker_unavailable", `cannot connect to the worker at ${o.worker.path}: ${firstLine(e)}`);
  });
  let stdinDone = false;
  const result = new Promise<RemoteExecResult>((resolvePromise, reject) => {
    let exit: RemoteExecResult | undefined;
    let error: AosError | undefined;
    conn.on(
      "data",
      lineReader((line) => {
        const w = JSON.parse(line) as WorkerLine;
        if (w.worker === "stdout") o.onStdout?.(Buffer.from(w.data, "base64"));
        else if (w.worker === "stderr") o.onStderr?.(Buffer.from(w.data, "base64"));
        else if (w.worker === "exit") exit = { exitCode: w.exitCode, stdout: w.stdout, stderr: w.stderr, durationMs: w.durationMs, timedOut: w.timedOut };
        else if (w.worker === "error") error = new AosError(w.message, { code: w.code, exitCode: w.exitCode, hint: w.hint });
        else if (w.worker === "rejected") {
          conn.destroy();
          reject(new WorkerDeclined(w.code, w.hint ? `${w.message} (${w.hint})` : w.message));
        }
      }),
    );
    conn.on("error", () => {});
    conn.on("close", () => {
      stdinDone = true;
      if (exit) resolvePromise(exit);
      else reject(error ?? runtimeError("the worker went away before the command finished", "see 'paperclip-aos serve --status'", "worker_lost"));
    });
  });
  send(conn, {
    type: "exec",
    wire: WIRE_VERSION,
    build: buildTag(),
    stateDir: stateDir(),
    hostEnv: hostEnv(process.env),
    permissionFlags: absoluteFlags(o.permissionFlags),
    command: o.command,
    cwd: o.cwd,
    ...(o.timeoutSec ? { timeoutSec: o.timeoutSec } : {}),
    stdin: o.stdin !== undefined,
    capture: !o.onStdout,
    debug: o.debug,
  });
  if (o.stdin) void forwardStdin(conn, o.stdin, () => stdinDone);
  return result;
}

async function forwardStdin(conn: Socket, stdin: AsyncIterable<Uint8Array> | Uint8Array, done: () => boolean): Promise<void> {
  try {
    const chunks: AsyncIterable<Uint8Array> | Uint8Array[] = stdin instanceof Uint8Array ? [stdin] : stdin;
    for await (const c of chunks) {
      if (done()) return;
      send(conn, { type: "stdin", data: Buffer.from(c).toString("base64") });
    }
  } catch {
    // a broken stdin ends like EOF
  }
  send(conn, { type: "stdin_end" });
}

/**
 * run's and exec's use of a worker in one call: find it (flag, env, state dir) and hand it the work. Resolves with
 * the outcome, or undefined when there is no worker to use, so the caller runs in-process. A worker found in the
 * state dir that declines (another build, shutting down) is a warning and an in-process run; one named explicitly
 * is an error.
 */
export function tryRunViaWorker(flag: string | undefined, o: Omit<RemoteRunOptions, "worker">): Promise<number | undefined> {
  return viaWorker(flag, (worker) => runViaWorker({ ...o, worker }));
}

export function tryExecViaWorker(flag: string | undefined, o: Omit<RemoteExecOptions, "worker">): Promise<RemoteExecResult | undefined> {
  return viaWorker(flag, (worker) => execViaWorker({ ...o, worker }));
}

async function viaWorker<T>(flag: string | undefined, go: (worker: WorkerChoice) => Promise<T>): Promise<T | undefined> {
  const worker = await findWorker(flag);
  if (!worker) return undefined;
  try {
    return await go(worker);
  } catch (e) {
    return declined(e, worker);
  }
}

function declined(e: unknown, worker: WorkerChoice): undefined {
  if (!(e instanceof WorkerDeclined)) throw e;
  if (worker.explicit) throw runtimeError(e.message, "see 'paperclip-aos serve --status', or pass --worker off to run in this process", e.code);
  logger.warn(`${e.message}: running in this process`);
  return undefined;
}
