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
 * What a VM with host tools needs on top of the capability policy: the tool stub may start (childProcess), and the
 * host may look up the VM's listeners for services.list (network `inspect`). Appended last, so they win in agentOS
 * (the last matching rule wins); each grants only that one command or operation.
 */
export function withHostToolPermissions<P extends { network?: unknown; childProcess?: unknown }>(permissions: P): P {
  const network = withRule(permissions.network as PatternScope | undefined, {
    ...LISTENER_INSPECT_RULE,
    operations: [...LISTENER_INSPECT_RULE.operations],
    patterns: [...LISTENER_INSPECT_RULE.patterns],
  });
  const childProcess = withRule(permissions.childProcess as PatternScope | undefined, { mode: "allow", operations: ["spawn"], patterns: [TOOL_STUB_COMMAND] });
  return {
    ...permissions,
    ...(network !== undefined ? { network } : {}),
    ...(childProcess !== undefined ? { childProcess } : {}),
  };
}
