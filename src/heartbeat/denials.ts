import { builtinRegistry, HOST_COLLECTION, toolFromCommand } from "../tools/index.ts";

/**
 * The kernel says no in a few recognisable ways (docs/agentos.md, "Permissions"): "blocked by fs.write policy",
 * "EACCES: permission denied, write '/x'", "failed to redirect to /x: Permission denied", "Read-only file system",
 * "blocked outbound network access to tcp://h:p", "blocked by network.listen policy", "failed to execute command 'x':
 * Permission denied", "blocked by hostFunction.invoke policy for c:f". Each becomes a `permission` event so the
 * transcript shows what the policy stopped, not just a failed tool.
 */
const TOOL_NAMES = builtinRegistry().names();

/** `paperclip:git-log` (the agentOS resource) → `git.log` (the name the policy and the user know). */
function toolName(resource: string): string {
  const [collection, command] = resource.split(":");
  return (collection === HOST_COLLECTION && command && toolFromCommand(command, TOOL_NAMES)) || resource;
}

export interface Denial {
  capability: string;
  target: string;
  reason: string;
}

const RULES: { re: RegExp; capability: (m: RegExpMatchArray) => string; target: (m: RegExpMatchArray) => string }[] = [
  { re: /blocked by hostFunction\.invoke policy for ([\w.:-]+)/, capability: () => "tool.invoke", target: (m) => toolName(m[1]!) },
  { re: /(tcp:\/\/[^\s:]+:\d+)[^\n]*blocked by network\.listen policy|blocked by network\.listen policy[^\n]*?(tcp:\/\/\S+)/, capability: () => "network.listen", target: (m) => m[1] ?? m[2] ?? "" },
  { re: /(?:blocked outbound network access to |EACCES[^\n]*?)(tcp:\/\/[^\s:]+:\d+)/, capability: () => "network.fetch", target: (m) => m[1]! },
  { re: /blocked by network\.(?:http|fetch|dns) policy/, capability: () => "network.fetch", target: () => "" },
  // The path comes after the policy's words, or (node: "EACCES: ..., mkdir '/x': blocked by fs.create_dir policy") before.
  { re: /(?:'([^']+)'[^\n]*?)?blocked by fs\.(\w+) policy(?: for)? ?'?([^'\s]*)/, capability: (m) => (m[2] === "read" || m[2] === "readdir" || m[2] === "stat" ? "fs.read" : "fs.write"), target: (m) => m[3] || m[1] || "" },
  { re: /failed to execute command '([^']+)': Permission denied/, capability: () => "process.spawn", target: (m) => m[1]! },
  { re: /spawn '([^']+)': blocked by child_process\.spawn policy/, capability: () => "process.spawn", target: (m) => m[1]! },
  { re: /EACCES: permission denied, (open|write|mkdir|rename|unlink|rmdir|symlink|scandir|stat|lstat|access|copyfile|link) '([^']+)'/, capability: (m) => (["scandir", "stat", "lstat", "access"].includes(m[1]!) ? "fs.read" : "fs.write"), target: (m) => m[2]! },
  { re: /(?:failed to redirect to|can't create|cannot create) ([^:\s]+)[^\n]*Permission denied/, capability: () => "fs.write", target: (m) => m[1]! },
  { re: /(mkdir|touch|rm|mv|ln|cp|chmod|tee): (?:cannot [\w ]+ )?'?([^':\s]+)'?[^\n]*Permission denied/, capability: () => "fs.write", target: (m) => m[2]! },
  { re: /(cat|ls|head|tail|grep|find|wc|less|sed|awk): (?:cannot [\w ]+ )?'?([^':\s]+)'?[^\n]*Permission denied/, capability: () => "fs.read", target: (m) => m[2]! },
  { re: /([^\s:]+): Read-only file system/, capability: () => "fs.write", target: (m) => m[1]! },
];

export function findDenials(text: string): Denial[] {
  const out: Denial[] = [];
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    for (const rule of RULES) {
      const m = line.match(rule.re);
      if (!m) continue;
      const d = { capability: rule.capability(m), target: rule.target(m), reason: line.trim().slice(0, 300) };
      const key = `${d.capability} ${d.target}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(d);
      }
      break;
    }
  }
  return out;
}
