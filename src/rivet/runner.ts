import { mkdirSync, realpathSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { SidecarPool, Slots } from "../worker/index.ts";
import { AosError, firstLine, usageError } from "../errors.ts";
import { logger } from "../log.ts";
import { sessionActor } from "./actor.ts";
import type { RunnerHost } from "./actor-run.ts";
import { SESSION_ACTOR } from "./contract.ts";
import { loadRivet } from "./modules.ts";
import type { RivetRegistry } from "./rivetkit-types.ts";
import { useNativeTmpdir, type NativeTmpdir } from "./native-tmpdir.ts";

export interface RunnerOptions {
  /** The engine's API endpoint, e.g. http://127.0.0.1:6420 (rivetkit's URL auth syntax for namespace and token works). */
  engine: string;
  /** This worker's name (run rows, ticks, logs); default the host name and pid. */
  name: string;
  /** Heartbeats at once in this worker; more wait (state `accepted`) up to `queue`, beyond that `worker_busy`. */
  concurrency: number;
  queue: number;
  stateDir: string;
  /** Workspaces must be under one of these directories (none: anywhere on the worker). */
  workspaceRoots?: string[];
  recycleAfter: number;
  maxRssMb: number;
  debug?: boolean;
  /** The engine's shared token (token.ts): every connection and action of the session actors must carry it. */
  token: string;
}

export interface RunnerInfo {
  name: string;
  engine: string;
  pid: number;
  concurrency: number;
  /** Milliseconds from the start to registered with the engine (the sidecar warm-up included). */
  readyMs: number;
}

/**
 * `paperclip-aos worker --engine URL`: a runner of the Rivet engine that hosts the session actors (actor.ts). It
 * connects out to the engine and registers the actor name; the engine places each session's actor on one runner of
 * the pool and moves it to another when its runner goes away. Heartbeats run on the runner's warm sidecar (the same
 * SidecarPool as `serve`: provider keys are kept out of it); their gateway runs here, with this process's provider
 * keys.
 */
export class Runner {
  private registry: RivetRegistry | undefined;
  private stopping: Promise<void> | undefined;
  readonly host: RunnerHost;
  private readonly pool: SidecarPool;
  private readonly scratch: string;
  private tmp: NativeTmpdir | undefined;

  constructor(private readonly opts: RunnerOptions) {
    checkRunnerEngineUrl(opts.engine);
    this.scratch = join(opts.stateDir, "rivet", opts.name.replace(/[^A-Za-z0-9_.-]/g, "_"));
    this.pool = new SidecarPool({ dir: this.scratch, recycleAfter: opts.recycleAfter, maxRssMb: opts.maxRssMb, debug: opts.debug });
    this.host = {
      name: opts.name,
      stateDir: opts.stateDir,
      pool: this.pool,
      slots: new Slots(opts.concurrency, opts.queue),
      debug: opts.debug ?? false,
      active: new Map(),
      workspaceRoots: (opts.workspaceRoots ?? []).map(realRoot),
      stopping: false,
    };
  }

  /** Warm a sidecar, then register with the engine; resolves once the engine can place actors here. */
  async start(onProgress: (msg: string) => void = () => {}): Promise<RunnerInfo> {
    const started = performance.now();
    const rivet = await loadRivet();
    // A scratch dir a killed worker left behind holds nothing the actors need (their state is in the engine).
    rmSync(this.scratch, { recursive: true, force: true });
    mkdirSync(this.scratch, { recursive: true });
    // rivetkit's actor runtime sockets go to a TMPDIR of ours, removed at stop (native-tmpdir.ts); first, since a
    // worker with no room for them could run no heartbeat and says so before it warms anything.
    try {
      this.tmp = await useNativeTmpdir(join(this.opts.stateDir, "rivet"));
    } catch (e) {
      rmSync(this.scratch, { recursive: true, force: true });
      throw e;
    }
    this.host.runtimeSockets = this.tmp;
    onProgress("warming a sidecar (first shell and a Pi session, a few seconds)");
    try {
      await this.pool.start();
    } catch (e) {
      this.tmp.close();
      throw e;
    }
    try {
      this.registry = rivet.rivetkit.setup({
        use: { [SESSION_ACTOR]: sessionActor(rivet.rivetkit, rivet.db, this.host, this.opts.token) },
        endpoint: this.opts.engine,
        // A runner of an engine someone else runs: no engine, no services of its own.
        startEngine: false,
        startServices: false,
        noWelcome: true,
        logging: { level: this.opts.debug ? "info" : "error" },
        // Our SIGTERM handling stops the heartbeats first (each still gets its result), then the registry.
        shutdown: { disableSignalHandlers: true },
      });
      onProgress(`registering with the engine at ${redact(this.opts.engine)}`);
      await this.registry.startAndWait();
    } catch (e) {
      await this.pool.close().catch(() => {});
      this.tmp?.close();
      if (e instanceof AosError) throw e;
      throw new AosError(`could not register with the engine at ${redact(this.opts.engine)}: ${firstLine(e)}`, {
        code: "engine_unreachable",
        exitCode: 1,
        hint: "is the engine running? ('paperclip-aos engine status')",
        cause: e,
      });
    }
    return { name: this.opts.name, engine: redact(this.opts.engine), pid: process.pid, concurrency: this.opts.concurrency, readyMs: Math.round(performance.now() - started) };
  }

  get running(): number {
    return this.host.active.size;
  }

  /**
   * Stop: no new heartbeat starts, the running ones are stopped with `reason` (each writes its result, exit 143 for
   * SIGTERM), the registry drains (the engine moves the actors elsewhere), the sidecars go.
   */
  stop(reason = "SIGTERM"): Promise<void> {
    this.stopping ??= (async () => {
      this.host.stopping = true;
      const runs = [...this.host.active.values()];
      for (const r of runs) r.stop.abort(reason);
      await Promise.race([Promise.all(runs.map((r) => r.done.catch(() => {}))), Bun.sleep(20_000)]);
      await Promise.race([this.registry?.shutdown().catch((e) => logger.debug(`worker: registry shutdown: ${firstLine(e)}`)), Bun.sleep(15_000)]);
      await this.pool.close();
      this.tmp?.close();
      rmSync(this.scratch, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}

function realRoot(dir: string): string {
  try {
    if (statSync(dir).isDirectory()) return realpathSync(dir);
  } catch {
    // reported below
  }
  throw usageError(`--workspace-root ${dir} is not a directory on this worker`, "name an existing directory (the shared storage's mount point)", "invalid_workspace_root");
}

/** The endpoint without a token in it (URL auth syntax `https://namespace:token@host`). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}

/** The worker's --engine must be an http(s) endpoint: checked before anything else about the engine (token, parts). */
export function checkRunnerEngineUrl(url: string): void {
  if (!/^https?:\/\//.test(url)) throw usageError(`--engine ${url} is not an http(s) URL`, "for example --engine http://127.0.0.1:6420", "invalid_engine_url");
}
