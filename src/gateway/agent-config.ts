import { usageError } from "../errors.ts";
import type { Provider } from "./model-spec.ts";

/**
 * Config files that point an agent inside the VM at the gateway. Paths are relative to the guest HOME; the caller
 * writes them into the VM. Only the per-run token goes in: never a provider key. Put the token in these files and NOT
 * in the session env: agentOS stores session env in plaintext and replays it verbatim on resume (a stale token then
 * fails with 401), while these files are rewritten every heartbeat.
 */
export interface GatewayEndpoint {
  url: string;
  token: string;
  provider: Provider;
  model: string;
}

export interface AgentConfigFile {
  /** Relative to the guest HOME, e.g. ".pi/agent/models.json". */
  path: string;
  content: string;
}

export interface PiConfigOptions {
  /** Pi's own auto-retry on overloaded/rate-limit errors (2 s, 4 s, 8 s). Default: off for the scripted model, so
   *  that one error step is one failed request; Pi's default (on) for real providers. */
  retry?: boolean;
  /** Which dialect a scripted gateway is spoken to in (default anthropic, as Pi talks to Anthropic natively). */
  dialect?: "anthropic" | "openai";
}

/** A Claude model id Pi and OpenCode know, used as the nominal model when the gateway answers from a script. */
const SCRIPTED_NOMINAL_MODEL = "claude-sonnet-4-20250514";
/** The provider id Pi gets for an OpenAI-compatible gateway (Pi's built-in "openai" provider speaks the Responses API). */
const PI_OPENAI_PROVIDER = "paperclip";

const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;

/** ~/.pi/agent/models.json and ~/.pi/agent/settings.json for Pi (pi-coding-agent 0.60). */
export function piConfigFiles(gw: GatewayEndpoint, opts: PiConfigOptions = {}): AgentConfigFile[] {
  const scripted = gw.provider === "scripted";
  const dialect = scripted ? (opts.dialect ?? "anthropic") : gw.provider;
  const retry = opts.retry ?? !scripted;
  let models: unknown;
  let settings: Record<string, unknown>;
  if (dialect === "anthropic") {
    // Overriding the built-in provider keeps Pi's own metadata (context window, thinking support) for Claude models.
    models = { providers: { anthropic: { baseUrl: gw.url, apiKey: gw.token } } };
    settings = { defaultProvider: "anthropic", defaultModel: scripted ? SCRIPTED_NOMINAL_MODEL : gw.model };
  } else {
    const id = scripted ? "scripted" : gw.model;
    models = {
      providers: {
        [PI_OPENAI_PROVIDER]: {
          baseUrl: `${gw.url}/v1`,
          api: "openai-completions",
          apiKey: gw.token,
          compat: { supportsDeveloperRole: false, supportsReasoningEffort: false },
          models: [{ id, name: id, contextWindow: 128000, maxTokens: 16384 }],
        },
      },
    };
    settings = { defaultProvider: PI_OPENAI_PROVIDER, defaultModel: id };
  }
  if (!retry) settings.retry = { enabled: false };
  return [
    { path: ".pi/agent/models.json", content: json(models) },
    { path: ".pi/agent/settings.json", content: json(settings) },
  ];
}

/**
 * ~/.config/opencode/opencode.json for OpenCode (the agentOS 0.2.7 build). Anthropic and scripted models only: that
 * build's OpenAI provider speaks the Responses API, which the gateway does not serve. OpenCode also sends a title
 * request per session; this build ignores `small_model` and names claude-haiku-4-5 for it, but it still goes to the
 * gateway (same base URL), which forwards it as the run's model or, scripted, answers it without consuming a step.
 * Tool inputs differ from Pi's: bash needs {command, description}; read/write/edit take filePath, oldString, newString.
 */
export function openCodeConfig(gw: GatewayEndpoint): Record<string, unknown> {
  if (gw.provider === "openai")
    throw usageError(
      `OpenCode cannot use ${gw.provider}/${gw.model} through the model gateway`,
      "the agentOS OpenCode build talks to OpenAI via the Responses API, which the gateway does not serve; use an anthropic/ model or --agent pi",
      "unsupported_model",
    );
  const id = gw.provider === "scripted" ? SCRIPTED_NOMINAL_MODEL : gw.model;
  return {
    $schema: "https://opencode.ai/config.json",
    model: `anthropic/${id}`,
    small_model: `anthropic/${id}`,
    provider: {
      anthropic: {
        options: { baseURL: `${gw.url}/v1`, apiKey: gw.token },
        // An entry merges with the build's seeded model list, and defines the model if the list lacks it.
        models: { [id]: {} },
      },
    },
  };
}

export function openCodeConfigFiles(gw: GatewayEndpoint): AgentConfigFile[] {
  return [{ path: ".config/opencode/opencode.json", content: json(openCodeConfig(gw)) }];
}
