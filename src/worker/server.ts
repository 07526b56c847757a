import { chmodSync, linkSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import * as v from "valibot";
import { allVmsReleased, procStat, treeRssKb } from "../runtime/index.ts";
import { runtimeError, firstLine } from "../errors.ts";
import { buildTag } from "./build.ts";
import { logger } from "../log.ts";
import { FollowUps, runJob, type JobContext, type JobInfo } from "./jobs.ts";
import { execJob } from "./exec-job.ts";
import { SidecarPool, type SidecarInfo } from "./sidecars.ts";
import { SparePool, type SpareInfo } from "./spares.ts";
import { ResumableSessions, type ResumableInfo } from "./resumable.ts";
import { GatewayHub } from "../gateway/index.ts";
import type { WarmStart } from "../heartbeat/index.ts";
import { workerDir } from "./socket.ts";
import { Slots } from "./slots.ts";
import { checkSocketPath, lineReader, preparePrivateDir, probeSocket, removeSocket, workerLockOwner, workerLockPath, workerLockPid, workerLockText } from "./socket.ts";
import { FollowUpMessage, RequestMessage, WIRE_VERSION, workerLine } from "./wire.ts";

export interface WorkerOptions {
  socketPath: string;
  stateDir: string;
  /** Heartbeats (and execs) at once; more wait in the queue. */
  concurrency: number;
  queueLimit: number;
  /** Replace the sidecar after this many heartbeats, or once its RSS passes maxRssMb, or it keeps maxGrowthMb more than a fresh one would (SidecarPool). */
  recycleAfter: number;
  maxRssMb: number;
  maxGrowthMb?: number;
  /** Spare VMs kept ready at most (over all policies); 0: none. */
  spares: number;
  /** A policy unused this long (ms; not the newest) keeps no spare; 0: kept as long as it is remembered. */
  sparesIdleMs?: number;
  /** Sessions whose next VM is kept ready after their heartbeat (resumable.ts); 0: none. */
  resumable: number;
  debug?: boolean;
}

export interface WorkerStatus {
  pid: number;
  build: string;
  socket: string;
  stateDir: string;
  startedAt: string;
  uptimeSec: number;
  limits: { concurrency: number; queue: number; recycleAfter: number; maxRssMb: number; maxGrowthMb: number };
  running: number;
  queued: number;
  served: { heartbeats: number; execs: number; failed: number };
  warm: { sidecarReady: boolean; sidecarSettling: boolean; spareVms: number; gatewayPort: number; spares: SpareInfo; resumable: ResumableInfo };
  sidecars: SidecarInfo[];
  sidecarsReplaced: number;
  sidecarsRecycled: number;
  /** Of those recycled, how many for what they kept beyond a fresh sidecar (--max-growth). */
  sidecarsGrown: number;
  memory: { workerRssMb: number; treeRssMb: number };
  jobs: JobInfo[];
}


/**
 * `paperclip-aos serve`: a long-lived process on a private Unix socket that runs heartbeats (and exec commands) for
 * clients on the same machine and user, each in a VM of its own on a sidecar it keeps warm. See docs/worker.md.
 */
export class Worker {
  private server: Server | undefined;
  private readonly pool: SidecarPool;
  /** Every heartbeat's gateway, on one long-lived port (a spare's agent is configured with it before its run). */
  private readonly hub = new GatewayHub();
  private readonly spares: SparePool;
  private readonly resumable: ResumableSessions;
  private readonly warm: WarmStart;
  private readonly slots: Slots;
  private readonly jobs = new Map<number, { info: JobInfo; stop: AbortController; done: Promise<unknown> }>();
  /** Heartbeats' cleanup after their result (WarmStart.later), waited for before the worker stops. */
  private readonly background = new Set<Promise<unknown>>();
  private nextJob = 1;
  private readonly startedAt = new Date();
  private readonly served = { heartbeats: 0, execs: 0, failed: 0 };
  private lockPath: string;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: WorkerOptions) {
    this.pool = new SidecarPool({ dir: join(opts.socketPath, ".."), recycleAfter: opts.recycleAfter, maxRssMb: opts.maxRssMb, maxGrowthMb: opts.maxGrowthMb, vms: opts.concurrency + opts.spares + opts.resumable + 1, debug: opts.debug, onRetire: () => this.afterChange() });
    this.slots = new Slots(opts.concurrency, opts.queueLimit);
    // Spares' session databases are hard-linked into session slots: they live in the state dir, as the slots do.
    this.spares = new SparePool({ pool: this.pool, hub: this.hub, dir: join(workerDir(opts.stateDir), "spares"), max: opts.spares, debug: opts.debug, busy: () => this.slots.busy(), loaded: () => this.slots.busy(1), idleMs: opts.sparesIdleMs });
    // (The heartbeat that calls sessionDone still holds its slot.)
    this.resumable = new ResumableSessions({ spares: this.spares, max: opts.resumable, busy: () => this.slots.busy(1) });
    this.warm = {
      gatewayPort: 0,
      openGateway: (o) => this.hub.open(o),
      takeSpare: (need) => this.spares.take(need),
      // A heartbeat claims its own session's prepared VM first (claim takes it at once), then the others yield to it
      // if the worker is busy (the same rule as for making them).
      claimSession: (slot, runId, pids) => {
        const mine = this.resumable.claim(slot, runId, pids);
        this.resumable.yieldToLoad();
        return mine;
      },
      sessionDone: (next) => !this.stopping && this.resumable.prepare(next),
      later: (cleanup) => {
        const p: Promise<unknown> = cleanup.catch((e) => logger.debug(`worker: cleanup after a heartbeat: ${firstLine(e)}`)).finally(() => this.background.delete(p));
        this.background.add(p);
      },
    };
    this.lockPath = workerLockPath(opts.socketPath);
  }

  /** Take the socket (refusing when another worker serves it), warm the first sidecar, then listen. */
  async start(onProgress: (msg: string) => void = () => {}): Promise<void> {
    const path = this.opts.socketPath;
    checkSocketPath(path);
    preparePrivateDir(join(path, ".."));
    const probe = await probeSocket(path);
    if (probe === "live") throw alreadyServing(path);
    this.takeLock();
    try {
      if (probe === "stale") {
        logger.info(`removing a stale worker socket ${path} (its worker is gone)`);
        removeSocket(path);
      }
      // Sidecars are spawned by bootVm, which removes the provider keys from their environment for the spawn only
      // (src/caps/env.ts names them): the worker's own environment stays as it was given.
      onProgress("warming a sidecar (first shell and a Pi session, a few seconds)");
      await this.pool.start();
      this.hub.start();
      this.warm.gatewayPort = this.hub.port;
      this.refuseIfLocked();
      this.server = createServer((conn) => this.accept(conn));
      await new Promise<void>((resolve, reject) => {
        this.server!.once("error", (e: NodeJS.ErrnoException) => reject(e.code === "EADDRINUSE" ? alreadyServing(path, e) : e));
        this.server!.listen(path, () => resolve());
      });
      // The directory is already 0700; the socket follows suit so a copied or moved socket stays private.
      chmodSync(path, 0o700);
    } catch (e) {
      await this.hub.close().catch(() => {});
      await this.pool.close().catch(() => {});
      this.releaseLock();
      throw e;
    }
  }

  /** Stop taking requests, cancel what runs (each client still gets its result), stop the sidecars, remove the socket. */
  stop(reason = "SIGTERM"): Promise<void> {
    this.stopping ??= (async () => {
      this.server?.close();
      removeSocket(this.opts.socketPath);
      for (const j of this.jobs.values()) j.stop.abort(reason);
      await Promise.race([Promise.all([...this.jobs.values()].map((j) => j.done)), Bun.sleep(20_000)]);
      await Promise.all(this.background);
      await this.resumable.close();
      await this.spares.close();
      await this.hub.close();
      await this.pool.close();
      // With the sidecars gone every VM's teardown ends; what waits for it (scrubbing a session's env) runs now.
      await allVmsReleased();
      this.spares.removeFiles();
      this.releaseLock();
    })();
    return this.stopping;
  }

  status(): WorkerStatus {
    const sidecars = this.pool.info();
    const spares = this.spares.info();
    const self = procStat("self")?.rssKb ?? 0;
    const tree = treeRssKb(process.pid);
    return {
      pid: process.pid,
      build: buildTag(),
      socket: this.opts.socketPath,
      stateDir: this.opts.stateDir,
      startedAt: this.startedAt.toISOString(),
      uptimeSec: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      limits: { concurrency: this.slots.limit, queue: this.slots.queueLimit, recycleAfter: this.opts.recycleAfter, maxRssMb: this.opts.maxRssMb, maxGrowthMb: this.opts.maxGrowthMb ?? 0 },
      running: this.slots.running,
      queued: this.slots.queued,
      served: { ...this.served },
      warm: { sidecarReady: sidecars.some((s) => s.state === "ready"), sidecarSettling: this.pool.settling(), spareVms: spares.ready, gatewayPort: this.hub.port, spares, resumable: this.resumable.info() },
      sidecars,
      sidecarsReplaced: this.pool.replaced,
      sidecarsRecycled: this.pool.recycled,
      sidecarsGrown: this.pool.grown,
      memory: { workerRssMb: Math.round(self / 1024), treeRssMb: Math.round(tree / 1024) },
      jobs: [...this.jobs.values()].map((j) => ({ ...j.info })),
    };
  }

  private accept(conn: Socket): void {
    let handled = false;
    const stop = new AbortController();
    const followUps = new FollowUps();
    const read = lineReader((line) => {
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        return this.reject(conn, "bad_request", "a request line is not JSON");
      }
      if (handled) {
        const f = v.safeParse(FollowUpMessage, json);
        if (!f.success) return;
        if (f.output.type === "cancel") stop.abort(f.output.reason);
        else followUps.push(f.output);
        return;
      }
      handled = true;
      const m = v.safeParse(RequestMessage, json);
      if (!m.success) return this.reject(conn, "bad_request", `not a worker request: ${v.summarize(m.issues).split("\n")[0]}`);
      const msg = m.output;
      if (msg.wire !== WIRE_VERSION || msg.build !== buildTag()) {
        return this.reject(conn, "worker_build_mismatch", `the worker runs paperclip-aos ${buildTag()}, the client another build`, "restart serve with this binary");
      }
      if (msg.type === "status") {
        conn.end(workerLine({ worker: "status", status: this.status() }));
        return;
      }
      if (this.stopping) return this.reject(conn, "worker_stopping", "the worker is shutting down");
      if (msg.stateDir !== this.opts.stateDir) {
        return this.reject(conn, "worker_state_dir", `the worker serves the state dir ${this.opts.stateDir}, the client uses ${msg.stateDir}`, "use the worker of your state dir, or set PAPERCLIP_AOS_HOME to match");
      }
      const id = this.nextJob++;
      const info: JobInfo = { kind: msg.type, id, state: "queued", queuedAt: new Date().toISOString(), startedAt: null };
      const ctx: JobContext = { conn, stop, info, pool: this.pool, warm: this.warm, slots: this.slots, debug: this.opts.debug ?? false, followUps };
      const done = (msg.type === "run" ? runJob(msg, ctx) : execJob(msg, ctx))
        .then((code) => {
          if (msg.type === "run") this.served.heartbeats++;
          else this.served.execs++;
          if (code !== 0) this.served.failed++;
        })
        .catch((e) => {
          this.served.failed++;
          logger.error(`worker: ${msg.type} ${id} failed: ${firstLine(e)}`);
          if (conn.writable) conn.write(workerLine({ worker: "error", code: "worker_failed", message: firstLine(e), exitCode: 1 }));
        })
        .finally(() => {
          this.jobs.delete(id);
          conn.end();
          // After the result: make the spares its policy (or another) is short of.
          if (msg.type === "run" && !this.stopping) this.afterChange();
        });
      this.jobs.set(id, { info, stop, done });
    });
    conn.on("data", read);
    // A client that goes away (killed, or its reader gone) stops its heartbeat the way a closed stdout does in-process.
    conn.on("close", () => {
      followUps.end();
      stop.abort("stdout_closed");
    });
    conn.on("error", () => stop.abort("stdout_closed"));
  }

  /**
   * After a heartbeat's result, or a sidecar taken out of service: idle VMs on a retired sidecar (spares, sessions'
   * next VMs) go at once, since they would keep it alive, and the spares that are short are made.
   */
  private afterChange(): void {
    this.resumable.moveUnusable();
    this.spares.refill();
  }

  private reject(conn: Socket, code: string, message: string, hint?: string): void {
    conn.end(workerLine({ worker: "rejected", code, message, ...(hint ? { hint } : {}) }));
  }

  /**
   * worker.pid next to the socket, made exclusively: two `serve`s racing for one state dir cannot both win. The pid is
   * in the file before the file has the lock's name (written aside, then linked: a link fails when the name is
   * taken), so a rival never reads an empty lock and takes it for a dead owner's.
   */
  private takeLock(): void {
    const aside = `${this.lockPath}.${process.pid}`;
    writeFileSync(aside, workerLockText(), { mode: 0o600 });
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          linkSync(aside, this.lockPath);
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
          this.refuseIfLocked();
          rmSync(this.lockPath, { force: true }); // its owner is gone
        }
      }
      this.refuseIfLocked();
      throw runtimeError(`the worker lock ${this.lockPath} could not be taken`, "remove it if no serve runs for this state dir", "worker_running");
    } finally {
      rmSync(aside, { force: true });
    }
  }

  /**
   * Another live process holds the lock: two that both found a dead owner's lock can both remove it and take it in
   * turn, so the lock is looked at again before listening, and the one it does not name gives way.
   */
  private refuseIfLocked(): void {
    const owner = workerLockOwner(this.opts.socketPath);
    if (owner !== undefined && owner !== process.pid) {
      throw runtimeError(`another worker (pid ${owner}) is starting for this state dir`, "wait for it, or stop it", "worker_running");
    }
  }

  private releaseLock(): void {
    if (workerLockPid(this.opts.socketPath) === process.pid) rmSync(this.lockPath, { force: true });
  }
}

function alreadyServing(path: string, cause?: unknown) {
  return runtimeError(`a worker is already serving ${path}`, "see it with 'paperclip-aos serve --status', or stop it first", "worker_running", cause);
}
