import { GUEST_HOME } from "../guest.ts";
import type { AgentConfigFile, AgentDriver, GatewayEndpoint } from "./types.ts";

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
    // A bash path is taken as it is; the adapter's default (/bin/sh) is not one, so Claude Code looked for a shell at its
    // first Bash call by running `which zsh` and `which bash` through sh (four WASM programs) to find /bin/bash anyway.
    // Its commands still run in /bin/sh -c (CLAUDE_CODE_FORCE_SH_FOR_BASH in MANAGED_SETTINGS, below).
    CLAUDE_CODE_SHELL: "/bin/bash",
  };
}

/** The session variable holding the run's gateway token: Claude Code's own, not for the commands it runs. */
const TOKEN_ENV = "ANTHROPIC_API_KEY";
/**
 * A shell file (relative to HOME) that every Bash command of Claude Code's sources before it runs: the run's env (in
 * a spare VM, whose Claude Code process started before the run existed) and the token's removal.
 */
const CLAUDE_RUN_ENV = ".paperclip/claude-env.sh";

/**
 * Claude Code reads CLAUDE_CODE_SHELL_PREFIX from its process env at each Bash call and runs `PREFIX 'COMMAND'`, with
 * the prefix quoted as one word except what follows its last " -", which stays raw. So this prefix makes each command
 * `true -;exec </dev/null 2>&1;. ~/.paperclip/claude-env.sh;eval 'COMMAND'`: shell builtins in the command's own shell
 * (no program starts, no shell started by a shell: both are slow or hang in agentOS 0.2.21, docs/agentos.md), then the
 * command. Its stdin is the null device, as stock Claude Code's `< /dev/null` gives it (the package turns that off:
 * CLAUDE_CODE_DISABLE_DEV_NULL_REDIRECT): measured, without it a command that reads stdin (`read x`, a bare `wc -c`)
 * waited on a pipe nobody writes until Claude Code's 2 min timeout put it in the background, wrapper or not.
 * Its stderr goes where its stdout goes, as stock Claude Code has both written to one output file: the package's
 * CLAUDE_CODE_USE_PIPE_OUTPUT=1 gives the command two pipes instead, and Claude Code's Bash tool builds the model's
 * result from stdout alone (its pipe-mode stderr is kept but never read), so without this the model saw
 * `Exit code 3\nout` for `echo out; echo err >&2; exit 3` and never a failing command's error message
 * (test/e2e/claude-bash.test.ts). One pipe for both also keeps their order.
 */
const SHELL_PREFIX = `true -;exec </dev/null 2>&1;. ${GUEST_HOME}/${CLAUDE_RUN_ENV};eval`;

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const shellWord = (s: string) => `'${s.replaceAll("'", `'"'"'`)}'`;

/**
 * The file the prefix sources: `export` of each run variable (none where Claude Code's process has the run's env
 * already), then `unset` of the gateway token, so that the commands the agent runs do not carry it (Claude Code's
 * CLAUDE_CODE_SUBPROCESS_ENV_SCRUB does not remove it in agentOS: measured, its commands still saw it).
 */
export function claudeRunEnvFile(env: Record<string, string>): AgentConfigFile {
  const own = new Set(Object.keys(claudeEnv({ url: "", token: "", provider: "scripted", model: "" })));
  const lines = Object.entries(env)
    .filter(([k]) => VAR_NAME.test(k) && !own.has(k))
    .map(([k, v]) => `export ${k}=${shellWord(v)}`);
  return { path: CLAUDE_RUN_ENV, content: [...lines, `unset ${TOKEN_ENV}`, ""].join("\n") };
}

/**
 * A file where Claude Code makes its shell-snapshot directory. Before its first Bash command Claude Code snapshots the
 * user's shell (`bash -l -c` a script that dumps functions, aliases and options into that directory) and waits for it;
 * in agentOS its commands never source the snapshot (the adapter sets CLAUDE_CODE_SIMPLE_SHELL_EXEC, which runs the
 * bare command), so that is ~1 s of WASM shell for nothing (measured: the first Bash call 1.4-2.8 s with it, 0.75-1 s
 * without, at load 12-21). With a file in the directory's place its mkdir fails and Claude Code goes on without one;
 * it has no setting that skips the snapshot.
 */
