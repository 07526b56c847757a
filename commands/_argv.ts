/**
 * The command line, read once. Each token is decided against the command it is given to: its declared args (citty
 * definitions), the global flags, and for commands that take them the permission flags' grammar (src/caps/flags.ts).
 * So a value is never taken for a flag (`run --prompt "--deny-all the tests"`) and a flag never for a value
 * (`--cwd --json`), the global flags may come before the command (`--cwd DIR exec ...`), and everything after `--`
 * is the command's own.
 *
 * Values: `--flag=value` always; `--flag value` when the next argument is not written like a flag (`--x`, `-x`,
 * `--x=...`); a value that looks like a flag is written with `=`. Permission flags take their values with `=` only
 * (a bare one means all of its kind); see readPermissionFlag.
 */
import type { ArgDef, ArgsDef, CommandDef } from "citty";
import { usageError } from "../src/errors.ts";
import { didYouMean } from "../src/suggest.ts";
// The grammar's own file, not caps' index: the index loads the compiler and schemas (~30 ms), which --help and
// every command without permission flags would pay for at start-up.
import { looksLikeFlag, PERMISSION_FLAGS, readPermissionFlag, type PermissionFlags } from "../src/caps/flags.ts";
import { helpExtras } from "./_shared.ts";

type AnyCommand = CommandDef<any>;

export interface CommandLine {
  /** root, then each command named. */
  chain: AnyCommand[];
  names: string[];
  /** Parsed values by the args' own names (kebab-case) and camelCase, positionals under `_` and their names. */
  args: Record<string, unknown>;
  positionals: string[];
  /** Every flag of the command's own, in the order given (a repeatable one once per use): for commands where order matters. */
  options: { name: string; value: string | boolean }[];
  /** What follows `--`, or undefined when there is no `--`. */
  passthrough: string[] | undefined;
  /** argv without the command names: what citty calls rawArgs. */
  rawArgs: string[];
  permissionFlags: PermissionFlags | undefined;
  help: boolean;
  version: boolean;
}

/** What a command's run() gets as `data`: the parts of the one parse that citty's args cannot carry. */
export interface CommandData {
  permissionFlags: PermissionFlags | undefined;
  passthrough: string[] | undefined;
  options: CommandLine["options"];
}

/** The `data` a command was run with (undefined parts when run some other way). */
export function commandData(data: unknown): Partial<CommandData> {
  return (data ?? {}) as Partial<CommandData>;
}

/** What the parser saw before it stopped, for reporting an error the way the user asked (--json). */
export interface ParseProgress {
  json: boolean;
  /** The parse threw (the rest of argv was not read). */
  failed?: boolean;
}

