import { randomUUID } from "node:crypto";
import { existsSync, linkSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import type { HostFunction, HostFunctionCollections } from "@rivet-dev/agentos-core";
import { driverFor, scrubStoredSessionEnv, setStoredSessionEnv, type AgentId } from "../agents/index.ts";
import { GatewayHub, parseModelSpec } from "../gateway/index.ts";
import type { SpareNeed, SpareVm } from "../heartbeat/index.ts";
import { bootVm, GUEST_HOME, GUEST_WORKSPACE, holdDatabase, MemoryDirVfs, vmReleased, type BootOptions, type VmHandle } from "../runtime/index.ts";
import { firstLine } from "../errors.ts";
import { logger } from "../log.ts";
import type { SidecarLease, SidecarPool } from "./sidecars.ts";

/**
 * Spare VMs (docs/worker.md): booted ahead on the worker's sidecar, their first shell run, the agent's config in
 * place and a session open under a pre-made id, so a heartbeat that takes one only mounts its workspace, binds its
 * gateway, host tools and run file, and prompts. agentOS fixes a VM's permissions, loopback ports, host functions,
 * limits and database at create, so a spare serves only a run whose plan asks for exactly what it was created with:
 * spares are kept per policy key, for the policies the latest heartbeats used. A spare is taken by one run and never
 * handed to another; refills are made one at a time after a heartbeat's result, and only while a core is free of
 * heartbeats and none waits (`busy`: Slots.busy).
 */
export interface SparePoolOptions {
  pool: SidecarPool;
  hub: GatewayHub;
  /** Where spares' session databases are made (linked into the session's slot when taken): same filesystem as the state dir. */
  dir: string;
  /** Spare VMs kept at most, over all policies (each idle one is ~170 MB); 0 turns spares off. */
  max: number;
  /**
   * The worker is loaded: no spare is started while this says so (the next result calls refill again). A spare costs
   * ~1.5-2 s of CPU and, while its first shell runs, ~300 MB more for a moment: made while the cores are taken, it
   * slows the running heartbeats and raises the worker's peak.
   */
  busy?: () => boolean;
  /**
   * The heartbeats running take every core, or one waits (Slots.busy, the caller's own slot not counted): a heartbeat
   * that takes a spare then has the idle spares of every other policy disposed (yieldToLoad).
   */
  loaded?: () => boolean;
  /**
   * A policy no heartbeat has had for this long (ms) keeps no spare, unless it is the newest one (a worker that served
   * another agent once does not hold its VMs for good; a quiet worker keeps the spare of the policy it served last).
   * Undefined or 0: never.
   */
  idleMs?: number;
  debug?: boolean;
}

/** A VM's filesystem quota counts mounts made later (the workspace): a spare's is fixed large up front. */
export const SPARE_QUOTA_BYTES = 2 ** 40;
/** How long a VM opened ahead waits for its agent to start (SpareSetup.startedDir), and how often it looks. */
const AGENT_START_WAIT_MS = 30_000;
const AGENT_START_POLL_MS = 100;

/** What a spare is made from: the parts of a run's plan that agentOS fixes at create. */
interface Recipe {
  key: string;
  agent: AgentId;
  provider: string;
  model: string;
  permissions: BootOptions["permissions"];
  loopbackExemptPorts: number[];
  /** The workspace mount's own read-only flag (the policy writes nothing there), fixed when the spare mounts it. */
  workspaceReadOnly: boolean;
  /** The run's host tools, as a template for the spare's forwarding ones (undefined: a VM without tools). */
  hostFunctions: HostFunctionCollections | undefined;
  lastSeen: number;
  hits: number;
  misses: number;
  /** Why making a spare for it failed: none is made until it is seen again. */
  failed: string | undefined;
}

interface Spare {
  id: number;
  recipe: Recipe;
  handle: VmHandle;
  lease: SidecarLease;
  token: string;
  sessionId: string;
  databasePath: string;
  /** The host tools of the run that took it; the VM's host functions forward to them. */
  tools: HostFunctionCollections | undefined;
  /**
   * The directory the agent's run file is read from, answered from this process (empty until a run takes the spare);
   * none for an agent whose session opens at request time (its spare setup is `at-run`).
   */
  runFiles: MemoryDirVfs | undefined;
  /** That directory, relative to HOME. */
  runDir: string | undefined;
  /** Booted on a session's own database (a session's next VM, src/worker/resumable.ts), not on a spare file of ours. */
  own: boolean;
}

/**
 * A session's next VM, made like a spare but on the session's own database with its session opened under its id
 * (src/worker/resumable.ts keeps them).
 */
export interface SessionVm {
  /** The policy key it was made for: only a run whose plan has the same key may take it. */
  key: string;
  sessionId: string;
  /** Its sidecar's pid (the lock names it: the database is in use while that process lives). */
  sidecarPid: number | null;
  /** Still on the sidecar in service (not recycled or crashed since). */
  usable(): boolean;
  /** Hand it to its run (once). */
  lend(): SpareVm;
  /** Throw it away; resolves once its VM's teardown has let go of the database. */
  discard(): Promise<void>;
}

export interface SpareInfo {
  /** Spare VMs ready now, and being made. */
  ready: number;
  building: number;
  max: number;
  /** Heartbeats that took a spare, and those that booted a VM of their own (no spare of their policy ready). */
  hits: number;
  misses: number;
  /** Idle spares disposed: to make way for a loaded worker's heartbeats (yieldToLoad), or of a policy unused for `idleMs`. */
  retired: { load: number; idle: number };
  policies: { key: string; agent: string; model: string; ready: number; hits: number; misses: number; failed?: string }[];
}

export class SparePool {
  private readonly recipes = new Map<string, Recipe>();
  private readonly ready: Spare[] = [];
  private building = 0;
  private nextId = 1;
  private closed = false;
  private refilling: Promise<void> | undefined;
  private hits = 0;
  private misses = 0;
  private readonly retired = { load: 0, idle: 0 };
  private readonly idleTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: SparePoolOptions) {
    // Databases of spares a killed worker left behind.
    rmSync(opts.dir, { recursive: true, force: true });
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    // (A quiet worker has no result to look again after: a timer does, a few times within the idle time.)
    if (opts.idleMs) this.idleTimer = setInterval(() => this.retireIdle(), Math.min(60_000, Math.max(250, opts.idleMs / 4)));
    this.idleTimer?.unref();
  }

  /**
   * A ready spare made for exactly this plan, on the sidecar in service, with its session database linked to the
   * run's; or undefined (the run boots its own VM; its policy is remembered, so spares are made for it afterwards).
   */
  async take(need: SpareNeed): Promise<SpareVm | undefined> {
    if (this.opts.max === 0 || this.closed) return undefined;
    const recipe = this.learn(need);
    if (!recipe) return undefined;
    recipe.lastSeen = Date.now();
    recipe.failed = undefined;
    if (this.opts.loaded?.()) this.yieldToLoad(recipe);
    for (;;) {
      const i = this.ready.findIndex((s) => s.recipe.key === recipe.key);
      if (i === -1) break;
      const [spare] = this.ready.splice(i, 1) as [Spare];
      // A spare on a sidecar that has been replaced since (recycled, crashed) is thrown away, not used.
      if (!this.opts.pool.inService(spare.lease.sidecar)) {
        this.discard(spare);
        continue;
      }
      try {
        // The session database is the spare's file under the session's name too (one inode): the next heartbeat of
        // the task resumes from it like from any other. Both names are in the state dir, so a hard link works.
        rmSync(need.databasePath, { force: true });
        linkSync(spare.databasePath, need.databasePath);
      } catch (e) {
        logger.warn(`worker: a spare's session database cannot be linked to ${need.databasePath}: ${firstLine(e)}`);
        this.discard(spare);
        break;
      }
      recipe.hits++;
      this.hits++;
      return this.lend(spare, need.databasePath);
    }
    recipe.misses++;
    this.misses++;
    return undefined;
  }

  /**
   * A loaded worker's heartbeats need the memory (docs/worker.md, "Memory"): the idle spares of every policy but
   * `keep` (the one of the heartbeat that is starting) are disposed. A burst is mostly of one policy (Paperclip's
   * agents wake together), no refill runs while the worker is loaded, and each idle spare is ~150 MB that would stay
   * beside the burst's VMs: `worker.rss-4` after the other agents' rows had their spares idle beside four Pi
   * heartbeats. They are made again (the policies stay remembered) after a result on a quiet worker; a heartbeat of
   * such a policy meanwhile boots its own VM.
   */
  private yieldToLoad(keep: Recipe): void {
    const n = this.dropReady((x) => x.recipe !== keep, "made way for a loaded worker's heartbeats");
    this.retired.load += n;
  }

  /** The spares of policies unused for `idleMs` (the newest excepted) go; targets() makes none for them until seen again. */
  private retireIdle(): void {
    const n = this.dropReady((x) => this.stale(x.recipe), `retired: its policy was not used for ${Math.round((this.opts.idleMs ?? 0) / 1000)} s`);
    this.retired.idle += n;
  }

  /** Dispose of the ready spares that `which` picks; how many. */
  private dropReady(which: (s: Spare) => boolean, why?: string): number {
    const gone = this.ready.filter(which);
    for (const s of gone) {
      this.ready.splice(this.ready.indexOf(s), 1);
      this.discard(s);
      if (why) logger.debug(`worker: spare ${s.id} (${s.recipe.agent}, policy ${s.recipe.key.slice(0, 12)}) ${why}`);
    }
    return gone.length;
  }

  private stale(r: Recipe): boolean {
    return !!this.opts.idleMs && Date.now() - r.lastSeen > this.opts.idleMs && this.byRecency()[0] !== r;
  }

  /** Make spares up to the limit, for the policies seen last, one at a time. Call after a heartbeat's result. */
  refill(): void {
    if (this.closed || this.opts.max === 0) return;
    // Spares on a sidecar taken out of service (recycled, crashed) would keep it alive: they go first.
    this.dropReady((x) => !this.opts.pool.inService(x.lease.sidecar));
    // (.finally runs in a later turn, so even a loop with nothing to do ends after `refilling` is set.)
    if (!this.refilling) this.refilling = this.refillLoop().finally(() => (this.refilling = undefined));
  }

  private async refillLoop(): Promise<void> {
    for (let r = this.nextRecipe(); r && !this.closed && !this.opts.busy?.(); r = this.nextRecipe()) {
      this.building++;
      try {
        const spare = await this.make(r);
        // Its sidecar was replaced while it was made (recycled, crashed): it would keep that one alive.
        if (this.opts.pool.inService(spare.lease.sidecar)) this.ready.push(spare);
        else this.discard(spare);
      } catch (e) {
        // Only this policy goes without spares (until a heartbeat has it again); the others are still made.
        logger.warn(`worker: a spare VM for ${r.agent} (policy ${r.key.slice(0, 12)}) could not be made: ${firstLine(e)}`);
        r.failed = firstLine(e);
      } finally {
        this.building--;
      }
    }
  }

  info(): SpareInfo {
    return {
      ready: this.ready.length,
      building: this.building,
      max: this.opts.max,
      hits: this.hits,
      misses: this.misses,
      retired: { ...this.retired },
      policies: this.byRecency().map((r) => ({ key: r.key.slice(0, 12), agent: r.agent, model: r.model, ready: this.ready.filter((s) => s.recipe === r).length, hits: r.hits, misses: r.misses, ...(r.failed ? { failed: r.failed } : {}) })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleTimer);
    await this.refilling?.catch(() => {});
    const all = this.ready.splice(0);
    await Promise.all(all.map((s) => s.handle.close({ graceMs: 0 }).then(() => s.lease.release())));
  }

  /** Once every VM is gone (the worker stopped its sidecars): the spares' own database files go too. */
  removeFiles(): void {
    rmSync(this.opts.dir, { recursive: true, force: true });
  }

  /** The policy key of a need (what a spare or a session's next VM is made for); undefined when none can fit. */
  keyOf(need: SpareNeed): string | undefined {
    return recipeOf(need)?.key;
  }

  /**
   * A session's next VM (src/worker/resumable.ts): like a spare for `need`, but booted on the session's own database
   * (need.databasePath, which the caller holds the lock of) with the stored session `sessionId` opened in it.
   */
  async makeForSession(need: SpareNeed, sessionId: string): Promise<SessionVm> {
    const recipe = recipeOf(need);
    if (!recipe || this.closed) throw new Error("no VM can be prepared for this plan");
    const spare = await this.make(recipe, { databasePath: need.databasePath, sessionId });
    let lent = false;
    return {
      key: recipe.key,
      sessionId,
      sidecarPid: spare.lease.pid,
      usable: () => !lent && this.opts.pool.inService(spare.lease.sidecar),
      lend: () => {
        lent = true;
        return this.lend(spare, spare.databasePath);
      },
      discard: async () => {
        this.discard(spare);
        await vmReleased(spare.databasePath);
      },
    };
  }

  /** The recipe for this need (remembered; the oldest beyond the limit forgotten), or undefined when no spare can fit. */
  private learn(need: SpareNeed): Recipe | undefined {
    const fresh = recipeOf(need);
    if (!fresh) return undefined;
    let recipe = this.recipes.get(fresh.key);
    if (!recipe) {
      recipe = fresh;
      this.recipes.set(recipe.key, recipe);
      // At most `max` policies are remembered: a spare for each, the most recent first.
      for (const old of this.byRecency().slice(Math.max(1, this.opts.max))) {
        this.recipes.delete(old.key);
        // (Out of the ready list too: a spare of a forgotten policy must not be taken if it comes back.)
        this.dropReady((x) => x.recipe === old);
      }
    }
    return recipe;
  }

  private byRecency(): Recipe[] {
    return [...this.recipes.values()].sort((a, b) => b.lastSeen - a.lastSeen);
  }

  /**
   * How many spares each remembered policy should have: one each for the newest `max`, and what the limit leaves to
   * the newest (the policy the next heartbeat most likely has).
   */
  private targets(): Map<Recipe, number> {
    const recipes = this.byRecency().filter((r) => !r.failed && !this.stale(r)).slice(0, this.opts.max);
    const t = new Map(recipes.map((r) => [r, 1] as [Recipe, number]));
    if (recipes[0]) t.set(recipes[0], 1 + this.opts.max - recipes.length);
    return t;
  }

  /** The policy the next spare is for (newest first), after dropping a spare a policy has beyond its share. */
  private nextRecipe(): Recipe | undefined {
    const targets = this.targets();
    const count = (r: Recipe) => this.ready.filter((s) => s.recipe === r).length;
    const short = [...targets].find(([r, n]) => count(r) < n)?.[0];
    if (!short) return undefined;
    if (this.ready.length + this.building >= this.opts.max) {
      // Full with another policy's spares: the oldest spare of a policy over its share makes room.
      const surplus = this.ready.find((s) => count(s.recipe) > (targets.get(s.recipe) ?? 0));
      if (!surplus) return undefined;
      this.ready.splice(this.ready.indexOf(surplus), 1);
      this.discard(surplus);
    }
    return short;
  }

  /** A spare for `recipe`; `session`: on that database, with that stored session (makeForSession). */
  private async make(recipe: Recipe, session?: { databasePath: string; sessionId: string }): Promise<Spare> {
    const lease = await this.opts.pool.acquire({ heartbeat: false });
    // What this VM adds to its sidecar (made one at a time on a quiet worker): the sidecar's growth is judged without it.
    const rssBefore = lease.rssMb();
    const id = this.nextId++;
    const databasePath = session?.databasePath ?? join(this.opts.dir, `spare-${id}.db`);
    const driver = driverFor(recipe.agent);
    const token = GatewayHub.newToken();
    const endpoint = { url: this.opts.hub.url, token, provider: recipe.provider as never, model: recipe.model };
    // An agent configured and its session opened now; otherwise only the VM is made ready (SpareSetup).
    const ahead = driver.spare?.session === "ahead" ? driver.spare : undefined;
    // Where the run file will be: its directory is mounted now, the file itself is set when a run takes the spare.
    const runDir = ahead && posix.dirname(ahead.runFile({ env: {}, instructions: "", endpoint }).path);
    if (runDir === "." || runDir === "") throw new Error(`the ${recipe.agent} run file must be in a directory of its own under HOME`);
    const spare: Spare = {
      id,
      recipe,
      handle: undefined as unknown as VmHandle,
      lease,
      token,
      sessionId: session?.sessionId ?? randomUUID(),
      databasePath,
      tools: undefined,
      runFiles: runDir ? new MemoryDirVfs(`${GUEST_HOME}/${runDir}`) : undefined,
      runDir,
      own: session !== undefined,
    };
    try {
      spare.handle = await bootVm({
        sidecar: lease.sidecar,
        agents: [recipe.agent],
        permissions: recipe.permissions,
        loopbackExemptPorts: recipe.loopbackExemptPorts,
        ...(recipe.hostFunctions ? { hostFunctions: forwarding(recipe.hostFunctions, () => spare.tools) } : {}),
        limits: { resources: { maxFilesystemBytes: SPARE_QUOTA_BYTES } },
        databasePath,
        debug: this.opts.debug,
      });
    } catch (e) {
      lease.release();
      if (!spare.own) removeDatabase(databasePath);
      throw e;
    }
    try {
      const vm = spare.handle.vm;
      for (const f of ahead?.files(endpoint) ?? []) await writeHome(vm, f.path, f.content);
      // The first shell of a VM costs ~1 s; a policy that lets the shell run nothing only loses the warm-up.
      await vm.process.exec("ls / > /dev/null && cat /dev/null", { output: { capture: "none" } }).catch(() => {});
      // The session opens in /workspace: an empty stand-in now, mounted as the policy's workspace will be (read-only
      // or not), shown as the run's own directory when a run takes the spare (rebindWorkspace: no sidecar round trip).
      await spare.handle.mountWorkspace(undefined, { readOnly: recipe.workspaceReadOnly });
      if (driver.guestDir) await spare.handle.mountFiles(driver.guestDir.path, MemoryDirVfs.of(driver.guestDir.path, driver.guestDir.files));
      if (spare.runFiles) {
        await spare.handle.mountFiles(`${GUEST_HOME}/${runDir}`, spare.runFiles);
        // A stored session (own database) is restored by this open; agentOS hands its history to the first prompt.
        // agentOS replays a stored session's env when it restores it, and stores what an open is given: an agent
        // configured by env gets the spare's token put in for the open and scrubbed right after (the agent has it).
        // (Keys sorted: a restoring open compares the env it is given with the stored one as agentOS serialized it.)
        const env = sortedKeys({ HOME: GUEST_HOME, ...ahead!.env?.(endpoint) });
        if (session && ahead!.env) setStoredSessionEnv(databasePath, spare.sessionId, env);
        const startedDir = ahead!.startedDir && `${GUEST_HOME}/${ahead!.startedDir}`;
        const before = startedDir ? await dirFiles(vm, startedDir) : undefined;
        await vm.sessions.open({ sessionId: spare.sessionId, agent: driver.acpAgent, cwd: GUEST_WORKSPACE, env });
        if (ahead!.env) scrubStoredSessionEnv(databasePath, spare.sessionId);
        if (startedDir) await untilStarted(vm, startedDir, before!, `spare ${id}'s ${recipe.agent}`);
      }
    } catch (e) {
      this.discard(spare);
      throw e;
    }
    const rssAfter = lease.rssMb();
    if (rssBefore !== null && rssAfter !== null) lease.setCost(rssAfter - rssBefore);
    logger.debug(`worker: spare ${id} ready for ${recipe.agent} (policy ${recipe.key.slice(0, 12)})`);
    return spare;
  }

  /** Hand a spare to its run. */
  private lend(spare: Spare, runDatabase: string): SpareVm {
    let released = false;
    // Its memory is the run's now (and goes with its teardown, which may outlast the run's own lease).
    spare.lease.clearCost();
    // The session's database (the spare's file under the session's name) is in use until the spare VM's teardown
    // has ended: the next heartbeat of the session and the session-env scrub wait for it, as for a VM booted on it.
    // (A VM on the session's own database is tracked by its close.)
    let gone!: () => void;
    if (!spare.own) holdDatabase(runDatabase, new Promise<void>((r) => (gone = r)));
    return {
      token: spare.token,
      sessionId: spare.sessionId,
      // Nothing here waits for the sidecar: the workspace and the run file are answered from this process.
      attach: async (run) => {
        // The policy key includes the flag; a mismatch would be a bug in it, and is refused rather than mounted wrongly.
        if (run.readOnly !== spare.recipe.workspaceReadOnly) throw new Error("a spare's workspace mount does not match the run's policy (read-only or not)");
        if ((run.runFile && posix.dirname(run.runFile.path)) !== spare.runDir) throw new Error(`the run file ${run.runFile?.path} is not in the spare's ${spare.runDir}`);
        spare.tools = run.hostFunctions;
        spare.handle.rebindWorkspace(run.workspaceDir);
        if (run.runFile) spare.runFiles?.set(posix.basename(run.runFile.path), run.runFile.content);
        return spare.handle;
      },
      release: async () => {
        if (released) return;
        released = true;
        await spare.handle.close();
        spare.lease.release();
        if (spare.own) return;
        // Once its teardown has ended, the spare's name of the session database goes; the session keeps its own.
        void vmReleased(spare.databasePath).then(() => {
          forgetDatabase(spare.databasePath, runDatabase);
          gone();
        });
      },
    };
  }

  private discard(spare: Spare): void {
    void (async () => {
      await spare.handle?.close({ graceMs: 0 });
      spare.lease.release();
      // (vmReleased gives up on a VM whose teardown does not end, e.g. on a dead sidecar, after 10 s.)
      await vmReleased(spare.databasePath);
      if (!spare.own) removeDatabase(spare.databasePath);
      // A session's prepared VM that served no run, of an agent given its token by env: the stored env keeps none,
      // whatever agentOS wrote at close (synchronous, before whoever waits for the VM's release goes on).
      else if (configuredByEnv(spare.recipe.agent)) scrubStoredSessionEnv(spare.databasePath, spare.sessionId);
    })();
  }
}

/** What a spare for this need is made from (undefined: the agent has no spare setup). */
function recipeOf(need: SpareNeed): Recipe | undefined {
  if (!driverFor(need.agent).spare) return undefined;
  const spec = parseModelSpec(need.model);
  // A scripted model's agent config is the same whatever the script: the run's script is bound at the gateway.
  const model = spec.provider === "scripted" ? "scripted" : spec.model;
  return {
    key: policyKey(need.agent, spec.provider, model, need.boot),
    agent: need.agent,
    provider: spec.provider,
    model,
    permissions: need.boot.permissions,
    loopbackExemptPorts: need.boot.loopbackExemptPorts ?? [],
    workspaceReadOnly: need.boot.workspaceReadOnly ?? false,
    hostFunctions: need.boot.hostFunctions,
    lastSeen: Date.now(),
    hits: 0,
    misses: 0,
    failed: undefined,
  };
}

/**
 * What agentOS fixes at create, as one key: a spare fits a run only if the run's VM would be created the same. The
 * host tools are keyed by their names (their calls are forwarded to the run's own binding).
 */
function policyKey(agent: string, provider: string, model: string, boot: BootOptions): string {
  const tools = boot.hostFunctions ? Object.entries(boot.hostFunctions).map(([c, fns]) => [c, Object.keys(fns).sort()]) : null;
  const raw = JSON.stringify({ agent, provider, model, permissions: boot.permissions ?? null, loopback: boot.loopbackExemptPorts ?? [], tools, software: boot.agents ?? [], workspaceReadOnly: boot.workspaceReadOnly ?? false });
  return new Bun.CryptoHasher("sha256").update(raw).digest("hex");
}

/** Host functions shaped like `template` whose calls go to the run's own tools (none bound: the call fails). */
function forwarding(template: HostFunctionCollections, current: () => HostFunctionCollections | undefined): HostFunctionCollections {
  const out: HostFunctionCollections = {};
  for (const [collection, fns] of Object.entries(template)) {
    const forwarded: Record<string, HostFunction> = {};
    for (const [name, fn] of Object.entries(fns)) {
      forwarded[name] = {
        ...fn,
        execute: (input: unknown) => {
          const target = current()?.[collection]?.[name];
          if (!target) throw new Error("permission_denied: no heartbeat is bound to this VM");
          return target.execute(input as never);
        },
      };
    }
    out[collection] = forwarded;
  }
  return out;
}

async function writeHome(vm: VmHandle["vm"], rel: string, content: string): Promise<void> {
  const path = `${GUEST_HOME}/${rel}`;
  await vm.filesystem.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await vm.filesystem.writeFile(path, content);
}

function sortedKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** An agent whose session opened ahead is given the spare's token as session env (SpareSetup `env`). */
function configuredByEnv(agent: AgentId): boolean {
  const spare = driverFor(agent).spare;
  return spare?.session === "ahead" && spare.env !== undefined;
}

function removeDatabase(path: string): void {
  for (const f of [path, `${path}-journal`, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
}

/**
 * The run is over and its VM gone: drop the spare's name of the session database. A rollback journal left beside it
 * (the sidecar died mid-transaction) belongs to the session's file: it moves there, so the next open rolls it back.
 */
function forgetDatabase(spareDb: string, runDb: string): void {
  try {
    const journal = `${spareDb}-journal`;
    if (existsSync(journal) && existsSync(runDb) && statSync(runDb).ino === statSync(spareDb).ino) renameSync(journal, `${runDb}-journal`);
  } catch (e) {
    logger.debug(`worker: spare journal: ${firstLine(e)}`);
  }
  removeDatabase(spareDb);
}

type Vm = VmHandle["vm"];

/** The files of a guest directory with their contents (none if it does not exist). */
async function dirFiles(vm: Vm, dir: string): Promise<Map<string, string>> {
  const names = await vm.filesystem.readdir(dir).catch(() => [] as string[]);
  const paths = names.filter((n) => n !== "." && n !== "..").map((n) => `${dir}/${n}`);
  const read = paths.length ? await vm.filesystem.readFiles(paths) : [];
  return new Map(read.map((r) => [r.path, r.content ? Buffer.from(r.content).toString("utf8") : ""]));
}

/**
 * Until the agent opened ahead has started: a file in its started dir that was not there, or not so, before the open
 * (SpareSetup.startedDir; a VM on a session's database may keep an earlier run's file). An agent that never writes
 * one (another build) costs the wait once per VM, and the VM is still good: a run's prompt waits in the agent instead.
 */
async function untilStarted(vm: Vm, dir: string, before: Map<string, string>, what: string): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const now = await dirFiles(vm, dir);
    if ([...now].some(([path, content]) => before.get(path) !== content)) {
      logger.debug(`worker: ${what} started ${Math.round(performance.now() - t0)} ms after its session opened`);
      return;
    }
    if (performance.now() - t0 > AGENT_START_WAIT_MS) {
      logger.debug(`worker: ${what} wrote nothing in ${dir} in ${AGENT_START_WAIT_MS} ms after its session opened`);
      return;
    }
    await Bun.sleep(AGENT_START_POLL_MS);
  }
}
