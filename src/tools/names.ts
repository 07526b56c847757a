/**
 * How a tool name becomes an agentOS host function (docs/agentos.md, "Host functions"): collection "paperclip" is the guest
 * CLI `agentos-paperclip`; the function key is camelCase (`gitStatus`), which agentOS turns into the subcommand
 * `git-status`; the permission resource is "paperclip:git-status".
 */
export const HOST_COLLECTION = "paperclip";
/** The guest CLI agentOS installs for the collection. */
export const GUEST_CLI = `agentos-${HOST_COLLECTION}`;

/** `git.status` → `gitStatus` (the key in the hostFunctions option). */
export function hostFunctionKey(toolName: string): string {
  return toolName.split(".").map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join("");
}

/** `git.status` → `git-status` (the guest subcommand). Also maps globs: `git.*` → `git-*`. */
export function hostFunctionCommand(toolName: string): string {
  return toolName.replaceAll(".", "-");
}

/** `git.status` → `paperclip:git-status`: the agentOS hostFunction permission resource (a glob stays a glob). */
export function toolResource(toolNameOrGlob: string): string {
  return `${HOST_COLLECTION}:${hostFunctionCommand(toolNameOrGlob)}`;
}

export function guestCommand(toolName: string): string {
  return `${GUEST_CLI} ${hostFunctionCommand(toolName)}`;
}

/** The tool behind a host-function command (`git-status`), given the known names. */
export function toolFromCommand(command: string, names: Iterable<string>): string | undefined {
  for (const n of names) if (hostFunctionCommand(n) === command) return n;
  return undefined;
}
