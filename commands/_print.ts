import { writeStderr } from "../src/stderr.ts";

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
