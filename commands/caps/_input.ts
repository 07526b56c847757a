import { readPolicyFile, resolvePolicy, type PermissionFlags, type Policy } from "../../src/caps/index.ts";
import { usageError } from "../../src/errors.ts";
import { loadConfig } from "../../src/config/index.ts";
import { commandData } from "../_argv.ts";

/** Said on stderr when `defaulted` (policyFromArgs): the base the flags refine, and where it came from. */
function defaultedNote(preset: string, from: string | undefined): string {
  return `no file, --caps or --preset: the base is preset ${preset}${from ? ` (config ${from})` : ""}, as for exec and run here (an --allow-X flag replaces its rules of that kind)\n`;
}

function stdinOnce(files: string[]): void {
  if (files.filter((f) => f === "-").length > 1) throw usageError("stdin ('-') given twice", "pass '-' once");
}

/** Read FILE arguments (`-` is stdin). */
export async function readInputs(files: string[]): Promise<{ name: string; text: string }[]> {
  stdinOnce(files);
  const out: { name: string; text: string }[] = [];
  for (const f of files) out.push(f === "-" ? { name: "stdin", text: await Bun.stdin.text() } : { name: f, text: readPolicyFile(f) });
  return out;
}

export function permissionFlagsOf(data: unknown): PermissionFlags | undefined {
  return commandData(data).permissionFlags;
}

export function positionals(args: { _?: unknown }): string[] {
  return Array.isArray(args._) ? args._.map(String) : [];
}

/**
 * The policy named on the command line: FILE arguments (or '-'), --caps, --preset and permission flags, merged. Without
 * a file, --caps or --preset the base is what exec and run use here (the config files' preset, else workspace-write),
 * `defaulted` says so and `note` says it in words.
 */
export async function policyFromArgs(files: string[], flags: PermissionFlags | undefined): Promise<{ policy: Policy; defaulted: boolean; note: string }> {
  stdinOnce(files);
  const given = files.length > 0 || Boolean(flags && (flags.caps.length || flags.presets.length));
  const stdin = files.includes("-") ? { json: await Bun.stdin.text(), jsonSource: "stdin" } : {};
  const config = loadConfig({ cwd: process.cwd() });
  const base = config.values.preset ?? "workspace-write";
  const policy = resolvePolicy(
    { file: files.filter((f) => f !== "-"), ...stdin, flags, defaultPreset: given ? undefined : base },
    { workspaceHostDir: process.cwd() },
  );
  return { policy, defaulted: !given, note: defaultedNote(base, config.from.preset) };
}
