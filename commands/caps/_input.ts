import { readPolicyFile, resolvePolicy, type PermissionFlags, type Policy } from "../../src/caps/index.ts";
import { usageError } from "../../src/errors.ts";

/** Said on stderr when `defaulted` (policyFromArgs): the base the flags added to. */
export const DEFAULTED_NOTE = "no file, --caps or --preset: the base is preset workspace-write, as for exec and run (an --allow-X flag replaces its rules of that kind)\n";

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
  return (data as { permissionFlags?: PermissionFlags } | undefined)?.permissionFlags;
}

export function positionals(args: { _?: unknown }): string[] {
  return Array.isArray(args._) ? args._.map(String) : [];
}

/**
 * The policy named on the command line: FILE arguments (or '-'), --caps, --preset and permission flags, merged. Without
 * a file, --caps or --preset the base is what exec and run use (preset workspace-write) and `defaulted` says so.
 */
export async function policyFromArgs(files: string[], flags: PermissionFlags | undefined): Promise<{ policy: Policy; defaulted: boolean }> {
  stdinOnce(files);
  const given = files.length > 0 || Boolean(flags && (flags.caps.length || flags.presets.length));
  const stdin = files.includes("-") ? { json: await Bun.stdin.text(), jsonSource: "stdin" } : {};
  const policy = resolvePolicy(
    { file: files.filter((f) => f !== "-"), ...stdin, flags, defaultPreset: given ? undefined : "workspace-write" },
    { workspaceHostDir: process.cwd() },
  );
  return { policy, defaulted: !given };
}
