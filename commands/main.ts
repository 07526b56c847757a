import type { ArgsDef, CommandDef } from "citty";
import type { AssetProvider } from "../src/runtime/index.ts";
import { commands, summaries } from "./index.ts";
import { globalArgs, helpExtras, renderExamples, withHelp, out, err } from "./_shared.ts";
import { AosError, ExitCode, errorMessage, isAosError, usageError } from "../src/errors.ts";
import { configureLogger, logger, LOG_LEVELS, type LogLevelName } from "../src/log.ts";
import { didYouMean } from "../src/suggest.ts";
import { VERSION } from "../src/version.ts";

// A plain object, not citty's defineCommand (an identity function): the root --help then never loads citty, whose
// import of node:util alone costs more start-up than the rest of the help path.
export const root = withHelp(
  ({
    meta: {
      name: "paperclip-aos",
      version: VERSION,
      description: "Run AI coding agents inside Rivet's agentOS for Paperclip: heartbeats, capabilities, snapshot roots, typed host tools.",
    },
    args: globalArgs,
    subCommands: commands,
  }) satisfies CommandDef<typeof globalArgs>,
  {
    examples: [
      ["paperclip-aos exec -- ls -la", "run a command in a VM with the current directory at /workspace"],
      ["paperclip-aos doctor", "check that the runtime works on this machine"],
      ["paperclip-aos <command> --help", "help for one command"],
    ],
  },
);

type AnyCommand = CommandDef<any>;

/** The root usage, from static summaries: resolving every lazy subcommand just to print its description would load them all. */
function rootUsage(): string {
  const width = Math.max(...Object.keys(summaries).map((n) => n.length));
  const flags = Object.entries(globalArgs).map(([name, def]) => {
    const alias = "alias" in def ? `-${def.alias}, ` : "";
    const value = "valueHint" in def ? `=<${def.valueHint}>` : "";
    return [`${alias}--${name}${value}`, def.description] as const;
  });
  const fw = Math.max(...flags.map(([f]) => f.length));
  return [
    `${root.meta && "description" in root.meta ? root.meta.description : ""} (paperclip-aos v${VERSION})`,
    "",
    "USAGE paperclip-aos <command> [OPTIONS]",
    "",
    "COMMANDS",
    "",
    ...Object.entries(summaries).map(([n, d]) => `  ${n.padEnd(width)}  ${d}`),
    "",
    "OPTIONS (every command)",
    "",
    ...flags.map(([f, d]) => `  ${f.padEnd(fw)}  ${d}`),
    "",
  ].join("\n");
}

async function resolve<T>(v: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

/** Walk argv to the command it names; unknown commands are errors with a suggestion. */
async function resolveCommand(argv: string[]): Promise<{ chain: AnyCommand[]; names: string[]; leafArgv: string[] }> {
  const chain: AnyCommand[] = [root];
  const names: string[] = [];
  const leafArgv = [...argv];
  let cmd: AnyCommand = root;
  for (let i = 0; i < leafArgv.length; i++) {
    const token = leafArgv[i]!;
    if (token === "--") break;
    if (token.startsWith("-")) continue;
    const subs = await resolve(cmd.subCommands);
    if (!subs) break;
    const next = subs[token];
    if (!next) {
      const where = names.length ? `paperclip-aos ${names.join(" ")}` : "paperclip-aos";
      const hint = didYouMean(token, Object.keys(subs));
      throw usageError(`unknown command '${token}' for ${where}`, hint || `run '${where} --help' for the list`, "unknown_command");
    }
    cmd = await resolve(next);
    chain.push(cmd);
    names.push(token);
    leafArgv.splice(i--, 1);
  }
  return { chain, names, leafArgv };
}

/**
 * citty ignores unknown flags, keeps only the last of repeated ones and lets `--cwd --json` swallow `--json` as a
 * value (notes/bun-cli.md §3.1). Check argv against the command's own args first so a typo is an error, not a no-op.
 */
export function checkFlags(argv: string[], args: ArgsDef, names: string[]): void {
  const known = new Map<string, { type?: string; canonical: string; repeatable?: boolean }>();
  for (const [name, def] of Object.entries(args)) {
    // `repeatable: true` on an arg (caps test --read a --read b) lets it be given more than once; the command reads rawArgs.
    const entry = { type: def.type, canonical: name, repeatable: (def as { repeatable?: boolean }).repeatable === true };
    known.set(name, entry);
    const aliases = "alias" in def ? def.alias : undefined;
    for (const a of Array.isArray(aliases) ? aliases : aliases ? [aliases] : []) known.set(a, entry);
  }
  const seen = new Set<string>();
  const where = `paperclip-aos ${names.join(" ")}`.trim();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") break;
    if (!token.startsWith("-") || token === "-") continue;
    if (token === "-h" || token === "--help") continue;
    const body = token.replace(/^--?/, "");
    const eq = body.indexOf("=");
    let name = eq === -1 ? body : body.slice(0, eq);
    let def = known.get(name);
    if (!def && name.startsWith("no-") && known.get(name.slice(3))?.type === "boolean") def = known.get((name = name.slice(3)));
    if (!def || def.type === "positional") {
      const hint = didYouMean(name, [...known.entries()].filter(([, d]) => d.type !== "positional").map(([n]) => n));
      throw usageError(`unknown flag '${token}' for ${where}`, hint ? hint.replace(/'([^']+)'/, "'--$1'") : `run '${where} --help' for the flags`, "unknown_flag");
    }
    if (seen.has(def.canonical) && !def.repeatable) throw usageError(`flag --${def.canonical} given twice`, "give it once", "repeated_flag");
    seen.add(def.canonical);
    if (def.type === "string" || def.type === "enum") {
      if (eq !== -1) continue;
      const value = argv[i + 1];
      if (value === undefined || value === "--" || (value.startsWith("-") && value !== "-")) {
        throw usageError(`flag --${def.canonical} needs a value`, `write --${def.canonical}=VALUE`, "missing_value");
      }
      i++;
    } else if (eq !== -1) {
      throw usageError(`flag --${def.canonical} takes no value`, `write --${def.canonical} alone`, "unexpected_value");
    }
  }
}

