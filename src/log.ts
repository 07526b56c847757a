import { createConsola, type ConsolaInstance } from "consola";

/**
 * People read stderr; stdout is for data (--json documents, NDJSON). consola writes info-level lines to stdout by
 * default, so the instance is created with both streams on stderr (as changelogen does).
 */
export type LogLevelName = "silent" | "error" | "warn" | "info" | "debug";
export const LOG_LEVELS: Record<LogLevelName, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4 };

export const logger: ConsolaInstance = createConsola({ stdout: process.stderr, stderr: process.stderr, level: 3 });

export function configureLogger(opts: { level?: LogLevelName; quiet?: boolean; debug?: boolean }): void {
  logger.level = LOG_LEVELS[opts.level ?? (opts.debug ? "debug" : opts.quiet ? "error" : "info")];
}

/** True when a person is probably watching stderr: progress lines are worth printing. */
export function stderrIsInteractive(): boolean {
  return Boolean(process.stderr.isTTY) && !process.env.CI;
}
