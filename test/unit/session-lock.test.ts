import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
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

describe("session lock takeover", () => {
  /** A lock file of a run whose process is gone (a killed heartbeat). */
  async function staleLock(s: SessionSlot): Promise<void> {
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    await writeFile(join(s.dir, "lock"), JSON.stringify({ pid: dead.pid, runId: "killed" }));
  }

  test("many concurrent takers of one stale lock: exactly one gets the session, the others session_busy", async () => {
    for (let round = 0; round < 5; round++) {
      const s = await slot();
      await staleLock(s);
      const takers = await Promise.allSettled(Array.from({ length: 24 }, (_, i) => s.lock(`taker-${i}`)));
      const won = takers.flatMap((t, i) => (t.status === "fulfilled" ? [i] : []));
      expect(won).toHaveLength(1);
      for (const t of takers) if (t.status === "rejected") expect(t.reason).toMatchObject({ code: "session_busy" });
      expect(owner(s)).toMatchObject({ runId: `taker-${won[0]}` });
      await (takers[won[0]!] as PromiseFulfilledResult<() => Promise<void>>).value();
      // Nothing of the takeover is left next to the session.
      expect(readdirSync(s.dir)).toEqual([]);
    }
  });

  test("a taker that died mid-takeover (its claim linked, its lock never renamed in) does not keep the session: the next one gets it", async () => {
    const s = await slot();
    await staleLock(s);
    // The claimant's first step, then SIGKILL before its rename: its claim on the stale lock stays behind.
    const claimant = Bun.spawn(["bun", "-e", `const fs = require("node:fs"); const lock = ${JSON.stringify(join(s.dir, "lock"))}; fs.linkSync(lock, lock + ".stale." + fs.statSync(lock, { bigint: true }).ino); process.kill(process.pid, "SIGKILL");`]);
    expect(await claimant.exited).not.toBe(0);
    expect(readdirSync(s.dir).sort()).toEqual(["lock", expect.stringMatching(/^lock\.stale\.\d+$/)]);
    // The next heartbeat's lock: the abandoned claim is dropped once it is clearly old, and the stale lock taken over.
    const unlock = await s.lock("next");
    expect(owner(s)).toMatchObject({ pid: process.pid, runId: "next" });
    expect(readdirSync(s.dir)).toEqual(["lock"]);
    await unlock();
    expect(readdirSync(s.dir)).toEqual([]);
  }, 40_000);

  test("takers in separate processes, three at once in each, racing for one stale lock: exactly one gets it", async () => {
    const s = await slot();
    await staleLock(s);
    const go = join(s.dir, "..", "go");
    const done = join(s.dir, "..", "done");
    // Each process waits for `go`, starts three takers at once, prints one line of what they got ("won" or
    // "busy <code>" each), and a winner holds the lock until `done`.
    const script = `
      import { existsSync } from "node:fs";
      import { SessionSlot } from ${JSON.stringify(join(import.meta.dir, "../../src/heartbeat/index.ts"))};
      const s = new SessionSlot("agent", "task", ${JSON.stringify(join(s.dir, "..", "..", ".."))});
      console.log("ready");
      while (!existsSync(${JSON.stringify(go)})) await Bun.sleep(1);
      const takers = await Promise.allSettled([0, 1, 2].map((i) => s.lock("proc-" + process.pid + "-" + i)));
      console.log(takers.map((t) => (t.status === "fulfilled" ? "won" : "busy " + t.reason.code)).join(","));
      while (!existsSync(${JSON.stringify(done)})) await Bun.sleep(5);
      for (const t of takers) if (t.status === "fulfilled") await t.value();`;
    const procs = Array.from({ length: 6 }, () => Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "inherit" }));
    try {
      const readers = procs.map((p) => p.stdout.getReader());
      const nextLine = async (r: (typeof readers)[number]) => new TextDecoder().decode((await r.read()).value).trim();
      expect(await Promise.all(readers.map(nextLine))).toEqual(Array(6).fill("ready"));
      await writeFile(go, "");
      const said = (await Promise.all(readers.map(nextLine))).map((l) => l.split(","));
      expect(said.flat().filter((l) => l === "won")).toHaveLength(1);
      expect(said.flat().filter((l) => l !== "won")).toEqual(Array(17).fill("busy session_busy"));
      const winner = procs[said.findIndex((l) => l.includes("won"))]!;
      expect(owner(s)).toMatchObject({ pid: winner.pid });
      await writeFile(done, "");
      expect(await Promise.all(procs.map((p) => p.exited))).toEqual(Array(6).fill(0));
      expect(readdirSync(s.dir)).toEqual([]);
    } finally {
      for (const p of procs) p.kill("SIGKILL");
    }
  });
});
