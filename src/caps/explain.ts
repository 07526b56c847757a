/**
 * explainPolicy: what a policy means, as data (`caps explain --json`) and in plain words. The text leads with the
 * summary (what the agent may read, write, fetch, listen on, start, which variables and tools it gets, and what agentOS
 * cannot enforce), then the mandatory set, compactly; the runtime's own needs, where each rule is enforced and the
 * compiled agentOS permissions come only with `rules` (`caps explain --rules`). renderExplanation is a pure function
 * of the Explanation, so whatever builds one (a policy here, a VM plan elsewhere) renders the same way.
 */
import { compilePolicy, type CompileContext, type CompiledPermissions, type Enforcement, type FsRuleOut, type PatternRuleOut } from "./compile.ts";
import { effectiveRules, fsGuards, hostAddressDenies, ruleView, type RuleView } from "./evaluate.ts";
import type { Guard } from "./guards.ts";
import { policyToDocument, type Policy } from "./policy.ts";
import { mandatoryDenies, runtimeRules, SCOPE_ROOT, type MandatoryGroup, type MandatoryScope, type Protects } from "./runtime-needs.ts";
import { CAPABILITIES, type Capability } from "./vocabulary.ts";
import type { PolicyProblem } from "./check.ts";
import { GATEWAY_ENV_PREFIXES } from "./env.ts";

export interface Explanation {
  sources: string[];
  /** The merged policy as a plain document. */
  effective: ReturnType<typeof policyToDocument>;
  rules: (RuleView & { where: Enforcement["where"]; note: string })[];
  runtime: { capability: Capability; value: string; operations?: readonly string[]; why: string }[];
  mandatory: { name: string; protects: Protects; group: MandatoryGroup; scope: MandatoryScope; why: string; patterns: string[] }[];
  /**
   * The host's own interface addresses denied because an allow of any host or a CIDR would reach them (evaluate.ts
   * hostAddressDenies), as the deny rules' values (`10.0.0.5`, `[::ffff:10.0.0.5]`, `[fe80::1]`).
   */
  hostAddressDenies: string[];
  /** What keeps each deny from being renamed, deleted or linked around (guards.ts). */
  guards: { pattern: string; kind: Guard["kind"]; operations: readonly string[]; protects: string }[];
  compiled: {
    permissions: CompiledPermissions;
    loopbackExemptPorts: number[];
    /** Names only: values are secrets. */
    guestEnvNames: string[];
    /** Host variables a rule allows that still stay out of the guest (env.ts), names and why, never values. */
    withheldEnv: { name: string; kind: string; reason: string }[];
    hostFunctionRules: PatternRuleOut[];
    workspaceWritable: boolean;
  };
  enforcement: Enforcement[];
  notEnforceable: Enforcement[];
  /** What agentOS 0.2.21 cannot enforce whatever the policy says (docs/caps.md has the measurements). */
  limits: string[];
  warnings: (PolicyProblem & { source?: string })[];
}

/** Measured limits of agentOS 0.2.21 that no policy changes (docs/caps.md). */
export const AGENTOS_LIMITS = [
  "a file the host already has under two names (a hard link made on the host) is two paths to agentOS: a deny on one name does not cover the other",
  "a repository whose core.hooksPath names another directory of the workspace: deny writing that directory yourself (--deny-write=DIR); .git/hooks and .husky are covered",
  "process signals are not governed (agentOS's process scope has no observable effect; stated \"allow\")",
  "rules match names exactly: on a case-insensitive or normalising host filesystem (macOS's default APFS) .ENV, or a name in another Unicode normalisation, opens a protected file under a name no rule matches (not measured: this was built and tested on case-sensitive Linux)",
  "no VM's memory is capped by agentOS: the sidecar's data limit (PAPERCLIP_AOS_VM_MEMORY_MB, default half the host's memory plus 1 GiB for each VM it may hold) caps each sidecar, so under `serve` a heartbeat that fills it can make the others sharing its sidecar fail an allocation",
  "a run may add at most 1 GiB to its workspace (PAPERCLIP_AOS_WRITE_ALLOWANCE_MB; counted net, in-process and through the worker): past it a write fails with ENOSPC; what its artifacts.publish calls store is capped by the same amount; outside the workspace (/tmp, the agent's home) the same allowance holds in-process, but through the worker only the sidecar's memory cap bounds what a heartbeat writes (a spare VM's quota is fixed before its workspace is known)",
  "a VM may have at most 16 processes at once (PAPERCLIP_AOS_VM_MAX_PROCESSES; agentOS sets none): each WASM command adds ~0.5 GB to its sidecar's data size, so a flood would reach the memory cap and end the sidecar with every VM on it; past the limit the guest gets EAGAIN",
];

