import { join } from "node:path";
import { usageError } from "../errors.ts";

/**
 * A run's directory under the state dir (its baseline, its artifacts). Apart from baseline.ts so that `tool invoke`
 * resolves it without loading the baseline code.
 */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkRunId(runId: string): string {
  if (!RUN_ID.test(runId) || runId.includes("..")) {
    throw usageError(`run id '${runId}' is not usable as a directory name`, "use letters, digits, '.', '_' and '-' (a UUID works)", "invalid_run_id");
  }
  return runId;
}

export function runDir(stateDir: string, runId: string): string {
  return join(stateDir, "runs", checkRunId(runId));
}