/** The global flags that shape error reporting and logging, read before the command is even resolved. */
function globalOptions(argv: string[]): { json: boolean; debug: boolean; quiet: boolean; level?: LogLevelName } {
  const before = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  const level = flagValue(before, "log-level");
  if (level !== undefined && !(level in LOG_LEVELS)) {
    throw usageError(`--log-level must be one of ${Object.keys(LOG_LEVELS).join(", ")}, got '${level}'`);
  }
  return {
    json: before.includes("--json"),
    debug: before.includes("--debug"),
    quiet: before.includes("--quiet") || before.includes("-q"),
    level: level as LogLevelName | undefined,
  };
}

export interface MainOptions {
  /** Where the runtime assets come from, when not node_modules (the compiled binary: embedded and extracted). */
  assets?: () => Promise<AssetProvider>;
}

/** Run the CLI and exit: Bun does not exit on its own while an agentOS sidecar lives (notes/bun-cli.md §1.2). */
export async function main(argv: string[], options: MainOptions = {}): Promise<never> {
  let code: number = ExitCode.ok;
  let runtime: typeof import("../src/runtime/index.ts") | undefined;
  let opts = { json: false, debug: false, quiet: false } as ReturnType<typeof globalOptions>;
  try {
    opts = globalOptions(argv);
    configureLogger(opts);
    const { chain, names, leafArgv } = await resolveCommand(argv);
    const leaf = chain[chain.length - 1]!;
    const extras = helpExtras(leaf);
    const before = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
    if (before.includes("--help") || before.includes("-h") || (leaf.subCommands && !leaf.run)) {
      // citty names only the direct parent in USAGE ("caps test"); give it the whole command line.
      const parent = chain.length > 1 ? { ...chain[chain.length - 2]!, meta: { name: ["paperclip-aos", ...names.slice(0, -1)].join(" "), version: VERSION } } : undefined;
      let text = leaf === root ? rootUsage() : await (await import("citty")).renderUsage(leaf, parent);
      text += `\n${renderExamples(extras.examples)}`;
      if (extras.footer) text += `\n${await extras.footer()}`;
      out(`${text.trimEnd()}\n`);
      if (!before.includes("--help") && !before.includes("-h") && names.length > 0) code = ExitCode.usage;
    } else {
      let rest = leafArgv;
      let data: unknown;
      if (extras.permissionFlags) {
        const { extractPermissionFlags } = await import("../src/caps/index.ts");
        const extracted = extractPermissionFlags(leafArgv);
        rest = extracted.rest;
        data = { permissionFlags: extracted.flags };
      }
      checkFlags(rest, (await resolve(leaf.args)) ?? {}, names);
      const cwd = flagValue(rest, "cwd");
      // The runtime (and its signal handling) loads only for a command that runs; --help never needs it.
      runtime = await import("../src/runtime/index.ts");
      if (options.assets) runtime.setAssetProvider(await options.assets());
      runtime.installSignalHandlers();
      if (cwd !== undefined) process.chdir(await runtime.checkWorkspaceDir(cwd));
      // Run the leaf directly: citty drops a subcommand's return value and `data` when it dispatches itself.
      const { runCommand } = await import("citty");
      const { result } = await runCommand(leaf, { rawArgs: rest, data });
      if (typeof result === "number") code = result;
    }
  } catch (e) {
    code = reportError(e, opts);
  } finally {
    await runtime?.shutdown();
  }
  process.exit(code);
}

/** The value of a string flag (`--name=v` or `--name v`) before any `--`. */
function flagValue(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === "--") break;
    if (t.startsWith(`--${name}=`)) return t.slice(name.length + 3);
    if (t === `--${name}`) return argv[i + 1];
  }
  return undefined;
}

function reportError(e: unknown, opts: { json: boolean; debug: boolean }): number {
  const error: AosError = isAosError(e)
    ? e
    : isCittyError(e)
      ? usageError(stripAnsi(errorMessage(e)).replace(/\.$/, ""), "run with --help for usage", "usage")
      : new AosError(`unexpected error: ${errorMessage(e)}`, {
          code: "internal",
          exitCode: ExitCode.failure,
          hint: opts.debug ? undefined : "rerun with --debug for the stack trace, and please report it",
          cause: e,
        });
  if (opts.json) out(`${JSON.stringify({ error: { code: error.code, message: error.message, hint: error.hint } })}\n`);
  err(`error: ${error.message}\n`);
  if (error.hint) err(`hint: ${error.hint}\n`);
  if (opts.debug) logger.error(error.cause ?? error);
  return error.exitCode;
}

function isCittyError(e: unknown): boolean {
  return e instanceof Error && e.name === "CLIError";
}

function stripAnsi(s: string): string {
  return s.replace(/\x1b\[[0-9;]*m/g, "");
}
