import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SessionSlot, type PreparedLock } from "../../src/heartbeat/index.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

/**
 * The session lock's handoff (src/heartbeat/sessions.ts) on the real file system with real processes: a worker's
 * prepared VM holds a session's lock and lets it go when another run asks (src/worker/resumable.ts).
 */
afterAll(removeTempDirs);

async function slot(): Promise<SessionSlot> {
  const s = new SessionSlot("agent", "task", await tempDir("aos-lock-"));
  await mkdir(s.dir, { recursive: true });
  return s;
}

const owner = (s: SessionSlot) => JSON.parse(readFileSync(join(s.dir, "lock"), "utf8"));

describe("session lock handoff", () => {
  test("a prepared lock is let go when another run asks: the asker gets the session once it is released", async () => {
    const s = await slot();
    let released = false;
    const hold: PreparedLock = (await s.lockPrepared(() => {
      setTimeout(() => void hold.release().then(() => (released = true)), 100);
    }))!;
    expect(owner(s)).toMatchObject({ pid: process.pid, prepared: true });
    // Nobody else gets a prepared lock on it meanwhile.
    expect(await s.lockPrepared(() => {})).toBeUndefined();
    const unlock = await s.lock("run-2");
    expect(released).toBe(true);
    expect(owner(s)).toMatchObject({ runId: "run-2" });
    expect(owner(s).prepared).toBeUndefined();
    expect(existsSync(join(s.dir, "lock.release"))).toBe(false);
    await unlock();
    expect(existsSync(join(s.dir, "lock"))).toBe(false);
  });

  test("handed over to the worker's own heartbeat, the lock is a heartbeat's: another run gets session_busy at once", async () => {
    const s = await slot();
    let asked = false;
    const hold = (await s.lockPrepared(() => (asked = true)))!;
    const unlock = await hold.handOver("worker-run", [4242]);
    expect(owner(s)).toEqual({ pid: process.pid, runId: "worker-run", pids: [4242] });
    await expect(s.lock("other")).rejects.toMatchObject({ code: "session_busy" });
    expect(asked).toBe(false);
    await unlock();
    await (await s.lock("after"))();
  });

  test("a lock whose owner died is taken over only once the process it names (a sidecar) is gone too", async () => {
    const s = await slot();
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    const sidecar = Bun.spawn(["sleep", "30"]);
    await writeFile(join(s.dir, "lock"), JSON.stringify({ pid: dead.pid, runId: "killed-worker", prepared: true, pids: [sidecar.pid] }));
    let gone = false;
    setTimeout(() => {
      gone = true;
      sidecar.kill("SIGKILL");
    }, 300);
    const unlock = await s.lock("next");
    expect(gone).toBe(true);
    await sidecar.exited;
    expect(owner(s)).toMatchObject({ runId: "next" });
    await unlock();
  });

  test("a lock of a dead owner that names no live process is taken over at once", async () => {
    const s = await slot();
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    await writeFile(join(s.dir, "lock"), JSON.stringify({ pid: dead.pid, runId: "gone" }));
    const unlock = await s.lock("next");
    expect(owner(s)).toMatchObject({ runId: "next" });
    await unlock();
  });
});
