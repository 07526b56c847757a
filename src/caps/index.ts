/**
 * Capabilities: a Paperclip-native permission vocabulary (fs.read, fs.write, network.fetch, network.listen,
 * process.spawn, env.read, tool.invoke), validated, explained, evaluated, and compiled to agentOS 0.2.21 kernel
 * permissions plus host-side enforcement.
 *
 * Typical use (exec, run):
 *   const { flags, rest } = extractPermissionFlags(argv);               // before citty parses argv
 *   const policy = resolvePolicy({ flags, json: request.capabilities }, { workspaceHostDir });
 *   const c = compilePolicy(policy, { workspaceHostDir, gatewayPort, hostEnv: process.env });
 *   AgentOs.create({ permissions: c.permissions, loopbackExemptPorts: c.loopbackExemptPorts, ... });
 *   vm.process.exec(cmd, { env: c.guestEnv });
 */
export { CAPABILITIES, REQUEST_KINDS, AGENTOS_OPERATIONS, DRIVERS, FS_READ_OPS, FS_WRITE_OPS } from "./vocabulary.ts";
export type { Capability, RequestKind, Mode, Driver, AgentOsScope } from "./vocabulary.ts";
export { PolicyDocumentSchema, CapabilityListsSchema, policyJsonSchema, type PolicyDocument } from "./schema.ts";
export { checkPolicy, presetRules, type CheckResult, type PolicyProblem } from "./check.ts";
export { PRESETS, PRESET_NAMES, isPresetName, type PresetName } from "./presets.ts";
export {
  extractPermissionFlags, permissionHelp, splitFlagValue, emptyPermissionFlags,
  type PermissionFlag, type PermissionFlags,
} from "./flags.ts";
export { resolvePolicy, policyToDocument, readPolicyFile, presetOrThrow, type Policy, type ResolveInput } from "./policy.ts";
export { evaluate, evaluator, toolGate, driverFor, type Decision, type EvalRequest, type EvalContext, type RuleView, type Enforcer } from "./evaluate.ts";
export {
  compilePolicy, toolResource, TOOL_COLLECTION,
  type CompiledPolicy, type CompiledPermissions, type CompileContext, type Enforcement, type FsRuleOut, type PatternRuleOut, type AgentOsPermissions,
} from "./compile.ts";
export { explainPolicy, type Explanation } from "./explain.ts";
export { mandatoryDenies, runtimeRules, PROTECTED_ROOTS, type MandatoryDeny, type RuntimeContext } from "./runtime-needs.ts";
export { GUEST_WORKSPACE, GUEST_HOME, type PathContext } from "./paths.ts";
export type { Rule } from "./rules.ts";
export { compileSandbox, sandboxSummary, isCaseInsensitiveDir, type CompiledSandbox, type SandboxInput } from "./sandbox.ts";
