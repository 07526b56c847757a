import type { Socket } from "node:net";
import type { PermissionFlags } from "../caps/index.ts";
import { bindHostTools, EventSink, requestSandbox, resultEvent, runHeartbeat, stopOutcome, type RunRequest, type StopReason, type WarmStart } from "../heartbeat/index.ts";
import { isAosError, firstLine } from "../errors.ts";
import type { SidecarPool } from "./sidecars.ts";
import type { Slots } from "./slots.ts";
import { workerLine, type FollowUpMessage, type RunMessage } from "./wire.ts";

/** What `serve --status` shows of one request. */
export interface JobInfo {
  kind: "run" | "exec";
  id: number;
  state: "queued" | "running";
  runId?: string;
  agent?: string;
  agentId?: string;
  taskKey?: string;
  queuedAt: string;
  startedAt: string | null;
}

export interface JobContext {
  conn: Socket;
  /** Aborted with a StopReason by a `cancel` line from the client or by the connection closing. */
  stop: AbortController;
  info: JobInfo;
  pool: SidecarPool;
  /** The worker's gateway port and spare VMs. */
  warm: WarmStart;
  slots: Slots;
  debug: boolean;
  /** The client's stdin lines (exec). */
  followUps: FollowUps;
}

/** stdin lines from the client as an async stream of bytes, ending at `stdin_end` (or when the client goes). */
export class FollowUps implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(m: Exclude<FollowUpMessage, { type: "cancel" }>): void {
    if (m.type === "stdin") this.chunks.push(Buffer.from(m.data, "base64"));
    else this.ended = true;
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      if (this.chunks.length) yield this.chunks.shift()!;
      else if (this.ended) return;
      else await new Promise<void>((r) => (this.wake = r));
    }
  }
}

/**
 * One heartbeat in the worker, exactly as `run` does it in-process (the same runHeartbeat, policy compilation and host
 * tools), with the sink writing to the connection, the VM on the pool's warm sidecar and the client's environment
 * where the in-process run would read its own.
 */
export async function runJob(msg: RunMessage, ctx: JobContext): Promise<number> {
  const req = msg.request as unknown as RunRequest;
  Object.assign(ctx.info, { runId: req.runId, agent: req.agent, agentId: req.agentId, taskKey: req.taskKey });
  const sink = new EventSink(
    (line) => {
      if (!ctx.conn.writable) throw new Error("client gone");
      ctx.conn.write(line);
    },
    () => ctx.stop.abort("stdout_closed" satisfies StopReason),
  );
  let freeSlot: (() => void) | undefined;
  try {
    ctx.conn.write(workerLine({ worker: "accepted", pid: process.pid, queued: ctx.slots.full }));
    freeSlot = await ctx.slots.acquire(ctx.stop.signal);
  } catch (e) {
    if (ctx.stop.signal.aborted) return sink.emit(resultEvent(stopOutcome(ctx.stop.signal.reason as StopReason, req.timeoutSec))).exitCode;
    const code = isAosError(e) ? e.code : "worker_failed";
    return sink.emit(resultEvent({ subtype: "error", exitCode: 1, errorCode: code, errorMessage: isAosError(e) && e.hint ? `${e.message} (${e.hint})` : firstLine(e), model: req.model })).exitCode;
  }
  ctx.info.state = "running";
  ctx.info.startedAt = new Date().toISOString();
  let lease: Awaited<ReturnType<SidecarPool["acquire"]>> | undefined;
  try {
    try {
      lease = await ctx.pool.acquire();
    } catch (e) {
      const code = isAosError(e) ? e.code : "sidecar_failed";
      return sink.emit(resultEvent({ subtype: "error", exitCode: 1, errorCode: code, errorMessage: firstLine(e), model: req.model })).exitCode;
    }
    const flags = msg.permissionFlags as PermissionFlags | undefined;
    const result = await runHeartbeat(req, {
      sink,
      stop: ctx.stop.signal,
      debug: msg.debug ?? ctx.debug,
      sidecar: lease.sidecar,
      sidecarPid: lease.pid,
      warm: ctx.warm,
      hostEnv: msg.hostEnv,
      sandbox: requestSandbox(req, flags, msg.hostEnv),
      tools: bindHostTools,
    });
    return result.exitCode;
  } finally {
    lease?.release();
    freeSlot();
  }
}
