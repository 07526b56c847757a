import type { AgentDriver, GatewayEndpoint } from "./types.ts";

/** What Claude Code asks for when the gateway answers from a script (any Claude id it knows works). */
const SCRIPTED_MODEL = "claude-sonnet-4-5";

/**
 * Claude Code (`@agentos-software/claude-code`, the Claude Agent SDK behind agentOS's `claude-sdk-acp` adapter) is
 * configured by environment: ANTHROPIC_BASE_URL points it at the gateway, ANTHROPIC_API_KEY carries the run's token
 * (sent as x-api-key), ANTHROPIC_MODEL picks the model. The session env is where agentOS passes these, and agentOS
 * stores it: the heartbeat rewrites it before a resume and scrubs it after each run (src/agents/agentos-session.ts).
 */
export function claudeEnv(gw: GatewayEndpoint): Record<string, string> {
  const model = gw.provider === "scripted" ? SCRIPTED_MODEL : gw.model;
  return {
    ANTHROPIC_BASE_URL: gw.url,
    ANTHROPIC_API_KEY: gw.token,
    ANTHROPIC_MODEL: model,
    // Background requests (a smaller model for titles and summaries) go to the same gateway as the same model.
    ANTHROPIC_SMALL_FAST_MODEL: model,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  };
}

export const claude = {
  id: "claude",
  title: "Claude Code",
  packages: ["claude-code"],
  acpAgent: "claude",
  // The adapter has no session/load: agentOS restores the session from its event log with a transcript preamble.
  resume: "agentos-fallback",
  providers: ["anthropic"],
  hostCli: {
    command: "claude -p",
    bin: "claude",
    nodeModulesPath: "@anthropic-ai/claude-code-linux-x64/claude",
    args: ({ resume, prompt }) => ["-p", prompt, "--output-format", "json", "--dangerously-skip-permissions", ...(resume ? ["--continue"] : [])],
    // As root Claude Code refuses to skip permissions outside a sandbox.
    env: ({ home, gw }) => ({ HOME: home, IS_SANDBOX: "1", ANTHROPIC_BASE_URL: gw.url, ANTHROPIC_API_KEY: gw.token, ANTHROPIC_MODEL: "claude-sonnet-4-5", ANTHROPIC_SMALL_FAST_MODEL: "claude-sonnet-4-5", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", DISABLE_TELEMETRY: "1" }),
  },
  setup: ({ endpoint, instructions }) => ({
    files: [],
    env: claudeEnv(endpoint),
    // agentOS hands additionalInstructions to an adapter as ACP_APPEND_SYSTEM_PROMPT, which this adapter does not
    // read (it takes --append-system-prompt only), and Claude Code runs bare (no CLAUDE.md discovery): measured, the
    // instructions never reached the model. They go with each heartbeat's prompt instead.
    promptPrefix: `<paperclip-instructions>\n${instructions}\n</paperclip-instructions>\n\n`,
  }),
  // Its Bash tool's commands take their env from Claude Code's process, fixed when the session opens: it runs bare in
  // agentOS (no hooks), its simple shell exec drops CLAUDE_ENV_FILE, and its commands go through node's `shell: true`
  // (so no shell of ours can read a run file). A spare is prepared up to the session, which opens at request time.
  spare: { session: "at-run" },
  acp: {
    // The adapter titles a tool call with the tool's name (Bash, Edit, Read, ...), which is what we show. It
    // announces each call twice: from the stream with no input, then from the finished message with the whole
    // input, and reports progress or completion only at the end of the turn: the second announcement is the call.
    inputFinal: (e) => e.type === "tool_call" && typeof e.rawInput === "object" && e.rawInput !== null && Object.keys(e.rawInput).length > 0,
  },
} as const satisfies AgentDriver;
