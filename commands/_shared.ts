import type { ArgsDef, CommandDef } from "citty";
import { usageError } from "../src/errors.ts";
import { writeStderr } from "../src/log.ts";
import type { HelpBlock } from "./_help.ts";

/**
 * citty's defineCommand, which is the identity: importing it from citty loads citty and its node:util (~1 ms of a
 * command's start), and the one parse (commands/_argv.ts) needs nothing else of citty at run time.
 */
export function defineCommand<const T extends ArgsDef = ArgsDef>(def: CommandDef<T>): CommandDef<T> {
  return def;
}

/** Flags every command takes (they show in each command's --help). */
export const globalArgs = {
  json: { type: "boolean", description: "Print one JSON document on stdout instead of text" },
  quiet: { type: "boolean", alias: "q", description: "Only print errors on stderr" },
  debug: { type: "boolean", description: "Show the runtime's own logs and stack traces on stderr" },
  "log-level": { type: "string", valueHint: "silent|error|warn|info|debug", description: "How much to print on stderr (default info)" },
  cwd: { type: "string", valueHint: "DIR", description: "Run as if started in DIR (for exec and run: the workspace)" },
} as const satisfies ArgsDef;

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
  /** What the command takes after `--` (exec: "COMMAND"); without it, `--` is an error. */
  afterDash?: string;
  /**
   * false: the command never boots a VM, so main does not load the runtime for it (its signal handling and embedded
   * assets: ~5 ms of start-up, most of a `tool invoke`); a signal then ends it the default way (exit 128+N).
   */
  runtime?: false;
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

/**
 * stdout and stderr for commands that print and end. Bun's console writes straight to the file descriptor, while the
 * first touch of process.stdout builds Node's stream machinery: about 7 ms of a 9 ms `--help`. stderr is written with
 * a plain write(2): Bun's console.error paints everything red on a terminal, successes included. Streaming output
 * (exec's guest output, run's NDJSON) keeps process.stdout for its backpressure and EPIPE.
 */
export function out(text: string): void {
  console.log(text.endsWith("\n") ? text.slice(0, -1) : text);
}
export function err(text: string): void {
  writeStderr(text.endsWith("\n") ? text : `${text}\n`);
}

/** Colour on fd (1 or 2): FORCE_COLOR forces it (unless "0"), NO_COLOR or TERM=dumb turns it off, else only on a terminal. */
export function colorEnabled(fd: 1 | 2): boolean {
  const force = process.env.FORCE_COLOR;
  if (force !== undefined && force !== "") return force !== "0" && force !== "false";
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return false;
  if (process.env.TERM === "dumb") return false;
  return isTerminal(fd);
}

/**
 * isatty(fd) without loading node:tty, whose import builds Node's stream machinery (~2-3 ms of a `tool invoke`
 * that prints one JSON document): Bun's own tty binding answers the same question. node:tty if that ever goes.
 */
function isTerminal(fd: number): boolean {
  try {
    const tty = (process as unknown as { binding(name: string): { isTTY?(fd: number): boolean } }).binding("tty_wrap");
    if (typeof tty.isTTY === "function") return tty.isTTY(fd) === true;
  } catch {
    // not this runtime's binding
  }
  const { isatty } = import.meta.require("node:tty") as typeof import("node:tty");
  return isatty(fd);
}

/** The width help is wrapped to: the terminal's columns, else $COLUMNS, else 80. */
export function terminalWidth(): number {
  const cols = isTerminal(1) ? process.stdout.columns : Number(process.env.COLUMNS);
  return Number.isFinite(cols) && cols > 0 ? Math.max(40, cols) : 80;
}

/** stdout is data only: one JSON document, pretty when a person is looking. */
export function printJson(data: unknown): void {
  out(JSON.stringify(data, null, isTerminal(1) ? 2 : undefined));
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
