import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { writeStderr } from "./stderr.ts";

export { writeStderr };

/**
 * People read stderr; stdout is for data (--json documents, NDJSON). consola's default entry writes info lines to
 * stdout and loads its fancy reporter (about 18 ms of start-up, more than the rest of `--help`), so the logger is
 * built from `consola/core` with a one-line reporter that writes everything to stderr (Bun.inspect, not node:util,
 * whose import alone costs ~1.3 ms of start-up).
 */
export type LogLevelName = "silent" | "error" | "warn" | "info" | "debug";
export const LOG_LEVELS: Record<LogLevelName, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4 };

const ICON: Record<string, string> = { info: "ℹ", success: "✔", ready: "✔", start: "◐", warn: "⚠", error: "✖", fatal: "✖", fail: "✖", debug: "⚙", trace: "→" };

/** A line redrawn in place on stderr (the boot spinner, src/progress.ts): cleared before a log line is written. */
let statusLine: { clear(): void } | undefined;
export function setStatusLine(line: { clear(): void } | undefined): void {
  statusLine = line;
}

const stderrReporter = {
  log(o: LogObject) {
    // The spinner redraws itself below the message on its next frame.
    statusLine?.clear();
    const text = o.args.map((a) => (typeof a === "string" ? a : a instanceof Error ? (a.stack ?? a.message) : Bun.inspect(a, { depth: 4 }))).join(" ");
    const icon = ICON[o.type];
    writeStderr(`${icon ? `${icon} ` : ""}${o.tag ? `[${o.tag}] ` : ""}${text}\n`);
  },
};

export const logger: ConsolaInstance = createConsola({ level: 3, reporters: [stderrReporter] });

/** The command was asked for --json: a program reads its stdout, and its stderr should carry only what went wrong. */
let jsonOutput = false;

export function configureLogger(opts: { level?: LogLevelName; quiet?: boolean; debug?: boolean; json?: boolean }): void {
  logger.level = LOG_LEVELS[opts.level ?? (opts.debug ? "debug" : opts.quiet ? "error" : "info")];
  jsonOutput = opts.json === true;
}

/**
 * A progress line ("extracting the runtime", "heartbeat 2/5"): for a person watching, so an info line, and with
 * --json a debug line (`--json --debug` still shows it). The one place that rule lives; the spinner follows it too.
 */
export function logProgress(text: string): void {
  if (jsonOutput) logger.debug(text);
  else logger.info(text);
}

/** Progress lines and spinners are shown: info level, and not --json. */
export function progressShown(): boolean {
  return !jsonOutput && logger.level >= LOG_LEVELS.info;
}

/** True when a person is probably watching stderr: progress lines are worth printing. */
export function stderrIsInteractive(): boolean {
  return Boolean(process.stderr.isTTY) && !process.env.CI;
}
