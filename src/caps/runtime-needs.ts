/**
 * Two fixed layers around every policy:
 *
 * Runtime needs: what the VM itself must be able to do for any command to start at all. `fs:"deny"` stops even the
 * shell (`stat '/opt/agentos/bin/sh': blocked by fs.stat policy`, docs/agentos.md), and the agent writes its
 * own config and session files under its home. These are ordinary rules (source "runtime") with ordinary
 * specificity, so a policy can still deny inside them (it gets a warning). They grant nothing on host data: the
 * directories are the VM's own filesystem; the host workspace is only at /workspace.
 *
 * Mandatory denies: credential files, the files git, shells and editors run code from (everywhere in the VM), and the
 * agent CLIs' project config (in the workspace). They are checked before any rule and only an allow that names the
 * exact path (no glob) lifts one, for that path alone. Secrets are denied for reading and writing (stat stays
 * possible, so `ls -l` works); configs that run code later are denied for writing. What keeps them from being
 * renamed away or planted under another name is guards.ts.
 */
import { GUEST_HOME, GUEST_WORKSPACE, parsePathPattern, type PathPattern } from "./paths.ts";
import { parseRule, type Rule } from "./rules.ts";
import { FS_READ_OPS, FS_WRITE_OPS, type Capability, type FsOperation } from "./vocabulary.ts";

export interface RuntimeContext {
  /** Host port of the model gateway on 127.0.0.1; the only loopback exemption a policy gets for free. */
  gatewayPort?: number;
  /** Other host loopback ports the runtime itself needs (e.g. the Paperclip API). */
  extraLoopbackPorts?: number[];
  /**
   * The host's own interface addresses but loopback (evaluate.ts hostAddresses() reads them): denied wherever an allow
   * of any host or a CIDR would reach them (hostAddressDenies). Required, so compile and evaluate stay pure and no
   * caller gets "no denies" by leaving it out: a policy compiled for a real VM passes this host's (compileSandbox
   * fills them in); a caller that decides no fetch (the read and tool gates) or a test passes its own.
   */
  hostAddresses: readonly string[];
}

const RUNTIME_READ: [string, string][] = [
  ["/opt", "agentOS software: the shell, coreutils and the agent packages live under /opt/agentos"],
  ["/bin", "system commands"],
  ["/sbin", "system commands"],
  ["/usr", "system commands and libraries"],
  ["/lib", "system libraries"],
  ["/lib64", "system libraries"],
  ["/etc", "the VM's own /etc (passwd, resolv.conf); no host files"],
  ["/proc", "process information the shell and node read"],
  ["/dev", "terminal and null/zero/random devices"],
  ["/sys", "system information"],
  ["/var", "VM system state"],
  ["/run", "VM runtime state"],
  [GUEST_HOME, "the agent's own config and sessions (~/.pi, ~/.config/opencode, ~/.local, ~/.cache)"],
  ["/tmp", "scratch space the shell and the agents use"],
];

const RUNTIME_WRITE: [string, string][] = [
  [GUEST_HOME, "the agent writes its config, sessions and caches here (~/.pi/agent, ~/.config/opencode, ~/.local/share/opencode, ~/.cache, ~/.npm); the runtime writes the model settings here before the agent starts"],
  ["/tmp", "scratch space: heredocs, temp files, tool output"],
  ["/dev/null", "output redirection"],
  ["/dev/stdout", "output redirection"],
  ["/dev/stderr", "output redirection"],
  ["/dev/tty", "terminal output"],
];

let cachedFs: Rule[] | undefined;

function rule(capability: Capability, value: string, why: string, ops?: readonly string[], self = false): Rule {
  const r = parseRule(capability, "allow", value, "runtime");
  if (!r.ok) throw new Error(`bad runtime rule ${value}: ${r.message}`);
  const matcher = self && r.value.matcher.type === "path" ? { ...r.value.matcher, path: { ...r.value.matcher.path, self: true } } : r.value.matcher;
  return { ...r.value, matcher, why, ...(ops ? { ops } : {}) };
}

