import { createHash, randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import * as v from "valibot";
import { stateDir } from "../paths.ts";
import { writeFileAtomic } from "../fsutil.ts";
import { runtimeError } from "../errors.ts";
import { FRESH_WAKE_REASONS, type RunRequest } from "./request.ts";
import { AGENTS, type AgentosSessionStore } from "../agents/index.ts";
import type { VmStorage } from "../runtime/index.ts";

/**
 * Sessions live under `<state>/sessions/<agent id>/<task key>/`: `session.json` (what the next heartbeat needs), the
 * agentOS SQLite database (the durable ACP event log agentOS restores a session from), and `transcript.ndjson` (our own
 * record, which an agent whose driver resumes by transcript replay is handed; src/agents/resume.ts).
 */
const StoredSessionSchema = v.object({
  sessionId: v.string(),
  agent: v.picklist(AGENTS),
  agentId: v.string(),
  taskKey: v.string(),
  cwd: v.string(),
  snapshot: v.optional(v.nullable(v.string())),
  createdAt: v.string(),
  updatedAt: v.string(),
  runs: v.number(),
  lastRunId: v.string(),
});
export type StoredSession = v.InferOutput<typeof StoredSessionSchema>;

/** A directory name that is safe whatever the id holds (`..`, `/`, unicode) and still readable. */
function slot(id: string): string {
  const readable = id.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^\.+/, "_").slice(0, 40);
  return `${readable}-${createHash("sha256").update(id).digest("hex").slice(0, 12)}`;
}

export class SessionSlot {
  readonly dir: string;
  /**
   * Set when agentOS's sessions and the VM's files live elsewhere than databasePath: in the session actor's storage
   * (src/rivet), which also restores and saves this slot's files around each heartbeat.
   */
  agentosDb?: AgentosSessionStore;
  vmStorage?: VmStorage;
  constructor(
    readonly agentId: string,
    readonly taskKey: string,
    root = stateDir(),
  ) {
    this.dir = join(root, "sessions", slot(agentId), slot(taskKey));
  }
  get databasePath(): string {
    return join(this.dir, "agentos.db");
  }
  get transcriptPath(): string {
    return join(this.dir, "transcript.ndjson");
  }
  get recordPath(): string {
    return join(this.dir, "session.json");
  }

  async load(): Promise<StoredSession | null> {
    const text = await readFile(this.recordPath, "utf8").catch(() => null);
    if (text === null) return null;
    const r = v.safeParse(StoredSessionSchema, JSON.parse(text));
    return r.success ? r.output : null;
  }

  async save(s: StoredSession): Promise<void> {
    await writeFileAtomic(this.recordPath, `${JSON.stringify(s, null, 2)}\n`);
  }

  /** Start over: a new session id and a fresh database (the old one is removed, not left to grow). */
  async reset(): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    for (const f of [this.databasePath, `${this.databasePath}-wal`, `${this.databasePath}-shm`, this.transcriptPath, this.recordPath]) {
      await rm(f, { force: true });
    }
    return randomUUID();
  }

  /** One heartbeat per session at a time; a lock whose owner died is taken over. */
  async lock(runId: string): Promise<() => Promise<void>> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, "lock");
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(path, "wx");
        await fh.writeFile(JSON.stringify({ pid: process.pid, runId }));
        await fh.close();
        return () => rm(path, { force: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const owner = JSON.parse((await readFile(path, "utf8").catch(() => "{}")) || "{}") as { pid?: number; runId?: string };
        if (owner.pid && processAlive(owner.pid)) {
          throw runtimeError(
            `another heartbeat (run ${owner.runId ?? "?"}, pid ${owner.pid}) is using this session`,
            "wait for it to finish, or use a different --task-key",
            "session_busy",
          );
        }
        await rm(path, { force: true });
      }
    }
    throw runtimeError("could not lock the session", undefined, "session_busy");
  }
}

/**
 * The slot holding a request's session. Usually the task's own; but a keyless wake (no task: Paperclip hands in only
 * runtime.sessionId) or a handoff wake names a session another task key stored, so the agent's slots are searched for
 * that session id before the task's own slot is taken as "not found".
 */
export async function locateSlot(agentId: string, taskKey: string, sessionId: string | undefined, root = stateDir()): Promise<SessionSlot> {
  const own = new SessionSlot(agentId, taskKey, root);
  if (!sessionId || (await own.load())?.sessionId === sessionId) return own;
  const agentDir = join(root, "sessions", slot(agentId));
  for (const name of await readdir(agentDir).catch(() => [] as string[])) {
    const text = await readFile(join(agentDir, name, "session.json"), "utf8").catch(() => null);
    if (text === null) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      continue;
    }
    const r = v.safeParse(StoredSessionSchema, parsed);
    if (r.success && r.output.sessionId === sessionId && r.output.agentId === agentId) return new SessionSlot(agentId, r.output.taskKey, root);
  }
  return own;
}

/**
 * Fresh or resume, by Paperclip's rules: a reset wake reason starts fresh; otherwise the previous session (the
 * request's sessionParams, else the one stored for this agent and task) resumes only if it is the stored one, still
 * resumable, and from the same cwd and agent. `note` says why a session was not resumed (a `system` event).
 */
export function decideSession(
  req: Pick<RunRequest, "wakeReason" | "session" | "cwd" | "agent">,
  stored: StoredSession | null,
  storedResumable: boolean,
): { resume?: string; note?: string } {
  if (req.wakeReason && FRESH_WAKE_REASONS.includes(req.wakeReason)) return { note: `wake reason '${req.wakeReason}' starts a fresh session` };
  // null is Paperclip resetting the session (clearSession, compaction rotation, a config change): honour it.
  if (req.session === null) return stored ? { note: "the request's session is null: starting a fresh session" } : {};
  const prior = req.session ?? stored;
  if (!prior) return {};
  if (prior.cwd && prior.cwd !== req.cwd) return { note: `session ${prior.sessionId} belongs to ${prior.cwd}, not ${req.cwd}: starting a fresh session` };
  if (prior.agent && prior.agent !== req.agent) return { note: `session ${prior.sessionId} is a ${prior.agent} session, not ${req.agent}: starting a fresh session` };
  if (!stored || stored.sessionId !== prior.sessionId || !storedResumable) return { note: `session ${prior.sessionId} was not found: starting a fresh session` };
  return { resume: prior.sessionId };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
