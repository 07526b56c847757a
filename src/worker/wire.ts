import * as v from "valibot";

/**
 * The worker's socket protocol, one JSON object per line both ways.
 *
 * client → worker: one request line (`run`, `exec` or `status`), then for run/exec at most one `cancel` line (the
 * client got a signal, hit its --timeout, lost its parent or its stdout). Closing the connection also cancels.
 *
 * worker → client: for `run`, the heartbeat's own NDJSON event lines, byte for byte what an in-process run prints,
 * ending with the `result` line; for `exec`, `stdout`/`stderr` chunks and one `exit`. Lines of the worker's own start
 * with `{"worker":` (no run event has that key), so a client passes everything else through untouched.
 */
export const WIRE_VERSION = 1;

const Env = v.record(v.string(), v.string());

export const RunMessage = v.object({
  type: v.literal("run"),
  wire: v.number(),
  /** A complete RunRequest (src/heartbeat/request.ts), its paths absolute: the worker has another cwd. */
  request: v.record(v.string(), v.unknown()),
  /** The --allow-X/--deny-X/--caps/--preset flags as parsed by src/caps (files absolute). */
  permissionFlags: v.optional(v.unknown()),
  /** The client's environment: the policy's env.read and the gateway's provider keys are read from it. */
  hostEnv: Env,
  debug: v.optional(v.boolean()),
});

export const ExecMessage = v.object({
  type: v.literal("exec"),
  wire: v.number(),
  command: v.array(v.string()),
  cwd: v.string(),
  permissionFlags: v.optional(v.unknown()),
  hostEnv: Env,
  timeoutSec: v.optional(v.number()),
  /** stdin, base64 (exec reads it whole before the VM boots, as in-process). */
  stdin: v.optional(v.string()),
  /** Capture the output for --json instead of streaming it. */
  capture: v.boolean(),
  snapshot: v.optional(v.object({ name: v.string(), keepChanges: v.optional(v.string()), commitSnapshot: v.optional(v.string()) })),
  debug: v.optional(v.boolean()),
});

export const StatusMessage = v.object({ type: v.literal("status"), wire: v.number() });

export const CancelMessage = v.object({ type: v.literal("cancel"), reason: v.string() });

export const RequestMessage = v.variant("type", [RunMessage, ExecMessage, StatusMessage]);

export type RunMessage = v.InferOutput<typeof RunMessage>;
export type ExecMessage = v.InferOutput<typeof ExecMessage>;
export type RequestMessage = v.InferOutput<typeof RequestMessage>;

/** The worker's own lines. */
export type WorkerLine =
  | { worker: "accepted"; pid: number; version: string; queued: boolean }
  | { worker: "rejected"; code: string; message: string; hint?: string }
  | { worker: "stdout" | "stderr"; data: string }
  | { worker: "exit"; exitCode: number; stdout: string; stderr: string; durationMs: number; timedOut: boolean; snapshot?: unknown }
  | { worker: "error"; code: string; message: string; hint?: string; exitCode: number }
  | { worker: "status"; status: unknown };

export const WORKER_PREFIX = '{"worker":';

export function workerLine(l: WorkerLine): string {
  return `${JSON.stringify(l)}\n`;
}
