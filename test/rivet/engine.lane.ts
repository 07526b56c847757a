/**
 * The engine parts in the Rivet lane (run by test/rivet/lane.sh, by path: bun's default discovery skips *.lane.ts):
 * the compiled binary finds and loads what `engine install` put in place, `engine start` runs a real rivet-engine on
 * loopback only whose file-system storage keeps an actor's state across a restart, a real rivetkit runner and client
 * (loaded with loadRivet) run an action through it, Paperclip's adapter with engineUrl finds it, and SIGTERM stops it
 * with nothing left behind; a SIGKILLed `engine start` does not leave its rivet-engine running.
 *
 * Env (set by lane.sh): LANE_BIN (the compiled binary), PAPERCLIP_AOS_RIVET_DIR (the installed parts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { engineHealth, loadRivet, type RivetRegistry } from "../../src/rivet/index.ts";
import { createAgentosAdapter } from "../../src/paperclip/index.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";
import { freePort, LANE_BIN, startEngine } from "./helpers.ts";

afterAll(removeTempDirs);

const BIN = LANE_BIN;

/** The local addresses the process `pid` listens on (from /proc/net/tcp{,6}: state 0A is LISTEN). */
function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {}
  }
  const out: string[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9]!)) out.push(f[1]!);
    }
  }
  return out;
}

function enginePid(startPid: number): number {
  // `engine start` runs rivet-engine as its child.
  const kids = readFileSync(`/proc/${startPid}/task/${startPid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  const engine = kids.find((k) => readFileSync(`/proc/${k}/cmdline`, "utf8").includes("rivet-engine"));
  if (!engine) throw new Error(`no rivet-engine child of ${startPid}`);
  return engine;
}

describe("the Rivet engine parts", () => {
  test("the compiled binary finds the installed parts and loads rivetkit", async () => {
    const p = Bun.spawn([BIN, "engine", "status", "--json", "--engine", "http://127.0.0.1:9"], { stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    const s = JSON.parse(out);
    expect(s).toMatchObject({ installed: true, source: "env", rivetkitVersion: s.version, engineCliVersion: s.version, running: null });
    expect(s.loadError).toBeUndefined();
  });

  test("engine start: loopback only, the adapter's engineUrl check, an action through a real runner, state kept across a restart, SIGTERM leaves nothing", async () => {
    const home = await tempDir("aos-rivet-lane-");
    const dir = join(home, "engine");
    const port = await freePort();
    let engine = await startEngine(dir, port, home);
    const registries: RivetRegistry[] = [];
    try {
      expect(engine.info.endpoint).toBe(`http://127.0.0.1:${port}`);
      expect(await engineHealth(engine.info.endpoint)).toMatchObject({ status: "ok" });
      // Every listener of the engine is on 127.0.0.1 (0100007F in /proc/net/tcp), none on 0.0.0.0 or ::.
      const addrs = listeningAddresses(enginePid(engine.proc.pid));
      expect(addrs.length).toBeGreaterThanOrEqual(3);
      for (const a of addrs) expect(a.startsWith("0100007F:")).toBe(true);

      // Paperclip's "Test environment" with engineUrl, through this binary's doctor: the engine answers, the parts are there.
      const env = await createAgentosAdapter({ command: [BIN] }).testEnvironment({ companyId: "c", adapterType: "agentos_local", config: { engineUrl: engine.info.endpoint, env: { PAPERCLIP_AOS_HOME: home } } });
      expect(env.checks.find((c) => c.code === "engine_url")).toMatchObject({ level: "info", message: `a Rivet engine answers at ${engine.info.endpoint} (rivet-engine ${engine.info.version})` });
      expect(env.checks.find((c) => c.code === "engine_parts")).toMatchObject({ level: "info", message: expect.stringContaining("Rivet engine parts installed") });
      // The server's environment has no engine token here: with engineUrl that is an error saying how to make one.
      expect(env.checks.find((c) => c.code === "engine_token")).toMatchObject({ level: "error", message: "PAPERCLIP_AOS_ENGINE_TOKEN is not set (needed only for worker/run --engine)", hint: expect.stringContaining("openssl rand -hex 32") });

      const rivet = await loadRivet();
      const { actor, setup } = rivet.rivetkit;
      const counter = actor({ state: { n: 0 }, actions: { add: (c: { state: { n: number } }, by: number) => (c.state.n += by) } });
      const runner = () => {
        const r = setup({ use: { counter }, endpoint: engine.info.endpoint, startEngine: false, startServices: false, noWelcome: true });
        registries.push(r);
        return r;
      };
      await runner().startAndWait();
      const client = rivet.client.createClient(engine.info.endpoint);
      const add = (by: number) => (client.counter!.getOrCreate(["lane"]).add as (n: number) => Promise<number>)(by);
      expect(await add(2)).toBe(2);
      expect(await add(3)).toBe(5);
      await client.dispose();
      await registries.pop()!.shutdown();

      // SIGTERM: exit 143, the engine child gone, the port free.
      const child = enginePid(engine.proc.pid);
      engine.proc.kill("SIGTERM");
      expect(await engine.proc.exited).toBe(143);
      expect(() => process.kill(child, 0)).toThrow();
      expect(await engineHealth(engine.info.endpoint, 500)).toBeNull();

      // The same --dir again: the actor's state was kept in its storage.
      engine = await startEngine(dir, port, home);
      await runner().startAndWait();
      const again = rivet.client.createClient(engine.info.endpoint);
      expect(await (again.counter!.getOrCreate(["lane"]).add as (n: number) => Promise<number>)(1)).toBe(6);
      await again.dispose();
    } finally {
      for (const r of registries) await r.shutdown().catch(() => {});
      engine.proc.kill("SIGTERM");
      await engine.proc.exited;
    }
  });

  test("a SIGKILLed engine start takes its rivet-engine with it: the engine ends, the port is free, the same --dir starts again", async () => {
    const home = await tempDir("aos-rivet-lane-");
    const dir = join(home, "engine");
    const port = await freePort();
    const engine = await startEngine(dir, port, home);
    const child = enginePid(engine.proc.pid);
    engine.proc.kill("SIGKILL");
    await engine.proc.exited;
    // Nothing tells a child its parent was killed: without the watchdog the engine kept running (and its ports).
    const gone = async () => {
      for (let i = 0; i < 120; i++) {
        try {
          process.kill(child, 0);
        } catch {
          return true;
        }
        await Bun.sleep(250);
      }
      return false;
    };
    expect(await gone()).toBe(true);
    expect(await engineHealth(engine.info.endpoint, 500)).toBeNull();
    const again = await startEngine(dir, port, home);
    try {
      expect(await engineHealth(again.info.endpoint)).toMatchObject({ status: "ok" });
    } finally {
      again.proc.kill("SIGTERM");
      expect(await again.proc.exited).toBe(143);
    }
  });
});
