import type { AnyTool } from "../types.ts";
import { artifactsPublish } from "./artifacts-publish.ts";
import { gitLog } from "./git-log.ts";
import { gitStatus } from "./git-status.ts";
import { previewStatus } from "./preview-status.ts";
import { servicesList } from "./services-list.ts";
import { workspaceDiff } from "./workspace-diff.ts";

export const BUILTIN_TOOLS: AnyTool[] = [gitStatus, gitLog, workspaceDiff, servicesList, artifactsPublish, previewStatus];

export { parsePorcelainV2 } from "./git-status.ts";
export { contentTypeOf } from "./artifacts-publish.ts";
export { titleOf } from "./preview-status.ts";
export type { GitStatus } from "./git-status.ts";
export type { GitLog } from "./git-log.ts";
export type { WorkspaceDiff } from "./workspace-diff.ts";
export type { ServicesList } from "./services-list.ts";
export type { PublishedArtifact } from "./artifacts-publish.ts";
export type { PreviewStatus } from "./preview-status.ts";
