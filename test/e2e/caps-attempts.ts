/**
 * How the caps e2e tests make attempts in a real VM: each attempt runs in the exec's top-level shell (a nested
 * `sh script.sh` cannot start children in agentOS 0.2.21) as `t NAME 'command'`, printing `@@NAME RC OUTPUT` on one line.
 */
import { runBin } from "./helpers.ts";

/** A VM boot plus a few dozen attempts; generous for a loaded 2-core machine. */
export const VM_TIMEOUT = 150_000;

const PRELUDE = `t() { n=$1; o=$( (eval "$2") 2>&1 ); r=$?; printf '@@%s %s %s\\n' "$n" "$r" "$(printf '%s' "$o" | tr '\\n' ' ')"; }`;

// A read-only workspace mount (a policy that writes nothing there) answers "Read-only file system".
export const DENIED = /Permission denied|EACCES|permission denied|Read-only file system/;

export interface Attempt {
  rc: number;
  out: string;
}

/** Run `script` through exec with `flags` and collect the `@@NAME RC OUTPUT` lines it prints. */
export async function execReports(cwd: string, flags: string[], script: string, env?: Record<string, string>) {
  const r = await runBin(["exec", ...flags, "--", script], { cwd, env });
  const results = new Map<string, Attempt>();
  for (const m of r.stdout.matchAll(/^@@(\S+) (\d+) ?(.*)$/gm)) results.set(m[1]!, { rc: Number(m[2]), out: m[3]! });
  const get = (name: string): Attempt => {
    const a = results.get(name);
    if (!a) throw new Error(`attempt ${name} did not report (exit ${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return a;
  };
  return { r, get };
}

/** Each line is `[NAME, shell command]`, run in the exec's top-level shell through the PRELUDE's `t`. */
export function attemptsScript(lines: [string, string][]): string {
  return [PRELUDE, ...lines.map(([n, c]) => `t ${n} '${c.replace(/'/g, `'\\''`)}'`)].join("\n");
}

export function attempts(cwd: string, flags: string[], lines: [string, string][], env?: Record<string, string>) {
  return execReports(cwd, flags, attemptsScript(lines), env);
}
