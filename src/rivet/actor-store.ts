import type { AgentosSessionStore } from "../agents/index.ts";
import type { RunState, RunStatus, LogLine } from "./contract.ts";
import type { ActorDb } from "./rivetkit-types.ts";

/**
 * The session actor's own tables, in the actor's SQLite beside agentOS's (`agentos_core_*`: sessions and their
 * events): the engine keeps that database, so whichever runner wakes the actor finds them.
 *
 * - aos_runs: one row per heartbeat (its request without env values, state, result line).
 * - aos_events: every NDJSON line of every run with its seq, the log `events(afterSeq)` answers from.
 * - aos_session: the session record (what `<state>/sessions/.../session.json` holds for a local run).
 * - aos_transcript: our transcript's lines (`transcript.ndjson` of a local run), in order.
 */
export const MIGRATION = [
  `CREATE TABLE IF NOT EXISTS aos_runs (
    run_id TEXT PRIMARY KEY, state TEXT NOT NULL, request_json TEXT NOT NULL, runner TEXT NOT NULL, build TEXT NOT NULL,
    accepted_at TEXT NOT NULL, started_at TEXT, ended_at TEXT, exit_code INTEGER, result TEXT, last_seq INTEGER NOT NULL DEFAULT 0)`,
  `CREATE TABLE IF NOT EXISTS aos_events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL, PRIMARY KEY (run_id, seq))`,
  `CREATE TABLE IF NOT EXISTS aos_session (id INTEGER PRIMARY KEY CHECK (id = 1), record TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS aos_transcript (n INTEGER PRIMARY KEY, line TEXT NOT NULL)`,
];

interface RunRow {
  run_id: string;
  state: RunState;
  request_json: string;
  runner: string;
  accepted_at: string;
  started_at: string | null;
  ended_at: string | null;
  exit_code: number | null;
  result: string | null;
  last_seq: number;
}

export class ActorStore {
  constructor(private readonly db: ActorDb) {}

  async migrate(): Promise<void> {
    for (const sql of MIGRATION) await this.db.execute(sql);
  }

  async addRun(r: { runId: string; request: unknown; runner: string; build: string }): Promise<RunStatus> {
    await this.db.execute(
      "INSERT INTO aos_runs (run_id, state, request_json, runner, build, accepted_at) VALUES (?, 'accepted', ?, ?, ?, ?)",
      r.runId,
      JSON.stringify(r.request),
      r.runner,
      r.build,
      new Date().toISOString(),
    );
    return (await this.run(r.runId))!;
  }

  async run(runId: string): Promise<RunStatus | null> {
    const row = (await this.db.execute("SELECT * FROM aos_runs WHERE run_id = ?", runId))[0] as RunRow | undefined;
    return row ? toStatus(row) : null;
  }

  /** The stored request of a run (env values removed when it was stored). */
  async request(runId: string): Promise<Record<string, unknown> | null> {
    const row = (await this.db.execute("SELECT request_json FROM aos_runs WHERE run_id = ?", runId))[0] as { request_json: string } | undefined;
    return row ? (JSON.parse(row.request_json) as Record<string, unknown>) : null;
  }

  /** Runs left accepted or running (by a runner that is gone, when the actor has just woken). */
  async unfinishedRuns(): Promise<RunStatus[]> {
    const rows = (await this.db.execute("SELECT * FROM aos_runs WHERE state IN ('accepted', 'running') ORDER BY accepted_at")) as unknown as RunRow[];
    return rows.map(toStatus);
  }

  async markRunning(runId: string): Promise<void> {
    await this.db.execute("UPDATE aos_runs SET state = 'running', started_at = ? WHERE run_id = ? AND state = 'accepted'", new Date().toISOString(), runId);
  }

  /**
   * Append one line to a run's log; a `result` line also finishes the run (state `finalState`, its exit code).
   * The log and the run's last_seq move together, so `status` never names a line `events` cannot give.
   */
  async append(runId: string, seq: number, line: string, result?: { exitCode: number; finalState: RunState }): Promise<void> {
    await this.db.execute("INSERT OR IGNORE INTO aos_events (run_id, seq, line) VALUES (?, ?, ?)", runId, seq, line);
    if (result) {
      await this.db.execute(
        "UPDATE aos_runs SET last_seq = MAX(last_seq, ?), state = ?, exit_code = ?, result = ?, ended_at = ? WHERE run_id = ?",
        seq,
        result.finalState,
        result.exitCode,
        line,
        new Date().toISOString(),
        runId,
      );
    } else {
      await this.db.execute("UPDATE aos_runs SET last_seq = MAX(last_seq, ?) WHERE run_id = ?", seq, runId);
    }
  }

  /** Lines with seq > afterSeq, at most `limit`, and whether more follow. */
  async events(runId: string, afterSeq: number, limit: number): Promise<{ lines: LogLine[]; more: boolean }> {
    const rows = (await this.db.execute("SELECT seq, line FROM aos_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?", runId, afterSeq, limit + 1)) as {
      seq: number;
      line: string;
    }[];
    const more = rows.length > limit;
    return { lines: rows.slice(0, limit).map((r) => ({ runId, seq: Number(r.seq), line: r.line })), more };
  }

  async sessionRecord(): Promise<string | null> {
    const row = (await this.db.execute("SELECT record FROM aos_session WHERE id = 1"))[0] as { record: string } | undefined;
    return row?.record ?? null;
  }

  async setSessionRecord(record: string | null): Promise<void> {
    if (record === null) await this.db.execute("DELETE FROM aos_session");
    else await this.db.execute("INSERT INTO aos_session (id, record) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record", record);
  }

  async transcript(): Promise<string[]> {
    const rows = (await this.db.execute("SELECT line FROM aos_transcript ORDER BY n")) as { line: string }[];
    return rows.map((r) => r.line);
  }

  async appendTranscript(lines: string[]): Promise<void> {
    for (const line of lines) await this.db.execute("INSERT INTO aos_transcript (line) VALUES (?)", line);
  }

  async clearTranscript(): Promise<void> {
    await this.db.execute("DELETE FROM aos_transcript");
  }

  /** agentOS's session table in this same database, for resume (src/agents/resume.ts). */
  agentosSessions(): AgentosSessionStore {
    return {
      exists: async (sessionId) => (await this.db.execute("SELECT 1 AS x FROM agentos_core_sessions WHERE session_id = ?", sessionId).catch(() => [])).length > 0,
      setEnv: async (sessionId, env) => {
        try {
          const before = await this.db.execute("SELECT 1 AS x FROM agentos_core_sessions WHERE session_id = ?", sessionId);
          if (!before.length) return false;
          await this.db.execute("UPDATE agentos_core_sessions SET env_json = ? WHERE session_id = ?", JSON.stringify(env), sessionId);
          return true;
        } catch {
          return false; // no agentOS table yet: no session to update
        }
      },
    };
  }
}

function toStatus(r: RunRow): RunStatus {
  return {
    runId: r.run_id,
    state: r.state,
    lastSeq: Number(r.last_seq),
    acceptedAt: r.accepted_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    exitCode: r.exit_code === null ? null : Number(r.exit_code),
    result: r.result,
    runner: r.runner,
  };
}
