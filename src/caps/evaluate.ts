/**
 * evaluate: the decision for one request, and the rule that made it. Pure; the same precedence the compiled agentOS
 * policy realises (a test checks the two agree on random policies):
 *
 * 1. Mandatory denies (runtime-needs.ts) first: a matching one denies unless an allow rule of the same capability
 *    names the target exactly (no glob).
 * 2. Otherwise the most specific matching rule decides (specificity per capability: paths.ts, network.ts, rules.ts);
 *    at equal specificity deny wins. The runtime's own rules (runtime-needs.ts) take part like any other rule.
 * 3. No matching rule: denied (deny by default).
 * Then what agentOS adds on its own: a connection to the host's loopback (127.0.0.0/8, localhost, [::1]) goes
 * through only on exempted ports (the gateway, ports named with a loopback host); otherwise it can only reach a
 * listener inside the VM. For process.spawn the kernel sees the driver, not the command, so a command is decided by
 * its driver and a per-command rule is reported as not enforced.
 */
import { usageError } from "../errors.ts";
import { pathMatches, resolveTargetPath, type PathContext } from "./paths.ts";
import { isLoopbackHost, parseFetchTarget, parseListenPorts, type FetchTarget } from "./network.ts";
import { compareRules, ENV_NAME, parseRule, ruleMatches, type Rule, type RuleTarget } from "./rules.ts";
import { networkInterfaces } from "node:os";
import { mandatoryDenies, mandatoryOps, runtimeRules, type RuntimeContext } from "./runtime-needs.ts";
import { GIT_DIR_GUARD, guardFor, guardsOf, type Guard } from "./guards.ts";
import { envShield } from "./env.ts";
import type { Policy } from "./policy.ts";
import { CAPABILITY_OF, DRIVERS, FS_READ_OPS, FS_WRITE_OPS, type Capability, type Mode, type RequestKind } from "./vocabulary.ts";

export interface EvalRequest {
  kind: RequestKind;
  target: string;
  /**
   * For read and write: the agentOS operation asked about (`rename`, `rm`, `symlink`, `stat`, ...); default `read` or
   * `write`. agentOS checks a rename on both paths and a hard link as a write on both paths (guards.ts).
   */
  op?: string;
}

export interface EvalContext extends PathContext, RuntimeContext {}

export type Enforcer = "agentos-kernel" | "host-env-filter" | "host-function-permission" | "not-enforceable";

/** A rule as shown to people and in JSON (no parser internals). */
export interface RuleView {
  capability: Capability;
  mode: Mode;
  value: string;
  /** The normalised form when it differs from the value (paths: absolute guest pattern). */
  normalized?: string;
  source: string;
  at?: string;
  specificity: number[];
  why?: string;
}

export interface Decision {
  decision: Mode;
  kind: RequestKind;
  capability: Capability;
  /** The target as evaluated: an absolute guest path, host:port, a port, a name. */
  target: string;
  /** The deciding rule; null for deny-by-default, mandatory denies and VM facts. */
  rule: RuleView | null;
  layer: "rule" | "runtime" | "mandatory" | "guard" | "default" | "loopback" | "vm";
  reason: string;
  enforcedBy: Enforcer;
  notes: string[];
}

export function ruleView(r: Rule): RuleView {
  const normalized = r.matcher.type === "path" ? r.matcher.path.pattern : undefined;
  return {
    capability: r.capability,
    mode: r.mode,
    value: r.value,
    ...(normalized && normalized !== r.value ? { normalized } : {}),
    source: r.source,
    ...(r.at ? { at: r.at } : {}),
    specificity: r.specificity,
    ...(r.why ? { why: r.why } : {}),
  };
}

/**
 * A connection from inside the VM to a listener inside the VM takes a local port that agentOS checks as `listen`
 * (measured: `tcp://127.0.0.1:1024: blocked by network.listen policy` on the agent's own fetch of its own server;
 * ports are handed out from 1024 up). So once a policy lets the agent listen at all, it also gets this window.
 */
const CLIENT_PORTS = { lo: 1024, hi: 1279 } as const;

/**
 * Rules a listen allow implies: reaching the agent's own listener (fetch 127.0.0.1/localhost/[::1] on those ports)
 * and the local client ports such a connection needs.
 */