/** The runtime's own rules for this context. */
export function runtimeRules(ctx: Partial<RuntimeContext> = {}): Rule[] {
  cachedFs ??= [
    rule("fs.read", "/**", "looking a path up stats every directory on the way (stat only: no contents)", ["stat"]),
    // Measured: every process start opens its working directory (`read` on /workspace itself); without it even `ls`
    // fails with "failed to execute command 'ls': Permission denied". The directory only, not what is in it.
    rule("fs.read", "/", "listing the top-level directory names (`ls /`): the directory only, nothing below it", ["read", "readdir"], true),
    rule("fs.read", GUEST_WORKSPACE, "starting a process opens its working directory (read on /workspace itself: not its entries, not its files)", ["read"], true),
    // Measured: Codex's WASM build opens every directory on the way when it resolves its home (canonicalize).
    rule("fs.read", "/home", "resolving a path under the home opens /home itself (the directory only)", ["read", "readdir", "readlink"], true),
    ...RUNTIME_READ.map(([p, why]) => rule("fs.read", p, why)),
    // `*.pem` is a mandatory deny everywhere; this one is the VM's public CA bundle, which TLS clients read.
    { ...rule("fs.read", "/etc/ssl/cert.pem", "the VM's public CA bundle (agentOS seeds it; no key), which TLS clients read"), lifts: true },
    ...RUNTIME_WRITE.map(([p, why]) => rule("fs.write", p, why)),
  ];
  const net: Rule[] = [];
  if (ctx.gatewayPort !== undefined) {
    net.push(rule("network.fetch", `127.0.0.1:${ctx.gatewayPort}`, "the model gateway: the agent's only way to a model"));
    // Codex's WASM networking cannot connect to 127.0.0.1 in agentOS 0.2.21: it reaches the same port as localhost (::1).
    net.push(rule("network.fetch", `localhost:${ctx.gatewayPort}`, "the model gateway, as Codex reaches it (docs/agentos.md)"));
  }
  for (const p of ctx.extraLoopbackPorts ?? []) {
    if (p !== ctx.gatewayPort) net.push(rule("network.fetch", `127.0.0.1:${p}`, "a host service the runtime provides"));
  }
  return [...cachedFs, ...net];
}

export type Protects = "read+write" | "write";

/** Where a mandatory deny applies: everywhere in the VM, or only in the workspace (the host's project files). */
export type MandatoryScope = "everywhere" | "workspace";

/** What kind of file an entry is, for listing them: credentials, git's, shells' and editors', agent CLIs'. */
export type MandatoryGroup = "secret" | "git" | "shell-editor" | "agent";

export interface MandatoryDeny {
  /** The pattern as shown to people, relative to every directory of its scope. */
  name: string;
  protects: Protects;
  group: MandatoryGroup;
  scope: MandatoryScope;
  why: string;
  /** The absolute guest pattern(s): `/**\/NAME` or `/workspace/**\/NAME`. */
  patterns: PathPattern[];
}

/**
 * Where each scope starts. Secrets and the files git and shells run code from are protected everywhere in the VM, not
 * only under the workspace and the homes: a directory moved from /home to /tmp keeps its names below it, so a pattern
 * that holds everywhere cannot be left by moving (see guards.ts). The agent CLIs' project files are protected in the
 * workspace only: the agent's own config in its VM home is written by the runtime and read by the agent in the VM.
 */
export const SCOPE_ROOT: Record<MandatoryScope, string> = { everywhere: "/", workspace: GUEST_WORKSPACE };

