/**
 * checkPolicy: validate a policy document and say what is wrong with it in terms a person can act on: the JSON path,
 * the bad value, why, and a fix ("did you mean fs.write?"). Unknown keys are errors. Warnings name rules that are
 * valid but not enforceable or probably not meant (a writable /**, a per-command spawn rule, env.read *, ...).
 */
import * as v from "valibot";
import { closest } from "../suggest.ts";
import { pathMatches, type PathContext } from "./paths.ts";
import { isPresetName, PRESET_NAMES, PRESETS, type PresetName } from "./presets.ts";
import { isLoopbackHost, ipv4String } from "./network.ts";
import { parseRule, ruleMatches, type Rule } from "./rules.ts";
import { mandatoryDenies, runtimeRules } from "./runtime-needs.ts";
import { PolicyDocumentSchema, type PolicyDocument } from "./schema.ts";
import { CAPABILITIES, CAPABILITY_ALIASES, type Capability, type Mode } from "./vocabulary.ts";
import { VM_OWNED_ENV } from "./env.ts";

export interface PolicyProblem {
  /** JSON path, e.g. `$.allow["fs.read"][2]`; `$` is the document. */
  path: string;
  message: string;
  hint?: string;
  value?: unknown;
}

/** A problem as one line ("flags: writable /** ... (hint)"): how exec and run report a policy's warnings. */
export function problemLine(p: PolicyProblem & { source?: string }): string {
  return `${p.source ? `${p.source}: ` : ""}${p.message}${p.hint ? ` (${p.hint})` : ""}`;
}

/** What a check knows besides the document: where the workspace is, and which tools exist (src/tools' registry). */
export interface CheckContext extends PathContext {
  /** The registered tool names: a tool.invoke rule naming none of them is an error (with the closest name). */
  toolNames?: readonly string[];
}

export interface CheckResult {
  valid: boolean;
  errors: PolicyProblem[];
  warnings: PolicyProblem[];
  /** The parsed rules (own and from `extends`), when valid. */
  rules?: Rule[];
  document?: PolicyDocument;
}

const TOP_KEYS = ["$schema", "version", "description", "extends", "allow", "deny"];

export function jsonPath(keys: (string | number)[]): string {
  let out = "$";
  for (const k of keys) out += typeof k === "number" ? `[${k}]` : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
  return out;
}

function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false; problem: PolicyProblem } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/^JSON Parse error: /, "") : String(e);
    const hint = /,\s*[}\]]/.test(text) ? "remove the trailing comma" : text.trim() === "" ? "the input is empty" : "keys and strings need double quotes; no comments or trailing commas";
    return { ok: false, problem: { path: "$", message: `not valid JSON: ${msg}`, hint } };
  }
}

function unknownKeyProblem(keys: (string | number)[], key: string): PolicyProblem {
  const parent = keys.slice(0, -1);
  const path = jsonPath(keys);
  if (parent.length === 0) {
    const cap = (CAPABILITIES as readonly string[]).includes(key) ? key : CAPABILITY_ALIASES[key];
    if (cap) {
      return {
        path,
        message: `unknown key '${key}' at the top level`,
        hint: `capabilities go under "allow" or "deny": {"version": 1, "allow": {"${cap}": [...]}}`,
        value: key,
      };
    }
    const near = closest(key, TOP_KEYS);
    return { path, message: `unknown key '${key}'`, hint: near ? `did you mean '${near}'?` : `the keys are ${TOP_KEYS.join(", ")}`, value: key };
  }
  if (parent.length === 1 && (parent[0] === "allow" || parent[0] === "deny")) {
    const alias = CAPABILITY_ALIASES[key];
    const near = alias ?? closest(key, CAPABILITIES);
    return {
      path,
      message: `unknown capability '${key}'`,
      hint: near ? `did you mean '${near}'?` : `capabilities are ${CAPABILITIES.join(", ")}`,
      value: key,
    };
  }
  return { path, message: `unknown key '${key}'`, value: key };
}