function derivedRules(rules: Rule[]): Rule[] {
  const out: Rule[] = [];
  let first: Rule | undefined;
  for (const r of rules) {
    if (r.capability !== "network.listen" || r.mode !== "allow" || r.matcher.type !== "ports") continue;
    first ??= r;
    const { lo, hi } = r.matcher.ports;
    for (const host of ["127.0.0.1", "localhost", "[::1]"]) {
      const p = parseRule("network.fetch", "allow", `${host}:1`, r.source, {}, r.at);
      if (!p.ok || p.value.matcher.type !== "net") continue;
      const ports = { lo: Math.max(lo, 1), hi };
      out.push({
        ...p.value,
        value: `${host}:${lo === hi ? lo : `${lo}-${hi}`}`,
        matcher: { type: "net", net: { host: p.value.matcher.net.host, ports } },
        why: `reach the agent's own listener inside the VM (network.listen ${r.value})`,
        derived: "self-fetch",
      });
    }
  }
  if (first) {
    const p = parseRule("network.listen", "allow", `${CLIENT_PORTS.lo}-${CLIENT_PORTS.hi}`, first.source, {}, first.at);
    if (p.ok) {
      out.push({
        ...p.value,
        why: "local ports of the agent's own connections to its listeners (agentOS checks them as listen; handed out from 1024 up)",
        derived: "client-ports",
      });
    }
  }
  return out;
}

/**
 * A read deny also denies writing what it names, at the same specificity: a file the agent may not read must not be
 * moved out from under the deny or hard-linked to another name, and agentOS checks both as writes (guards.ts).
 */
function readDenyWrites(rules: Rule[]): Rule[] {
  return rules
    .filter((r) => r.capability === "fs.read" && r.mode === "deny" && r.matcher.type === "path")
    .map((r) => ({ ...r, capability: "fs.write" as const, why: `implied by the read deny '${r.value}': what may not be read may not be moved away or linked to another name either`, derived: "read-deny" as const }));
}

/**
 * The host's own addresses (every interface's but loopback): agentOS keeps the host's loopback closed to the guest
 * (but exempted ports), but it does not know the host's other addresses, so with `--allow-net` (or a CIDR that covers
 * one) a service listening on all interfaces was reached through the host's LAN address as if on loopback (measured:
 * `fetch("http://<eth0 address>:PORT")` answered from the host). Each is denied, as an exact host, wherever an allow
 * could reach it; an allow naming the address itself (`--allow-net=10.0.0.5` or `10.0.0.5:8080`) still decides.
 */
export function hostAddressDenies(rules: Rule[], addresses: readonly string[]): Rule[] {
  const allows = rules.filter((r) => r.capability === "network.fetch" && r.mode === "allow" && r.matcher.type === "net" && r.source !== "runtime");
  const wide = allows.filter((r) => r.matcher.type === "net" && (r.matcher.net.host.kind === "any" || r.matcher.net.host.kind === "cidr"));
  if (!wide.length) return [];
  const out: Rule[] = [];
  for (const addr of addresses) {
    const forms = addr.includes(":") ? [`[${addr}]`] : [addr, `[::ffff:${addr}]`];
    for (const form of forms) {
      const p = parseRule("network.fetch", "deny", form, "runtime");
      if (!p.ok || p.value.matcher.type !== "net") continue;
      const host = p.value.matcher.net.host;
      const named = allows.some((r) => r.matcher.type === "net" && r.matcher.net.host.kind === "name" && host.kind === "name" && r.matcher.net.host.name === host.name);
      const reached = wide.some((r) => ruleMatches(r, { type: "net", target: { host: form.startsWith("[::ffff:") ? addr : form } }));
      if (named || !reached) continue;
      out.push({ ...p.value, why: "the host's own address: a host service listening on all interfaces is the host's, like its loopback" });
    }
  }
  return out;
}

let addressCache: { at: number; list: string[] } | undefined;
/**
 * This host's interface addresses but loopback (IPv6 without a zone): what a RuntimeContext's hostAddresses holds for
 * a real VM. Read only at the boundaries (compileSandbox, which every VM's policy goes through, and the caps
 * commands); compile and evaluate take them from the context. Read again after a few seconds (a long-lived worker's
 * host may gain one), not at every compile: a worker compiles a policy per heartbeat.
 */
export function hostAddresses(now = Date.now()): string[] {
  if (addressCache && now - addressCache.at < 5000) return addressCache.list;
  addressCache = { at: now, list: readHostAddresses() };
  return addressCache.list;
}

function readHostAddresses(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      out.add(a.family === "IPv6" ? a.address.replace(/%.*$/, "").toLowerCase() : a.address);
    }
  }
  return [...out];
}

