/**
 * compileSandbox: the one call a heartbeat or exec needs: merge the sources, compile, and describe the result in a
 * few lines the agent can be told (what it may do, what is always denied).
 */
import { stat } from "node:fs/promises";
import { compilePolicy, type CompiledPolicy, type CompileContext } from "./compile.ts";
import { hostAddresses } from "./evaluate.ts";
import type { PermissionFlags } from "./flags.ts";
import { policyToDocument, resolvePolicy, type Policy } from "./policy.ts";
import { mandatoryDenies } from "./runtime-needs.ts";
import type { PresetName } from "./presets.ts";
import { CAPABILITIES, type Capability } from "./vocabulary.ts";

export interface SandboxInput extends Omit<CompileContext, "hostAddresses"> {
  /**
   * The host's own addresses the policy denies wherever it allows any host or a CIDR; default: this host's
   * (hostAddresses()). This is the one boundary that reads them: every policy compiled for a real VM (run, exec, the
   * worker's jobs, the Rivet client) comes through here, so none compiles without them.
   */
  hostAddresses?: readonly string[];
  /** The policy document or preset name of a run request (`capabilities`). */
  json?: unknown;
  preset?: string | string[];
  file?: string | string[];
  flags?: PermissionFlags;
  /**
   * The base when no policy, preset or file is given (flags add to it); default workspace-write: an agent with no
   * workspace access can do nothing. null: no base (only the flags).
   */
  defaultPreset?: PresetName | null;
}

export interface CompiledSandbox {
  permissions: CompiledPolicy["permissions"];
  loopbackExemptPorts: number[];
  guestEnv: Record<string, string>;
  /** One line per capability plus the mandatory denies, for the agent's instructions and the init event. */
  summary: string[];
  /** The merged policy as a plain document. */
  effective: ReturnType<typeof policyToDocument>;
  policy: Policy;
  compiled: CompiledPolicy;
}

const WORDS: Record<Capability, string> = {
  "fs.read": "read",
  "fs.write": "write",
  "network.fetch": "connect to",
  "network.listen": "listen on",
  "process.spawn": "run (drivers)",
  "env.read": "host env vars",
  "tool.invoke": "tools",
};

function sandboxSummary(effective: CompiledSandbox["effective"], loopbackExemptPorts: number[]): string[] {
  const lines: string[] = [];
  for (const cap of CAPABILITIES) {
    const allow = effective.allow[cap] ?? [];
    const deny = effective.deny[cap] ?? [];
    let line = `${WORDS[cap]}: ${allow.length ? allow.join(", ") : "nothing"}`;
    if (deny.length) line += `; except ${deny.join(", ")}`;
    if (cap === "network.fetch" && loopbackExemptPorts.length) line += `; host loopback ports ${loopbackExemptPorts.join(", ")} (model gateway)`;
    lines.push(line);
  }
  const md = mandatoryDenies();
  lines.push(`always denied (read and write): ${md.filter((m) => m.protects === "read+write").map((m) => m.name).join(" ")}`);
  lines.push(`always denied (write): ${md.filter((m) => m.protects === "write").map((m) => m.name).join(" ")}`);
  return lines;
}

/**
 * agentOS matches paths case-sensitively. On a case-insensitive host filesystem (macOS, Windows) `/workspace/.ENV`
 * opens the host's `.env`, so the mandatory denies can be sidestepped by case: detect it and say so.
 */
export async function isCaseInsensitiveDir(dir: string): Promise<boolean> {
  const swapped = dir.replace(/[A-Za-z]/g, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
  if (swapped === dir) return false;
  const [a, b] = await Promise.all([stat(dir).catch(() => null), stat(swapped).catch(() => null)]);
  return Boolean(a && b && a.ino === b.ino && a.dev === b.dev);
}

/**
 * The policy lets the agent connect to every host (`--allow-net` with no host and no deny): then nothing is gained by
 * keeping the model provider from reaching the network for it (src/gateway/provider-network.ts). A deny of any host,
 * the networked preset's metadata addresses included, keeps the provider's network tools out.
 */
export function grantsEveryHost(sandbox: Pick<CompiledSandbox, "effective">): boolean {
  const allow = sandbox.effective.allow["network.fetch"] ?? [];
  return allow.includes("*") && !(sandbox.effective.deny["network.fetch"] ?? []).length;
}

/** Resolve and compile in one go. Throws usageError (exit 2) on an invalid policy, preset or flag. */
export async function compileSandbox(input: SandboxInput): Promise<CompiledSandbox> {
  const ctx = { workspaceHostDir: input.workspaceHostDir };
  const defaultPreset = input.defaultPreset === null ? undefined : (input.defaultPreset ?? "workspace-write");
  const policy = resolvePolicy({ json: input.json, preset: input.preset, file: input.file, flags: input.flags, defaultPreset }, ctx);
  const compiled = compilePolicy(policy, { ...input, hostAddresses: input.hostAddresses ?? hostAddresses() });
  if (input.workspaceHostDir && (await isCaseInsensitiveDir(input.workspaceHostDir))) {
    compiled.warnings.push({
      path: "workspace",
      source: "runtime",
      message: `${input.workspaceHostDir} is on a case-insensitive filesystem: agentOS matches paths case-sensitively, so .ENV or .GIT/hooks reach .env and .git/hooks past the mandatory denies`,
      hint: "use a case-sensitive volume for workspaces that hold secrets or hooks",
    });
  }
  const effective = policyToDocument(policy);
  return {
    permissions: compiled.permissions,
    loopbackExemptPorts: compiled.loopbackExemptPorts,
    guestEnv: compiled.guestEnv,
    summary: sandboxSummary(effective, compiled.loopbackExemptPorts),
    effective,
    policy,
    compiled,
  };
}
