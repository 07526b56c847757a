import { isAbsolute, resolve } from "node:path";
import { usageError } from "../errors.ts";

export type Provider = "anthropic" | "openai" | "scripted";
/** The APIs the gateway serves: Anthropic Messages, OpenAI chat completions ("openai") and OpenAI Responses. */
export type Dialect = "anthropic" | "openai" | "responses";

export interface ModelSpec {
  provider: Provider;
  /** The model id sent upstream (and priced); "scripted" for the scripted model. */
  model: string;
  scriptFile?: string;
}

const HINT = 'use --model scripted:/path/script.json, anthropic/<model> (e.g. anthropic/claude-sonnet-4-5) or openai/<model> (e.g. openai/gpt-4.1)';

/** "scripted:FILE" | "scripted" | "anthropic/claude-sonnet-4-5" | "openai/gpt-4.1" | a bare claude-* / gpt-* / o* id. */
export function parseModelSpec(spec: string): ModelSpec {
  const s = spec.trim();
  if (s === "scripted") return { provider: "scripted", model: "scripted" };
  if (s.startsWith("scripted:")) {
    const file = s.slice("scripted:".length);
    if (!file) throw usageError(`model "${spec}" names no script file`, HINT, "invalid_model");
    return { provider: "scripted", model: "scripted", scriptFile: isAbsolute(file) ? file : resolve(file) };
  }
  const slash = s.indexOf("/");
  if (slash > 0) {
    const provider = s.slice(0, slash);
    const model = s.slice(slash + 1);
    if (!model) throw usageError(`model "${spec}" names no model after "${provider}/"`, HINT, "invalid_model");
    if (provider === "anthropic" || provider === "openai") return { provider, model };
    throw usageError(`unknown model provider "${provider}" in "${spec}"`, `the gateway speaks to anthropic and openai (or an OpenAI-compatible server via OPENAI_BASE_URL); ${HINT}`, "invalid_model");
  }
  if (/^claude-/.test(s)) return { provider: "anthropic", model: s };
  if (/^(gpt-|o\d|chatgpt-)/.test(s)) return { provider: "openai", model: s };
  throw usageError(`cannot tell the provider of model "${spec}"`, HINT, "invalid_model");
}
