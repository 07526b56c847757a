/**
 * resolvePolicy: merge every source of rules into one Policy. Files, the request's `capabilities` document and flags
 * add up; the order never changes a decision because precedence is by specificity, not by position. A preset is a
 * base the flags refine: an `--allow-X` flag replaces the preset's allows of its kind (a Deno user who writes
 * `--allow-write=/workspace/out` means only that), kinds no allow flag names keep the preset, and denies (the preset's,
 * `--deny-X`, the mandatory ones) always narrow. Bad input of any kind is a usageError (exit 2) naming the first
 * problem and how to see all of them.
 */
import { readFileSync } from "node:fs";
import { usageError } from "../errors.ts";
import { closest } from "../suggest.ts";
import { checkPolicy, policyWarnings, presetRules, type PolicyProblem } from "./check.ts";
import { allValue, emptyPermissionFlags, type PermissionFlags } from "./flags.ts";
import type { PathContext } from "./paths.ts";
import { isPresetName, PRESET_NAMES, type PresetName } from "./presets.ts";
import { parseRule, type Rule } from "./rules.ts";

export interface Policy {
  /** Every rule from every source (not the runtime's own needs; evaluate and compile add those). */
  rules: Rule[];
  /** Where the rules came from, in merge order: `preset workspace-write`, `file caps.json`, `request`, `flags`. */
  sources: string[];
  warnings: (PolicyProblem & { source: string })[];
}

export interface ResolveInput {
  /** Policy files (JSON). */
  file?: string | string[];
  preset?: string | string[];
  flags?: PermissionFlags;
  /** A policy document given inline (the `capabilities` field of a run request), or a preset name. */
  json?: unknown;
  /** Label for `json` in messages (default "request.capabilities"). */
  jsonSource?: string;
  /**
   * The base when no file, preset or json is given (exec and run use workspace-write: `--allow-net=x` means "the
   * usual, with network to x"; `--allow-write=x` "the usual, but writes only in x"; `--preset=none` starts from nothing).
   */
  defaultPreset?: PresetName;
}

const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

function invalid(source: string, errors: PolicyProblem[], checkCmd?: string): never {
  const first = errors[0]!;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  const where = first.path === "$" ? "" : ` at ${first.path}`;
  const hint = [first.hint, checkCmd ? `run '${checkCmd}' to see every problem` : undefined].filter(Boolean).join("; ");
  throw usageError(`${source}${where}: ${first.message}${more}`, hint || undefined, "invalid_policy");
}

export function presetOrThrow(name: string): PresetName {
  if (isPresetName(name)) return name;
  const near = closest(name, PRESET_NAMES);
  throw usageError(`unknown preset '${name}'`, near ? `did you mean '${near}'?` : `presets are ${PRESET_NAMES.join(", ")}`, "unknown_preset");
}

export function readPolicyFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw usageError(
      code === "ENOENT" ? `policy file ${path} does not exist` : `cannot read policy file ${path}: ${code ?? e}`,
      "pass a readable JSON policy file, or use --preset NAME",
      "policy_unreadable",
    );
  }
}

/** Rules for parsed permission flags. Throws usageError on a bad value. */
function flagRules(flags: PermissionFlags, ctx: PathContext = {}): { rules: Rule[]; warnings: PolicyProblem[] } {
  const rules: Rule[] = [];
  const warnings: PolicyProblem[] = [];
  for (const f of flags.rules) {
    for (const value of f.values ?? [allValue(f.capability)]) {
      const r = parseRule(f.capability, f.mode, value, `flag ${f.token.split("=")[0]}`, ctx);
      if (!r.ok) throw usageError(`${f.token.split("=")[0]}=${value}: ${r.message}`, r.hint, "invalid_flag");
      for (const n of r.notes) warnings.push({ path: f.token, message: n, value });
      rules.push(r.value);
    }
  }
  return { rules, warnings };
}

/**
 * Merge presets, files, the inline document and flags into one Policy. `ctx.workspaceHostDir` lets host paths under
 * the workspace be written as such. Throws usageError (exit 2) on any invalid source.
 */
export function resolvePolicy(input: ResolveInput, ctx: PathContext = {}): Policy {
  const flags = input.flags ?? emptyPermissionFlags();
  const policy: Policy = { rules: [], sources: [], warnings: [] };
  const add = (source: string, rules: Rule[], warnings: PolicyProblem[]) => {
    policy.sources.push(source);
    policy.rules.push(...rules);
    policy.warnings.push(...warnings.map((w) => ({ ...w, source })));
  };

  const presets = [...list(input.preset), ...flags.presets];
  const files = [...list(input.file), ...flags.caps];
  const nothing = presets.length === 0 && files.length === 0 && input.json === undefined;
  if (nothing && input.defaultPreset) presets.push(input.defaultPreset);

  // The kinds an allow flag names: the presets' allows of those kinds give way to the flags.
  const replaced = new Set(flags.rules.filter((f) => f.mode === "allow").map((f) => f.capability));
  const addPreset = (name: string) => {
    const preset = presetOrThrow(name);
    const all = presetRules(preset);
    const kept = all.filter((r) => !(r.mode === "allow" && replaced.has(r.capability)));
    const gone = [...new Set(all.filter((r) => !kept.includes(r)).map((r) => r.capability))];
    add(gone.length ? `preset ${preset} (its ${gone.join(", ")} allows replaced by flags)` : `preset ${preset}`, kept, []);
  };

  for (const name of presets) addPreset(name);
  for (const file of files) {
    const source = `file ${file}`;
    const r = checkPolicy(readPolicyFile(file), source, ctx);
    if (!r.valid) invalid(`policy ${file}`, r.errors, `paperclip-aos caps check ${file}`);
    add(source, r.rules!, r.warnings);
  }
  if (input.json !== undefined) {
    const source = input.jsonSource ?? "request.capabilities";
    if (typeof input.json === "string" && !input.json.trim().startsWith("{")) {
      addPreset(input.json);
    } else {
      const r = checkPolicy(input.json, source, ctx);
      if (!r.valid) invalid(source, r.errors);
      add(source, r.rules!, r.warnings);
    }
  }
  if (flags.rules.length) {
    const { rules, warnings } = flagRules(flags, ctx);
    add("flags", rules, [...warnings, ...policyWarnings(rules)]);
  }
  return policy;
}

/** A policy as a plain document again (for `caps explain --json` and for storing the effective policy). */
export function policyToDocument(policy: Policy): { version: 1; allow: Record<string, string[]>; deny: Record<string, string[]> } {
  const doc = { version: 1 as const, allow: {} as Record<string, string[]>, deny: {} as Record<string, string[]> };
  for (const r of policy.rules) {
    const value = r.matcher.type === "path" ? r.matcher.path.pattern : r.value;
    const bucket = (doc[r.mode][r.capability] ??= []);
    if (!bucket.includes(value)) bucket.push(value);
  }
  return doc;
}