/**
 * The rules evaluation and compilation work on: the policy's, the runtime's own, and those the policy's imply. Pure:
 * the host's addresses come from the context (ctx.hostAddresses), not from this host's interfaces.
 */
export function effectiveRules(policy: Policy, ctx: RuntimeContext): Rule[] {
  return [...runtimeRules(ctx), ...policy.rules, ...derivedRules(policy.rules), ...readDenyWrites(policy.rules), ...hostAddressDenies(policy.rules, ctx.hostAddresses)];
}

const guardCache = new WeakMap<Rule[], Guard[]>();
/** The guards of every fs deny in force (the mandatory ones and the rules'), and the git dirs' (guards.ts). */
export function fsGuards(rules: Rule[]): Guard[] {
  let g = guardCache.get(rules);
  if (!g) {
    const denies = rules.flatMap((r) => (r.mode === "deny" && r.matcher.type === "path" ? [r.matcher.path] : []));
    g = [...guardsOf([...mandatoryDenies().flatMap((m) => m.patterns), ...denies]), GIT_DIR_GUARD];
    guardCache.set(rules, g);
  }
  return g;
}

/** The most specific matching rule (deny wins ties); `op` skips rules narrowed to other agentOS operations. */
export function decide(rules: Rule[], capability: Capability, target: RuleTarget, op?: string): Rule | undefined {
  let best: Rule | undefined;
  for (const r of rules) {
    if (r.capability !== capability) continue;
    if (op && r.ops && !r.ops.includes(op)) continue;
    if (!ruleMatches(r, target)) continue;
    if (!best || compareRules(r, best) > 0) best = r;
  }
  return best;
}

/** Host loopback ports the VM may reach: the gateway, the runtime's extras, and loopback hosts allowed with a port. */
export function loopbackPorts(rules: Rule[], ctx: Partial<RuntimeContext> = {}): number[] {
  const ports = new Set<number>();
  if (ctx.gatewayPort !== undefined) ports.add(ctx.gatewayPort);
  for (const p of ctx.extraLoopbackPorts ?? []) ports.add(p);
  for (const r of rules) {
    if (r.capability !== "network.fetch" || r.mode !== "allow" || r.matcher.type !== "net" || r.source === "runtime") continue;
    if (r.derived) continue;
    const { host, ports: range } = r.matcher.net;
    if (host.kind !== "name" || !isLoopbackHost(host.name) || !range || range.lo !== range.hi) continue;
    if (decide(rules, "network.fetch", { type: "net", target: { host: host.name, port: range.lo } })?.mode === "allow") ports.add(range.lo);
  }
  return [...ports].sort((a, b) => a - b);
}

const NODE_COMMANDS = ["node", "npm", "npx", "pnpm", "yarn", "tsx", "pi", "opencode"];
const PYTHON_COMMANDS = ["python", "python3", "pip", "pip3"];
/** Which driver agentOS starts a command with: node and python for their runtimes, WASM for everything else. */
export function driverFor(command: string): string {
  const base = command.split("/").pop() ?? command;
  if ((DRIVERS as readonly string[]).includes(base)) return base;
  if (NODE_COMMANDS.includes(base)) return "node";
  if (PYTHON_COMMANDS.includes(base)) return "python";
  return "wasm";
}

function describeTarget(kind: RequestKind, target: string): string {
  switch (kind) {
    case "read":
      return `reading ${target}`;
    case "write":
      return `writing ${target}`;
    case "fetch":
      return `connecting to ${target}`;
    case "listen":
      return `listening on port ${target}`;
    case "env":
      return `passing ${target} into the VM`;
    case "spawn":
      return `starting ${target}`;
    case "tool":
      return `calling tool ${target}`;
  }
}

const ENFORCER: Record<RequestKind, Enforcer> = {
  read: "agentos-kernel",
  write: "agentos-kernel",
  fetch: "agentos-kernel",
  listen: "agentos-kernel",
  spawn: "agentos-kernel",
  env: "host-env-filter",
  tool: "host-function-permission",
};

function fromRule(base: Omit<Decision, "decision" | "rule" | "layer" | "reason">, rule: Rule | undefined, what: string): Decision {
  if (!rule) return { ...base, decision: "deny", rule: null, layer: "default", reason: `nothing allows ${what} (deny by default)` };
  const verb = rule.mode === "allow" ? "allowed" : "denied";
  const by = rule.source === "runtime" ? `the runtime's own need '${rule.value}' (${rule.why})` : `${rule.mode} '${rule.value}' from ${rule.source}${rule.at ? ` ${rule.at}` : ""}`;
  return { ...base, decision: rule.mode, rule: ruleView(rule), layer: rule.source === "runtime" ? "runtime" : "rule", reason: `${what} is ${verb} by ${by}` };
}

