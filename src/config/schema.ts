/**
 * The config file format, the same at both levels (user: `$XDG_CONFIG_HOME/paperclip-aos/config.json`; project:
 * `.paperclip-aos.json`):
 *
 * ```json
 * { "$schema": "...", "agent": "pi", "model": "anthropic/claude-sonnet-4-5", "preset": "workspace-write", "timeoutSec": 600, "graceSec": 15 }
 * { "engine": "http://127.0.0.1:6420" }   (user file only)
 * ```
 *
 * Every key is optional; unknown keys are errors (a typo must not be a silent no-op).
 */
import * as v from "valibot";
import { toJsonSchema } from "@valibot/to-json-schema";
import { AGENTS } from "../agents/index.ts";
import { PRESET_NAMES } from "../caps/index.ts";

const seconds = (what: string) => v.optional(v.pipe(v.number(), v.gtValue(0, "must be a positive number of seconds"), v.description(what)));

export const ConfigSchema = v.strictObject({
  $schema: v.optional(v.pipe(v.string(), v.description("Where an editor finds this schema (paperclip-aos config schema)"))),
  agent: v.optional(v.pipe(v.picklist(AGENTS, `must be one of ${AGENTS.join(", ")}`), v.description("The coding agent of `run` (--agent)"))),
  model: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"), v.description("The model of `run` (--model): anthropic/MODEL, openai/MODEL or scripted:FILE"))),
  preset: v.optional(
    v.pipe(v.picklist(PRESET_NAMES, `must be one of ${PRESET_NAMES.join(", ")}`), v.description("The base policy of `exec` and `run` when none is given (--preset, a policy file or a request's capabilities win)")),
  ),
  timeoutSec: seconds("Stop `exec` and `run` after this many seconds (--timeout)"),
  graceSec: seconds("After SIGTERM/SIGINT, `run` exits within this many seconds (--grace)"),
  engine: v.optional(
    v.pipe(
      v.string(),
      v.minLength(1, "must not be empty"),
      v.description("Run heartbeats on this Rivet engine (`run --engine URL`, env PAPERCLIP_AOS_ENGINE; 'off' for none). User config only: a project file may not send its runs elsewhere"),
    ),
  ),
});

export type Config = v.InferOutput<typeof ConfigSchema>;
export type ConfigKey = Exclude<keyof Config, "$schema">;
export const CONFIG_KEYS: ConfigKey[] = ["agent", "model", "preset", "timeoutSec", "graceSec", "engine"];
/** Keys only the user file may set: a project file (part of a repository someone else wrote) must not choose them. */
export const USER_ONLY_KEYS: ConfigKey[] = ["engine"];

export function configJsonSchema(): Record<string, unknown> {
  return {
    ...toJsonSchema(ConfigSchema, { errorMode: "ignore" }),
    title: "paperclip-aos config (user: ~/.config/paperclip-aos/config.json, project: .paperclip-aos.json)",
  } as Record<string, unknown>;
}
