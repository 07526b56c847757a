/**
 * Running a `rivet-engine` for workers and clients: file-system storage (RocksDB) in one directory, every listener on
 * loopback, telemetry off, and the runtime's CPU budget raised (`worker_cpu_max`: on a loaded 2-core machine actor
 * creation timed out with `pegboard_actor_create timed out` at the default). docs/rivet.md has the config and why.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { join } from "node:path";
import { runtimeError, usageError } from "../errors.ts";
import { stateDir } from "../paths.ts";
import { CappedLog } from "../capped-log.ts";
// The runtime's light face: `engine start` must not load agentOS.
import { killWithParent } from "../runtime/light.ts";

/** The engine's public (guard) port; the peer API listens on port + 1 and metrics on port + 10, as rivet-engine's defaults do. */
export const DEFAULT_ENGINE_PORT = 6420;
const HOST = "127.0.0.1";

export interface EngineLayout {
  /** Storage and everything else the engine writes: db/, tmp/, engine.json, engine.log. */
  dir: string;
  port: number;
  endpoint: string;
  configFile: string;
  logFile: string;
}

/** Default engine directory: <state dir>/rivet-engine. */
export function defaultEngineDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), "rivet-engine");
}

export function engineLayout(dir: string, port = DEFAULT_ENGINE_PORT): EngineLayout {
  if (!Number.isInteger(port) || port < 1 || port > 65535 - 10) throw usageError(`--port must be a port number (1-65525), got '${port}'`, `for example --port ${DEFAULT_ENGINE_PORT}`);
  return { dir, port, endpoint: `http://${HOST}:${port}`, configFile: join(dir, "engine.json"), logFile: join(dir, "engine.log") };
}

/** The config file's content. The topology is spelled out so that a port other than 6420 is also what peers are told. */
export function engineConfig(layout: EngineLayout): Record<string, unknown> {
  const peer = layout.port + 1;
  return {
    file_system: { path: join(layout.dir, "db") },
    telemetry: { enabled: false },
    guard: { host: HOST, port: layout.port },
    api_peer: { host: HOST, port: peer },
    metrics: { host: HOST, port: layout.port + 10 },
    topology: {
      datacenter_label: 1,
      datacenters: [{ name: "default", datacenter_label: 1, is_leader: true, public_url: layout.endpoint, peer_url: `http://${HOST}:${peer}` }],
    },
    runtime: { worker_cpu_max: 16000 },
  };
}

export interface EngineHealth {
  status: string;
  version: string;
  runtime: string;
}

/** GET <endpoint>/health: the engine's answer, or null when nothing (or something else) answers. */
export async function engineHealth(endpoint: string, timeoutMs = 2000): Promise<EngineHealth | null> {
  try {
    const res = await fetch(`${endpoint.replace(/\/$/, "")}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    const body = (await res.json()) as Partial<EngineHealth>;
    return body.runtime === "engine" && body.status === "ok" ? (body as EngineHealth) : null;
  } catch {
    return null;
  }
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: HOST, port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

export interface RunningEngine extends EngineLayout {
  pid: number;
  version: string;
  /** Resolves when the engine process has ended (its exit code, or the signal that ended it). */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has ended. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartEngineOptions {
  enginePath: string;
  dir: string;
  port?: number;
  /** How long to wait for /health (default 60 s: the first start creates the database). */
  readyTimeoutMs?: number;
  onProgress?: (line: string) => void;
}

/**
 * Start rivet-engine and wait until it answers on its endpoint. Its output goes to <dir>/engine.log (appended, capped:
 * src/capped-log.ts). Only PATH and HOME reach it from our environment (no provider key has any business there), and
 * TMPDIR is inside `dir`. It does not outlive this process, however this process ends (killWithParent in src/runtime/watchdog.ts).
 */
export async function startEngine(opts: StartEngineOptions): Promise<RunningEngine> {
  const layout = engineLayout(opts.dir, opts.port);
  for (const p of [layout.port, layout.port + 1, layout.port + 10]) {
    if (await portInUse(p)) {
      const other = await engineHealth(`http://${HOST}:${p}`);
      throw runtimeError(
        `port ${p} on ${HOST} is in use${other ? ` by another rivet-engine (${other.version})` : ""}`,
        `stop it, or start this one elsewhere: --port N (it takes N, N+1 and N+10)`,
        "port_in_use",
      );
    }
  }
  await mkdir(join(layout.dir, "tmp"), { recursive: true });
  await writeFile(layout.configFile, `${JSON.stringify(engineConfig(layout), null, 2)}\n`);
  const log = new CappedLog(layout.logFile);
  const child: ChildProcess = spawn(opts.enginePath, ["--config", layout.configFile, "start"], {
    cwd: layout.dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? layout.dir, TMPDIR: join(layout.dir, "tmp") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (b: Buffer) => log.write(b));
  child.stderr!.on("data", (b: Buffer) => log.write(b));
  const watchdog = child.pid === undefined ? undefined : killWithParent(child.pid, { match: "rivet-engine", graceS: WATCHDOG_GRACE_S, name: "paperclip-aos-engine-watchdog" });
  const exited = new Promise<number | string>((resolve) => {
    child.once("error", (e) => {
      watchdog?.kill();
      log.close();
      resolve(`spawn failed: ${e.message}`);
    });
    child.once("close", (code, sig) => {
      watchdog?.kill();
      log.close();
      resolve(code ?? sig ?? "killed");
    });
  });
  let ended: number | string | undefined;
  void exited.then((c) => (ended = c));
  const stop = async (graceMs = 15_000) => {
    if (ended !== undefined) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };

  opts.onProgress?.(`starting rivet-engine on ${layout.endpoint} (storage ${join(layout.dir, "db")}, log ${layout.logFile})`);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (true) {
    if (ended !== undefined) throw runtimeError(`rivet-engine exited (${ended}) before it answered: ${lastLogLine(layout.logFile)}`, `its log: ${layout.logFile}`, "engine_start_failed");
    const health = await engineHealth(layout.endpoint, 1000);
    if (health) return { ...layout, pid: child.pid!, version: health.version, exited, stop };
    if (Date.now() > deadline) {
      await stop(2000);
      throw runtimeError(`rivet-engine did not answer on ${layout.endpoint} within ${Math.round((opts.readyTimeoutMs ?? 60_000) / 1000)} s`, `its log: ${layout.logFile}`, "engine_start_failed");
    }
    await Bun.sleep(250);
  }
}

/** How long the watchdog gives the engine between SIGTERM and SIGKILL (seconds). */
const WATCHDOG_GRACE_S = 10;

function lastLogLine(file: string): string {
  if (!existsSync(file)) return "no log";
  const lines = readFileSync(file, "utf8").trim().split("\n").filter((l) => /level=(error|warn)|error/i.test(l));
  return (lines.at(-1) ?? readFileSync(file, "utf8").trim().split("\n").at(-1) ?? "").slice(0, 300);
}