/** Decide one request against rules already made effective (effectiveRules). */
export function evaluateWith(rules: Rule[], req: EvalRequest, ctx: Partial<EvalContext>): Decision {
  const capability = CAPABILITY_OF[req.kind];
  const base = { kind: req.kind, capability, target: req.target, enforcedBy: ENFORCER[req.kind], notes: [] as string[] };
  switch (req.kind) {
    case "read":
    case "write": {
      const t = resolveTargetPath(req.target, ctx);
      if (!t.ok) throw usageError(`${req.kind} target '${req.target}': ${t.message}`, t.hint, "invalid_target");
      const op = req.op ?? req.kind;
      const ops: readonly string[] = req.kind === "read" ? FS_READ_OPS : FS_WRITE_OPS;
      if (!ops.includes(op)) throw usageError(`'${op}' is not a ${req.kind} operation`, `${req.kind} operations: ${ops.join(", ")}`, "invalid_target");
      const path = t.value;
      const b = { ...base, target: path, notes: [...t.notes] };
      const what = describeTarget(req.kind, path) + (op === req.kind ? "" : ` (${op})`);
      for (const md of mandatoryDenies()) {
        if (!(mandatoryOps(md) as readonly string[]).includes(op)) continue;
        if (!md.patterns.some((p) => pathMatches(p, path))) continue;
        const exact = rules.find(
          (r) => r.capability === capability && r.mode === "allow" && (r.source !== "runtime" || r.lifts) && r.matcher.type === "path" && !r.matcher.path.glob && r.matcher.path.pattern === path,
        );
        if (!exact) {
          return {
            ...b,
            decision: "deny",
            rule: null,
            layer: "mandatory",
            reason: `${what} is always denied (${md.name}: ${md.why}); only an allow naming exactly ${path} opens it`,
          };
        }
        b.notes.push(`the mandatory deny on ${md.name} is lifted by the exact allow '${exact.value}' from ${exact.source}`);
        break;
      }
      const guard = guardFor(fsGuards(rules), path, op);
      if (guard) {
        if (guard.kind === "git-dir") {
          return { ...b, decision: "deny", rule: null, layer: "guard", reason: `${what} is denied: no link may be made or moved into a git dir (${guard.pattern.pattern}): the host's git would read the file it leads to` };
        }
        const how = guard.kind === "ancestor" ? "it is an ancestor of" : "moving it would take paths out of or into";
        return { ...b, decision: "deny", rule: null, layer: "guard", reason: `${what} is denied: ${how} ${guard.protects}, which a deny protects (renaming, deleting or replacing it would change which rule decides there)` };
      }
      return fromRule(b, decide(rules, capability, { type: "path", path }, op), what);
    }
    case "fetch": {
      const t = parseFetchTarget(req.target.trim());
      if (!t.ok) throw usageError(`fetch target '${req.target}': ${t.message}`, t.hint, "invalid_target");
      const target: FetchTarget = t.value;
      const shown = target.port === undefined ? target.host : `${target.host}:${target.port}`;
      const b = { ...base, target: shown };
      if (target.port === undefined) b.notes.push("no port given: only rules without a port decide it");
      const what = describeTarget("fetch", shown);
      const d = fromRule(b, decide(rules, capability, { type: "net", target }), what);
      if (d.decision === "deny" || !isLoopbackHost(target.host)) return d;
      const port = target.port;
      if (port !== undefined && loopbackPorts(rules, ctx).includes(port)) {
        d.notes.push(`port ${port} on the host's loopback is exempted (loopbackExemptPorts)`);
        return d;
      }
      if (port !== undefined && decide(rules, "network.listen", { type: "port", port })?.mode === "allow") {
        d.notes.push(`this reaches only a listener inside the VM on port ${port}, never the host's`);
        return d;
      }
      return {
        ...d,
        decision: "deny",
        layer: "loopback",
        reason:
          port === undefined
            ? `${what}: the host's loopback opens port by port; allow ${target.host}:PORT`
            : `${what}: port ${port} on the host's loopback is not exempted and nothing in the VM may listen on it; allow exactly ${target.host}:${port} to reach a host service`,
      };
    }
    case "listen": {
      const p = parseListenPorts(req.target);
      if (!p.ok || p.value.lo !== p.value.hi) throw usageError(`listen target '${req.target}' is not a port`, "ask about one port, e.g. 3000", "invalid_target");
      const port = p.value.lo;
      return fromRule({ ...base, target: String(port) }, decide(rules, capability, { type: "port", port }), describeTarget("listen", String(port)));
    }
    case "env": {
      const name = req.target.trim();
      if (!ENV_NAME.test(name)) throw usageError(`'${req.target}' is not an environment variable name`, undefined, "invalid_target");
      const rule = decide(rules, capability, { type: "name", name });
      const shield = envShield(name, rule?.mode === "allow" && rule.matcher.type === "env" && rule.matcher.exact === name, { gateway: ctx.gatewayPort !== undefined });
      if (shield && (shield.kind !== "secret" || rule?.mode === "allow")) {
        return { ...base, target: name, decision: "deny", rule: rule ? ruleView(rule) : null, layer: shield.kind === "vm" ? "vm" : "mandatory", reason: shield.reason };
      }
      return fromRule({ ...base, target: name }, rule, describeTarget("env", name));
    }
    case "spawn": {
      const name = req.target.trim();
      if (name === "" || /\s/.test(name)) throw usageError(`'${req.target}' is not a driver or command name`, `drivers: ${DRIVERS.join(", ")}`, "invalid_target");
      const driver = driverFor(name);
      const driverRules = rules.filter((r) => !(r.matcher.type === "spawn" && r.matcher.command !== undefined));
      const d = fromRule({ ...base, target: name }, decide(driverRules, capability, { type: "name", name: driver }), describeTarget("spawn", driver === name ? name : `${name} (driver ${driver})`));
      if (driver !== name) {
        d.notes.push(`agentOS decides by the runtime driver: ${name} runs under ${driver}`);
        const cmdRule = decide(rules.filter((r) => r.matcher.type === "spawn" && r.matcher.command !== undefined), capability, { type: "name", name });
        if (cmdRule && cmdRule.mode !== d.decision) {
          d.notes.push(`the per-command rule ${cmdRule.mode} '${cmdRule.value}' (${cmdRule.source}) is NOT enforced: agentOS 0.2.21 cannot tell commands of one driver apart`);
        }
      }
      return d;
    }
    case "tool": {
      const name = req.target.trim();
      if (!/^[A-Za-z][A-Za-z0-9-]*[.:][A-Za-z][A-Za-z0-9-]*$/.test(name)) throw usageError(`'${req.target}' is not a tool name`, "write collection.function, e.g. git.status", "invalid_target");
      return fromRule({ ...base, target: name }, decide(rules, capability, { type: "name", name }), describeTarget("tool", name));
    }
  }
}

