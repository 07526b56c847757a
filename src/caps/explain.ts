/**
 * explainPolicy: what a policy means, as data (`caps explain --json`) and in plain words: the effective rules per
 * capability, the runtime's own needs, the mandatory denies, the compiled agentOS permissions, the loopback ports
 * exempted, which host variables the guest gets (names only, never values), and for every rule where it is enforced
 * or that it is not enforceable.
 */
import { compilePolicy, type CompileContext, type CompiledPermissions, type Enforcement, type FsRuleOut, type PatternRuleOut } from "./compile.ts";
import { ruleView, type RuleView } from "./evaluate.ts";
import { policyToDocument, type Policy } from "./policy.ts";
import { mandatoryDenies, PROTECTED_ROOTS, runtimeRules } from "./runtime-needs.ts";
import { CAPABILITIES, type Capability } from "./vocabulary.ts";
import type { PolicyProblem } from "./check.ts";

export interface Explanation {
  sources: string[];
  /** The merged policy as a plain document. */
  effective: ReturnType<typeof policyToDocument>;
  rules: (RuleView & { where: Enforcement["where"]; note: string })[];
  runtime: { capability: Capability; value: string; operations?: readonly string[]; why: string }[];
  mandatory: { name: string; protects: "read+write" | "write"; why: string; roots: string[] }[];
  compiled: {
    permissions: CompiledPermissions;
    loopbackExemptPorts: number[];
    /** Names only: values are secrets. */
    guestEnvNames: string[];
    hostFunctionRules: PatternRuleOut[];
    workspaceWritable: boolean;
  };
  enforcement: Enforcement[];
  notEnforceable: Enforcement[];
  warnings: (PolicyProblem & { source?: string })[];
}

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

export function explainPolicy(policy: Policy, ctx: CompileContext = {}, opts: ExplainOptions = {}): { data: Explanation; text: string } {
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
  const mandatory = mandatoryDenies().map((m) => ({ name: m.name, protects: m.protects, why: m.why, roots: PROTECTED_ROOTS }));
  const data: Explanation = {
    sources: policy.sources,
    effective: policyToDocument(policy),
    rules,
    runtime,
    mandatory,
    compiled: {
      permissions,
      loopbackExemptPorts: compiled.loopbackExemptPorts,
      guestEnvNames: Object.keys(compiled.guestEnv).sort(),
      hostFunctionRules: typeof permissions.hostFunction === "string" ? [] : permissions.hostFunction.rules,
      workspaceWritable: compiled.workspaceWritable,
    },
    enforcement: compiled.enforcement,
    notEnforceable: compiled.enforcement.filter((e) => e.where === "not-enforceable"),
    warnings: compiled.warnings,
  };
  return { data, text: renderExplanation(data, policy) };
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

function renderExplanation(d: Explanation, policy: Policy): string {
  const out: string[] = [];
  const push = (...l: string[]) => out.push(...l);
  push(`Policy: ${d.sources.length ? d.sources.join(" + ") : "nothing given (everything denied except the runtime's needs)"}`);
  push("  Deny by default. The most specific rule wins; at equal specificity deny wins.", "");

  push("What the agent may do");
  const gateway = d.runtime.filter((r) => r.capability === "network.fetch");
  for (const cap of CAPABILITIES) {
    const own = policy.rules.filter((r) => r.capability === cap);
    const allow = own.filter((r) => r.mode === "allow");
    const deny = own.filter((r) => r.mode === "deny");
    const fmt = (rs: typeof own) => rs.map((r) => `${r.matcher.type === "path" ? r.matcher.path.pattern : r.value} (${r.source})`).join(", ");
    let line = allow.length ? fmt(allow) : "nothing";
    if (cap === "network.fetch") {
      const gw = gateway.map((r) => r.value);
      if (gw.length) line += allow.length ? `; plus ${gw.join(", ")} (runtime)` : ` but ${gw.join(", ")} (the runtime: ${gateway[0]!.why})`;
    }
    push(`  ${HEADINGS[cap].padEnd(16)} ${line}`);
    if (deny.length) push(`  ${"  except".padEnd(16)} ${fmt(deny)}`);
  }
  push(
    `  ${"guest env".padEnd(16)} ${d.compiled.guestEnvNames.length ? d.compiled.guestEnvNames.join(", ") : "no host variables"} (the VM sets HOME, PATH, USER, PWD itself)`,
    `  ${"host loopback".padEnd(16)} ${d.compiled.loopbackExemptPorts.length ? d.compiled.loopbackExemptPorts.map((p) => `127.0.0.1:${p}`).join(", ") : "closed"}`,
    `  ${"workspace mount".padEnd(16)} ${d.compiled.workspaceWritable ? "writable" : "nothing in /workspace is writable (the mount can be read-only)"}`,
    "",
  );

  push("Always denied (mandatory), under " + PROTECTED_ROOTS.join(", ") + "; only an allow naming the exact path lifts one");
  const secrets = d.mandatory.filter((m) => m.protects === "read+write").map((m) => m.name);
  const configs = d.mandatory.filter((m) => m.protects === "write").map((m) => m.name);
  push(`  reading and writing: ${secrets.join(" ")}`, `  writing:             ${configs.join(" ")}`, "");

  push("Runtime needs (granted so that commands and the agent can start; all inside the VM, no host data)");
  for (const r of d.runtime) {
    const what = r.operations ? r.operations.join(",") : r.capability === "fs.read" ? "read" : r.capability === "fs.write" ? "write" : "fetch";
    push(`  ${what.padEnd(5)} ${r.value.padEnd(18)} ${r.why}`);
  }
  push("");

  push("Where each rule is enforced");
  for (const e of d.enforcement.filter((e) => e.source !== "mandatory" && e.source !== "runtime")) {
    const where = e.where === "not-enforceable" ? "NOT ENFORCEABLE" : e.where;
    push(`  ${where.padEnd(24)} ${e.capability} ${e.mode} '${e.rule}' (${e.source}): ${e.note}`);
  }
  push(
    `  ${"agentos-kernel".padEnd(24)} the runtime needs and the mandatory denies above (fs rules)`,
    `  ${"not governed".padEnd(24)} process signals (agentOS's process scope has no observable effect in 0.2.21; stated "allow")`,
    "",
  );
  if (d.notEnforceable.length) {
    push("Not enforceable", ...d.notEnforceable.map((e) => `  ${e.capability} ${e.mode} '${e.rule}' (${e.source}): ${e.note}`), "");
  }

  push("Compiled agentOS 0.2.21 permissions");
  const p = d.compiled.permissions;
  push(
    ...scopeLines("fs", p.fs),
    ...scopeLines("network", p.network),
    ...scopeLines("childProcess", p.childProcess),
    ...scopeLines("process", p.process),
    ...scopeLines("env", p.env),
    ...scopeLines("hostFunction", p.hostFunction),
    `  loopbackExemptPorts: [${d.compiled.loopbackExemptPorts.join(", ")}]`,
    "",
  );
  if (d.warnings.length) {
    push("Warnings", ...d.warnings.map((w) => `  ${w.source ? `${w.source} ` : ""}${w.path}: ${w.message}${w.hint ? ` (${w.hint})` : ""}`), "");
  }
  return out.join("\n");
}
