import { resolvePolicy, type PermissionFlags, type Policy } from "../../src/caps/index.ts";
import { usageError } from "../../src/errors.ts";

/** Read FILE arguments (`-` is stdin). */
export async function readInputs(files: string[]): Promise<{ name: string; text: string }[]> {
  if (files.filter((f) => f === "-").length > 1) throw usageError("stdin ('-') given twice", "pass '-' once");
  const out: { name: string; text: string }[] = [];
  for (const f of files) {
    if (f === "-") out.push({ name: "stdin", text: await Bun.stdin.text() });
    else {
      const file = Bun.file(f);
      if (!(await file.exists())) throw usageError(`policy file ${f} does not exist`, "pass a JSON policy file, '-' for stdin, or --preset NAME", "policy_unreadable");
      out.push({ name: f, text: await file.text() });
    }
  }
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
  const inputs = await readInputs(files);
  // Like exec and run: without a file, --caps or --preset the base is workspace-write and flags add to it.
  const given = inputs.length > 0 || Boolean(flags && (flags.caps.length || flags.presets.length));
  const ctx = { workspaceHostDir: process.cwd() };
  if (inputs.length <= 1) {
    const only = inputs[0];
    const policy = resolvePolicy(
      { ...(only ? { json: only.text, jsonSource: only.name === "stdin" ? "stdin" : `file ${only.name}` } : {}), flags, defaultPreset: given ? undefined : "workspace-write" },
      ctx,
    );
    return { policy, defaulted: !given };
  }
  // Several files: each is checked and merged like --caps files.
  const merged = resolvePolicy({ flags }, ctx);
  for (const i of inputs) {
    const p = resolvePolicy({ json: i.text, jsonSource: i.name === "stdin" ? "stdin" : `file ${i.name}` }, ctx);
    merged.rules.push(...p.rules);
    merged.sources.push(...p.sources);
    merged.warnings.push(...p.warnings);
  }
  return { policy: merged, defaulted: false };
}