/** The host-side tool gate (src/tools asks it before every call from the VM): the same decision as the kernel's. */
export function toolGate(policy: Policy): (toolName: string) => { allowed: boolean; reason: string } {
  // Tools only: the host-address denies are fetch rules and decide no tool.
  const ev = evaluator(policy, { hostAddresses: [] });
  return (toolName) => {
    const d = ev({ kind: "tool", target: toolName });
    return { allowed: d.decision === "allow", reason: d.rule ? `tool.invoke ${d.rule.mode} ${d.rule.value} (${d.rule.source})` : d.reason };
  };
}

/**
 * The fs.read gate for host tools reading workspace files for the agent (src/tools asks it for every file): the same
 * decision as the kernel's, mandatory denies included. Guest paths in, `{allowed, reason}` out.
 */
export function readGate(policy: Policy, ctx: Omit<EvalContext, "hostAddresses"> = {}): (guestPath: string) => { allowed: boolean; reason: string } {
  // Reads only: the host-address denies are fetch rules and decide no read.
  const ev = evaluator(policy, { ...ctx, hostAddresses: [] });
  return (guestPath) => {
    const d = ev({ kind: "read", target: guestPath });
    return { allowed: d.decision === "allow", reason: d.reason };
  };
}

/** Decide one request against a policy (plus the runtime's needs and the mandatory denies). */
export function evaluate(policy: Policy, req: EvalRequest, ctx: EvalContext): Decision {
  return evaluateWith(effectiveRules(policy, ctx), req, ctx);
}

/** Evaluate many requests against one policy without rebuilding the rule list each time. */
export function evaluator(policy: Policy, ctx: EvalContext): (req: EvalRequest) => Decision {
  const rules = effectiveRules(policy, ctx);
  return (req) => evaluateWith(rules, req, ctx);
}
