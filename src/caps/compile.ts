/**
 * compilePolicy: turn a Policy into what the runtime hands agentOS 0.2.21, plus the host-side parts.
 *
 * agentOS evaluates a scope's rules in order and the LAST matching rule wins (default when none matches). We emit
 * every rule of a capability sorted by ascending specificity, allow before deny at equal specificity, so the last
 * match is the most specific one and deny wins ties: exactly evaluate()'s precedence. After them come the mandatory
 * denies, then the exact-path allows that lift them, then the guards (guards.ts), which nothing lifts. Scopes never
 * interact: each rule lists only its own capability's operations (fs.read → read/readdir/stat/readlink, fs.write →
 * write/create_dir/rm/rename/symlink/chmod/truncate, network.fetch → fetch/http/dns, network.listen → listen), so
 * sorting per capability is enough.
 *
 * All six scopes are stated explicitly (agentOS #1960: an explicit object may replace the defaults). `env` and
 * `process` are "allow": env.read is enforced on the host (the guest env is built from the allowed names; agentOS's
 * env scope does not hide passed variables), and the process scope has no observable effect in 0.2.21.
 */
import { GUEST_WORKSPACE, pathMatches, patternTouches, toAgentOsGlobs } from "./paths.ts";
import { fetchResourcePatterns, isLoopbackHost, listenResourcePatterns } from "./network.ts";
import { camelToKebab, compareRules, ENV_NAME, type Rule } from "./rules.ts";
import { mandatoryDenies, mandatoryOps, SCOPE_ROOT, type RuntimeContext } from "./runtime-needs.ts";
import { decide, effectiveRules, evaluateWith, fsGuards, loopbackPorts, type Enforcer } from "./evaluate.ts";
import { envShield, secretValueWarning, type EnvShield } from "./env.ts";
import type { PolicyProblem } from "./check.ts";
import type { Policy } from "./policy.ts";
import type { PathContext } from "./paths.ts";
import { FS_READ_OPS, FS_WRITE_OPS, NET_FETCH_OPS, NET_LISTEN_OPS, type Capability, type Mode } from "./vocabulary.ts";

export interface FsRuleOut {
  mode: Mode;
  operations: string[];
  paths: string[];
}
export interface PatternRuleOut {
  mode: Mode;
  operations: string[];
  patterns: string[];
}

/** The compiled agentOS permissions, every scope stated. */
export interface CompiledPermissions {
  fs: { default: "deny"; rules: FsRuleOut[] };
  network: "deny" | { default: "deny"; rules: PatternRuleOut[] };
  childProcess: "deny" | { default: "deny"; rules: PatternRuleOut[] };
  process: "allow";
  env: "allow";
  hostFunction: "deny" | { default: "deny"; rules: PatternRuleOut[] };
}

export interface Enforcement {
  capability: Capability;
  mode: Mode;
  rule: string;
  /** `runtime` for the runtime's own needs, `mandatory` for the always-denied set. */
  source: string;
  where: Enforcer;
  note: string;
}

export interface CompileContext extends PathContext, RuntimeContext {
  /** The host environment env.read picks from (never printed; explain shows names only). */
  hostEnv?: Record<string, string | undefined>;
}

export interface CompiledPolicy {
  permissions: CompiledPermissions;
  loopbackExemptPorts: number[];
  /** The whole guest environment the host passes to exec/sessions: only names env.read allows. */
  guestEnv: Record<string, string>;
  /** Host variables a rule allows but that stay out of the guest (env.ts: VM-owned, gateway, secret-looking), names only. */
  withheldEnv: { name: string; kind: EnvShield["kind"]; reason: string }[];
  enforcement: Enforcement[];
  warnings: (PolicyProblem & { source?: string })[];
  /** Whether any allow can reach into /workspace for writing; if not, the runtime can mount it read-only too. */
  workspaceWritable: boolean;
}

const byCapability = (rules: Rule[], cap: Capability) => rules.filter((r) => r.capability === cap).sort(compareRules);

function fsOut(r: Rule): FsRuleOut {
  if (r.matcher.type !== "path") throw new Error("not a path rule");
  return {
    mode: r.mode,
    operations: [...(r.ops ?? (r.capability === "fs.read" ? FS_READ_OPS : FS_WRITE_OPS))],
    paths: toAgentOsGlobs(r.matcher.path),
  };
}

function fetchOut(r: Rule): PatternRuleOut {
  if (r.matcher.type !== "net") throw new Error("not a network rule");
  // A deny for one port must not deny the name lookup the other ports need.
  const withDns = r.mode === "allow" || r.matcher.net.ports === undefined;
  return { mode: r.mode, operations: [...NET_FETCH_OPS], patterns: fetchResourcePatterns(r.matcher.net, { withDns }) };
}

function listenOut(r: Rule): PatternRuleOut {
  if (r.matcher.type !== "ports") throw new Error("not a listen rule");
  return { mode: r.mode, operations: [...NET_LISTEN_OPS], patterns: listenResourcePatterns(r.matcher.ports) };
}

