/**
 * Capabilities: a Paperclip-native permission vocabulary (fs.read, fs.write, network.fetch, network.listen,
 * process.spawn, env.read, tool.invoke), validated, explained, evaluated, and compiled to agentOS 0.2.21 kernel
 * permissions plus host-side enforcement.
 *
 * Typical use (exec, run):
 *   const flags = parsePermissionFlags(["--allow-net=api.github.com", "--deny-read=secrets"]);
 *   const sandbox = await compileSandbox({ flags, json: request.capabilities, workspaceHostDir, gatewayPort, hostEnv: process.env });
 *   // boot with sandbox.permissions and sandbox.loopbackExemptPorts, run commands with env sandbox.guestEnv,
 *   // gate host tool calls with toolGate(sandbox.policy)
 */
export { AGENTOS_OPERATIONS } from "./vocabulary.ts";
export type { Capability, RequestKind, Mode } from "./vocabulary.ts";
export { PolicyDocumentSchema, policyJsonSchema, type PolicyDocument } from "./schema.ts";
export { checkPolicy, problemLine, type CheckContext, type CheckResult, type PolicyProblem } from "./check.ts";
export { PRESETS, PRESET_NAMES, type PresetName } from "./presets.ts";
export {
  looksLikeFlag, parsePermissionFlags, permissionHelp, PERMISSION_FLAGS, PERMISSION_RULES, readPermissionFlag, splitFlagValue,
  type PermissionFlag, type PermissionFlags,
} from "./flags.ts";
export { resolvePolicy, readPolicyFile, type Policy, type ResolveInput } from "./policy.ts";
export { evaluate, evaluator, hostAddresses, readGate, toolGate, type Decision, type EvalRequest, type EvalContext, type RuleView, type Enforcer } from "./evaluate.ts";
export {
  compilePolicy, toolResource,
  type CompiledPolicy, type CompiledPermissions, type CompileContext, type Enforcement, type FsRuleOut, type PatternRuleOut,
} from "./compile.ts";
export { explainPolicy, renderExplanation, AGENTOS_LIMITS, type Explanation, type ExplainOptions, type RenderOptions } from "./explain.ts";
export { mandatoryDenies, mandatorySecretNames, runtimeRules, type MandatoryDeny, type RuntimeContext } from "./runtime-needs.ts";
export type { PathContext } from "./paths.ts";
export type { Rule } from "./rules.ts";
export { compileSandbox, grantsEveryHost, isCaseInsensitiveDir, type CompiledSandbox, type SandboxInput } from "./sandbox.ts";
export {
  envShield, isGatewayEnv, isSecretLookingEnv, secretLookingValue, secretValueWarning, sidecarWithheldEnv, withoutGatewayEnv, GATEWAY_ENV_PREFIXES, SECRET_ENV, SECRET_VALUES, VM_OWNED_ENV,
  type EnvShield,
} from "./env.ts";
