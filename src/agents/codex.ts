import bridgeSource from "./codex-acp/codex-acp.mjs" with { type: "text" };
import { GUEST_HOME } from "../guest.ts";
import type { AgentConfigFile, AgentDriver, GatewayEndpoint, LocalPackage } from "./types.ts";

/** What Codex is configured with when the gateway answers from a script (a model id Codex knows: its tool set follows). */
const SCRIPTED_MODEL = "gpt-5-codex";
const CODEX_HOME = `${GUEST_HOME}/.codex`;
/**
 * A spare VM's run (relative to HOME): the Codex config of the run that took the spare. The bridge copies it over
 * $CODEX_HOME/config.toml before each codex-exec it starts, so the session opened ahead runs with the run's config.
 */
const CODEX_RUN_CONFIG = ".paperclip/codex-config.toml";

/**
 * The package's agentOS manifest. With PAPERCLIP_CODEX_EXEC_AHEAD the bridge starts a session's first codex-exec as
 * soon as the session opens, so its WASM start is over before the prompt; it then waits reading its stdin. On a
 * sidecar without our fixes of agentOS (src/runtime/sidecar-patch.ts) such a wait stalls every other VM of the
 * sidecar, so there the manifest leaves it out and codex-exec starts at the prompt.
 */
const agentosPackage = (env: Record<string, string>) => `${JSON.stringify({ name: "codex", version: "0.1.0", agent: { acpEntrypoint: "codex-acp", env: { CODEX_HOME, PAPERCLIP_CODEX_RUN_CONFIG: `${GUEST_HOME}/${CODEX_RUN_CONFIG}`, ...env } } }, null, 2)}\n`;

/**
 * agentOS 0.2.21 ships Codex (`@agentos-software/codex-cli`) as a WASM command, `codex-exec`, with no ACP
 * entrypoint, so `sessions.open({agent: "codex"})` has nothing to start. This package is that entrypoint:
 * codex-acp/codex-acp.mjs speaks ACP on stdio and runs `codex-exec --session-turn` per prompt.
 */
export const CODEX_ACP_PACKAGE: LocalPackage = {
  name: "codex",
  version: "0.1.0",
  bin: { "codex-acp": "codex-acp.mjs" },
  files: {
    "codex-acp.mjs": bridgeSource,
    "agentos-package.json": agentosPackage({ PAPERCLIP_CODEX_EXEC_AHEAD: "1" }),
  },
  unpatchedSidecarFiles: { "agentos-package.json": agentosPackage({}) },
};

/** A TOML basic string (JSON's escapes are TOML's). */
const toml = (s: string) => JSON.stringify(s);

/**
 * ~/.codex/config.toml: a model provider at the gateway speaking the Responses API, no approvals and no sandbox of
 * Codex's own (the VM and its policy are the sandbox), no retries (the gateway's failure is the run's), and
 * Paperclip's instructions as developer instructions. The base URL names `localhost`: Codex's WASM networking cannot
 * connect to 127.0.0.1 in agentOS 0.2.21 and resolves localhost to ::1, where the gateway also listens.
 *
 * The token is the provider's bearer token in this file, never a session variable: the commands Codex runs inherit
 * codex-exec's whole env (and the bridge's), and its `shell_environment_policy.exclude` did not take a variable out
 * of them in agentOS 0.2.21 (measured: still there), so the token is kept out of that env altogether (and so out of
 * the stored session). In a spare VM (`run` given) this file is the run file, copied into place by the bridge before
 * each codex-exec: the session opened ahead has the spare's environment, so the run's env goes in as the env of the
 * commands Codex runs (shell_environment_policy.set).
 *
 * `skills.bundled.enabled = false`: at each start codex-exec (one per turn, in a VM whose home is new) writes its
 * bundled system skills (OpenAI's skill-creator, skill-installer, openai-docs: ~40 files, PNGs among them) into
 * $CODEX_HOME/skills/.system and scans them, which took 1.8-4.8 s of every turn in agentOS's filesystem (measured
 * with timestamps on codex-exec's RUST_LOG lines, load 7-13: docs/worker.md). They are OpenAI's own tooling, not the
 * workspace's; the workspace's AGENTS.md and skills are read as before.
 */
export function codexConfigFiles(gw: GatewayEndpoint, instructions: string, run?: { env: Record<string, string> }): AgentConfigFile[] {
  const port = new URL(gw.url).port;
  const model = gw.provider === "scripted" ? SCRIPTED_MODEL : gw.model;
  const text = [
    `model = ${toml(model)}`,
    `model_provider = "paperclip"`,
    `approval_policy = "never"`,
    `sandbox_mode = "danger-full-access"`,
    `developer_instructions = ${toml(instructions)}`,
    "",
    "[model_providers.paperclip]",
    `name = "paperclip-aos gateway"`,
    `base_url = ${toml(`http://localhost:${port}/v1`)}`,
    `experimental_bearer_token = ${toml(gw.token)}`,
    `wire_api = "responses"`,
    "request_max_retries = 0",
    "stream_max_retries = 0",
    "",
    "[skills.bundled]",
    "enabled = false",
    "",
    ...(run ? ["[shell_environment_policy.set]", ...Object.entries(run.env).map(([k, v]) => `${toml(k)} = ${toml(v)}`), ""] : []),
  ].join("\n");
  return [{ path: ".codex/config.toml", content: text }];
}

export const codex = {
  id: "codex",
  title: "Codex",
  packages: ["codex-cli"],
  localPackages: [CODEX_ACP_PACKAGE],
  acpAgent: "codex",
  // The bridge has no session/load (codex-exec keeps no rollout in the VM): agentOS restores the session from its
  // event log with a transcript preamble; within one process the bridge hands codex-exec the earlier turns itself.
  resume: "agentos-fallback",
  providers: ["openai"],
  hostCli: {
    command: "codex exec",
    bin: "codex",
    nodeModulesPath: "@openai/codex/bin/codex.js",
    args: ({ resume, prompt }) => ["exec", ...(resume ? ["resume", "--last"] : []), "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", prompt],
    env: ({ home }) => ({ HOME: home, CODEX_HOME: `${home}/.codex` }),
    files: (gw) => codexConfigFiles(gw, ""),
  },
  setup: ({ endpoint, instructions }) => ({
    files: codexConfigFiles(endpoint, instructions),
    env: {},
  }),
  // A spare's session opens with a config that has no run yet (the spare's token answers only once a run holds it);
  // the run's config replaces it at the run's first turn.
  spare: {
    session: "ahead",
    files: (endpoint) => codexConfigFiles(endpoint, "", { env: {} }),
    runFile: ({ env, instructions, endpoint }) => ({ path: CODEX_RUN_CONFIG, content: codexConfigFiles(endpoint, instructions, { env })[0]!.content }),
  },
  acp: {
    // codex-exec reports a command only by its call id and status: the bridge titles it "shell"; input and output
    // are not in its protocol.
    toolName: (e) => (e.kind === "execute" ? "shell" : undefined),
  },
} as const satisfies AgentDriver;
