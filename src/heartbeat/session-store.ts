/**
 * The sessions under the state dir as a list (`session ls|show|rm`): each `<state>/sessions/<agent>/<task>/` with its
 * session.json (SessionSlot in sessions.ts). Removing one takes its lock first, so a heartbeat that is using it is
 * never pulled from under its feet.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { stateDir } from "../paths.ts";
import { usageError } from "../errors.ts";
import { SessionSlot, type StoredSession } from "./sessions.ts";
import { pidAlive } from "../runtime/index.ts";

export interface SessionEntry extends StoredSession {
  /** The session's directory (state, database, transcript). */
  dir: string;
  /** Bytes on disk (the agentOS database, the transcript, the record). */
  bytes: number;
  /** A heartbeat holds the session's lock right now. */
  busy: boolean;
  /** A worker holds the session for its next heartbeat (a VM booted on its database ahead; it lets go when asked). */
  prepared: boolean;
}

export interface SessionDetails extends SessionEntry {
  /** Events in our transcript (without streamed deltas) and the prompts sent, oldest first (each cut to 200 chars). */
  transcriptEvents: number;
  prompts: { runId: string; ts?: string; text: string }[];
}

function bytesUnder(path: string): number {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, e) => n + bytesUnder(join(path, e)), 0);
}

function lockHeld(dir: string): { busy: boolean; prepared: boolean } {
  try {
    const owner = JSON.parse(readFileSync(join(dir, "lock"), "utf8")) as { pid?: number; prepared?: boolean };
    const held = owner.pid !== undefined && pidAlive(owner.pid);
    return { busy: held && !owner.prepared, prepared: held && owner.prepared === true };
  } catch {
    return { busy: false, prepared: false }; // no lock
  }
}

/** Every stored session, most recently used first. */
export function listSessions(root = stateDir()): SessionEntry[] {
  const base = join(root, "sessions");
  if (!existsSync(base)) return [];
  const out: SessionEntry[] = [];
  for (const agent of readdirSync(base)) {
    const adir = join(base, agent);
    if (!lstatSync(adir).isDirectory()) continue;
    for (const task of readdirSync(adir)) {
      const dir = join(adir, task);
      let rec: StoredSession;
      try {
        rec = JSON.parse(readFileSync(join(dir, "session.json"), "utf8")) as StoredSession;
      } catch {
        continue; // no record yet: a first heartbeat that has not finished
      }
      out.push({ ...rec, dir, bytes: bytesUnder(dir), ...lockHeld(dir) });
    }
  }
  return out.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
}

/**
 * One session by its id, a unique id prefix (4+ characters), or its task key (with `agentId` when several agents
 * have one of that name).
 */
export function findSession(ref: string, opts: { agentId?: string; root?: string } = {}): SessionEntry {
  const all = listSessions(opts.root).filter((s) => opts.agentId === undefined || s.agentId === opts.agentId);
  const byId = all.filter((s) => s.sessionId === ref || (ref.length >= 4 && s.sessionId.startsWith(ref)));
  const matches = byId.length ? byId : all.filter((s) => s.taskKey === ref);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw usageError(
      `'${ref}' matches ${matches.length} sessions (${matches.map((s) => `${s.agentId}/${s.taskKey}`).join(", ")})`,
      byId.length ? "give more of the session id" : "add --agent-id to say whose",
      "session_ambiguous",
    );
  }
  throw usageError(`no session with id or task key '${ref}'`, "list them with 'paperclip-aos session ls'", "session_not_found");
}

export async function showSession(ref: string, opts: { agentId?: string; root?: string } = {}): Promise<SessionDetails> {
  const s = findSession(ref, opts);
  const slot = new SessionSlot(s.agentId, s.taskKey, opts.root);
  let transcriptEvents = 0;
  const prompts: SessionDetails["prompts"] = [];
  const text = existsSync(slot.transcriptPath) ? readFileSync(slot.transcriptPath, "utf8") : "";
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    transcriptEvents++;
    try {
      // transcript.ts records each prompt as a "user" line; the rest are run events.
      const e = JSON.parse(line) as { type?: string; runId?: string; ts?: string; text?: string };
      if (e.type === "user" && typeof e.text === "string") prompts.push({ runId: e.runId ?? "", ...(e.ts ? { ts: e.ts } : {}), text: e.text.slice(0, 200) });
    } catch {
      // a line cut by a crash: counted, not shown
    }
  }
  return { ...s, transcriptEvents, prompts };
}

/** Remove a session (its record, agentOS database and transcript) under its lock: a busy session is an error. */
export async function removeSession(ref: string, opts: { agentId?: string; root?: string } = {}): Promise<SessionEntry> {
  const s = findSession(ref, opts);
  const slot = new SessionSlot(s.agentId, s.taskKey, opts.root);
  const unlock = await slot.lock(`session-rm-${process.pid}`);
  try {
    await rm(slot.dir, { recursive: true, force: true });
  } finally {
    await unlock();
  }
  // The agent's directory goes with its last session.
  const agentDir = join(slot.dir, "..");
  if (existsSync(agentDir) && readdirSync(agentDir).length === 0) await rm(agentDir, { recursive: true, force: true });
  return s;
}