function notCapabilityLists(mode: Mode, input: unknown): PolicyProblem {
  return { path: jsonPath([mode]), message: `"${mode}" maps capability names to lists`, hint: `{"${mode}": {"fs.read": ["/workspace/**"]}}`, value: input };
}

function issueProblem(issue: v.BaseIssue<unknown>): PolicyProblem | undefined {
  const keys = (issue.path ?? []).map((p) => p.key as string | number);
  // Entries of capability lists get a precise message from parseRule instead.
  if (keys.length === 3 && (keys[0] === "allow" || keys[0] === "deny") && typeof keys[2] === "number") return undefined;
  if (issue.type === "strict_object" && issue.expected === "never") return unknownKeyProblem(keys, String(issue.input));
  const path = jsonPath(keys);
  const input = issue.input;
  if (keys[0] === "version") {
    return input === undefined
      ? { path: "$", message: 'missing "version"', hint: 'add "version": 1' }
      : { path, message: `unsupported version ${JSON.stringify(input)}`, hint: 'this tool reads "version": 1', value: input };
  }
  if (keys[0] === "extends") {
    const bad = Array.isArray(input) ? undefined : input;
    if (typeof bad === "string") {
      const near = closest(bad, PRESET_NAMES);
      return { path, message: `unknown preset '${bad}'`, hint: near ? `did you mean '${near}'?` : `presets are ${PRESET_NAMES.join(", ")}`, value: bad };
    }
    return { path, message: `"extends" must be a preset name or a list of them`, hint: `presets are ${PRESET_NAMES.join(", ")}`, value: input };
  }
  if (keys.length === 2 && (keys[0] === "allow" || keys[0] === "deny")) {
    return { path, message: `a capability takes a list of entries, got ${JSON.stringify(input)}`, hint: `write ["${typeof input === "string" ? input : "..."}"]`, value: input };
  }
  if (keys.length === 1 && (keys[0] === "allow" || keys[0] === "deny")) return notCapabilityLists(keys[0], input);
  return { path, message: issue.message, value: input };
}

/**
 * Validate a policy (parsed JSON, or JSON text). `source` labels the rules (e.g. `file caps.json`, `request`).
 * Never throws on bad input: everything comes back as errors.
 */
export function checkPolicy(json: unknown, source = "policy", ctx: CheckContext = {}): CheckResult {
  let doc = json;
  if (typeof json === "string") {
    const parsed = parseJsonText(json);
    if (!parsed.ok) return { valid: false, errors: [parsed.problem], warnings: [] };
    doc = parsed.value;
  }
  const errors: PolicyProblem[] = [];
  const warnings: PolicyProblem[] = [];
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    const got = Array.isArray(doc) ? "an array" : JSON.stringify(doc);
    return { valid: false, errors: [{ path: "$", message: `a policy is a JSON object, got ${got}`, hint: '{"version": 1, "allow": {...}}' }], warnings };
  }
  const d = doc as Record<string, unknown>;
  // valibot's strictObject takes an array for an object (its keys "0", "1" ... as unknown keys); the JSON Schema does not.
  const arrayLists = (["allow", "deny"] as const).filter((mode) => Array.isArray(d[mode]));
  for (const mode of arrayLists) errors.push(notCapabilityLists(mode, d[mode]));
  const add = (p: PolicyProblem) => {
    if (!errors.some((e) => e.path === p.path && e.message === p.message)) errors.push(p);
  };
  const result = v.safeParse(PolicyDocumentSchema, doc);
  if (!result.success) {
    for (const issue of result.issues) {
      if (arrayLists.some((mode) => issue.path?.[0]?.key === mode)) continue;
      const p = issueProblem(issue);
      if (p) add(p);
    }
  }
  // valibot's strictObject reports the first unknown key of an object only: every one of them is a problem.
  for (const p of unknownKeys(d)) add(p);
  const rules: Rule[] = [];
  const ext = d.extends;
  for (const name of (Array.isArray(ext) ? ext : ext === undefined ? [] : [ext]) as unknown[]) {
    if (typeof name === "string" && isPresetName(name)) rules.push(...presetRules(name));
  }
  const own: Rule[] = [];
  for (const mode of ["allow", "deny"] as const) {
    const lists = d[mode];
    if (!lists || typeof lists !== "object" || Array.isArray(lists)) continue;
    for (const [cap, entries] of Object.entries(lists)) {
      if (!(CAPABILITIES as readonly string[]).includes(cap) || !Array.isArray(entries)) continue;
      entries.forEach((entry, i) => {
        const at = jsonPath([mode, cap, i]);
        const r = parseRule(cap as Capability, mode, entry, source, ctx, at);
        if (!r.ok) errors.push({ path: at, message: r.message, ...(r.hint ? { hint: r.hint } : {}), value: entry });
        else if (ctx.toolNames && unknownTool(r.value, ctx.toolNames, errors, warnings)) {
          // reported: a rule for a tool that does not exist decides nothing
        } else {
          for (const n of r.notes) warnings.push({ path: at, message: n, value: entry });
          own.push(r.value);
        }
      });
    }
  }
  rules.push(...own);
  warnings.push(...policyWarnings(own));
  const valid = errors.length === 0;
  return valid ? { valid, errors, warnings, rules, document: result.output as PolicyDocument } : { valid, errors, warnings };
}

