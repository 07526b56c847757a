import { json, SCRIPTED_CLAUDE_MODEL } from "./config-files.ts";
import type { AgentConfigFile, AgentDriver, GatewayEndpoint } from "./types.ts";

export interface PiConfigOptions {
  /** Pi's own auto-retry on overloaded/rate-limit errors (2 s, 4 s, 8 s). Default: off for the scripted model, so
   *  that one error step is one failed request; Pi's default (on) for real providers. */
  retry?: boolean;
  /** Which dialect a scripted gateway is spoken to in (default anthropic, as Pi talks to Anthropic natively). */
  dialect?: "anthropic" | "openai";
}

/** The provider id Pi gets for an OpenAI-compatible gateway (Pi's built-in "openai" provider speaks the Responses API). */
const PI_OPENAI_PROVIDER = "paperclip";

/**
 * ~/.pi/agent/models.json and ~/.pi/agent/settings.json (pi-coding-agent 0.60). The token goes in these files and not
 * in the session env: agentOS replays a stored env verbatim on resume, while these files are rewritten every heartbeat.
 */
export function piConfigFiles(gw: GatewayEndpoint, opts: PiConfigOptions = {}): AgentConfigFile[] {
  const scripted = gw.provider === "scripted";
  const dialect = scripted ? (opts.dialect ?? "anthropic") : gw.provider;
  const retry = opts.retry ?? !scripted;
  let models: unknown;
  let settings: Record<string, unknown>;
  if (dialect === "anthropic") {
    // Overriding the built-in provider keeps Pi's own metadata (context window, thinking support) for Claude models.
    models = { providers: { anthropic: { baseUrl: gw.url, apiKey: gw.token } } };
    settings = { defaultProvider: "anthropic", defaultModel: scripted ? SCRIPTED_CLAUDE_MODEL : gw.model };
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
 * Pi ignores agentOS's additionalInstructions in 0.2.21 (docs/agentos.md), so the instructions travel in an
 * extension that appends them to the system prompt: a default-export function with no imports (the adapter's
 * loader cannot evaluate them).
 */
export function piExtensionSource(instructions: string): string {
  return `export default function (pi) {\n  pi.on("before_agent_start", async (e) => ({ systemPrompt: e.systemPrompt + "\\n\\n" + ${JSON.stringify(instructions)} }));\n}\n`;
}

/** Where a spare VM's Pi finds its run (relative to HOME). */
const PI_RUN_FILE = ".paperclip/run.json";

/**
 * The extension of a session opened ahead (a spare VM): at the start of its turn it reads the run file the heartbeat
 * wrote, puts the run's env into its process (the bash tool's commands inherit it) and appends the run's instructions.
 * Without the file the turn must not run as if it had none: it fails.
 *
 * The session opened on the spare's empty stand-in workspace, so Pi's own read of the project's context files (in
 * each directory from its cwd up to /, AGENTS.md else CLAUDE.md, pi-coding-agent's loadProjectContextFiles) found
 * none of the run's workspace: it is done again here, at turn start, in Pi's format, for the files not in the prompt.
 */
export function piSpareExtensionSource(runFile: string, gatewayUrl?: string): string {
  // The first HTTP request of a Pi process in agentOS pays for its fetch path: made ahead to the gateway's tokenless
  // HEAD / (answered 200, nothing else), it is not the run's first model request that pays.
  const warm = gatewayUrl ? `  fetch(${JSON.stringify(`${gatewayUrl}/`)}, { method: "HEAD" }).catch(() => {});\n` : "";
  return `export default function (pi) {
${warm}  pi.on("before_agent_start", async (e, ctx) => {
    const fs = process.getBuiltinModule("node:fs");
    const path = process.getBuiltinModule("node:path");
    const run = JSON.parse(fs.readFileSync(process.env.HOME + "/" + ${JSON.stringify(runFile)}, "utf8"));
    Object.assign(process.env, run.env);
    const found = [];
    for (let dir = path.resolve(ctx?.cwd ?? process.cwd()); ; dir = path.dirname(dir)) {
      for (const name of ["AGENTS.md", "CLAUDE.md"]) {
        const file = path.join(dir, name);
        if (!fs.existsSync(file)) continue;
        let content;
        try {
          content = fs.readFileSync(file, "utf8");
        } catch {
          continue; // as Pi: one it cannot read (a directory, denied) is passed over, the turn goes on
        }
        if (!e.systemPrompt.includes("\\n## " + file + "\\n")) found.unshift("## " + file + "\\n\\n" + content + "\\n\\n");
        break;
      }
      if (dir === path.dirname(dir)) break;
    }
    const context = found.length ? "\\n\\n# Project Context\\n\\nProject-specific instructions and guidelines:\\n\\n" + found.join("") : "";
    return { systemPrompt: e.systemPrompt + context + "\\n\\n" + run.instructions };
  });
}
`;
}

export const pi = {
  id: "pi",
  title: "Pi",
  packages: ["pi"],
  acpAgent: "pi",
  // agentOS restores Pi's session from its event log and hands it a transcript preamble (no native load in 0.2.21).
  resume: "agentos-fallback",
  providers: ["anthropic", "openai"],
  hostCli: {
    command: "pi -p --mode json",
    bin: "pi",
    nodeModulesPath: "@mariozechner/pi-coding-agent/dist/cli.js",
    args: ({ resume, prompt, home }) => ["-p", "--mode", "json", "--session-dir", `${home}/sessions`, ...(resume ? ["--continue"] : []), prompt],
    env: ({ home }) => ({ HOME: home, PI_OFFLINE: "1" }),
    files: (gw) => piConfigFiles(gw),
  },
  setup: ({ endpoint, instructions }) => ({
    files: [...piConfigFiles(endpoint), { path: ".pi/agent/extensions/paperclip.js", content: piExtensionSource(instructions) }],
    env: {},
  }),
  spare: {
    session: "ahead",
    files: (endpoint) => [...piConfigFiles(endpoint), { path: ".pi/agent/extensions/paperclip.js", content: piSpareExtensionSource(PI_RUN_FILE, endpoint.url) }],
    runFile: ({ env, instructions }) => ({ path: PI_RUN_FILE, content: json({ env, instructions }) }),
    // pi-coding-agent 0.60 discovers, when its session opens, <cwd>/.pi (settings.json, skills, prompts, extensions,
    // themes, SYSTEM.md, APPEND_SYSTEM.md) and .agents/skills in <cwd> and its parents (in the VM only /workspace is
    // the run's). Its context files (AGENTS.md) are read again at turn start instead (piSpareExtensionSource).
    sessionOpenReads: [".pi", ".agents/skills"],
  },
} as const satisfies AgentDriver;