function spawnOut(r: Rule): PatternRuleOut | undefined {
  if (r.matcher.type !== "spawn" || r.matcher.command !== undefined) return undefined;
  return { mode: r.mode, operations: ["spawn"], patterns: r.matcher.any ? ["**"] : [r.matcher.driver!] };
}

/**
 * The typed tools are one agentOS host-function collection, "paperclip"; tool `git.status` is its function
 * `git-status`, so the kernel sees the resource `paperclip:git-status` (src/tools/names.ts; a test checks we agree).
 */
export const TOOL_COLLECTION = "paperclip";
export function toolResource(collection: string | undefined, fn: string | undefined): string {
  if (collection === undefined) return `${TOOL_COLLECTION}:*`;
  return `${TOOL_COLLECTION}:${camelToKebab(collection)}-${fn === undefined ? "*" : camelToKebab(fn)}`;
}

function toolOut(r: Rule): PatternRuleOut {
  if (r.matcher.type !== "tool") throw new Error("not a tool rule");
  return { mode: r.mode, operations: ["invoke"], patterns: [toolResource(r.matcher.collection, r.matcher.fn)] };
}

const scope = (rules: PatternRuleOut[]) => (rules.length ? { default: "deny" as const, rules } : ("deny" as const));

function describeOut(r: { mode: Mode; operations: string[] } & ({ paths: string[] } | { patterns: string[] })): string {
  const res = "paths" in r ? r.paths : r.patterns;
  const shown = res.length > 6 ? `${res.slice(0, 6).join(", ")}, … (${res.length} patterns)` : res.join(", ");
  return `${r.mode} [${r.operations.join(",")}] on ${shown}`;
}

/**
 * A read deny implies a write deny of the same paths (evaluate.ts), so nothing is moved or hard-linked out from under
 * it. A more specific write allow inside it wins and re-opens exactly that: say so.
 */
function writesInsideReadDenies(rules: Rule[]): CompiledPolicy["warnings"] {
  const out: CompiledPolicy["warnings"] = [];
  for (const d of rules) {
    if (d.capability !== "fs.read" || d.mode !== "deny" || d.matcher.type !== "path") continue;
    for (const a of rules) {
      if (a.capability !== "fs.write" || a.mode !== "allow" || a.matcher.type !== "path" || compareRules(a, d) <= 0) continue;
      if (a.matcher.path.glob || !pathMatches(d.matcher.path, a.matcher.path.pattern)) continue;
      out.push({
        path: a.at ?? a.source,
        source: a.source,
        value: a.value,
        message: `'${a.value}' lets the agent write inside the read deny '${d.value}': files there can be moved or hard-linked to where they can be read`,
        hint: `deny reading less, or allow writing outside ${d.matcher.path.pattern}`,
      });
    }
  }
  return out;
}

