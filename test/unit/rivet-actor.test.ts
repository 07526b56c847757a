import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SessionSlot } from "../../src/heartbeat/index.ts";
import { ActorSessionFiles } from "../../src/rivet/actor-files.ts";
import { ActorStore } from "../../src/rivet/actor-store.ts";
import type { ActorDb } from "../../src/rivet/rivetkit-types.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);

/**
 * The session actor's tables and its session files, on a real SQLite database (bun:sqlite) in the shape of an actor's
 * `c.db` (raw SQL, rows as objects): what a heartbeat leaves in the actor is what the next one, on another worker
 * with an empty disk, starts from. The actor on a real engine: test/rivet/worker.lane.ts.
 */
function actorDb(): ActorDb {
  const db = new Database(":memory:");
  return { execute: async (sql, ...args) => db.query(sql).all(...(args as never[])) as Record<string, unknown>[] };
}

async function slotIn(root: string): Promise<SessionSlot> {
  return new SessionSlot("agent-1", "PAP-7", root);
}

describe("the session actor's storage", () => {
  test("what a heartbeat wrote to its session files is restored on another worker's empty disk; a fresh session clears it", async () => {
    const store = new ActorStore(actorDb());
    await store.migrate();
    const rootA = join(await tempDir(), "runner-a");
    const a = new ActorSessionFiles(await slotIn(rootA), rootA, store);
    await a.restore();
    // As runHeartbeat does: the record saved, the prompt and events appended to the transcript.
    await Bun.write(a.slot.recordPath, JSON.stringify({ sessionId: "s-1", runs: 1 }));
    appendFileSync(a.slot.transcriptPath, `${JSON.stringify({ type: "user", text: "first" })}\n`);
    await a.sync(); // a tick mid-run
    appendFileSync(a.slot.transcriptPath, `${JSON.stringify({ type: "assistant", text: "done" })}\n{"type":"assis`);
    await a.close();
    expect(existsSync(rootA)).toBe(false);

    const rootB = join(await tempDir(), "runner-b");
    const b = new ActorSessionFiles(await slotIn(rootB), rootB, store);
    await b.restore();
    expect(JSON.parse(readFileSync(b.slot.recordPath, "utf8"))).toEqual({ sessionId: "s-1", runs: 1 });
    // Whole lines only: the one cut off by the end of the run is not taken for a line.
    expect(readFileSync(b.slot.transcriptPath, "utf8").trim().split("\n").map((l) => JSON.parse(l).text)).toEqual(["first", "done"]);

    // A fresh session (a reset wake reason, `session: null`): the slot starts over, and so does the actor.
    await b.slot.reset();
    appendFileSync(b.slot.transcriptPath, `${JSON.stringify({ type: "user", text: "fresh" })}\n`);
    await b.close();
    expect(await store.sessionRecord()).toBeNull();
    expect((await store.transcript()).map((l) => JSON.parse(l).text)).toEqual(["fresh"]);
  });

  test("the run log: in order from afterSeq, paged, and a result line finishes the run", async () => {
    const store = new ActorStore(actorDb());
    await store.migrate();
    await store.addRun({ runId: "r1", request: { model: "m" }, runner: "w1", build: "b" });
    expect(await store.unfinishedRuns()).toHaveLength(1);
    for (let seq = 1; seq <= 5; seq++) await store.append("r1", seq, `{"seq":${seq}}`);
    await store.append("r1", 6, `{"type":"result","seq":6}`, { exitCode: 0, finalState: "done" });
    const page = await store.events("r1", 2, 3);
    expect(page.lines.map((l) => l.seq)).toEqual([3, 4, 5]);
    expect(page.more).toBe(true);
    expect((await store.events("r1", 5, 3)).more).toBe(false);
    expect(await store.run("r1")).toMatchObject({ state: "done", lastSeq: 6, exitCode: 0, result: `{"type":"result","seq":6}` });
    expect(await store.unfinishedRuns()).toEqual([]);
  });

  test("agentOS's session table in the same database: resume finds it, the stored env is replaced", async () => {
    const db = actorDb();
    const store = new ActorStore(db);
    const sessions = store.agentosSessions();
    // No agentOS table yet (no VM booted in this actor): nothing to resume.
    expect(await sessions.exists("s-1")).toBe(false);
    expect(await sessions.setEnv("s-1", { HOME: "/home/agentos" })).toBe(false);
    await db.execute("CREATE TABLE agentos_core_sessions (session_id TEXT PRIMARY KEY, env_json TEXT)");
    await db.execute("INSERT INTO agentos_core_sessions VALUES ('s-1', '{\"TOKEN\":\"gw-secret\"}')");
    expect(await sessions.exists("s-1")).toBe(true);
    expect(await sessions.setEnv("s-1", { HOME: "/home/agentos" })).toBe(true);
    expect(await db.execute("SELECT env_json FROM agentos_core_sessions")).toEqual([{ env_json: '{"HOME":"/home/agentos"}' }]);
  });
});
