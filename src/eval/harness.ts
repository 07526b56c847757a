import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { treeRssKb } from "../runtime/index.ts";
import { buildInfo } from "../version.ts";

/**
 * How the evaluation runs things: this same binary as a child process (the way Paperclip runs a heartbeat), and the
 * host side measured from outside: wall time and the RSS of the whole process tree (the sidecar is a child).
 */

/** argv that starts this program again: the compiled binary itself, or bun + the CLI entry when run from source. */
export function selfCommand(): string[] {
  return buildInfo().compiled ? [process.execPath] : [process.execPath, join(import.meta.dir, "..", "..", "commands", "cli.ts")];
}

export interface Spawned {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
  peakRssMb: number;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  stdin?: string;
  timeoutMs?: number;
  /** Called with the child's pid once it runs (to kill it, or its sidecar, mid-run). */
  onStart?: (pid: number) => void;
}

/** A child process with its output, wall time and peak tree RSS (sampled every 50 ms). */
export async function spawnMeasured(argv: string[], opts: SpawnOptions = {}): Promise<Spawned> {
  const env: Record<string, string> = {};
  for (const [k, val] of Object.entries({ ...process.env, NO_COLOR: "1", ...opts.env })) if (val !== undefined) env[k] = val;
  const started = performance.now();
  const p = Bun.spawn(argv, {
    cwd: opts.cwd,
    env,
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 180_000,
  });
  opts.onStart?.(p.pid);
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, treeRssKb(p.pid));
  }, 50);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearInterval(timer);
  return { code, stdout, stderr, wallMs: performance.now() - started, peakRssMb: peak / 1024 };
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Guest output as a person reads it: without the colour codes some VM commands print. */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

export type Event = Record<string, any> & { type: string };

/** The NDJSON lines of a run's stdout (non-JSON lines are skipped: they would be a bug the transcript probe counts). */
export function parseEvents(stdout: string): Event[] {
  const out: Event[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line);
      if (e && typeof e.type === "string") out.push(e);
    } catch {
      // not an event
    }
  }
  return out;
}

export function resultOf(events: Event[]): Event | undefined {
  return events.findLast((e) => e.type === "result");
}

export function dirSizeMb(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    try {
      total += statSync(join(e.parentPath, e.name)).size;
    } catch {
      // removed while counting
    }
  }
  return total / 2 ** 20;
}

/** Poll until `check` is true or the time is up; true when it came true. */
export async function waitFor(check: () => boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await Bun.sleep(everyMs);
  }
  return check();
}
