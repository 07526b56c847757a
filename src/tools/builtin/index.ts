import type { AnyTool } from "../types.ts";
import { ToolRegistry } from "../registry.ts";
import { artifactsPublish } from "./artifacts-publish.ts";
import { gitLog } from "./git-log.ts";
import { gitStatus } from "./git-status.ts";
import { previewStatus } from "./preview-status.ts";
import { servicesList } from "./services-list.ts";
import { workspaceDiff } from "./workspace-diff.ts";

export const BUILTIN_TOOLS: AnyTool[] = [gitStatus, gitLog, workspaceDiff, servicesList, artifactsPublish, previewStatus];

export function builtinRegistry(): ToolRegistry {
  return new ToolRegistry(BUILTIN_TOOLS);
}

export { parsePorcelainV2 } from "./git-status.ts";
export { contentTypeOf } from "./artifacts-publish.ts";
export { titleOf } from "./preview-status.ts";
