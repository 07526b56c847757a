import type { Database } from "bun:sqlite";
import { GUEST_HOME } from "../guest.ts";

/**
 * agentOS keeps each session's env in plaintext in its SQLite database (table agentos_core_sessions, column
 * env_json) and replays it verbatim when it restores the session (docs/agentos.md, "Sessions"). So a heartbeat
 * writes this run's values in just before a resume (a fresh gateway token, a fresh PAPERCLIP_API_KEY) and scrubs
 * them right after the run, leaving only HOME: no secret stays in the state dir between heartbeats.
 */
/** bun:sqlite loads on first use: every command imports the drivers, and only a heartbeat opens a session database. */
function openDatabase(path: string, options?: { readonly: boolean }): Database {
  const { Database: Db } = import.meta.require("bun:sqlite") as typeof import("bun:sqlite");
  return new Db(path, options);
}

export function setStoredSessionEnv(databasePath: string, sessionId: string, env: Record<string, string>): boolean {
  let db: Database | undefined;
  try {
    db = openDatabase(databasePath);
    db.exec("PRAGMA busy_timeout = 5000");
    const r = db.query("UPDATE agentos_core_sessions SET env_json = ? WHERE session_id = ?").run(JSON.stringify(env), sessionId);
    return r.changes > 0;
  } catch {
    return false;
  } finally {
    db?.close();
  }
}

export function scrubStoredSessionEnv(databasePath: string, sessionId: string): boolean {
  return setStoredSessionEnv(databasePath, sessionId, { HOME: GUEST_HOME });
}

/**
 * agentOS's session table somewhere other than a SQLite file of ours: the session actor's own database (src/rivet),
 * which agentOS reaches through the actor's runtime socket and we through the actor's SQL.
 */
export interface AgentosSessionStore {
  exists(sessionId: string): Promise<boolean>;
  setEnv(sessionId: string, env: Record<string, string>): Promise<boolean>;
}

export function storedSessionExists(databasePath: string, sessionId: string): boolean {
  let db: Database | undefined;
  try {
    db = openDatabase(databasePath, { readonly: true });
    return db.query("SELECT 1 FROM agentos_core_sessions WHERE session_id = ?").get(sessionId) !== null;
  } catch {
    return false;
  } finally {
    db?.close();
  }
}