const SECRETS: [string, string][] = [
  [".env*", "environment files hold API keys and passwords (.env, .env.local, .envrc)"],
  [".ssh/**", "SSH keys and known hosts"],
  ["id_rsa*", "SSH private keys"],
  ["id_dsa*", "SSH private keys"],
  ["id_ecdsa*", "SSH private keys"],
  ["id_ed25519*", "SSH private keys"],
  ["*.pem", "private keys and certificates"],
  ["*.key", "private keys"],
  ["*.p12", "key stores"],
  ["*.pfx", "key stores"],
  [".aws/**", "AWS credentials"],
  [".azure/**", "Azure credentials"],
  [".config/gcloud/**", "Google Cloud credentials"],
  [".kube/config", "Kubernetes credentials"],
  [".docker/config.json", "registry credentials"],
  [".gnupg/**", "GPG keys"],
  [".npmrc", "npm registry tokens"],
  [".yarnrc.yml", "yarn registry tokens"],
  [".yarnrc", "yarn 1 registry tokens; its yarn-path runs a file at every yarn command"],
  [".pypirc", "PyPI tokens"],
  [".netrc", "machine passwords"],
  [".git-credentials", "git credentials"],
  [".cargo/credentials*", "crates.io tokens"],
  [".gem/credentials", "RubyGems tokens"],
  [".config/gh/hosts.yml", "GitHub CLI tokens"],
];

/**
 * Files that make git run a program (git's documentation: githooks, git-config, gitrepository-layout, git-worktree,
 * gitsubmodules, git-rebase): hooks; config (core.fsmonitor, core.hooksPath, core.sshCommand, core.pager, aliases,
 * filter/diff/merge drivers, credential helpers, includeIf); config.worktree (read as config with
 * extensions.worktreeConfig); commondir (makes another directory the repository: its config and hooks apply);
 * objects/info/alternates (makes another repository's objects this one's: host tools would show its commits);
 * worktrees/<id>/ (each a git dir with commondir, gitdir and config.worktree); modules/<name>/ (a submodule's whole
 * git dir, nested modules included); rebase-merge/ and rebase-apply/ (the todo list's `exec` lines run on
 * `git rebase --continue`) and sequencer/ (options of a pending cherry-pick or revert); the global config in
 * ~/.gitconfig and ~/.config/git/; .gitmodules. A `.git` file (`gitdir: <path>`) or a `.git` symlink would point git at
 * a directory the agent filled: the `.git` name itself is guarded (guards.ts). And then the rest of `.git/**`: nothing
 * there runs a program, but the index (assume-unchanged and skip-worktree bits), info/exclude, info/attributes
 * (`-diff`), info/grafts, shallow and the refs decide what the user's own git status, diff and log show, so an agent
 * writing them could hide its changes from review; nothing in the VM runs git, so nothing there needs to write them.
 * The tree's .gitattributes and .gitignore are project content the agent edits anyway (a change to them shows in the
 * review); `.git/remotes/*` URLs cannot use the `ext::` transport (git refuses it by default).
 */
const GIT: [string, string][] = [
  [".git/hooks/**", "git runs hooks on the host (commit, checkout, merge, push)"],
  [".git/config", "git config runs commands on the host (core.fsmonitor, core.hooksPath, core.sshCommand, aliases, filters)"],
  [".git/config.worktree", "per-worktree git config (core.fsmonitor, hooksPath, ...) with extensions.worktreeConfig"],
  [".git/commondir", "points git at another repository directory, whose config and hooks then apply"],
  [".git/objects/info/alternates", "points git at other object stores: the host's git tools would read another repository's commits and files"],
  [".git/worktrees/**", "linked worktrees' git dirs: commondir, gitdir and config.worktree"],
  [".git/modules/**", "submodules' git dirs: their hooks and config run on the host"],
  [".git/rebase-merge/**", "an interactive rebase's todo list: its exec lines run on git rebase --continue"],
  [".git/rebase-apply/**", "a pending git am / rebase: resumed on the host"],
  [".git/sequencer/**", "a pending cherry-pick or revert (options such as the merge strategy program)"],
  // Last of the .git entries, so the specific ones above give their own reason.
  [".git/**", "the repository is the host's (nothing in the VM runs git): its index, info/exclude, info/attributes, shallow and refs decide what the user's git status, diff and log show, so an agent writing them could hide its changes from review"],
  [".gitconfig", "global git config runs commands on the host"],
  [".config/git/**", "global git config and attributes (XDG location)"],
  [".gitmodules", "submodule URLs are fetched on the host"],
  [".husky/**", "husky's hooks directory (core.hooksPath): git runs them on the host"],
  [".pre-commit-config.yaml", "pre-commit runs the commands it names at every commit"],
  ["lefthook*", "lefthook runs the commands it names as git hooks"],
  [".lefthook*", "lefthook runs the commands it names as git hooks"],
  // Other version control a shell prompt or the user runs in the directory (by their documentation; neither is
  // installed here): Mercurial's .hg/hgrc loads [extensions] (Python) and runs [hooks] (pre-status, ...) at any hg
  // command; Jujutsu's .jj/repo/config.toml names the pager, diff and merge tools and aliases jj runs.
  [".hg/**", "Mercurial's repository: .hg/hgrc loads extensions and runs hooks on the host at any hg command"],
  [".jj/**", "Jujutsu's repository: .jj/repo/config.toml names the commands jj runs on the host (pager, diff and merge tools)"],
];

