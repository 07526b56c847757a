/**
 * Every error a user can cause is an AosError: one line of what went wrong, an optional hint on how to fix it,
 * and the documented exit code. The CLI prints `error: <message>` and `hint: <hint>` and exits with `exitCode`;
 * anything else is a bug and only shows a stack trace behind --debug.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  timeout: 124,
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class AosError extends Error {
  override readonly name = "AosError";
  constructor(
    message: string,
    readonly opts: { code: string; exitCode: number; hint?: string; cause?: unknown },
  ) {
    super(message, { cause: opts.cause });
  }
  get code(): string {
    return this.opts.code;
  }
  get exitCode(): number {
    return this.opts.exitCode;
  }
  get hint(): string | undefined {
    return this.opts.hint;
  }
}

/** Bad flags, bad input, bad policy: exit 2. */
export function usageError(message: string, hint?: string, code = "invalid_input"): AosError {
  return new AosError(message, { code, exitCode: ExitCode.usage, hint });
}

/** The runtime, the agent or the host failed: exit 1. */
export function runtimeError(message: string, hint?: string, code = "runtime_error", cause?: unknown): AosError {
  return new AosError(message, { code, exitCode: ExitCode.failure, hint, cause });
}

export function isAosError(e: unknown): e is AosError {
  return e instanceof AosError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The first line of an error's message, bounded: what a one-line error report shows of a library's error. */
export function firstLine(e: unknown, max = 300): string {
  return errorMessage(e).split("\n")[0]!.slice(0, max);
}