const HEADINGS: Record<Capability, string> = {
  "fs.read": "read files",
  "fs.write": "write files",
  "network.fetch": "connect to",
  "network.listen": "listen on",
  "process.spawn": "start processes",
  "env.read": "host env vars",
  "tool.invoke": "call tools",
};

export interface ExplainOptions {
  /**
   * What the VM boots with on top of the compiled policy (src/plan's vmPermissions: the host tools' needs), so the
   * permissions shown are exactly the VM's.
   */
  vmPermissions?: (p: CompiledPermissions) => CompiledPermissions;
}

export function explainPolicy(policy: Policy, ctx: CompileContext, opts: ExplainOptions = {}): { data: Explanation; text: string } {
  const compiled = compilePolicy(policy, ctx);
  const permissions = opts.vmPermissions ? opts.vmPermissions(compiled.permissions) : compiled.permissions;
  const enforcementFor = (r: RuleView) =>
    compiled.enforcement.find((e) => e.capability === r.capability && e.mode === r.mode && e.rule === r.value && e.source === r.source);
  const rules = policy.rules.map((r) => {
    const v = ruleView(r);
    const e = enforcementFor(v);
    return { ...v, where: e?.where ?? "agentos-kernel", note: e?.note ?? "" };
  });
  const runtime = runtimeRules(ctx).map((r) => ({
    capability: r.capability,
    value: r.value,
    ...(r.ops ? { operations: r.ops } : {}),
    why: r.why ?? "",
  }));
  const mandatory = mandatoryDenies().map((m) => ({
    name: m.name, protects: m.protects, group: m.group, scope: m.scope, why: m.why, patterns: m.patterns.map((p) => p.pattern),
  }));
  const guards = fsGuards(effectiveRules(policy, ctx)).map((g) => ({ pattern: g.pattern.pattern, kind: g.kind, operations: g.ops, protects: g.protects }));
  const data: Explanation = {
    sources: policy.sources,
    effective: policyToDocument(policy),
    rules,
    runtime,
    mandatory,
    hostAddressDenies: hostAddressDenies(policy.rules, ctx.hostAddresses).map((r) => r.value),
    guards,
    compiled: {
      permissions,
      loopbackExemptPorts: compiled.loopbackExemptPorts,
      guestEnvNames: Object.keys(compiled.guestEnv).sort(),
      withheldEnv: [...compiled.withheldEnv].sort((a, b) => (a.name < b.name ? -1 : 1)),
      hostFunctionRules: typeof permissions.hostFunction === "string" ? [] : permissions.hostFunction.rules,
      workspaceWritable: compiled.workspaceWritable,
    },
    enforcement: compiled.enforcement,
    notEnforceable: compiled.enforcement.filter((e) => e.where === "not-enforceable"),
    limits: AGENTOS_LIMITS,
    warnings: compiled.warnings,
  };
  return { data, text: renderExplanation(data) };
}

function withheldLines(w: Explanation["compiled"]["withheldEnv"]): string[] {
  const by = (kind: string) => w.filter((x) => x.kind === kind).map((x) => x.name);
  const out: string[] = [];
  const secret = by("secret");
  const gateway = by("gateway");
  const vm = by("vm");
  if (secret.length) out.push(`  ${"  withheld".padEnd(16)} ${secret.join(", ")} (secret-looking: only a rule naming one exactly passes it)`);
  if (gateway.length) out.push(`  ${"  withheld".padEnd(16)} ${gateway.join(", ")} (the model gateway's: stay on the host)`);
  if (vm.length) out.push(`  ${"  withheld".padEnd(16)} ${vm.join(", ")} (set by the VM)`);
  return out;
}

function ruleLine(r: FsRuleOut | PatternRuleOut): string {
  const res = "paths" in r ? r.paths : r.patterns;
  const shown = res.length > 8 ? `${res.slice(0, 8).join(" ")} … (+${res.length - 8})` : res.join(" ");
  return `${r.mode.padEnd(5)} [${r.operations.join(",")}] ${shown}`;
}