/**
 * Git's stores of file content: every committed version of every file is in the object store (loose objects and
 * packs, zlib-compressed), so a file the agent may not read (a --deny-read, a committed .env) was readable there once
 * committed (measured: node's zlib inflated the blob of a --deny-read file from .git/objects). Protected like the
 * secrets, everywhere. Nothing in the VM runs git; the host's git tools read these with the host's rights and show the
 * agent no blob's content but through the fs.read check of its path (workspace.diff). The rest of .git (HEAD, refs,
 * index, config) stays readable.
 */
const GIT_STORES: [string, string][] = [
  [".git/objects/**", "git's object store holds the content of every committed file, those the agent may not read included"],
  [".git/lfs/**", "Git LFS's store holds the content of every LFS-tracked file"],
  [".hg/store/**", "Mercurial's store holds the content of every committed file (revlogs)"],
  [".jj/repo/store/**", "Jujutsu's store (a git object store) holds the content of every committed file"],
];

const SHELL_AND_EDITOR: [string, string][] = [
  [".bashrc", "shell start-up file"],
  [".bash_profile", "shell start-up file"],
  [".bash_login", "shell start-up file"],
  [".bash_logout", "shell start-up file"],
  [".profile", "shell start-up file"],
  [".zshrc", "shell start-up file"],
  [".zshenv", "shell start-up file"],
  [".zprofile", "shell start-up file"],
  [".zlogin", "shell start-up file"],
  [".cshrc", "shell start-up file"],
  [".tcshrc", "shell start-up file"],
  [".kshrc", "shell start-up file"],
  [".config/fish/**", "shell start-up files"],
  [".vscode/**", "editor tasks and settings can run commands on the host"],
  [".idea/**", "IDE run configurations can run commands on the host"],
  [".mcp.json", "MCP server definitions run commands on the host"],
  // Each by its program's documentation (none of them is installed here): a file read when the directory is opened or
  // entered, whose commands then run on the host without a prompt.
  [".zed/**", "Zed project settings and tasks: external formatters run on save, language server binaries on open"],
  [".helix/**", "Helix workspace config and languages.toml: language servers and formatters run on the host"],
  [".nvim.lua", "Neovim runs it at start with 'exrc' set"],
  [".exrc", "Vim and Neovim run it at start with 'exrc' set"],
  [".nvimrc", "Neovim runs it at start with 'exrc' set"],
  [".vimrc", "Vim runs it at start (in the current directory with 'exrc' set)"],
  [".gvimrc", "gVim runs it at start (in the current directory with 'exrc' set)"],
  ["*.code-workspace", "VS Code workspace files hold settings and tasks (runOn folderOpen) like .vscode/"],
  [".devcontainer/**", "dev container definitions: initializeCommand runs on the host before the container starts"],
  ["mise.toml", "mise runs its hooks, env scripts and tasks on the host once the directory is trusted"],
  [".mise.toml", "mise runs its hooks, env scripts and tasks on the host once the directory is trusted"],
  ["mise.local.toml", "mise runs its hooks, env scripts and tasks on the host once the directory is trusted"],
  [".mise.local.toml", "mise runs its hooks, env scripts and tasks on the host once the directory is trusted"],
  [".mise/**", "mise config and tasks directory"],
];

