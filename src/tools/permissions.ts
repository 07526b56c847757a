import { HOST_COLLECTION } from "./names.ts";
import { LISTENER_INSPECT_RULE } from "./vm-services.ts";

type Rule = { mode: "allow" | "deny"; operations?: string[]; patterns?: string[] };
type PatternScope = "allow" | "deny" | { default?: "allow" | "deny"; rules: Rule[] };

/**
 * The guest command behind the tools. agentOS checks a host-function stub as a spawn whose resource is the command
 * name (measured: childProcess patterns "wasm"/"node" deny `agentos-paperclip`; the pattern "agentos-paperclip"
 * allows it). Which functions it may call is the hostFunction scope's business.
 */
export const TOOL_STUB_COMMAND = `agentos-${HOST_COLLECTION}`;

function withRule(scope: PatternScope | undefined, rule: Rule): PatternScope | undefined {
  // An absent scope keeps the sidecar default, which cannot be written as rules (a rule list without `default` denies).
  if (scope === undefined || scope === "allow") return scope;
  if (scope === "deny") return { default: "deny", rules: [rule] };
  return { ...scope, rules: [...scope.rules, rule] };
}

/**
 * `vm.network.httpRequest` (preview.status's way into the VM) opens its socket through the guest kernel, which checks
 * it as a listen on tcp://127.0.0.1:0. Measured: with this rule a guest `listen(0)` still fails, because the kernel
 * checks the concrete port it then picks (tcp://127.0.0.1:1024), so the rule gives the agent nothing.
 */
export const HOST_HTTP_RULE = { mode: "allow", operations: ["listen"], patterns: ["tcp://127.0.0.1:0"] } as const;

/**
 * What a VM with host tools needs on top of the capability policy: the tool stub may start (childProcess); the host
 * may look up the VM's listeners (network `inspect`, services.list) and reach them (HOST_HTTP_RULE, preview.status).
 * Appended last, so they win in agentOS (the last matching rule wins); each grants only that command or operation.
 */
export function withHostToolPermissions<P extends { network?: unknown; childProcess?: unknown }>(permissions: P): P {
  const inspect = { ...LISTENER_INSPECT_RULE, operations: [...LISTENER_INSPECT_RULE.operations], patterns: [...LISTENER_INSPECT_RULE.patterns] };
  const http = { ...HOST_HTTP_RULE, operations: [...HOST_HTTP_RULE.operations], patterns: [...HOST_HTTP_RULE.patterns] };
  const network = withRule(withRule(permissions.network as PatternScope | undefined, inspect), http);
  const childProcess = withRule(permissions.childProcess as PatternScope | undefined, { mode: "allow", operations: ["spawn"], patterns: [TOOL_STUB_COMMAND] });
  return {
    ...permissions,
    ...(network !== undefined ? { network } : {}),
    ...(childProcess !== undefined ? { childProcess } : {}),
  };
}
