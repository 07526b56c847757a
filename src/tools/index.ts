/**
 * Typed host tools: one registry for `paperclip-aos tool ...` on the host and for agentOS host functions
 * (`agentos-paperclip <fn> --json '{..}'`) inside the VM during `run` and `exec`. See README.md beside this file.
 */
export { ToolRegistry } from "./registry.ts";
export { describeTool, type ToolDescription } from "./schema.ts";
export { builtinRegistry } from "./builtin/index.ts";
export { invokeOnHost } from "./host.ts";
export { defineTool } from "./types.ts";
export type { ToolCallInfo, ToolCallRecord, ToolContext, ToolDef } from "./types.ts";
export { ToolInputError, errorInfo, toolError } from "./errors.ts";
export { invokeTool } from "./invoke.ts";
export { createToolContext } from "./context.ts";
export { HOST_COLLECTION, guestCommand, hostFunctionCommand, hostFunctionKey, toolFromCommand, toolResource } from "./names.ts";
export { allowListGate, toHostFunctions } from "./host-functions.ts";
export type { ToolDenial } from "./host-functions.ts";
export { takeBaseline, MAX_BASELINE_FILE_BYTES } from "./baseline.ts";
export { checkRunId } from "./run-dir.ts";
export { diffListeners } from "./vm-services.ts";
export type { VmListener } from "./vm-services.ts";
export { withHostToolPermissions } from "./permissions.ts";
export { parsePorcelainV2, contentTypeOf, titleOf } from "./builtin/index.ts";
export { isInside, workspaceRelative } from "./paths.ts";
export { gitInRepo, openRepo } from "./git-repo.ts";
export type { Repo } from "./git-repo.ts";
export { parseSetupTrace } from "./git.ts";
export { isPlainLocalConfig } from "./git-config-scan.ts";
export { createHostTools } from "./binding.ts";
export type { HostTools, HostToolsOptions } from "./binding.ts";
