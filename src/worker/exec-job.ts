import type { AgentOs } from "@rivet-dev/agentos-core";
import type { PermissionFlags } from "../caps/index.ts";
import { execWithPolicy } from "../plan/index.ts";
import { firstLine, isAosError } from "../errors.ts";
import type { JobContext } from "./jobs.ts";
import { workerLine, type ExecMessage } from "./wire.ts";

/**
 * `exec` in the worker: the same execWithPolicy as in-process, on the warm sidecar, its output streamed to the client
 * as it comes. A cancel (the client got a signal) or a closed connection ends the VM, as a signal ends the
 * in-process exec's sidecar.
 */
export async function execJob(msg: ExecMessage, ctx: JobContext): Promise<number> {
  const { conn } = ctx;
  const send = (line: string) => conn.writable && conn.write(line);
  const fail = (e: unknown): number => {
    const code = isAosError(e) ? e.exitCode : 1;
    send(workerLine({ worker: "error", code: isAosError(e) ? e.code : "exec_failed", message: isAosError(e) ? e.message : firstLine(e), ...(isAosError(e) && e.hint ? { hint: e.hint } : {}), exitCode: code }));
    return code;
  };
  let freeSlot: (() => void) | undefined;
  try {
    send(workerLine({ worker: "accepted", pid: process.pid, queued: ctx.slots.full }));
    freeSlot = await ctx.slots.acquire(ctx.stop.signal);
  } catch (e) {
    return ctx.stop.signal.aborted ? 143 : fail(e);
  }
  ctx.info.state = "running";
  ctx.info.startedAt = new Date().toISOString();
  let vm: AgentOs | undefined;
  const killVm = () => void vm?.dispose().catch(() => {});
  ctx.stop.signal.addEventListener("abort", killVm, { once: true });
  let lease: Awaited<ReturnType<JobContext["pool"]["acquire"]>> | undefined;
  try {
    lease = await ctx.pool.acquire();
    const chunk = (stream: "stdout" | "stderr") => (c: Uint8Array) => send(workerLine({ worker: stream, data: Buffer.from(c).toString("base64") }));
    const r = await execWithPolicy({
      command: msg.command,
      cwd: msg.cwd,
      policy: { flags: msg.permissionFlags as PermissionFlags | undefined, hostEnv: msg.hostEnv },
      timeoutSec: msg.timeoutSec,
      ...(msg.stdin ? { stdin: ctx.followUps } : {}),
      debug: msg.debug ?? ctx.debug,
      sidecar: lease.sidecar,
      onBoot: (v) => {
        vm = v;
        if (ctx.stop.signal.aborted) killVm();
      },
      ...(msg.capture ? {} : { onStdout: chunk("stdout"), onStderr: chunk("stderr") }),
    });
    send(workerLine({ worker: "exit", exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, durationMs: r.durationMs, timedOut: r.timedOut }));
    return r.exitCode;
  } catch (e) {
    return ctx.stop.signal.aborted ? 143 : fail(e);
  } finally {
    ctx.stop.signal.removeEventListener("abort", killVm);
    lease?.release();
    freeSlot();
  }
}
