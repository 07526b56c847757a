import * as v from "valibot";
import { AosError, ExitCode, errorMessage, isAosError } from "../errors.ts";
import type { ToolErrorInfo } from "./types.ts";

/** A tool could not do its job (not a git repo, file missing, ...): exit 1 with a code the caller can match. */
export class ToolError extends AosError {
  constructor(code: string, message: string, hint?: string, cause?: unknown) {
    super(message, { code, exitCode: ExitCode.failure, hint, cause });
  }
}

/** The input did not match the tool's schema: exit 2, and `path` names the field. */
export class ToolInputError extends AosError {
  constructor(
    message: string,
    readonly path: string,
    hint?: string,
  ) {
    super(message, { code: "invalid_input", exitCode: ExitCode.usage, hint });
  }
}

export function toolError(code: string, message: string, hint?: string, cause?: unknown): ToolError {
  return new ToolError(code, message, hint, cause);
}

/** Turn valibot issues into one line naming the first bad field, e.g. `limit: Invalid value: expected <=200 but received 500`. */
export function inputError(toolName: string, issues: readonly [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): ToolInputError {
  const first = issues[0];
  const path = v.getDotPath(first) ?? "";
  let message = first.message;
  // Unknown keys in a strict object: valibot reports the key in the issue's input; say which.
  if (first.kind === "schema" && first.type === "strict_object" && first.expected === "never") {
    message = `unknown field '${path}'`;
  }
  const where = path ? ` at '${path}'` : "";
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  return new ToolInputError(
    `invalid input for ${toolName}${where}: ${message}${more}`,
    path,
    `see the input schema: paperclip-aos tool schema ${toolName}`,
  );
}

export function errorInfo(e: unknown): ToolErrorInfo {
  if (e instanceof ToolInputError) return { code: e.code, message: e.message, path: e.path, ...(e.hint ? { hint: e.hint } : {}) };
  if (isAosError(e)) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  return { code: "tool_failed", message: errorMessage(e) };
}