const NO_SHELL_SNAPSHOT: AgentConfigFile = {
  path: ".claude/shell-snapshots",
  content: "Not a directory on purpose: Claude Code makes no shell snapshot in this VM (paperclip-aos).\n",
};

/**
 * Claude Code's managed settings (/etc/claude-code/managed-settings.json, read at its start whatever the adapter's
 * settingSources; their `env` goes over its process env, which is the only way past the package's agent env: a
 * session env of ours does not override that). They turn off the package's node shell wrapper: with it each Bash
 * command was a node process (`node -e` spawning the command with `shell: true`), then `/bin/sh -c`, then the
 * programs, each a process start in agentOS; without it Claude Code spawns `/bin/sh -c` itself (FORCE_SH_FOR_BASH:
 * the same shell the wrapper's `shell: true` used, and not `bash -l`, which it takes without a shell snapshot). The
 * command still runs in the VM under its policy, its exit code and stdout reach the model as before, and its stdin
 * is the null device either way (SHELL_PREFIX). Measured through the worker, the bench's 3-step script, 4
 * interleaved rounds at load 14-17: the `ls && cat` call ~1050 → ~830 ms (medians), the `printf` write ~415 → ~310,
 * before the sidecar's no-wait RPC change; after it, 3 rounds at load 4-7 showed no gain above the noise (docs/worker.md).
 */
const MANAGED_SETTINGS = {
  path: "/etc/claude-code",
  files: { "managed-settings.json": `${JSON.stringify({ env: { CLAUDE_CODE_NODE_SHELL_WRAPPER: "0", CLAUDE_CODE_FORCE_SH_FOR_BASH: "1" } }, null, 2)}\n` },
};

export const claude = {
  id: "claude",
  title: "Claude Code",
  guestDir: MANAGED_SETTINGS,
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
    files: [claudeRunEnvFile({}), NO_SHELL_SNAPSHOT],
    env: { ...claudeEnv(endpoint), CLAUDE_CODE_SHELL_PREFIX: SHELL_PREFIX },
    // agentOS hands additionalInstructions to an adapter as ACP_APPEND_SYSTEM_PROMPT, which this adapter does not
    // read (it takes --append-system-prompt only), and Claude Code runs bare (no CLAUDE.md discovery): measured, the
    // instructions never reached the model. They go with each heartbeat's prompt instead.
    promptPrefix: `<paperclip-instructions>\n${instructions}\n</paperclip-instructions>\n\n`,
  }),
  // Its Bash tool's commands take their env from Claude Code's process, fixed when the session opens (it runs bare in
  // agentOS: no hooks, no CLAUDE_ENV_FILE, and its settings' env is read once, at its start): a spare's session is
  // opened ahead with the spare's gateway token, and the run's env reaches each command through the run file the
  // shell prefix sources. The instructions come with the prompt, as on any VM.
  spare: {
    session: "ahead",
    files: () => [NO_SHELL_SNAPSHOT],
    env: (endpoint) => ({ ...claudeEnv(endpoint), CLAUDE_CODE_SHELL_PREFIX: SHELL_PREFIX }),
    runFile: ({ env }) => claudeRunEnvFile(env),
    // Its adapter loads the project's settings (settingSources: ["project"]) when Claude Code starts, at session open.
    sessionOpenReads: [".claude/settings.json"],
    // The session open returns once the adapter has spawned the CLI, which then loads for seconds (its 13 MB script)
    // before it registers itself in ~/.claude/sessions/<pid>.json (its concurrent-sessions file) and goes on to read
    // its prompts. (Its own startup lines on stderr would be a later sign, but agentOS hands an agent's stderr over
    // only while a prompt runs: measured, none came in 15 s of an idle open.)
    startedDir: ".claude/sessions",
  },
  acp: {
    // The adapter titles a tool call with the tool's name (Bash, Edit, Read, ...), which is what we show. It
    // announces each call twice: from the stream with no input, then from the finished message with the whole
    // input, and reports progress or completion only at the end of the turn: the second announcement is the call.
    inputFinal: (e) => e.type === "tool_call" && typeof e.rawInput === "object" && e.rawInput !== null && Object.keys(e.rawInput).length > 0,
  },
} as const satisfies AgentDriver;
