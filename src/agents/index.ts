/**
 * Agent drivers: one file per agent says what being that agent means (software, model configuration, instructions,
 * resume, accepted models, event quirks; see types.ts). The agent list is this one array: run requests, CLI flags,
 * help, the protocol's schemas and the Paperclip adapter's config schema all derive from it. Adding an agent is one
 * driver file, its line here and its tests.
 */
import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { usageError } from "../errors.ts";
import type { ModelSpec } from "../gateway/index.ts";
import { claude } from "./claude.ts";
import { codex } from "./codex.ts";
import { opencode } from "./opencode.ts";
import { pi } from "./pi.ts";
import type { AgentDriver } from "./types.ts";

export const DRIVERS = [pi, opencode, claude, codex] as const satisfies readonly AgentDriver[];
export type AgentId = (typeof DRIVERS)[number]["id"];
export const AGENTS: readonly [AgentId, ...AgentId[]] = DRIVERS.map((d) => d.id) as [AgentId, ...AgentId[]];
export const DEFAULT_AGENT: AgentId = "pi";

export function driverFor(id: AgentId): AgentDriver {
  return DRIVERS.find((d) => d.id === id)!;
}

/** Refuse a model the agent cannot talk to, before anything boots (exit 2). */
export function checkModel(driver: AgentDriver, spec: ModelSpec): void {
  if (spec.provider === "scripted") return;
  if (!(driver.providers as readonly string[]).includes(spec.provider)) {
    const others = DRIVERS.filter((d) => (d.providers as readonly string[]).includes(spec.provider)).map((d) => d.id);
    throw usageError(
      `${driver.title} cannot use ${spec.provider}/${spec.model} through the model gateway`,
      `--agent ${driver.id} takes ${driver.providers.map((p) => `${p}/`).join(" or ")} models${others.length ? `; --agent ${others.join(" or ")} can use ${spec.provider}/ models` : ""}`,
      "unsupported_model",
    );
  }
  const problem = driver.modelProblem?.(spec);
  if (problem) throw usageError(problem.message, problem.hint, "unsupported_model");
}

export { RESUME_MODES, type LocalPackage, type AcpQuirks, type AcpToolEvent, type AgentConfigFile, type AgentDriver, type AgentSetup, type GatewayEndpoint, type HostCli, type ResumeMode, type SetupContext, type SpareSetup } from "./types.ts";
export { paperclipInstructions } from "./instructions.ts";
export { recordPrompt, replayPreamble } from "./transcript.ts";
export { resumeStep, scrubSessionEnv, sessionResumable, type ResumeStep, type SessionFiles } from "./resume.ts";
export { scrubStoredSessionEnv, setStoredSessionEnv, storedSessionExists, type AgentosSessionStore } from "./agentos-session.ts";
export { piConfigFiles, piExtensionSource, piSpareExtensionSource, type PiConfigOptions } from "./pi.ts";
export { openCodeConfig, openCodeConfigFiles } from "./opencode.ts";
export { claudeEnv } from "./claude.ts";
export { codexConfigFiles, CODEX_ACP_PACKAGE } from "./codex.ts";

/**
 * The first of the paths the agent reads only at session open (SpareSetup `sessionOpenReads`) that the host
 * workspace has, or undefined: a VM whose session was opened ahead would run without it.
 */
export async function sessionOpenConfigIn(driver: AgentDriver, workspaceDir: string): Promise<string | undefined> {
  const paths = driver.spare?.session === "ahead" ? (driver.spare.sessionOpenReads ?? []) : [];
  for (const rel of paths) {
    // lstat: a link there counts too (the agent would follow it at open); nothing is read.
    if (await lstat(join(workspaceDir, rel)).then(() => true, () => false)) return rel;
  }
  return undefined;
}
