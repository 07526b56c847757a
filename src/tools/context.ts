import { join } from "node:path";
import { stateDir as defaultStateDir } from "../paths.ts";
import { usageError } from "../errors.ts";
import { runDir } from "./run-dir.ts";
import { realpathOrNull } from "./paths.ts";
import type { ToolContext } from "./types.ts";

/**
 * Resolve the directories once (realpath), so every containment check compares like with like. Synchronously: two
 * realpaths take microseconds, while the first async fs call starts Bun's thread pool, ~0.4 ms of a `tool invoke`.
 */
export async function createToolContext(opts: {
  workspaceDir: string;
  stateDir?: string;
  runId?: string;
  previewPorts?: number[];
}): Promise<ToolContext> {
  const workspaceDir = realpathOrNull(opts.workspaceDir);
  if (workspaceDir === null) throw usageError(`workspace ${opts.workspaceDir} does not exist`, "pass an existing directory with --cwd", "cwd_missing");
  const stateRoot = opts.stateDir ?? defaultStateDir();
  const state = realpathOrNull(stateRoot) ?? stateRoot;
  return {
    workspaceDir,
    stateDir: state,
    ...(opts.runId ? { runId: opts.runId } : {}),
    artifactsDir: opts.runId ? join(runDir(state, opts.runId), "artifacts") : join(state, "artifacts"),
    ...(opts.previewPorts ? { previewPorts: opts.previewPorts } : {}),
  };
}
