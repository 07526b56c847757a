import { readFile } from "node:fs/promises";
import { toJsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";
import { errorMessage, usageError } from "../errors.ts";
import { closest } from "../suggest.ts";

/**
 * The scripted model's format (docs/gateway.md, a public interface). Each step answers one model request, in order.
 * Beyond the fixed keys (text, tool, input, error, usage) a step may carry `cached` in usage, `thinking` (a reasoning
 * block before the answer, so `thinking` events can be exercised) and `delayMs` (wait before answering, for timeout
 * and cancellation tests). A tool step may also carry `text`, said before the call.
 */
const count = v.pipe(v.number(), v.integer(), v.minValue(0));

const UsageSchema = v.strictObject({
  input: count,
  output: count,
  cached: v.optional(count),
});

const ErrorSchema = v.strictObject({
  status: v.pipe(v.number(), v.integer(), v.minValue(400), v.maxValue(599)),
  message: v.string(),
  /** The dialect's error type (e.g. "overloaded_error"); derived from the status when absent. */
  type: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Sent as the Retry-After header (seconds), as a provider does on 429/529. */
  retryAfter: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(86_400))),
});

const StepSchema = v.strictObject({
  text: v.optional(v.string()),
  thinking: v.optional(v.string()),
  tool: v.optional(v.pipe(v.string(), v.regex(/^[a-zA-Z0-9_-]{1,64}$/, "a tool name is 1-64 letters, digits, _ or -"))),
  input: v.optional(v.record(v.string(), v.unknown())),
  error: v.optional(ErrorSchema),
  usage: v.optional(UsageSchema),
  delayMs: v.optional(v.pipe(count, v.maxValue(3_600_000))),
});

const ScriptSchema = v.strictObject({
  description: v.optional(v.string()),
  steps: v.array(StepSchema),
});

export type Script = v.InferOutput<typeof ScriptSchema>;
export type Step = v.InferOutput<typeof StepSchema>;

const STEP_KEYS = Object.keys(StepSchema.entries);
const KEYS_AT: Record<string, string[]> = {
  script: Object.keys(ScriptSchema.entries),
  step: STEP_KEYS,
  usage: Object.keys(UsageSchema.entries),
  error: Object.keys(ErrorSchema.entries),
};

const SCRIPT_HINT =
  'a script is {"steps":[...]}; a step is {"text":"..."}, {"tool":"bash","input":{"command":"..."}} or {"error":{"status":529,"message":"..."}}, each with optional "usage":{"input":N,"output":M,"cached":K}';

/** JSON path of a valibot issue: $.steps[2].usage.input */
function jsonPath(path: readonly { key: unknown }[] | undefined): string {
  let out = "$";
  for (const p of path ?? []) out += typeof p.key === "number" ? `[${p.key}]` : `.${String(p.key)}`;
  return out;
}

function issueLine(issue: v.BaseIssue<unknown>): string {
  const path = issue.path ?? [];
  if (issue.type === "strict_object" && issue.expected === "never") {
    const key = String(path[path.length - 1]?.key);
    const parent = path.length <= 1 ? "script" : typeof path[path.length - 2]?.key === "number" ? "step" : String(path[path.length - 2]?.key);
    const known = KEYS_AT[parent] ?? [];
    const guess = closest(key, known);
    return `${jsonPath(path)}: unknown key "${key}"${guess ? ` (did you mean "${guess}"?)` : ""}; allowed: ${known.join(", ")}`;
  }
  if (issue.type === "strict_object" && issue.received === "undefined") return `${jsonPath(path)}: missing (required)`;
  return `${jsonPath(path)}: ${issue.message}`;
}

/** What v.strictObject cannot say: which key combinations make a step. */
function stepShapeProblem(step: Step): string | undefined {
  if (step.error && (step.text !== undefined || step.tool !== undefined || step.input !== undefined || step.thinking !== undefined))
    return '"error" stands alone: it cannot be combined with text, thinking, tool or input';
  if (step.input !== undefined && step.tool === undefined) return '"input" needs "tool" (the tool to call with it)';
  if (!step.error && step.text === undefined && step.tool === undefined) return 'a step needs "text", "tool" or "error"';
  return undefined;
}

/** Validate a parsed JSON value as a script; a bad one is a usage error naming the JSON path of every problem. */
export function parseScript(json: unknown, source = "script"): Script {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw usageError(`invalid script ${source}: $: expected an object {"steps":[...]}, got ${Array.isArray(json) ? "an array" : json === null ? "null" : typeof json}`, SCRIPT_HINT, "invalid_script");
  const r = v.safeParse(ScriptSchema, json);
  const problems = r.success ? [] : r.issues.map(issueLine);
  if (r.success) {
    r.output.steps.forEach((step, i) => {
      const p = stepShapeProblem(step);
      if (p) problems.push(`$.steps[${i}]: ${p}`);
    });
  }
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: ${problems.slice(1, 4).join("; ")})` : "";
    throw usageError(`invalid script ${source}: ${problems[0]}${more}`, SCRIPT_HINT, "invalid_script");
  }
  return (r as v.SafeParseResult<typeof ScriptSchema> & { success: true }).output;
}

/** Read and validate a script file (JSON). */
export async function loadScript(file: string): Promise<Script> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw usageError(`cannot read script ${file}: ${errorMessage(e)}`, "pass --model scripted:/path/to/script.json with a readable file", "invalid_script");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw usageError(`script ${file} is not valid JSON: ${errorMessage(e)}`, SCRIPT_HINT, "invalid_script");
  }
  return parseScript(json, file);
}

/** JSON Schema of the script format. */
export function scriptJsonSchema(): object {
  return toJsonSchema(ScriptSchema, { errorMode: "ignore" });
}
