import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AgentOsSidecar } from "@rivet-dev/agentos-core";
import { bootVm, childPids, isSidecarProcess, killWithParent, pidRunning, procStat } from "../runtime/index.ts";
import { errorMessage, firstLine, runtimeError } from "../errors.ts";
import { logger } from "../log.ts";

/**
 * The worker's sidecars. One warm sidecar serves every heartbeat (one sidecar for four VMs is ~770 MB, one each is
 * ~1.2 GB); it is warmed before it takes work by a throwaway Pi VM that runs its first shell and opens a session, which
 * is what a sidecar does slowly only once (~1.6 s + ~1.8 s; later VMs on it ~0.4 s + ~0.35 s). A sidecar that dies
 * fails only the heartbeats on it and is replaced; one that served `recycleAfter` heartbeats or grew past `maxRssMb`,
 * or keeps more than `maxGrowthMb` beyond what a fresh one with its idle VMs would (it keeps some memory per heartbeat
 * even after the VM is gone), is replaced by a warm one (warmed while it still serves) and stopped once its last
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
  /**
   * Recycle a sidecar that keeps more than this (MB) over what it held after its warm-up and what its idle VMs cost,
   * with no heartbeat running (0 or undefined: never). See `growthMb`.
   */
  maxGrowthMb?: number;
  /** The most VMs a sidecar holds at once (heartbeats, spares, prepared VMs, the warm-up): its memory cap allows for each. */
  vms?: number;
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
  /** What it keeps beyond its warm-up and its idle VMs (MB; the last quiet judgement), see SidecarPool.growthMb. */
  growthMb: number | null;
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
  /** Its lowest RSS (MB) with no VM on it: right after the warm-up VM is gone, or lower when seen so later. */
  baseMb: number | null = null;
  /** Each idle VM on it (a spare, a session's next VM): what it added to its RSS when made (MB); null: being made. */
  readonly costs = new Map<object, number | null>();
  /** growthMb samples since it last had a heartbeat running or a VM being made. */
  growthQuiet: number[] = [];
  growthMb: number | null = null;
  /** A heartbeat ended on it since its growth was last judged (maxGrowthMb): a recycle may still follow. */
  unjudged = false;
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
    return pidRunning(this.pid);
  }

  rssMb(): number | null {
    if (this.pid === null) return null;
    const st = procStat(this.pid);
    return st ? Math.round(st.rssKb / 1024) : null;
  }

  info(): SidecarInfo {
    return { id: this.id, pid: this.pid, state: this.state, rssMb: this.rssMb(), heartbeats: this.heartbeats, active: this.active - this.spares, spares: this.spares, startedAt: this.startedAt, warmMs: this.warmMs, growthMb: this.growthMb };
  }
}

export interface SidecarLease {
  sidecar: AgentOsSidecar;
  /** The sidecar's process (null: not found at warm-up). */
  pid: number | null;
  /** The heartbeat is over (its VM closed). */
  release(): void;
  /** The sidecar's RSS now (MB; null when unknown). */
  rssMb(): number | null;
  /** What this lease's VM added to the sidecar's RSS when it was made (a spare's; judged by maxGrowthMb). */
  setCost(mb: number): void;
  /** The lease's VM is no longer idle (a run took it): it counts as the run's, not as an idle VM's cost. */
  clearCost(): void;
}

