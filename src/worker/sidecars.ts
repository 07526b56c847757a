import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AgentOsSidecar } from "@rivet-dev/agentos-core";
import { bootVm, childPids, killWithParent, procStat } from "../runtime/index.ts";
import { errorMessage, firstLine, runtimeError } from "../errors.ts";
import { logger } from "../log.ts";

/**
 * The worker's sidecars. One warm sidecar serves every heartbeat (one sidecar for four VMs is ~770 MB, one each is
 * ~1.2 GB); it is warmed before it takes work by a throwaway Pi VM that runs its first shell and opens a session, which
 * is what a sidecar does slowly only once (~1.6 s + ~1.8 s; later VMs on it ~0.4 s + ~0.35 s). A sidecar that dies
 * fails only the heartbeats on it and is replaced; one that served `recycleAfter` heartbeats or grew past `maxRssMb`
 * (it keeps some memory per heartbeat even after the VM is gone) is replaced by a warm one and stopped once its last
 * heartbeat is over.
 *
 * Its RSS is judged only while no heartbeat runs on it, as the lowest of QUIET_SAMPLES once-a-second samples: what it
 * keeps (with its idle spare VMs), not what running VMs use for a while. Judged under load, 8 heartbeats at once
 * passed 2 GB and had the sidecar replaced mid-burst, warming a second one while the first still held them all.
 */
const QUIET_SAMPLES = 5;

export interface SidecarPoolOptions {
  /** Scratch dir for the warm-up VM's session database. */
  dir: string;
  recycleAfter: number;
  maxRssMb: number;
  debug?: boolean;
  /** A sidecar was taken out of service (crashed, recycled): whatever waits on it (spare VMs) should let it go, and be made again on its replacement. */
  onRetire?: () => void;
}

export type SidecarState = "warming" | "ready" | "draining" | "dead";

export interface SidecarInfo {
  id: number;
  pid: number | null;
  state: SidecarState;
  rssMb: number | null;
  heartbeats: number;
  /** Heartbeats running on it now. */
  active: number;
  /** Spare VMs waiting on it. */
  spares: number;
  startedAt: string;
  warmMs: number | null;
}

class WarmSidecar {
  state: SidecarState = "warming";
  pid: number | null = null;
  heartbeats = 0;
  /** Leases held: running heartbeats and waiting spare VMs (it is stopped only when none is left). */
  active = 0;
  spares = 0;
  warmMs: number | null = null;
  /** RSS samples (MB) taken since it last had a heartbeat running. */
  quiet: number[] = [];
  error: unknown;
  watchdog: { kill(): void } | undefined;
  readonly startedAt = new Date().toISOString();
  handle: AgentOsSidecar | undefined;
  ready: Promise<void> = Promise.resolve();
  constructor(readonly id: number) {}

  alive(): boolean {
    if (this.state === "dead") return false;
    // Without a pid (not found at warm-up) a crash shows up as the heartbeats on it failing.
    if (this.pid === null) return true;
    return procStat(this.pid) !== null && !isZombie(this.pid);
  }

  rssMb(): number | null {
    if (this.pid === null) return null;
    const st = procStat(this.pid);
    return st ? Math.round(st.rssKb / 1024) : null;
  }

  info(): SidecarInfo {
    return { id: this.id, pid: this.pid, state: this.state, rssMb: this.rssMb(), heartbeats: this.heartbeats, active: this.active - this.spares, spares: this.spares, startedAt: this.startedAt, warmMs: this.warmMs };
  }
}

export interface SidecarLease {
  sidecar: AgentOsSidecar;
  /** The sidecar's process (null: not found at warm-up). */
  pid: number | null;
  /** The heartbeat is over (its VM closed). */
  release(): void;
}

export class SidecarPool {
  private current: WarmSidecar | undefined;
  private readonly old = new Set<WarmSidecar>();
  private nextId = 1;
  private monitor: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** Spawning is serialized: a sidecar's pid is the new child that appears while it warms. */
  private spawning: Promise<unknown> = Promise.resolve();
  replaced = 0;
  recycled = 0;

  constructor(private readonly opts: SidecarPoolOptions) {}

  /** Start and warm the first sidecar; resolves when it can take heartbeats. */
  async start(): Promise<void> {
    this.current = this.spawn();
    await this.current.ready.catch((e) => {
      throw runtimeError(`the agentOS sidecar did not warm up: ${firstLine(e)}`, "run 'paperclip-aos doctor'", "sidecar_failed", e);
    });
    this.monitor = setInterval(() => this.check(), 1000);
  }

  /** Is this the sidecar in service (not one being drained or replaced after a crash)? */
  inService(sidecar: AgentOsSidecar): boolean {
    const sc = this.current;
    return sc !== undefined && sc.handle === sidecar && sc.state === "ready" && sc.alive();
  }

  /**
   * A lease on the current sidecar (waiting while a replacement warms). `heartbeat: false` (a spare VM waiting for its
   * run) keeps the sidecar from stopping without counting towards its recycling.
   */
  async acquire(opts: { heartbeat?: boolean } = {}): Promise<SidecarLease> {
    for (;;) {
      if (this.closed) throw new Error("the worker is shutting down");
      const sc = this.current ?? (this.current = this.spawn());
      await sc.ready.catch(() => {});
      if (sc.error) {
        // A sidecar that cannot even warm up would fail every replacement too: say so instead of retrying forever.
        if (this.current === sc) this.current = undefined;
        throw runtimeError(`the agentOS sidecar did not start: ${firstLine(sc.error)}`, "run 'paperclip-aos doctor'", "sidecar_failed", sc.error);
      }
      if (sc !== this.current) continue;
      if (sc.state !== "ready" || !sc.alive()) {
        this.retire(sc, "dead");
        continue;
      }
      const spare = opts.heartbeat === false;
      sc.active++;
      if (spare) sc.spares++;
      else sc.heartbeats++;
      let released = false;
      return {
        sidecar: sc.handle!,
        pid: sc.pid,
        release: () => {
          if (released) return;
          released = true;
          sc.active--;
          if (spare) sc.spares--;
          this.afterHeartbeat(sc);
        },
      };
    }
  }