/** Every key that is neither a top-level key nor a capability, at the top level and under allow/deny. */
function unknownKeys(d: Record<string, unknown>): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  for (const k of Object.keys(d)) if (!TOP_KEYS.includes(k)) out.push(unknownKeyProblem([k], k));
  for (const mode of ["allow", "deny"] as const) {
    const lists = d[mode];
    if (!lists || typeof lists !== "object" || Array.isArray(lists)) continue;
    for (const k of Object.keys(lists)) if (!(CAPABILITIES as readonly string[]).includes(k)) out.push(unknownKeyProblem([mode, k], k));
  }
  return out;
}

/**
 * A tool.invoke rule that matches no registered tool: a name (git.stauts) is an error with the closest tool, a
 * collection (gti.*) a warning. True when the rule was reported.
 */
function unknownTool(rule: Rule, toolNames: readonly string[], errors: PolicyProblem[], warnings: PolicyProblem[]): boolean {
  const m = rule.matcher;
  if (m.type !== "tool" || m.collection === undefined) return false;
  if (toolNames.some((name) => ruleMatches(rule, { type: "name", name }))) return false;
  const at = rule.at ?? rule.source;
  if (m.fn !== undefined) {
    const near = closest(rule.value, toolNames);
    errors.push({ path: at, message: `unknown tool '${rule.value}'`, hint: near ? `did you mean '${near}'?` : `the tools are ${toolNames.join(", ")}`, value: rule.value });
    return true;
  }
  const collections = [...new Set(toolNames.map((n) => n.split(".")[0]!))];
  const near = closest(m.collection, collections);
  warnings.push({ path: at, message: `'${rule.value}' matches no tool`, hint: near ? `did you mean '${near}.*'?` : `the tools are ${toolNames.join(", ")}`, value: rule.value });
  return false;
}

const presetCache = new Map<PresetName, Rule[]>();
/** A preset's rules (presets are valid: a unit test checks each one). */
export function presetRules(name: PresetName): Rule[] {
  let rules = presetCache.get(name);
  if (!rules) {
    const r = checkPolicy(PRESETS[name], `preset ${name}`);
    if (!r.valid) throw new Error(`preset ${name} is invalid: ${r.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`);
    rules = r.rules!;
    presetCache.set(name, rules);
  }
  return rules;
}

/** Sample paths a mandatory deny protects, to tell whether a user's glob reaches one. */
function mandatorySamples(): { path: string; name: string; protects: string }[] {
  return mandatoryDenies().map((m) => ({
    path: `/workspace/${m.name.replace(/\/\*\*$/, "/x").replace(/\*/g, "x")}`,
    name: m.name,
    protects: m.protects,
  }));
}