function scopeLines(name: string, s: CompiledPermissions[keyof CompiledPermissions]): string[] {
  if (typeof s === "string") return [`  ${name}: ${s}`];
  return [`  ${name}: default ${s.default}, ${s.rules.length} rule${s.rules.length === 1 ? "" : "s"} (the last match wins)`, ...s.rules.map((r) => `    ${ruleLine(r)}`)];
}

const GROUPS: { group: MandatoryGroup; title: string }[] = [
  { group: "secret", title: "credentials (no reading, no writing)" },
  { group: "git", title: "git runs these (no writing)" },
  { group: "shell-editor", title: "shells, editors, MCP (no writing)" },
  { group: "agent", title: "agent CLIs' project files (no writing)" },
];

const scopeWords = (scope: MandatoryScope) => (scope === "everywhere" ? "everywhere in the VM" : `in ${SCOPE_ROOT.workspace}`);

export interface RenderOptions {
  /** Also the runtime's needs, where each rule is enforced and the compiled agentOS permissions. */
  rules?: boolean;
}

/** The explanation in plain words (pure: the same data always renders the same text). */
export function renderExplanation(d: Explanation, opts: RenderOptions = {}): string {
  const out: string[] = [];
  const push = (...l: string[]) => out.push(...l);
  push(`Policy: ${d.sources.length ? d.sources.join(" + ") : "nothing given (everything denied except the runtime's needs)"}`);
  push("  Deny by default. The most specific rule wins; at equal specificity deny wins.", "");

  push("What the agent may do");
  const gateway = d.runtime.filter((r) => r.capability === "network.fetch");
  for (const cap of CAPABILITIES) {
    const own = d.rules.filter((r) => r.capability === cap);
    const allow = own.filter((r) => r.mode === "allow");
    const deny = own.filter((r) => r.mode === "deny");
    const fmt = (rs: typeof own) => rs.map((r) => `${r.normalized ?? r.value} (${r.source})`).join(", ");
    let line = allow.length ? fmt(allow) : "nothing";
    if (cap === "network.fetch") {
      const gw = gateway.map((r) => r.value);
      if (gw.length) line += allow.length ? `; plus ${gw.join(", ")} (runtime)` : ` but ${gw.join(", ")} (the runtime: ${gateway[0]!.why})`;
    }
    push(`  ${HEADINGS[cap].padEnd(16)} ${line}`);
    if (deny.length) push(`  ${"  except".padEnd(16)} ${fmt(deny)}`);
    if (cap === "network.fetch" && d.hostAddressDenies.length) {
      const a = d.hostAddressDenies;
      const shown = a.length > 8 ? `${a.slice(0, 8).join(", ")}, … (+${a.length - 8})` : a.join(", ");
      push(`  ${"  except".padEnd(16)} the host's own addresses ${shown} (runtime: a host service listening on all interfaces is the host's, like its loopback; an allow naming one exactly still reaches it)`);
    }
    // The gateway is open whatever the rules say, so it must not open the network for the agent (docs/gateway.md).
    if (cap === "network.fetch" && gateway.length) push(`  ${"".padEnd(16)} the gateway forwards no provider-side network tool (web search or fetch, MCP connectors) and no content by URL: the provider does not reach the network for the agent`);
  }
  push(
    `  ${"guest env".padEnd(16)} ${d.compiled.guestEnvNames.length ? d.compiled.guestEnvNames.join(", ") : "no host variables"} (the VM sets HOME, PATH, USER, PWD itself)`,
    ...withheldLines(d.compiled.withheldEnv),
    `  ${"".padEnd(16)} in run, provider keys and the gateway's variables (${GATEWAY_ENV_PREFIXES.slice(0, 2).map((p) => `${p}*`).join(", ")}, ...) never enter the VM`,
    `  ${"".padEnd(16)} agentOS 0.2.21 adds its own AGENTOS_* variables to every guest process (/proc/self/environ, process.env, /proc/1/cmdline): AGENTOS_GUEST_PATH_MAPPINGS and AGENTOS_EXTRA_FS_* name the sidecar's shadow root under our cache dir; they cannot be hidden`,
    `  ${"host loopback".padEnd(16)} ${d.compiled.loopbackExemptPorts.length ? d.compiled.loopbackExemptPorts.map((p) => `127.0.0.1:${p}`).join(", ") : "closed"}`,
    `  ${"workspace mount".padEnd(16)} ${d.compiled.workspaceWritable ? "writable" : "nothing in /workspace is writable (the mount is read-only)"}`,
    "",
  );

  push("Not enforceable");
  for (const e of d.notEnforceable) push(`  - ${e.capability} ${e.mode} '${e.rule}' (${e.source}): ${e.note}`);
  for (const l of d.limits) push(`  - ${l}`);
  push("");

  push("Always denied (mandatory); only an allow naming the exact path lifts one");
  for (const { group, title } of GROUPS) {
    const ms = d.mandatory.filter((m) => m.group === group);
    if (!ms.length) continue;
    const scopes = [...new Set(ms.map((m) => m.scope))];
    push(`  ${title}, ${scopes.map(scopeWords).join(" / ")}:`, `    ${ms.map((m) => m.name).join(" ")}`);
  }
  const ancestors = [...new Set(d.guards.filter((g) => g.kind === "ancestor").map((g) => g.pattern.replace(/^\/\*\*\//, "")))];
  const boundaries = d.guards.filter((g) => g.kind === "boundary").map((g) => g.pattern);
  push(
    "  guarded: no rename, delete or replacing (by a file or a link) of the directories above a deny, so nothing moves out",
    "  from under one and no protected name is planted:",
    `    ${ancestors.join(" ")}`,
  );
  if (boundaries.length) push(`  no renames below ${boundaries.join(", ")} (moving a directory out of or into one would change what its glob deny matches)`);
  push("  no symlink made and nothing renamed in a .git directory (the host's git would follow a link to any file)");
  push("  a read deny also denies writing, moving and linking what it names", "");

  if (d.warnings.length) {
    push("Warnings", ...d.warnings.map((w) => `  ${w.source ? `${w.source} ` : ""}${w.path}: ${w.message}${w.hint ? ` (${w.hint})` : ""}`), "");
  }

  const p = d.compiled.permissions;
  const count = (s: CompiledPermissions[keyof CompiledPermissions]) => (typeof s === "string" ? s : `${s.rules.length} rule${s.rules.length === 1 ? "" : "s"}`);
  if (!opts.rules) {
    push(`Compiled agentOS rules (fs ${count(p.fs)}, network ${count(p.network)}, childProcess ${count(p.childProcess)}, hostFunction ${count(p.hostFunction)}), the runtime's own needs and where each rule is enforced: --rules; everything as data: --json`);
    return out.join("\n");
  }

  push("Runtime needs (granted so that commands and the agent can start; all inside the VM, no host data)");
  for (const r of d.runtime) {
    const what = r.operations ? r.operations.join(",") : r.capability === "fs.read" ? "read" : r.capability === "fs.write" ? "write" : "fetch";
    push(`  ${what.padEnd(5)} ${r.value.padEnd(18)} ${r.why}`);
  }
  push("");

  push("Where each rule is enforced");
  for (const e of d.enforcement.filter((e) => e.source !== "mandatory" && e.source !== "runtime" && e.source !== "guard")) {
    const where = e.where === "not-enforceable" ? "NOT ENFORCEABLE" : e.where;
    push(`  ${where.padEnd(24)} ${e.capability} ${e.mode} '${e.rule}' (${e.source}): ${e.note}`);
  }
  push(
    `  ${"agentos-kernel".padEnd(24)} the runtime needs, the mandatory denies and the guards (fs rules)`,
    `  ${"not governed".padEnd(24)} process signals (agentOS's process scope has no observable effect in 0.2.21; stated "allow")`,
    "",
  );

  push("Compiled agentOS 0.2.21 permissions");
  push(
    ...scopeLines("fs", p.fs),
    ...scopeLines("network", p.network),
    ...scopeLines("childProcess", p.childProcess),
    ...scopeLines("process", p.process),
    ...scopeLines("env", p.env),
    ...scopeLines("hostFunction", p.hostFunction),
    `  loopbackExemptPorts: [${d.compiled.loopbackExemptPorts.join(", ")}]`,
  );
  return out.join("\n");
}
