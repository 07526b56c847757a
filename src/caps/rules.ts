/**
 * A rule is one entry of one capability's allow or deny list, parsed. Every source (policy file, preset, request
 * field, flag, the runtime's own needs) ends up as a list of these; evaluation and compilation only see rules.
 *
 * Entry grammar per capability (paths: paths.ts; hosts and ports: network.ts):
 * - process.spawn: `wasm`, `node`, `python` (the runtime drivers agentOS can tell apart) or `*`. Any other name is
 *   taken as a command name, which agentOS 0.2.21 cannot enforce (its childProcess rules see the driver, not the
 *   command): accepted with a warning, compiled to nothing.
 * - env.read: a variable name `HOME`, a prefix `NPM_*`, or `*`. Case-sensitive. Exact beats a longer prefix beats a
 *   shorter prefix beats `*`.
 * - tool.invoke: `collection.function` (e.g. `git.status`), `collection.*` or `collection` (all of it), or `*`.
 *   `collection:function` is accepted too. A name beats `collection.*` beats `*`.
 */
import { closest } from "../suggest.ts";
import { parsePathPattern, pathMatches, type PathContext, type PathPattern } from "./paths.ts";
import {
  netMatches, netSpecificity, parseListenPorts, parseNetPattern, portSpecificity, type FetchTarget, type NetPattern, type PortRange,
} from "./network.ts";
import { DRIVERS, type Capability, type Driver, type Mode, type Parsed } from "./vocabulary.ts";

export type Matcher =
  | { type: "path"; path: PathPattern }
  | { type: "net"; net: NetPattern }
  | { type: "ports"; ports: PortRange }
  | { type: "spawn"; any?: true; driver?: Driver; command?: string }
  | { type: "env"; exact?: string; prefix?: string }
  | { type: "tool"; collection?: string; fn?: string };

export interface Rule {
  capability: Capability;
  mode: Mode;
  /** The entry as written. */
  value: string;
  /** Where it came from: `preset workspace-write`, `file caps.json`, `flag --allow-read`, `request`, `runtime`. */
  source: string;
  /** JSON path of the entry in its document, e.g. `$.allow["fs.read"][0]`. */
  at?: string;
  matcher: Matcher;
  specificity: number[];
  /** agentOS operations the rule covers when narrower than the capability's (runtime rules only). */
  ops?: readonly string[];
  /** Why the runtime needs it (runtime rules), or why a derived rule exists. */
  why?: string;
  /** Implied by a listen allow: reaching the agent's own listener, and the local ports such connections take. */
  derived?: "self-fetch" | "client-ports" | "read-deny";
  /** A runtime rule that, like a policy's exact allow, lifts a mandatory deny for its one path. */
  lifts?: true;
}

export type RuleTarget =
  | { type: "path"; path: string }
  | { type: "net"; target: FetchTarget }
  | { type: "port"; port: number }
  | { type: "name"; name: string };