export class SidecarPool {
  private current: WarmSidecar | undefined;
  /** The replacement of a sidecar being recycled, warming while the current one still serves. */
  private next: WarmSidecar | undefined;
  private readonly old = new Set<WarmSidecar>();
  private nextId = 1;
  private monitor: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** Spawning is serialized: a sidecar's pid is the new child that appears while it warms. */
  private spawning: Promise<unknown> = Promise.resolve();
  replaced = 0;
  recycled = 0;
  /** Of those recycled, how many for what they kept (maxGrowthMb). */
  grown = 0;

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
      const token = {};
      if (spare) sc.costs.set(token, null);
      return {
        sidecar: sc.handle!,
        pid: sc.pid,
        release: () => {
          if (released) return;
          released = true;
          sc.active--;
          sc.costs.delete(token);
          if (spare) sc.spares--;
          else sc.unjudged = true;
          this.afterHeartbeat(sc);
        },
        rssMb: () => sc.rssMb(),
        setCost: (mb) => {
          if (!released) sc.costs.set(token, Math.max(0, Math.round(mb)));
        },
        clearCost: () => void sc.costs.delete(token),
      };
    }
  }

  info(): SidecarInfo[] {
    return [...(this.current ? [this.current] : []), ...(this.next ? [this.next] : []), ...this.old].map((s) => s.info());
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.monitor);
    const all = [...(this.current ? [this.current] : []), ...(this.next ? [this.next] : []), ...this.old];
    this.current = this.next = undefined;
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
    // This boot spawns the sidecar: its memory cap is set for every VM it will hold (runtime/vm.ts sidecarMemoryCapKb).
    const handle = await bootVm({ sidecar: sc.handle, agents: ["pi"], databasePath: db, debug: this.opts.debug, sidecarVms: this.opts.vms });
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
    sc.baseMb = sc.rssMb();
    if (sc.state === "warming") sc.state = "ready";
    logger.debug(`worker: sidecar ${sc.id} (pid ${sc.pid}) warm in ${sc.warmMs} ms`);
  }

  private afterHeartbeat(sc: WarmSidecar): void {
    if (sc === this.current && !this.closed && sc.heartbeats >= this.opts.recycleAfter) this.recycle(sc, `after ${sc.heartbeats} heartbeats (${sc.rssMb()} MB)`);
    if (sc.state === "draining" && sc.active === 0) void this.stop(sc);
  }

  /**
   * Replace the current sidecar: its replacement warms first while it still serves (a heartbeat meanwhile runs on it,
   * with its spares and sessions' next VMs), then takes over; the old one is stopped once its last lease is released
   * (its idle VMs are made again on the new one: SparePool.refill, ResumableSessions.moveUnusable).
   */
  private recycle(sc: WarmSidecar, why: string): void {
    if (this.next || sc !== this.current) return;
    logger.info(`worker: recycling sidecar ${sc.id} ${why}`);
    this.recycled++;
    const next = (this.next = this.spawn());
    void next.ready
      .catch(() => {})
      .then(() => {
        if (this.next !== next) return; // promoted already (the old one died), or the pool closed
        this.next = undefined;
        if (next.error) return; // the old one serves on; a later judgement tries again
        this.current = next;
        if (sc.state === "ready") this.retire(sc, "draining");
      });
  }

  /**
   * One quiet sample: a sidecar that has served heartbeats and stays above maxRssMb with none running, or keeps more
   * than maxGrowthMb beyond its warm-up and its idle VMs (growthMb), is recycled.
   */
  private judgeMemory(sc: WarmSidecar): void {
    const rss = sc.active > sc.spares ? null : sc.rssMb();
    if (rss === null) {
      sc.quiet = [];
      sc.growthQuiet = [];
      return;
    }
    if (sc.active === 0 && sc.baseMb !== null && rss < sc.baseMb) sc.baseMb = rss;
    sc.quiet = [...sc.quiet.slice(1 - QUIET_SAMPLES), rss];
    // (A VM being made has not said what it costs yet: its memory would count as growth.)
    const growth = this.growthMb(sc, rss);
    sc.growthQuiet = growth === null ? [] : [...sc.growthQuiet.slice(1 - QUIET_SAMPLES), growth];
    if (sc.growthQuiet.length === QUIET_SAMPLES) sc.growthMb = Math.min(...sc.growthQuiet);
    // A sample within the limit: no recycle for growth follows (it takes QUIET_SAMPLES above it), nothing is pending.
    if (growth !== null && growth <= (this.opts.maxGrowthMb ?? 0)) sc.unjudged = false;
    // A fresh sidecar already above the limit (many spares, a low limit) would be replaced by another just like it.
    if (sc.heartbeats === 0 || this.next) return;
    const low = Math.min(...sc.quiet);
    if (sc.quiet.length === QUIET_SAMPLES && low > this.opts.maxRssMb) this.recycle(sc, `at ${low} MB with no heartbeat running (limit ${this.opts.maxRssMb} MB)`);
    else if (this.opts.maxGrowthMb && sc.growthQuiet.length === QUIET_SAMPLES) {
      sc.unjudged = false;
      if (sc.growthMb! > this.opts.maxGrowthMb) {
        this.grown++;
        this.recycle(sc, `at ${rss} MB with no heartbeat running: ${sc.growthMb} MB beyond its warm-up and its ${sc.costs.size} idle VMs (limit ${this.opts.maxGrowthMb} MB)`);
      }
    }
  }

  /**
   * Background work on the sidecars is pending: a replacement warming, or (with maxGrowthMb) a heartbeat's end not
   * judged yet (5 quiet seconds), after which a recycle may start. `serve --status` says so (warm.sidecarSettling), and
   * a worker is not settled (src/worker/ready.ts) until it is over.
   */
  settling(): boolean {
    return this.next !== undefined || (!!this.opts.maxGrowthMb && this.current !== undefined && this.current.heartbeats > 0 && this.current.unjudged);
  }

  /**
   * What a quiet sidecar would keep beyond its RSS after warm-up once its idle VMs are gone too (MB): its RSS less
   * that, less what each idle VM added when it was made. The sidecar keeps memory of the VMs it served after they are
   * gone (glibc's arenas, docs/worker.md "Memory"): a few MB a Pi heartbeat, hundreds after a Codex one. A VM made on
   * such a sidecar reuses some of it (a Codex spare and prepared VM added ~90 MB together after a Codex heartbeat,
   * ~450 MB on a fresh sidecar), and it is kept again when that VM goes (when a burst of another policy disposes it):
   * it counts as kept. A first VM of an agent also leaves what the sidecar caches for that agent's later VMs.
   */
  private growthMb(sc: WarmSidecar, rss: number): number | null {
    if (sc.baseMb === null) return null;
    let idle = 0;
    for (const mb of sc.costs.values()) {
      if (mb === null) return null;
      idle += mb;
    }
    return Math.max(0, Math.round(rss - sc.baseMb - idle));
  }

  /** Take a sidecar out of service; a replacement starts warming at once. */
  private retire(sc: WarmSidecar, state: "draining" | "dead"): void {
    if (sc.state === "dead") return;
    sc.state = state;
    if (this.current === sc) {
      // A replacement already warming takes over (acquire waits for it).
      this.current = this.next;
      this.next = undefined;
      if (!this.current && !this.closed) this.current = this.spawn();
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
