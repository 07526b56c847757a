import { realpath } from "node:fs/promises";
import { join } from "node:path";
import { stateDir as defaultStateDir } from "../paths.ts";
import { usageError } from "../errors.ts";
import { runDir } from "./baseline.ts";
import type { ToolContext } from "./types.ts";

/** Resolve the directories once (realpath), so every containment check compares like with like. */
export async function createToolContext(opts: {
  workspaceDir: string;
  stateDir?: string;
  runId?: string;
  previewPorts?: number[];
}): Promise<ToolContext> {
  const workspaceDir = await realpath(opts.workspaceDir).catch(() => {
    throw usageError(`workspace ${opts.workspaceDir} does not exist`, "pass an existing directory with --cwd", "cwd_missing");
  });
  const stateRoot = opts.stateDir ?? defaultStateDir();
  const state = await realpath(stateRoot).catch(() => stateRoot);
  return {
    workspaceDir,
    stateDir: state,
    ...(opts.runId ? { runId: opts.runId } : {}),
    artifactsDir: opts.runId ? join(runDir(state, opts.runId), "artifacts") : join(state, "artifacts"),
    ...(opts.previewPorts ? { previewPorts: opts.previewPorts } : {}),
  };
}