  info(): SidecarInfo[] {
    return [...(this.current ? [this.current] : []), ...this.old].map((s) => s.info());
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.monitor);
    const all = [...(this.current ? [this.current] : []), ...this.old];
    this.current = undefined;
    await Promise.all(all.map((s) => this.stop(s)));
  }

  private spawn(): WarmSidecar {
    const sc = new WarmSidecar(this.nextId++);
    sc.ready = this.spawning.then(() => this.warm(sc));
    this.spawning = sc.ready.catch((e) => {
      logger.warn(`worker: sidecar ${sc.id} did not warm up: ${firstLine(e)}`);
      sc.error = e;
      sc.state = "dead";
    });
    return sc;
  }

  /** Boot a Pi VM on the sidecar, run its first shell, open a session, and throw the VM away. */
  private async warm(sc: WarmSidecar): Promise<void> {
    const started = performance.now();
    const { AgentOs } = await import("@rivet-dev/agentos-core");
    sc.handle = await AgentOs.createSidecar();
    const before = new Set(childPids());
    const db = join(this.opts.dir, `warm-${process.pid}-${sc.id}.db`);
    const handle = await bootVm({ sidecar: sc.handle, agents: ["pi"], databasePath: db, debug: this.opts.debug });
    try {
      sc.pid = childPids().find((p) => !before.has(p) && isSidecarProcess(p)) ?? null;
      if (sc.pid !== null) sc.watchdog = killWithParent(sc.pid, { match: "sidecar", graceS: 0, name: "paperclip-aos-watchdog" });
      await handle.vm.process.exec("ls / > /dev/null && cat /dev/null", { output: { capture: "none" } });
      await handle.vm.sessions.open({ sessionId: "warm", agent: "pi", cwd: "/" });
      await handle.vm.sessions.unload({ sessionId: "warm" }).catch(() => {});
    } finally {
      await handle.close({ graceMs: 0 });
      // The VM's teardown may still hold the file open; unlinking it is fine on Linux.
      for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
    }
    sc.warmMs = Math.round(performance.now() - started);
    if (sc.state === "warming") sc.state = "ready";
    logger.debug(`worker: sidecar ${sc.id} (pid ${sc.pid}) warm in ${sc.warmMs} ms`);
  }

  private afterHeartbeat(sc: WarmSidecar): void {
    if (sc === this.current && !this.closed && sc.heartbeats >= this.opts.recycleAfter) this.recycle(sc, `after ${sc.heartbeats} heartbeats (${sc.rssMb()} MB)`);
    if (sc.state === "draining" && sc.active === 0) void this.stop(sc);
  }

  private recycle(sc: WarmSidecar, why: string): void {
    logger.info(`worker: recycling sidecar ${sc.id} ${why}`);
    this.recycled++;
    this.retire(sc, "draining");
  }

  /** One quiet sample: a sidecar that has served heartbeats and stays above maxRssMb with none running is recycled. */
  private judgeMemory(sc: WarmSidecar): void {
    const rss = sc.active > sc.spares ? null : sc.rssMb();
    if (rss === null) {
      sc.quiet = [];
      return;
    }
    sc.quiet = [...sc.quiet.slice(1 - QUIET_SAMPLES), rss];
    // A fresh sidecar already above the limit (many spares, a low limit) would be replaced by another just like it.
    if (sc.heartbeats > 0 && sc.quiet.length === QUIET_SAMPLES && Math.min(...sc.quiet) > this.opts.maxRssMb) {
      this.recycle(sc, `at ${Math.min(...sc.quiet)} MB with no heartbeat running (limit ${this.opts.maxRssMb} MB)`);
    }
  }

  /** Take a sidecar out of service; a replacement starts warming at once. */
  private retire(sc: WarmSidecar, state: "draining" | "dead"): void {
    if (sc.state === "dead") return;
    sc.state = state;
    if (this.current === sc) {
      this.current = undefined;
      if (!this.closed) this.current = this.spawn();
    }
    this.old.add(sc);
    if (state === "dead") {
      this.replaced++;
      logger.warn(`worker: sidecar ${sc.id} (pid ${sc.pid}) died; a new one is warming`);
    }
    if (state === "dead" || sc.active === 0) void this.stop(sc);
    if (!this.closed) this.opts.onRetire?.();
  }

  private check(): void {
    const sc = this.current;
    if (sc && sc.state === "ready" && !sc.alive()) this.retire(sc, "dead");
    else if (sc && sc.state === "ready" && !this.closed) this.judgeMemory(sc);
    for (const o of this.old) if (o.state === "draining" && !o.alive()) this.old.delete(o);
  }

  private async stop(sc: WarmSidecar): Promise<void> {
    // Up to 5 s of VM teardown per Pi VM: give it a moment, then end the process (nothing durable is left in it).
    await Promise.race([sc.handle?.dispose().catch((e) => logger.debug(`worker: sidecar ${sc.id} dispose: ${errorMessage(e)}`)), Bun.sleep(500)]);
    if (sc.pid !== null) {
      try {
        process.kill(sc.pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    sc.watchdog?.kill();
    sc.state = "dead";
    this.old.delete(sc);
  }
}

function isSidecarProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("sidecar");
  } catch {
    return false;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}
