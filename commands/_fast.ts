/**
 * `paperclip-aos tool invoke NAME ...` without the CLI: most of a `tool invoke git.status` is start-up, and the full
 * path (main.ts) first loads the parser, the command registry, the logger and the command modules. This takes the
 * command lines whose meaning is plain, reads them as the one parse (commands/_argv.ts) would, and runs the same body
 * (tool/invoke-run.ts). Anything else (--help, `--`, an unknown, repeated or negated flag, --log-level, a surplus or
 * missing NAME, a flag's missing value, a bad --cwd) returns null before doing anything, and main takes the whole
 * command line, so every error and help text is main's own. test/unit/fast-path.test.ts checks the reading against
 * parseCommandLine; test/e2e/tools.test.ts compares both paths' output.
 */
import type { ArgDef } from "citty";
import { looksLikeFlag } from "../src/caps/flag-token.ts";
import { invokeArgs } from "./tool/invoke-args.ts";
import { runInvoke, type InvokeArgs } from "./tool/invoke-run.ts";

/** The flags left to main: --log-level's value is checked there (an error is main's to report). */
const LEFT_TO_MAIN = new Set(["log-level"]);

export interface FastInvoke extends InvokeArgs {
  cwd?: string;
}

/** `tool invoke`'s arguments (argv after "tool invoke") when the fast path may take them, else null. */
export function readFastInvoke(args: string[]): FastInvoke | null {
  const known = new Map<string, [string, ArgDef]>();
  for (const [name, def] of Object.entries(invokeArgs) as [string, ArgDef][]) {
    if (def.type === "positional" || LEFT_TO_MAIN.has(name)) continue;
    known.set(name, [name, def]);
    if ("alias" in def && typeof def.alias === "string") known.set(def.alias, [name, def]);
  }
  const values = new Map<string, string | boolean>();
  let name: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const token = args[i]!;
    if (token === "--") return null;
    if (!looksLikeFlag(token)) {
      if (name !== undefined) return null;
      name = token;
      continue;
    }
    if (token === "-h" || token === "--help") return null;
    const body = token.slice(token.startsWith("--") ? 2 : 1);
    const eq = body.indexOf("=");
    const entry = known.get(eq === -1 ? body : body.slice(0, eq));
    if (!entry || values.has(entry[0])) return null;
    const inline = eq === -1 ? undefined : body.slice(eq + 1);
    if (entry[1].type === "boolean") {
      if (inline !== undefined) return null;
      values.set(entry[0], true);
    } else if (entry[1].type === "string") {
      if (inline !== undefined) values.set(entry[0], inline);
      else {
        const next = args[i + 1];
        if (next === undefined || next === "--" || looksLikeFlag(next)) return null;
        values.set(entry[0], next);
        i++;
      }
    } else return null;
  }
  if (name === undefined) return null;
  const str = (k: string) => values.get(k) as string | undefined;
  return { name, input: str("input"), runId: str("run-id"), cwd: str("cwd") };
}

/** Run `tool invoke` from its arguments and return the exit code, or null (nothing done) for main to run it. */
export async function fastToolInvoke(args: string[]): Promise<number | null> {
  const line = readFastInvoke(args);
  if (!line) return null;
  if (line.cwd !== undefined) {
    try {
      // main checks the directory first (checkWorkspaceDir: a stat) for its error messages; here chdir alone decides,
      // since it fails for everything that check refuses (missing, not a directory), and any failure (also an empty
      // --cwd=, which main resolves to the current directory) is main's to report.
      process.chdir(line.cwd);
    } catch {
      return null;
    }
  }
  return runInvoke(line);
}
