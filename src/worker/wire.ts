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

/** Every request names the protocol and the build it speaks; the worker refuses another build's client. */
const Header = { wire: v.number(), build: v.string() };
/** The client's state dir: sessions and snapshots are read there, so it must be the worker's. */
const Client = { ...Header, stateDir: v.string(), hostEnv: Env, permissionFlags: v.optional(v.unknown()), debug: v.optional(v.boolean()) };

/**
 * hostEnv is the client's environment: the policy's env.read and the gateway's provider keys come from it, as they
 * come from process.env in-process. permissionFlags are the --allow-X/--deny-X/--caps/--preset flags as src/caps
 * parsed them, file paths absolute (the worker has another cwd).
 */
export const RunMessage = v.object({
  type: v.literal("run"),
  ...Client,
  /** A complete RunRequest (src/heartbeat/request.ts) with absolute paths. */
  request: v.record(v.string(), v.unknown()),
});

export const ExecMessage = v.object({
  type: v.literal("exec"),
  ...Client,
  command: v.array(v.string()),
  cwd: v.string(),
  timeoutSec: v.optional(v.number()),
  /** The client forwards its stdin as `stdin` lines and one `stdin_end`; without it the guest sees EOF at once. */
  stdin: v.boolean(),
  /** Capture the output for --json instead of streaming it. */
  capture: v.boolean(),
});

export const StatusMessage = v.object({ type: v.literal("status"), ...Header });

/** Lines a client sends after its request. */
export const FollowUpMessage = v.variant("type", [
  v.object({ type: v.literal("cancel"), reason: v.string() }),
  v.object({ type: v.literal("stdin"), data: v.string() }),
  v.object({ type: v.literal("stdin_end") }),
]);
export type FollowUpMessage = v.InferOutput<typeof FollowUpMessage>;

export const RequestMessage = v.variant("type", [RunMessage, ExecMessage, StatusMessage]);

export type RunMessage = v.InferOutput<typeof RunMessage>;
export type ExecMessage = v.InferOutput<typeof ExecMessage>;
export type RequestMessage = v.InferOutput<typeof RequestMessage>;

/** The worker's own lines. */
export type WorkerLine =
  | { worker: "accepted"; pid: number; queued: boolean }
  | { worker: "rejected"; code: string; message: string; hint?: string }
  | { worker: "stdout" | "stderr"; data: string }
  | { worker: "exit"; exitCode: number; stdout: string; stderr: string; durationMs: number; timedOut: boolean; snapshot?: unknown }
  | { worker: "error"; code: string; message: string; hint?: string; exitCode: number }
  | { worker: "status"; status: unknown };

export const WORKER_PREFIX = '{"worker":';

export function workerLine(l: WorkerLine): string {
  return `${JSON.stringify(l)}\n`;
}
