import type { ArgsDef, CommandDef } from "citty";
import type { AssetProvider } from "../src/runtime/index.ts";
import { commands, summaries } from "./index.ts";
import { commandName, parseCommandLine, resolveValue, type CommandData, type ParseProgress } from "./_argv.ts";
import { colorEnabled, DEFAULT_EXIT_CODES, globalArgs, helpExtras, withHelp, out, err } from "./_shared.ts";
import { AosError, ExitCode, errorMessage, isAosError, usageError } from "../src/errors.ts";
import { configureLogger, logger, LOG_LEVELS, type LogLevelName } from "../src/log.ts";
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
    footer: () =>
      "A flag's value follows it (--cwd DIR) or is joined with '=' (--cwd=DIR); write '=' when the value itself starts with '-' " +
      "(--prompt=--help). The permission flags (--allow-X, --deny-X) take values only with '='. Flags every command takes may come " +
      "before the command (paperclip-aos --cwd DIR exec -- ls). Everything after '--' is the command's own. Exit codes: 0 ok, " +
      "1 failure, 2 invalid input (unknown command or flag, bad value), 124 timeout, 130/143 interrupted.",
  },
);

type AnyCommand = CommandDef<any>;

/** Shown in the root's OPTIONS only: the parser answers --version / -V / -v before any command (commands/_argv.ts). */
const versionArg = { version: { type: "boolean", alias: "V", description: "Print the version (also -v) and exit" } } as const satisfies ArgsDef;

/** The help of a command; the root's from static summaries (resolving every lazy subcommand would load them all). */
async function helpText(chain: AnyCommand[], names: string[]): Promise<string> {
  const leaf = chain[chain.length - 1]!;
  const extras = helpExtras(leaf);
  const { renderHelp } = await import("./_help.ts");
  const blocks = extras.blocks ? await extras.blocks() : [];
  if (extras.footer) {
    const text = await extras.footer();
    blocks.unshift({ title: "NOTES", paragraphs: text.split(/\n\s*\n/).map((p) => p.replace(/\s+/g, " ").trim()).filter(Boolean) });
  }
  // Every command that runs says what its exit status means; a group only prints its help.
  if (leaf !== root && leaf.run) blocks.push({ title: "EXIT CODES", rows: extras.exitCodes ?? DEFAULT_EXIT_CODES });
  let commandRows: [string, string][] | undefined;
  if (leaf === root) commandRows = Object.entries(summaries);
  else if (leaf.subCommands) {
    const subs = await resolveValue(leaf.subCommands);
    commandRows = await Promise.all(
      Object.entries(subs).map(async ([n, c]) => {
        const meta = await resolveValue((await resolveValue(c)).meta);
        return [n, meta?.description ?? ""] as [string, string];
      }),
    );
  }
  const meta = await resolveValue(leaf.meta);
  const description = leaf === root ? `${meta?.description ?? ""} (paperclip-aos v${VERSION})` : (meta?.description ?? "");
  const args = ((await resolveValue(leaf.args)) ?? {}) as ArgsDef;
  return renderHelp({
    path: commandName(names),
    globals: [...Object.keys(globalArgs), "version"],
    description,
    args: leaf === root ? { ...args, ...versionArg } : args,
    commands: commandRows,
    afterDash: extras.afterDash,
    examples: extras.examples,
    blocks,
  });
}

/** The global flags that shape error reporting and logging. */
function globalOptions(args: Record<string, unknown>): { json: boolean; debug: boolean; quiet: boolean; level?: LogLevelName } {
  const level = args["log-level"] as string | undefined;
  if (level !== undefined && !(level in LOG_LEVELS)) {
    throw usageError(`--log-level must be one of ${Object.keys(LOG_LEVELS).join(", ")}, got '${level}'`);
  }
  return { json: args.json === true, debug: args.debug === true, quiet: args.quiet === true, level: level as LogLevelName | undefined };
}

export interface MainOptions {
  /** Where the runtime assets come from, when not node_modules (the compiled binary: embedded and extracted). */
  assets?: () => Promise<AssetProvider>;
}

/** Run the CLI and exit: Bun does not exit on its own while an agentOS sidecar lives (docs/agentos.md, "Sidecar and process"). */
export async function main(argv: string[], options: MainOptions = {}): Promise<never> {
  let code: number = ExitCode.ok;
  let runtime: typeof import("../src/runtime/lifecycle.ts") | undefined;
  const progress: ParseProgress = { json: false };
  let opts: { json: boolean; debug: boolean } = { json: false, debug: false };
  try {
    const line = await parseCommandLine(argv, root, progress);
    opts = globalOptions(line.args);
    configureLogger(opts);
    const leaf = line.chain[line.chain.length - 1]!;
    if (line.version) {
      out(`paperclip-aos ${VERSION}\n`);
    } else if (line.help || (leaf.subCommands && !leaf.run)) {
      out(await helpText(line.chain, line.names));
      // A group named without a subcommand ("paperclip-aos caps") is a usage error after its help; the root alone is not.
      if (!line.help && line.names.length > 0) code = ExitCode.usage;
    } else {
      const cwd = line.args.cwd as string | undefined;
      // The runtime (and its signal handling) loads only for a command that runs and may boot a VM; --help never needs it.
      if (helpExtras(leaf).runtime !== false) {
        // Only the signal handling and the asset provider, not the VM code: a run through a warm worker boots no VM
        // and connects sooner without it (docs/worker.md); a command that boots one loads it itself.
        runtime = await import("../src/runtime/lifecycle.ts");
        if (options.assets) (await import("../src/runtime/assets.ts")).setAssetProvider(await options.assets());
        runtime.installSignalHandlers();
      }
      if (cwd !== undefined) process.chdir(await (await import("../src/paths.ts")).checkWorkspaceDir(cwd));
      const data: CommandData = { permissionFlags: line.permissionFlags, passthrough: line.passthrough, options: line.options };
      const result = await leaf.run!({ rawArgs: line.rawArgs, args: line.args as never, cmd: leaf, data });
      if (typeof result === "number") code = result;
    }
  } catch (e) {
    // A parse that stopped early has not reached a later --json; a script that asked for JSON still gets its error as JSON.
    const asked = progress.json || (progress.failed === true && argv.slice(0, argv.includes("--") ? argv.indexOf("--") : undefined).includes("--json"));
    // A signal tore the VM down under the command: that failure is the signal's, exit as the signal says.
    code = runtime?.signalExitCode() ?? reportError(e, { json: opts.json || asked, debug: opts.debug });
  } finally {
    await runtime?.shutdown();
  }
  process.exit(runtime?.signalExitCode() ?? code);
}

function reportError(e: unknown, opts: { json: boolean; debug: boolean }): number {
  const error: AosError = isAosError(e)
    ? e
    : new AosError(`unexpected error: ${errorMessage(e)}`, {
        code: "internal",
        exitCode: ExitCode.failure,
        hint: opts.debug ? undefined : "rerun with --debug for the stack trace, and please report it",
        cause: e,
      });
  if (opts.json) out(`${JSON.stringify({ error: { code: error.code, message: error.message, hint: error.hint } })}\n`);
  const red = colorEnabled(2) ? (s: string) => `\x1b[31m${s}\x1b[39m` : (s: string) => s;
  err(`${red("error:")} ${error.message}\n`);
  if (error.hint) err(`hint: ${error.hint}\n`);
  if (opts.debug) logger.error(error.cause ?? error);
  return error.exitCode;
}