/**
 * Project files the supported agent CLIs read from the workspace when they run on the host: hooks, MCP servers,
 * plugins and extensions they execute, and permission settings that widen what they may do.
 */
const AGENT_CONFIGS: [string, string][] = [
  [".claude/**", "Claude Code project settings (settings.json, settings.local.json: hooks, permissions, apiKeyHelper), commands, agents, skills"],
  [".codex/**", "Codex project config (.codex/config.toml: MCP servers, notify commands, sandbox and approval settings)"],
  ["opencode.json", "OpenCode project config (MCP servers, permissions, plugins)"],
  ["opencode.jsonc", "OpenCode project config (MCP servers, permissions, plugins)"],
  [".opencode/**", "OpenCode plugins (executed), agents, commands and config"],
  [".cursor/**", "Cursor settings, MCP servers (mcp.json) and hooks"],
  [".gemini/**", "Gemini CLI settings (settings.json: MCP servers, hooks, tool permissions) and commands"],
  [".pi/**", "Pi project settings, extensions (executed) and skills"],
  [".aider.conf.yml", "aider project config: its lint-cmd and test-cmd run after every edit (auto-lint is on by default)"],
  [".continue/**", "Continue's workspace config and MCP servers (.continue/mcpServers)"],
  [".roo/**", "Roo Code's project MCP servers (.roo/mcp.json) and modes"],
  [".kiro/**", "Kiro's workspace MCP servers (.kiro/settings/mcp.json) and agent hooks"],
  [".amazonq/**", "Amazon Q Developer's workspace MCP servers (.amazonq/mcp.json)"],
  // Ours too: the project config sets the next heartbeat's preset, so a planted one would widen its policy.
  [".paperclip-aos.json", "paperclip-aos project config (agent, model, preset: a planted one would widen the next heartbeat's policy)"],
];

let cachedMandatory: MandatoryDeny[] | undefined;

/** The names of the read+write protected mandatory denies (the secrets), without parsing their patterns. */
export function mandatorySecretNames(): string[] {
  return SECRETS.map(([name]) => name);
}

export function mandatoryDenies(): MandatoryDeny[] {
  const entries = (list: [string, string][], group: MandatoryGroup, protects: Protects, scope: MandatoryScope) =>
    list.map(([name, why]) => ({ name, why, group, protects, scope }));
  cachedMandatory ??= [
    ...entries(SECRETS, "secret", "read+write", "everywhere"),
    ...entries(GIT, "git", "write", "everywhere"),
    ...entries(GIT_STORES, "git", "read+write", "everywhere"),
    ...entries(SHELL_AND_EDITOR, "shell-editor", "write", "everywhere"),
    ...entries(AGENT_CONFIGS, "agent", "write", "workspace"),
  ].map((m) => {
    const root = SCOPE_ROOT[m.scope];
    const r = parsePathPattern(`${root === "/" ? "" : root}/**/${m.name}`);
    if (!r.ok) throw new Error(`bad mandatory pattern ${m.name}: ${r.message}`);
    return { ...m, patterns: [r.value] };
  });
  return cachedMandatory;
}

/** The agentOS operations a mandatory deny refuses: secrets all but stat (so `ls -l` works), configs every write. */
export function mandatoryOps(md: MandatoryDeny): readonly FsOperation[] {
  return md.protects === "write" ? FS_WRITE_OPS : SECRET_OPS;
}
const SECRET_OPS: readonly FsOperation[] = [...FS_READ_OPS.filter((o) => o !== "stat"), ...FS_WRITE_OPS];