/** A host environment variable name (what env.read names and the guest environment may hold). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TOOL_PART = /^[A-Za-z][A-Za-z0-9-]*$/;

function parseMatcher(capability: Capability, raw: unknown, ctx: PathContext = {}): Parsed<{ matcher: Matcher; specificity: number[] }> {
  if (capability === "network.listen" && typeof raw === "number") raw = String(raw);
  if (typeof raw !== "string") return { ok: false, message: `expected a string, got ${JSON.stringify(raw)}` };
  const value = raw;
  switch (capability) {
    case "fs.read":
    case "fs.write": {
      const r = parsePathPattern(value, ctx);
      return r.ok ? { ok: true, value: { matcher: { type: "path", path: r.value }, specificity: r.value.specificity }, notes: r.notes } : r;
    }
    case "network.fetch": {
      const r = parseNetPattern(value.trim());
      return r.ok ? { ok: true, value: { matcher: { type: "net", net: r.value }, specificity: netSpecificity(r.value) }, notes: r.notes } : r;
    }
    case "network.listen": {
      const r = parseListenPorts(value);
      return r.ok ? { ok: true, value: { matcher: { type: "ports", ports: r.value }, specificity: portSpecificity(r.value) }, notes: r.notes } : r;
    }
    case "process.spawn": {
      if (value === "*") return { ok: true, value: { matcher: { type: "spawn", any: true }, specificity: [0] }, notes: [] };
      if ((DRIVERS as readonly string[]).includes(value)) {
        return { ok: true, value: { matcher: { type: "spawn", driver: value as Driver }, specificity: [1] }, notes: [] };
      }
      if (value === "" || /\s/.test(value)) return { ok: false, message: `'${value}' is not a driver or command name`, hint: `drivers: ${DRIVERS.join(", ")}` };
      const near = closest(value, DRIVERS, 1);
      const notes = [
        near
          ? `'${value}' is not a driver; did you mean '${near}'? As written it is a command name, which agentOS 0.2.21 cannot enforce`
          : `'${value}' is a command name; agentOS 0.2.21 sees only the runtime driver (${DRIVERS.join(", ")}), so this rule is not enforced`,
      ];
      return { ok: true, value: { matcher: { type: "spawn", command: value }, specificity: [1] }, notes };
    }
    case "env.read": {
      if (value === "*") return { ok: true, value: { matcher: { type: "env", prefix: "" }, specificity: [0, 0] }, notes: [] };
      if (value.endsWith("*")) {
        const prefix = value.slice(0, -1);
        if (!ENV_NAME.test(prefix)) return { ok: false, message: `'${value}' is not a variable name prefix`, hint: "write NAME, PREFIX_* or *" };
        return { ok: true, value: { matcher: { type: "env", prefix }, specificity: [1, prefix.length] }, notes: [] };
      }
      if (!ENV_NAME.test(value)) return { ok: false, message: `'${value}' is not a variable name`, hint: "letters, digits and _ (not first); a trailing * for a prefix" };
      return { ok: true, value: { matcher: { type: "env", exact: value }, specificity: [2, value.length] }, notes: [] };
    }
    case "tool.invoke": {
      if (value === "*") return { ok: true, value: { matcher: { type: "tool" }, specificity: [0] }, notes: [] };
      const [collection, fn, ...more] = value.split(/[.:]/);
      if (more.length || !TOOL_PART.test(collection ?? "") || (fn !== undefined && fn !== "*" && !TOOL_PART.test(fn))) {
        return { ok: false, message: `'${value}' is not a tool name`, hint: "write collection.function (git.status), collection.* or *" };
      }
      if (fn === undefined || fn === "*") return { ok: true, value: { matcher: { type: "tool", collection }, specificity: [1] }, notes: [] };
      return { ok: true, value: { matcher: { type: "tool", collection, fn }, specificity: [2] }, notes: [] };
    }
  }
}

/** Parse one entry into a rule. */
export function parseRule(
  capability: Capability,
  mode: Mode,
  raw: unknown,
  source: string,
  ctx: PathContext = {},
  at?: string,
): Parsed<Rule> {
  const r = parseMatcher(capability, raw, ctx);
  if (!r.ok) return r;
  return { ok: true, value: { capability, mode, value: String(raw), source, ...(at ? { at } : {}), ...r.value }, notes: r.notes };
}

/** agentOS's hostFunctionCommandName: host functions and collections are known to the kernel by kebab-case names. */
export const camelToKebab = (s: string) =>
  s.replace(/([a-z0-9])([A-Z])/g, "$1-$2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1-$2").toLowerCase();

/** Tool names compare with the function part in kebab case, as agentOS names host-function commands. */
function toolParts(name: string): { collection: string; fn?: string } {
  const [collection, fn] = name.split(/[.:]/);
  return { collection: camelToKebab(collection ?? ""), fn: fn === undefined ? undefined : camelToKebab(fn) };
}

export function ruleMatches(rule: Rule, target: RuleTarget): boolean {
  const m = rule.matcher;
  switch (m.type) {
    case "path":
      return target.type === "path" && pathMatches(m.path, target.path);
    case "net":
      return target.type === "net" && netMatches(m.net, target.target);
    case "ports":
      return target.type === "port" && target.port >= m.ports.lo && target.port <= m.ports.hi;
    case "spawn":
      if (target.type !== "name") return false;
      return m.any === true || m.driver === target.name || m.command === target.name;
    case "env":
      if (target.type !== "name") return false;
      return m.exact !== undefined ? m.exact === target.name : target.name.startsWith(m.prefix ?? "");
    case "tool": {
      if (target.type !== "name") return false;
      if (m.collection === undefined) return true;
      const t = toolParts(target.name);
      return t.collection === camelToKebab(m.collection) && (m.fn === undefined || camelToKebab(m.fn) === t.fn);
    }
  }
}

function compareSpecificity(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Ascending: least specific first; at equal specificity allow before deny. This is also the agentOS emit order. */
export function compareRules(a: Rule, b: Rule): number {
  return compareSpecificity(a.specificity, b.specificity) || (a.mode === b.mode ? 0 : a.mode === "allow" ? -1 : 1);
}