/** Compile a policy for agentOS 0.2.21 and the host-side filters. Pure. */
export function compilePolicy(policy: Policy, ctx: CompileContext): CompiledPolicy {
  const rules = effectiveRules(policy, ctx);
  const enforcement: Enforcement[] = [];
  const warnings: CompiledPolicy["warnings"] = [...policy.warnings, ...writesInsideReadDenies(policy.rules)];
  const note = (r: Rule, where: Enforcer, text: string) =>
    enforcement.push({ capability: r.capability, mode: r.mode, rule: r.value, source: r.source, where, note: r.why ? `${text} — ${r.why}` : text });

  // fs: reads and writes by specificity, then mandatory denies, then the exact allows that lift them.
  const fsRules: FsRuleOut[] = [];
  for (const r of [...byCapability(rules, "fs.read"), ...byCapability(rules, "fs.write")].sort(compareRules)) {
    const out = fsOut(r);
    fsRules.push(out);
    note(r, "agentos-kernel", `fs rule: ${describeOut(out)}`);
  }
  const lifts: FsRuleOut[] = [];
  for (const md of mandatoryDenies()) {
    fsRules.push({ mode: "deny", operations: [...mandatoryOps(md)], paths: md.patterns.flatMap(toAgentOsGlobs) });
    enforcement.push({
      capability: md.protects === "write" ? "fs.write" : "fs.read",
      mode: "deny",
      rule: md.name,
      source: "mandatory",
      where: "agentos-kernel",
      note: `always denied (${md.protects === "write" ? "writing" : "reading and writing"}) ${md.scope === "workspace" ? `under ${SCOPE_ROOT.workspace}` : "everywhere in the VM"}: ${md.why}`,
    });
  }
  for (const r of rules) {
    if (r.mode !== "allow" || r.matcher.type !== "path" || r.matcher.path.glob || (r.source === "runtime" && !r.lifts)) continue;
    const path = r.matcher.path.pattern;
    const kind = r.capability === "fs.read" ? "read" : "write";
    const guarded = mandatoryDenies().some(
      (md) => (kind === "write" || md.protects === "read+write") && md.patterns.some((p) => pathMatches(p, path)),
    );
    if (!guarded) continue;
    // Lift exactly the operations the rules below the mandatory layer allow there (a guard may deny some).
    const ops = (kind === "read" ? [...FS_READ_OPS] : [...FS_WRITE_OPS]).filter((op) => evaluateWith(rules, { kind, target: path, op }, ctx).decision === "allow");
    if (ops.length === 0) continue;
    if (lifts.some((l) => l.paths[0] === path && l.operations.join() === ops.join())) continue;
    lifts.push({ mode: "allow", operations: ops, paths: [path] });
    note(r, "agentos-kernel", `lifts the mandatory deny for exactly ${path} (nothing below it)`);
  }
  fsRules.push(...lifts);
  for (const g of fsGuards(rules)) {
    fsRules.push({ mode: "deny", operations: [...g.ops], paths: toAgentOsGlobs(g.pattern) });
    enforcement.push({
      capability: "fs.write",
      mode: "deny",
      rule: g.pattern.pattern,
      source: "guard",
      where: "agentos-kernel",
      note: g.kind === "ancestor"
        ? `${g.ops.join(", ")} denied on ${g.pattern.pattern} itself: an ancestor of ${g.protects}, so it cannot be renamed, deleted or replaced by a file or link`
        : g.kind === "git-dir"
          ? `${g.ops.join(", ")} denied in ${g.pattern.pattern}: no link in a git dir, which the host's git would follow to any workspace file`
          : `rename denied below ${g.pattern.pattern}: moving anything out of it or into it would change what ${g.protects} matches`,
    });
  }

  // network: fetch rules then listen rules; their operations never overlap.
  const netRules: PatternRuleOut[] = [];
  for (const r of byCapability(rules, "network.fetch")) {
    const out = fetchOut(r);
    netRules.push(out);
    if (r.derived) continue;
    const m = r.matcher.type === "net" ? r.matcher.net : undefined;
    let text = `network rule: ${describeOut(out)}`;
    if (m && m.host.kind === "name" && isLoopbackHost(m.host.name) && r.mode === "allow") {
      text += m.ports && m.ports.lo === m.ports.hi ? `; host port ${m.ports.lo} added to loopbackExemptPorts` : "; without a port only listeners inside the VM are reachable";
    }
    if (m?.host.kind === "cidr") text += "; matches connections to IP addresses (a name lookup is not allowed by a CIDR rule)";
    if (m?.host.kind === "any" && r.mode === "allow") text += "; the host's own loopback stays closed except exempted ports";
    note(r, "agentos-kernel", text);
  }
  for (const r of byCapability(rules, "network.listen")) {
    const out = listenOut(r);
    netRules.push(out);
    if (r.derived) {
      enforcement.push({ capability: r.capability, mode: r.mode, rule: r.value, source: r.source, where: "agentos-kernel", note: `implied by listening at all: ${r.why}` });
      continue;
    }
    note(r, "agentos-kernel", `network rule: ${describeOut(out)}${r.mode === "allow" ? "; also lets the agent connect to its own listener on 127.0.0.1/localhost" : ""}`);
  }

  const spawnRules: PatternRuleOut[] = [];
  for (const r of byCapability(rules, "process.spawn")) {
    const out = spawnOut(r);
    if (out) {
      spawnRules.push(out);
      note(r, "agentos-kernel", `childProcess rule: ${describeOut(out)}`);
    } else {
      note(r, "not-enforceable", "agentOS 0.2.21 sees the runtime driver (wasm, node, python), not the command name; this rule is not compiled and the driver rules decide");
    }
  }

  const toolRules: PatternRuleOut[] = [];
  for (const r of byCapability(rules, "tool.invoke")) {
    const out = toolOut(r);
    toolRules.push(out);
    note(r, "host-function-permission", `hostFunction rule: ${describeOut(out)}`);
  }

  const guestEnv: Record<string, string> = {};
  for (const r of byCapability(rules, "env.read")) {
    note(r, "host-env-filter", "the guest environment is built on the host from the allowed names; nothing else from the host environment is passed in");
  }
  const withheldEnv: { name: string; kind: EnvShield["kind"]; reason: string }[] = [];
  for (const [name, value] of Object.entries(ctx.hostEnv ?? {})) {
    if (value === undefined || !ENV_NAME.test(name)) continue;
    const rule = decide(rules, "env.read", { type: "name", name });
    if (rule?.mode !== "allow") continue;
    const shield = envShield(name, rule.matcher.type === "env" && rule.matcher.exact === name, { gateway: ctx.gatewayPort !== undefined }, value);
    if (shield) withheldEnv.push({ name, kind: shield.kind, reason: shield.reason });
    else {
      guestEnv[name] = value;
      const warning = secretValueWarning(name, value);
      if (warning) warnings.push({ ...warning, source: "environment" });
    }
  }

  const workspaceWritable = rules.some(
    (r) => r.capability === "fs.write" && r.mode === "allow" && r.matcher.type === "path" && patternTouches(r.matcher.path, GUEST_WORKSPACE),
  );

  return {
    permissions: {
      fs: { default: "deny", rules: fsRules },
      network: scope(netRules),
      childProcess: scope(spawnRules),
      process: "allow",
      env: "allow",
      hostFunction: scope(toolRules),
    },
    loopbackExemptPorts: loopbackPorts(rules, ctx),
    guestEnv,
    withheldEnv,
    enforcement,
    warnings,
    workspaceWritable,
  };
}
