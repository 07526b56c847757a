import { json, SCRIPTED_CLAUDE_MODEL } from "./config-files.ts";
import type { AgentConfigFile, AgentDriver, GatewayEndpoint } from "./types.ts";

/**
 * ~/.config/opencode/opencode.json (the agentOS 0.2.7 build). OpenCode also sends a title request per session; this
 * build ignores `small_model` and names claude-haiku-4-5 for it, but it still goes to the gateway (same base URL),
 * which forwards it as the run's model or, scripted, answers it without consuming a step. Tool inputs differ from
 * Pi's: bash needs {command, description}; read/write/edit take filePath, oldString, newString.
 */
export function openCodeConfig(gw: GatewayEndpoint): Record<string, unknown> {
  // The scripted model is spoken to as Anthropic; openai/* goes through this build's OpenAI provider, which talks
  // the Responses API (the gateway serves it).
  const provider = gw.provider === "openai" ? "openai" : "anthropic";
  const id = gw.provider === "scripted" ? SCRIPTED_CLAUDE_MODEL : gw.model;
  return {
    $schema: "https://opencode.ai/config.json",
    model: `${provider}/${id}`,
    small_model: `${provider}/${id}`,
    provider: {
      [provider]: {
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

export const opencode = {
  id: "opencode",
  title: "OpenCode",
  packages: ["opencode"],
  acpAgent: "opencode",
  // Restoring an OpenCode session in a new process fails in agentOS 0.2.21 (session/set_config_option not found).
  resume: "transcript-replay",
  providers: ["anthropic", "openai"],
  hostCli: {
    command: "opencode run",
    bin: "opencode",
    nodeModulesPath: "opencode-linux-x64/bin/opencode",
    args: ({ resume, prompt }) => ["run", ...(resume ? ["--continue"] : []), prompt],
    env: ({ home }) => ({ HOME: home, XDG_CONFIG_HOME: `${home}/.config`, XDG_DATA_HOME: `${home}/.local/share`, XDG_CACHE_HOME: `${home}/.cache`, OPENCODE_DISABLE_AUTOUPDATE: "1", OPENCODE_DISABLE_MODELS_FETCH: "1", OPENCODE_DISABLE_DEFAULT_PLUGINS: "1", OPENCODE_DISABLE_LSP_DOWNLOAD: "1" }),
    files: (gw) => openCodeConfigFiles(gw),
  },
  setup: ({ endpoint, instructions }) => ({
    // OpenCode reads AGENTS.md from its config dir as global rules: Paperclip's instructions go there.
    files: [...openCodeConfigFiles(endpoint), { path: ".config/opencode/AGENTS.md", content: `${instructions}\n` }],
    env: {},
  }),
  // Its bash tool's commands take their env from OpenCode's process, fixed when the session opens (this build's
  // plugin hooks, shell.env among them, are compiled out; commands go through node's `shell: true`, so $SHELL cannot
  // carry it either): a spare is prepared up to the session, which opens at request time. A resumed heartbeat opens
  // a new session too (transcript replay), so it takes a spare as well.
  spare: { session: "at-run" },
} as const satisfies AgentDriver;
