import { GUEST_CLI } from "./names.ts";

type Rule = { mode: "allow" | "deny"; operations?: string[]; patterns?: string[] };
type PatternScope = "allow" | "deny" | { default?: "allow" | "deny"; rules: Rule[] };

function withRule(scope: PatternScope | undefined, rule: Rule): PatternScope | undefined {
  // An absent scope keeps the sidecar default, which cannot be written as rules (a rule list without `default` denies).
  if (scope === undefined || scope === "allow") return scope;
  if (scope === "deny") return { default: "deny", rules: [rule] };
  return { ...scope, rules: [...scope.rules, rule] };
}

/**
 * What a VM with host tools needs on top of the capability policy: the tool stub may start (childProcess); the host
 * may look up the VM's listeners (network `inspect`, services.list) and reach them (preview.status).
 * Appended last, so they win in agentOS (the last matching rule wins); each grants only that command or operation.
 */
export function withHostToolPermissions<P extends { network?: unknown; childProcess?: unknown }>(permissions: P): P {
  // The sidecar checks find_listener (services.list) as network `inspect`, which its default denies.
  const inspect: Rule = { mode: "allow", operations: ["inspect"], patterns: ["tcp://**"] };
  // `vm.network.httpRequest` (preview.status's way into the VM) opens its socket through the guest kernel, which
  // checks it as a listen on tcp://127.0.0.1:0. Measured: with this rule a guest `listen(0)` still fails, because the
  // kernel checks the concrete port it then picks (tcp://127.0.0.1:1024), so the rule gives the agent nothing.
  const http: Rule = { mode: "allow", operations: ["listen"], patterns: ["tcp://127.0.0.1:0"] };
  const network = withRule(withRule(permissions.network as PatternScope | undefined, inspect), http);
  // agentOS checks the host-function stub as a spawn whose resource is the command name (measured: childProcess
  // patterns "wasm"/"node" deny `agentos-paperclip`, the pattern "agentos-paperclip" allows it). Which functions it
  // may call is the hostFunction scope's business.
  const childProcess = withRule(permissions.childProcess as PatternScope | undefined, { mode: "allow", operations: ["spawn"], patterns: [GUEST_CLI] });
  return {
    ...permissions,
    ...(network !== undefined ? { network } : {}),
    ...(childProcess !== undefined ? { childProcess } : {}),
  };
}
