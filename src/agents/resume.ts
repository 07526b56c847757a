import { GUEST_HOME } from "../guest.ts";
import { setStoredSessionEnv, storedSessionExists, type AgentosSessionStore } from "./agentos-session.ts";
import { replayPreamble } from "./transcript.ts";
import type { AgentDriver } from "./types.ts";

/** Where a session's state lives (src/heartbeat's SessionSlot). */
export interface SessionFiles {
  databasePath: string;
  transcriptPath: string;
  /** agentOS's sessions when they are not in the file at databasePath (the session actor's database). */
  agentosDb?: AgentosSessionStore;
}

/** How this heartbeat talks to its agentOS session. */
export interface ResumeStep {
  /** The agentOS session id: ours, or one per heartbeat for transcript replay. */
  acpSessionId: string;
  /** Whether sessions.open is called (a restored session is not opened again: agentOS restores it on prompt). */
  open: boolean;
  /** Text put before the prompt (the replayed transcript), or "". */
  preamble: string;
}

/** Whether a stored session can be continued: agentOS's own record of it, or our transcript. */
export async function sessionResumable(driver: AgentDriver, files: SessionFiles, sessionId: string): Promise<boolean> {
  return driver.resume === "transcript-replay" ? Bun.file(files.transcriptPath).exists() : files.agentosDb
      ? files.agentosDb.exists(sessionId)
      : storedSessionExists(files.databasePath, sessionId);
}

/**
 * Prepare the session for this heartbeat. A restored agentOS session gets this run's env written into its stored
 * record first (agentOS replays the stored env, not the one we would pass). `runs` counts the earlier heartbeats.
 */
export async function resumeStep(
  driver: AgentDriver,
  files: SessionFiles,
  opts: { sessionId: string; resuming: boolean; runs: number; env: Record<string, string> },
): Promise<ResumeStep> {
  if (driver.resume === "transcript-replay") {
    // agentOS 0.2.21 cannot restore this agent's session across processes: a new one each heartbeat, our transcript as context.
    const preamble = opts.resuming ? ((await replayPreamble(files.transcriptPath)) ?? "") : "";
    return { acpSessionId: `${opts.sessionId}.${opts.runs + 1}`, open: true, preamble };
  }
  if (opts.resuming) await setSessionEnv(files, opts.sessionId, opts.env);
  return { acpSessionId: opts.sessionId, open: !opts.resuming, preamble: "" };
}

function setSessionEnv(files: SessionFiles, sessionId: string, env: Record<string, string>): Promise<boolean> | boolean {
  return files.agentosDb ? files.agentosDb.setEnv(sessionId, env) : setStoredSessionEnv(files.databasePath, sessionId, env);
}

/** After the run: the stored session env keeps only HOME (no token or secret stays between heartbeats). */
export async function scrubSessionEnv(files: SessionFiles, sessionId: string): Promise<boolean> {
  return setSessionEnv(files, sessionId, { HOME: GUEST_HOME });
}
