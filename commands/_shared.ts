import type { ArgsDef, CommandDef } from "citty";
import { usageError } from "../src/errors.ts";

/** Flags every command takes (they show in each command's --help). */
export const globalArgs = {
  json: { type: "boolean", description: "Print one JSON document on stdout instead of text" },
  quiet: { type: "boolean", alias: "q", description: "Only print errors on stderr" },
  debug: { type: "boolean", description: "Show the runtime's own logs and stack traces on stderr" },
  "log-level": { type: "string", valueHint: "silent|error|warn|info|debug", description: "How much to print on stderr (default info)" },
  cwd: { type: "string", valueHint: "DIR", description: "Run as if started in DIR (for exec and run: the workspace)" },
} as const satisfies ArgsDef;

export const timeoutArgs = {
  timeout: { type: "string", valueHint: "SECONDS", description: "Stop after SECONDS; exit 124" },
} as const satisfies ArgsDef;

/** What --help prints after citty's usage: examples and extra blocks (the permission options). */
export interface HelpExtras {
  examples?: [command: string, what: string][];
  footer?: () => string | Promise<string>;
  /** The command takes Deno-style --allow-X / --deny-X flags; the runner pulls them out before citty parses argv. */
  permissionFlags?: boolean;
}

const extras = new WeakMap<object, HelpExtras>();

/** Attach help extras to a command definition. */
export function withHelp<T extends CommandDef<any>>(cmd: T, x: HelpExtras): T {
  extras.set(cmd, x);
  return cmd;
}

export function helpExtras(cmd: object): HelpExtras {
  return extras.get(cmd) ?? {};
}

export function renderExamples(examples: HelpExtras["examples"]): string {
  if (!examples?.length) return "";
  const width = Math.max(...examples.map(([c]) => c.length));
  return `EXAMPLES\n\n${examples.map(([c, w]) => `  ${c.padEnd(width)}  # ${w}`).join("\n")}\n`;
}

/**
 * stdout and stderr for commands that print and end. Bun's console writes straight to the file descriptor, while the
 * first touch of process.stdout builds Node's stream machinery: about 7 ms of a 9 ms `--help`. Streaming output
 * (exec's guest output, run's NDJSON) keeps process.stdout for its backpressure and EPIPE.
 */
export function out(text: string): void {
  console.log(text.endsWith("\n") ? text.slice(0, -1) : text);
}
export function err(text: string): void {
  console.error(text.endsWith("\n") ? text.slice(0, -1) : text);
}

/** stdout is data only: one JSON document, pretty when a person is looking. */
export function printJson(data: unknown): void {
  const { isatty } = import.meta.require("node:tty") as typeof import("node:tty");
  out(JSON.stringify(data, null, isatty(1) ? 2 : undefined));
}

/** Parse a --timeout value in seconds (fractions allowed). */
export function parseSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw usageError(`${flag} must be a positive number of seconds, got '${value}'`, `for example ${flag}=30`);
  }
  return n;
}