/** Warnings about valid rules that are probably not what the author meant, or that the runtime cannot enforce. */
export function policyWarnings(own: Rule[]): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  const warn = (r: Rule, message: string, hint?: string) => out.push({ path: r.at ?? r.source, message, ...(hint ? { hint } : {}), value: r.value });
  const samples = mandatorySamples();
  const runtime = runtimeRules();
  for (const r of own) {
    const m = r.matcher;
    if (m.type === "path") {
      if (r.mode === "allow" && r.capability === "fs.write" && m.path.segments.filter((s) => s !== "**").length === 0) {
        warn(r, `'${r.value}' makes the whole VM filesystem writable, including the agent's own tools under /opt/agentos`, "allow /workspace/** and /tmp/** instead");
      }
      if (r.mode === "allow") {
        for (const s of samples) {
          if (r.capability === "fs.read" && s.protects === "write") continue;
          if (!pathMatches(m.path, s.path)) continue;
          if (!m.path.glob && m.path.pattern === s.path) continue;
          const last = m.path.segments[m.path.segments.length - 1] ?? "";
          if (m.path.glob && last !== "**" && last !== "*") {
            warn(r, `'${r.value}' does not open mandatory-denied files such as ${s.name}: only an allow naming the exact path does`, `write the exact path, e.g. "${s.path}"`);
            break;
          }
        }
        if (!m.path.glob) {
          for (const md of mandatoryDenies()) {
            if (r.capability === "fs.read" && md.protects === "write") continue;
            if (md.patterns.some((p) => pathMatches(p, m.path.pattern))) {
              warn(r, `'${r.value}' opens a mandatory-denied path (${md.name}: ${md.why})`, "make sure the agent should see it");
              break;
            }
          }
        }
      }
      if (r.mode === "deny") {
        const hit = runtime.find(
          (rt) => rt.capability === r.capability && rt.matcher.type === "path" &&
            (rt.matcher.path.glob ? m.path.segments.filter((s) => s !== "**").length === 0 : pathMatches(m.path, rt.matcher.path.pattern)),
        );
        if (hit) warn(r, `'${r.value}' also denies what the runtime needs (${hit.value}: ${hit.why}); commands or the agent may fail to start`);
      }
    }
    if (m.type === "net" && r.mode === "allow" && m.net.host.kind === "name" && isLoopbackHost(m.net.host.name) && !m.net.ports) {
      warn(r, `'${r.value}' without a port reaches only listeners inside the VM; the host's loopback opens port by port`, `write ${r.value}:PORT for a host service`);
    }
    if (m.type === "net" && r.mode === "allow" && m.net.host.kind === "cidr" && (m.net.host.base >>> 24) === 127) {
      warn(r, `${ipv4String(m.net.host.base)}/${m.net.host.bits} reaches only listeners inside the VM; the host's loopback opens port by port`);
    }
    if (m.type === "env" && r.mode === "allow" && m.prefix === "") {
      warn(r, "env.read '*' passes every host environment variable into the VM, secrets (API keys, tokens) included", "list the names the agent needs");
    }
    if (m.type === "env" && m.exact && VM_OWNED_ENV.includes(m.exact)) {
      warn(r, `${m.exact} is set by the VM itself; the host's value is never passed in`);
    }
  }
  const key = (r: Rule) => `${r.capability}\0${r.matcher.type === "path" ? r.matcher.path.pattern : r.value}`;
  const seen = new Map<string, Mode>();
  for (const r of own) {
    const k = key(r);
    const prev = seen.get(k);
    if (prev === r.mode) warn(r, `'${r.value}' is listed twice under ${r.capability}`);
    else if (prev) warn(r, `'${r.value}' is both allowed and denied under ${r.capability}; deny wins`);
    seen.set(k, prev && prev !== r.mode ? "deny" : r.mode);
  }
  return out;
}