export async function resolveValue<T>(v: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

export function commandName(names: string[]): string {
  return ["paperclip-aos", ...names].join(" ");
}

interface Known {
  def: ArgDef;
  name: string;
}

function knownFlags(args: ArgsDef): Map<string, Known> {
  const known = new Map<string, Known>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    known.set(name, { def, name });
    const aliases = "alias" in def ? def.alias : undefined;
    for (const a of Array.isArray(aliases) ? aliases : aliases ? [aliases] : []) known.set(a, { def, name });
  }
  return known;
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Parse argv against `root` and the commands it names. Throws usageError (exit 2) on an unknown command or flag, a
 * missing or surplus value, a repeated flag, a stray argument, a bad enum value or a missing required argument.
 */
export async function parseCommandLine(argv: string[], root: AnyCommand, progress: ParseProgress = { json: false }): Promise<CommandLine> {
  try {
    return await parse(argv, root, progress);
  } catch (e) {
    progress.failed = true;
    throw e;
  }
}

async function parse(argv: string[], root: AnyCommand, progress: ParseProgress): Promise<CommandLine> {
  const chain: AnyCommand[] = [root];
  const names: string[] = [];
  const rawArgs: string[] = [];
  const values = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  const options: CommandLine["options"] = [];
  let passthrough: string[] | undefined;
  let help = false;
  let version = false;
  let permissionFlags: PermissionFlags | undefined;
  let cmd = root;
  let known = knownFlags((await resolveValue(cmd.args)) ?? {});

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    const where = commandName(names);
    if (token === "--") {
      passthrough = argv.slice(i + 1);
      rawArgs.push(...argv.slice(i));
      break;
    }
    if (!looksLikeFlag(token)) {
      const subs = positionals.length === 0 ? await resolveValue(cmd.subCommands) : undefined;
      if (subs) {
        const next = subs[token];
        if (!next) {
          const hint = didYouMean(token, Object.keys(subs));
          throw usageError(`unknown command '${token}' for ${where}`, hint || `run '${where} --help' for the list`, "unknown_command");
        }
        cmd = await resolveValue(next);
        chain.push(cmd);
        names.push(token);
        known = knownFlags((await resolveValue(cmd.args)) ?? {});
        // Flags given before the command name must be ones this command takes too (the global ones are).
        for (const name of values.keys()) {
          if (!known.has(name)) throw usageError(`flag --${name} does not apply to ${commandName(names)}`, `run '${commandName(names)} --help' for its flags`, "unknown_flag");
        }
        continue;
      }
      positionals.push(token);
      rawArgs.push(token);
      continue;
    }

    rawArgs.push(token);
    if (token === "-h" || token === "--help") {
      help = true;
      continue;
    }
    if (cmd === root && (token === "--version" || token === "-V" || token === "-v")) {
      version = true;
      continue;
    }
    const long = token.startsWith("--");
    const body = token.slice(long ? 2 : 1);
    const eq = body.indexOf("=");
    let name = eq === -1 ? body : body.slice(0, eq);
    const inline = eq === -1 ? undefined : body.slice(eq + 1);
    const next = argv[i + 1] === "--" ? undefined : argv[i + 1];
    let entry = known.get(name);
    let negated = false;
    if (!entry && long && name.startsWith("no-") && known.get(name.slice(3))?.def.type === "boolean") {
      entry = known.get(name.slice(3));
      negated = true;
    }

    if (!entry && long && helpExtras(cmd).permissionFlags) {
      permissionFlags ??= { rules: [], caps: [], presets: [] };
      const used = readPermissionFlag(permissionFlags, name, inline, next);
      if (used > 0) {
        if (used === 2) rawArgs.push(argv[++i]!);
        continue;
      }
    }
    if (!entry) {
      const candidates = [...known.keys()].map((k) => (k.length === 1 ? `-${k}` : `--${k}`));
      if (helpExtras(cmd).permissionFlags) candidates.push(...PERMISSION_FLAGS.map((f) => `--${f}`));
      const hint = didYouMean(long ? `--${name}` : `-${name}`, candidates);
      throw usageError(`unknown flag '${token}' for ${where}`, hint || `run '${where} --help' for the flags`, "unknown_flag");
    }

    name = entry.name;
    const def = entry.def;
    // `repeatable: true` on an arg (caps test --read a --read b): its values are kept in order, as a list.
    const repeatable = (def as { repeatable?: boolean }).repeatable === true;
    if (values.has(name) && !repeatable) throw usageError(`flag --${name} given twice`, "give it once", "repeated_flag");
    if (def.type === "string" || def.type === "enum") {
      let value = inline;
      if (value === undefined) {
        if (next === undefined || looksLikeFlag(next)) {
          const after = next === undefined ? "" : ` ('${next}' is a flag)`;
          throw usageError(`flag --${name} needs a value${after}`, `write --${name}=VALUE`, "missing_value");
        }
        value = next;
        rawArgs.push(argv[++i]!);
      }
      if (def.type === "enum" && !(def.options ?? []).includes(value)) {
        const options = (def.options ?? []).map(String);
        const hint = didYouMean(value, options);
        throw usageError(`--${name} must be one of ${options.join(", ")}, got '${value}'`, hint || undefined, "invalid_value");
      }
      if (repeatable) values.set(name, [...((values.get(name) as string[] | undefined) ?? []), value]);
      else values.set(name, value);
      options.push({ name, value });
    } else {
      if (inline !== undefined) throw usageError(`flag --${name} takes no value`, `write --${name} alone`, "unexpected_value");
      values.set(name, !negated);
      options.push({ name, value: !negated });
    }
    if (name === "json") progress.json = values.get(name) === true;
  }

  const leaf = chain[chain.length - 1]!;
  const defs = ((await resolveValue(leaf.args)) ?? {}) as ArgsDef;
  const args = named(defs, values);
  if (!help && !version) checkPositionals(defs, positionals, passthrough, names, leaf);
  args._ = positionals;
  const declared = Object.entries(defs).filter(([, d]) => d.type === "positional");
  declared.forEach(([name], i) => {
    if (positionals[i] !== undefined) args[name] = args[camel(name)] = positionals[i];
  });
  return { chain, names, args, positionals, options, passthrough, rawArgs, permissionFlags, help, version };
}

function named(defs: ArgsDef, values: Map<string, string | boolean | string[]>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const value = values.has(name) ? values.get(name) : "default" in def ? def.default : undefined;
    if (value !== undefined) args[name] = args[camel(name)] = value;
  }
  return args;
}

function checkPositionals(defs: ArgsDef, positionals: string[], passthrough: string[] | undefined, names: string[], leaf: AnyCommand): void {
  const where = commandName(names);
  const declared = Object.values(defs).filter((d) => d.type === "positional");
  const afterDash = helpExtras(leaf).afterDash;
  const many = declared.at(-1)?.valueHint?.endsWith("...") ?? false;
  const surplus = many ? undefined : positionals[declared.length];
  if (surplus !== undefined) {
    const hint = afterDash
      ? `the ${afterDash} goes after '--': ${where} [OPTIONS] -- ${surplus}`
      : `run '${where} --help' for usage`;
    throw usageError(`unexpected argument '${surplus}' for ${where}`, hint, "unexpected_argument");
  }
  declared.forEach((d, i) => {
    if (d.required && positionals[i] === undefined) {
      throw usageError(`missing argument <${d.valueHint ?? "VALUE"}> for ${where}`, `run '${where} --help' for usage`, "missing_argument");
    }
  });
  if (passthrough !== undefined && !afterDash && !leaf.subCommands) {
    throw usageError(`${where} takes nothing after '--'`, `run '${where} --help' for usage`, "unexpected_argument");
  }
}
