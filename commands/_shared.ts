import type { ArgsDef, CommandDef } from "citty";
import { usageError } from "../src/errors.ts";
import type { HelpBlock } from "./_help.ts";

// Printing has its own module (the `tool invoke` fast path prints without the rest of this one).
export { colorEnabled, err, out, printJson, terminalWidth } from "./_print.ts";
export { globalArgs } from "./_globals.ts";

/**
 * citty's defineCommand, which is the identity: importing it from citty loads citty and its node:util (~1 ms of a
 * command's start), and the one parse (commands/_argv.ts) needs nothing else of citty at run time.
 */
export function defineCommand<const T extends ArgsDef = ArgsDef>(def: CommandDef<T>): CommandDef<T> {
  return def;
}

/** run and exec: which warm worker (paperclip-aos serve) to use, if any. */
export const workerArgs = {
  worker: {
    type: "string",
    valueHint: "SOCKET|off",
    description: "Run through the worker listening at SOCKET, or 'off' for this process (default: the state dir's worker if one runs; env PAPERCLIP_AOS_WORKER)",
  },
} as const satisfies ArgsDef;

export const timeoutArgs = {
  timeout: { type: "string", valueHint: "SECONDS", description: "Stop after SECONDS; exit 124" },
} as const satisfies ArgsDef;

/** What --help prints after the options (examples, extra blocks such as the permission options), and parsing hints. */
export interface HelpExtras {
  examples?: [command: string, what: string][];
  /** Prose after the examples; paragraphs are separated by a blank line and reflowed to the terminal's width. */
  footer?: () => string | Promise<string>;
  blocks?: () => HelpBlock[] | Promise<HelpBlock[]>;
  /** The command takes Deno-style --allow-X / --deny-X flags (read by the one parse, commands/_argv.ts). */
  permissionFlags?: boolean;
  /**
   * The command's exit codes, shown as EXIT CODES in its --help; without it, DEFAULT_EXIT_CODES. Every command that
   * runs has the section: a script author should not have to guess what a non-zero status means.
   */
  exitCodes?: [code: string, meaning: string][];
  /** What the command takes after `--` (exec: "COMMAND"); without it, `--` is an error. */
  afterDash?: string;
  /**
   * false: the command never boots a VM, so main does not load the runtime for it (its signal handling and embedded
   * assets: ~5 ms of start-up, most of a `tool invoke`); a signal then ends it the default way (exit 128+N).
   */
  runtime?: false;
}

/** What a command's exit status means unless its help says otherwise (errors.ts ExitCode). */
export const DEFAULT_EXIT_CODES: [string, string][] = [
  ["0", "done"],
  ["1", "failed: the error line says what, the hint how to fix it"],
  ["2", "invalid input: an unknown flag, a bad value, something named that does not exist"],
  ["130/143", "interrupted by SIGINT (Ctrl-C) / SIGTERM"],
];

const extras = new WeakMap<object, HelpExtras>();

/** Attach help extras to a command definition. */
export function withHelp<T extends CommandDef<any>>(cmd: T, x: HelpExtras): T {
  extras.set(cmd, x);
  return cmd;
}

export function helpExtras(cmd: object): HelpExtras {
  return extras.get(cmd) ?? {};
}

/** A plain table for `ls` commands: columns padded to their widest cell, the last one left as it is. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
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

/** Parse a whole-number flag (serve's and worker's --concurrency, --queue, ...): the fallback when not given. */
export function count(value: string | undefined, flag: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw usageError(`${flag} must be a whole number of at least ${min}, got '${value}'`, `for example ${flag}=${fallback}`);
  return n;
}
