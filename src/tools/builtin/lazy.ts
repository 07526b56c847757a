import type { AnyTool } from "../types.ts";

/**
 * Each built-in tool by name, loaded on its own: `tool invoke NAME` (host.ts) loads the one tool asked for and not the
 * other five, their schemas and what they import (a unit test checks this table against BUILTIN_TOOLS).
 */
export const BUILTIN_LOADERS: Record<string, () => Promise<AnyTool>> = {
  "git.status": async () => (await import("./git-status.ts")).gitStatus,
  "git.log": async () => (await import("./git-log.ts")).gitLog,
  "workspace.diff": async () => (await import("./workspace-diff.ts")).workspaceDiff,
  "services.list": async () => (await import("./services-list.ts")).servicesList,
  "artifacts.publish": async () => (await import("./artifacts-publish.ts")).artifactsPublish,
  "preview.status": async () => (await import("./preview-status.ts")).previewStatus,
};
