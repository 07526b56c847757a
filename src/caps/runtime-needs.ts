/**
 * Two fixed layers around every policy:
 *
 * Runtime needs: what the VM itself must be able to do for any command to start at all. `fs:"deny"` stops even the
 * shell (`stat '/opt/agentos/bin/sh': blocked by fs.stat policy`, notes/agentos-api.md §5), and the agent writes its
 * own config and session files under its home. These are ordinary rules (source "runtime") with ordinary
 * specificity, so a policy can still deny inside them (it gets a warning). They grant nothing on host data: the
 * directories are the VM's own filesystem; the host workspace is only at /workspace.
 *
 * Mandatory denies: credential files, VCS hooks and config, shell rc files, env files, package-manager tokens, under
 * the workspace and the homes. They are checked before any rule and only an allow that names the exact path (no
 * glob) lifts one, for that path alone. Secrets are denied for reading and writing (stat stays possible, so `ls -l`
 * works); configs that run code later (hooks, rc files, editor tasks) are denied for writing.
 */
import { GUEST_HOME, GUEST_WORKSPACE, parsePathPattern, type PathPattern } from "./paths.ts";
import { parseRule, type Rule } from "./rules.ts";
import type { Capability } from "./vocabulary.ts";

export interface RuntimeContext {
  /** Host port of the model gateway on 127.0.0.1; the only loopback exemption a policy gets for free. */
  gatewayPort?: number;
  /** Other host loopback ports the runtime itself needs (e.g. the Paperclip API). */
  extraLoopbackPorts?: number[];
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
export function runtimeRules(ctx: RuntimeContext = {}): Rule[] {
  cachedFs ??= [
    rule("fs.read", "/**", "looking a path up stats every directory on the way (stat only: no contents)", ["stat"]),
    // Measured: every process start opens its working directory (`read` on /workspace itself); without it even `ls`
    // fails with "failed to execute command 'ls': Permission denied". The directory only, not what is in it.
    rule("fs.read", "/", "listing the top-level directory names (`ls /`): the directory only, nothing below it", ["read", "readdir"], true),
    rule("fs.read", GUEST_WORKSPACE, "starting a process opens its working directory (read on /workspace itself: not its entries, not its files)", ["read"], true),
    ...RUNTIME_READ.map(([p, why]) => rule("fs.read", p, why)),
    ...RUNTIME_WRITE.map(([p, why]) => rule("fs.write", p, why)),
  ];
  const net: Rule[] = [];
  if (ctx.gatewayPort !== undefined) {
    net.push(rule("network.fetch", `127.0.0.1:${ctx.gatewayPort}`, "the model gateway: the agent's only way to a model"));
  }
  for (const p of ctx.extraLoopbackPorts ?? []) {
    if (p !== ctx.gatewayPort) net.push(rule("network.fetch", `127.0.0.1:${p}`, "a host service the runtime provides"));
  }
  return [...cachedFs, ...net];
}

export type Protects = "read+write" | "write";

export interface MandatoryDeny {
  /** The pattern as shown to people, relative to the protected roots. */
  name: string;
  protects: Protects;
  why: string;
  /** One pattern per protected root. */
  patterns: PathPattern[];
}

/** Where host data or the agent's identity can be: the workspace and the homes. */
export const PROTECTED_ROOTS = ["/workspace", "/home", "/root"];

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
  [".pypirc", "PyPI tokens"],
  [".netrc", "machine passwords"],
  [".git-credentials", "git credentials"],
  [".cargo/credentials*", "crates.io tokens"],
  [".gem/credentials", "RubyGems tokens"],
  [".config/gh/hosts.yml", "GitHub CLI tokens"],
];

const CONFIGS: [string, string][] = [
  [".git/hooks/**", "git runs hooks on the host at the next commit"],
  [".git/config", "git config can run commands (core.fsmonitor, aliases, filters) on the host"],
  [".gitconfig", "git config can run commands on the host"],
  [".gitmodules", "submodule URLs are fetched on the host"],
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
];

let cachedMandatory: MandatoryDeny[] | undefined;

export function mandatoryDenies(): MandatoryDeny[] {
  cachedMandatory ??= [
    ...SECRETS.map(([name, why]) => ({ name, why, protects: "read+write" as const })),
    ...CONFIGS.map(([name, why]) => ({ name, why, protects: "write" as const })),
  ].map((m) => ({
    ...m,
    patterns: PROTECTED_ROOTS.map((root) => {
      const r = parsePathPattern(`${root}/**/${m.name}`);
      if (!r.ok) throw new Error(`bad mandatory pattern ${m.name}: ${r.message}`);
      return r.value;
    }),
  }));
  return cachedMandatory;
}
