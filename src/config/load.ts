/**
 * Finding, reading and layering the config files. Precedence, highest first: flags, the run request, Paperclip's
 * environment (run), the project file, the user file, the built-in defaults. The project file is `.paperclip-aos.json`
 * in the working directory or a parent up to the git root (outside a repository: the working directory only, so a
 * stray file in /tmp or $HOME is not picked up by every directory below it).
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import * as v from "valibot";
import { usageError } from "../errors.ts";
import { closest } from "../suggest.ts";
import { userConfigFile } from "../paths.ts";
import type { PermissionFlags } from "../caps/index.ts";
import { CONFIG_KEYS, ConfigSchema, USER_ONLY_KEYS, type Config, type ConfigKey } from "./schema.ts";

export const PROJECT_CONFIG_NAME = ".paperclip-aos.json";

export type ConfigLevel = "project" | "user";

export interface ConfigFile {
  level: ConfigLevel;
  path: string;
  config: Config;
}

export interface LoadedConfig {
  /** Project first (it wins), then user; only the files that exist. */
  files: ConfigFile[];
  /** The merged values (project over user); keys no file sets are absent. */
  values: Partial<Record<ConfigKey, Config[ConfigKey]>> & Config;
  /** Which file each merged value came from. */
  from: Partial<Record<ConfigKey, string>>;
}

/** The project file that applies in `cwd`, if any. */
export function findProjectConfig(cwd: string): string | undefined {
  const dirs: string[] = [];
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    dirs.push(dir);
    if (existsSync(join(dir, ".git"))) break;
    if (dirname(dir) === dir) {
      dirs.splice(1); // no repository: the working directory only
      break;
    }
  }
  return dirs.map((d) => join(d, PROJECT_CONFIG_NAME)).find((f) => existsSync(f));
}

/** Read and check one config file. Throws usageError (exit 2) naming the file and the field. */
export function readConfigFile(path: string, level: ConfigLevel): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw usageError(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`, "fix its permissions or remove it", "invalid_config");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw usageError(`config file ${path} is not valid JSON: ${(e as Error).message}`, "fix the JSON (paperclip-aos config schema shows the format)", "invalid_config");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw usageError(`config file ${path} must hold a JSON object`, `for example {"model": "anthropic/claude-sonnet-4-5"}`, "invalid_config");
  }
  const r = v.safeParse(ConfigSchema, json);
  if (!r.success) {
    const issue = r.issues[0];
    const field = v.getDotPath(issue) ?? (issue.type === "strict_object" && issue.input !== undefined ? String(issue.input) : undefined);
    if (issue.type === "strict_object" || (issue.expected === "never" && field)) {
      const key = String(issue.path?.at(-1)?.key ?? field);
      const near = closest(key, CONFIG_KEYS);
      throw usageError(`config file ${path}: unknown field '${key}'`, near ? `did you mean '${near}'?` : `fields: ${CONFIG_KEYS.join(", ")}`, "invalid_config");
    }
    const at = field ? `field '${field}' ` : "";
    throw usageError(`config file ${path}: ${at}${issue.message}, got ${JSON.stringify(issue.input)}`, "paperclip-aos config schema shows the format", "invalid_config");
  }
  const userOnly = level === "project" ? USER_ONLY_KEYS.find((k) => r.output[k] !== undefined) : undefined;
  if (userOnly) {
    throw usageError(`config file ${path}: '${userOnly}' may only be set in the user config (a project file must not send its runs elsewhere)`, `move it to ${userConfigFile()}`, "invalid_config");
  }
  if (level === "project") refuseWidening(path, r.output);
  return { level, path, config: r.output };
}

/**
 * The project file comes with the workspace, whose content is not the operator's to vouch for (a cloned repository,
 * what an earlier agent left): it may choose among what the built-in default allows, never widen it. So it may not
 * name the `networked` preset (every host, every port: a planted file gave the heartbeat network the operator never
 * granted), nor a scripted model outside its own directory (the gateway reads the script on the host, and quoted the
 * first word of any host file in the result: `scripted:/etc/...`). Both stay possible in the user config and by flag.
 */
function refuseWidening(path: string, c: Config): void {
  const hint = `set it in ${userConfigFile()} or by flag`;
  if (c.preset === "networked") {
    throw usageError(`config file ${path}: a project file may not choose the 'networked' preset (it would widen the policy of every run in the workspace)`, hint, "invalid_config");
  }
  const script = typeof c.model === "string" && c.model.startsWith("scripted:") ? c.model.slice("scripted:".length) : undefined;
  if (script === undefined) return;
  const dir = dirname(path);
  const lexical = !isAbsolute(script) && !script.split(/[\\/]/).includes("..");
  // A link in the repository (git carries them) must not lead out either.
  const real = lexical ? realpathOrNull(resolve(dir, script)) : null;
  const realDir = realpathOrNull(dir) ?? dir;
  if (!lexical || (real !== null && !real.startsWith(`${realDir}${sep}`))) {
    throw usageError(`config file ${path}: a project file's scripted model must be a file inside its directory, got '${script}'`, hint, "invalid_config");
  }
}

function realpathOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null; // not there (yet): the lexical check decided
  }
}

/** Load the user and project files that exist for `cwd`. */
export function loadConfig(opts: { cwd: string; env?: NodeJS.ProcessEnv }): LoadedConfig {
  const files: ConfigFile[] = [];
  const project = findProjectConfig(opts.cwd);
  if (project) files.push(readConfigFile(project, "project"));
  const user = userConfigFile(opts.env ?? process.env);
  if (existsSync(user)) files.push(readConfigFile(user, "user"));
  const values: LoadedConfig["values"] = {};
  const from: LoadedConfig["from"] = {};
  for (const key of CONFIG_KEYS) {
    const file = files.find((f) => f.config[key] !== undefined);
    if (file) {
      (values as Record<string, unknown>)[key] = file.config[key];
      from[key] = file.path;
    }
  }
  return { files, values, from };
}

/**
 * The permission flags with the config's preset as their base when nothing else names one (no --preset or --caps, no
 * request capabilities): a preset among the flags is exactly the default base (resolvePolicy), and it travels with
 * the flags, so a run in-process and one through the warm worker get the same policy.
 */
export function withConfigPreset(flags: PermissionFlags | undefined, preset: Config["preset"], otherBase = false): PermissionFlags | undefined {
  if (!preset || otherBase || (flags && (flags.presets.length || flags.caps.length))) return flags;
  return { rules: flags?.rules ?? [], caps: [], presets: [preset] };
}
