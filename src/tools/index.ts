/**
 * Typed host tools: one registry for `paperclip-aos tool ...` on the host and for agentOS host functions
 * (`agentos-paperclip <fn> --json '{..}'`) inside the VM during `run` and `exec`. See README.md beside this file.
 */
export { ToolRegistry, TOOL_NAME, builtinRegistry } from "./registry.ts";
export type { ToolDescription } from "./registry.ts";
export { defineTool } from "./types.ts";
export type { AnyTool, ToolCallInfo, ToolCallRecord, ToolContext, ToolDef, ToolErrorInfo } from "./types.ts";
export { ToolError, ToolInputError, errorInfo, toolError } from "./errors.ts";
export { invokeTool, parseToolInput } from "./invoke.ts";
export type { InvokeHooks } from "./invoke.ts";
export { createToolContext } from "./context.ts";
export { jsonSchemaOf } from "./schema.ts";
export type { JsonSchema } from "./schema.ts";
export { HOST_COLLECTION, guestCommand, hostFunctionCommand, hostFunctionKey, toolFromCommand, toolResource } from "./names.ts";
export { allowListGate, hostFunctionPermission, kernelDenials, toHostFunctions } from "./host-functions.ts";
export type { GateDecision, HostFunctionOptions, ToolDenial, ToolGate } from "./host-functions.ts";
export { takeBaseline, readBaseline, dropBaseline, runDir, checkRunId, DEFAULT_EXCLUDES, MAX_BASELINE_FILE_BYTES } from "./baseline.ts";
export type { BaselineRecord, LargeFile } from "./baseline.ts";
export { vmServicesFor, diffListeners, LISTENER_INSPECT_RULE, COMMON_PORTS } from "./vm-services.ts";
export { withHostToolPermissions, TOOL_STUB_COMMAND, HOST_HTTP_RULE } from "./permissions.ts";
export type { VmListener, VmServices, VmHttpResponse } from "./vm-services.ts";
export { BUILTIN_TOOLS, parsePorcelainV2, contentTypeOf, titleOf } from "./builtin/index.ts";
export type { GitStatus, GitLog, WorkspaceDiff, ServicesList, PublishedArtifact, PreviewStatus } from "./builtin/index.ts";
export { isInside, workspaceRelative } from "./paths.ts";
export { createHostTools } from "./binding.ts";
export type { HostTools, HostToolsOptions } from "./binding.ts";
