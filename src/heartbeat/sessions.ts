import { createHash, randomUUID } from "node:crypto";
import { existsSync, watch, type FSWatcher } from "node:fs";
import { link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as v from "valibot";
import { stateDir } from "../paths.ts";
import { writeFileAtomic } from "../fsutil.ts";
import { errorMessage, runtimeError } from "../errors.ts";
import { logger } from "../log.ts";
import { pidRunning } from "../runtime/index.ts";
import { FRESH_WAKE_REASONS, type RunRequest } from "./request.ts";
import { AGENTS, type AgentosSessionStore } from "../agents/index.ts";
import type { VmStorage } from "../runtime/index.ts";

/**
 * Sessions live under `<state>/sessions/<agent id>/<task key>/`: `session.json` (what the next heartbeat needs), the
 * agentOS SQLite database (the durable ACP event log agentOS restores a session from), and `transcript.ndjson` (our own
 * record, which an agent whose driver resumes by transcript replay is handed; src/agents/resume.ts).
 */
const StoredSessionSchema = v.object({
  sessionId: v.string(),
  agent: v.picklist(AGENTS),
  agentId: v.string(),
  taskKey: v.string(),
  cwd: v.string(),
  snapshot: v.optional(v.nullable(v.string())),
  createdAt: v.string(),
  updatedAt: v.string(),
  runs: v.number(),
  lastRunId: v.string(),
});
export type StoredSession = v.InferOutput<typeof StoredSessionSchema>;

/** A directory name that is safe whatever the id holds (`..`, `/`, unicode) and still readable. */
function slot(id: string): string {
  const readable = id.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^\.+/, "_").slice(0, 40);
  return `${readable}-${createHash("sha256").update(id).digest("hex").slice(0, 12)}`;
}

export class SessionSlot {
  readonly dir: string;
  /**
   * Set when agentOS's sessions and the VM's files live elsewhere than databasePath: in the session actor's storage
   * (src/rivet), which also restores and saves this slot's files around each heartbeat.
   */
  agentosDb?: AgentosSessionStore;
  vmStorage?: VmStorage;
  constructor(
    readonly agentId: string,
    readonly taskKey: string,
    root = stateDir(),
  ) {
    this.dir = join(root, "sessions", slot(agentId), slot(taskKey));
  }
  get databasePath(): string {
    return join(this.dir, "agentos.db");
  }
  get transcriptPath(): string {
    return join(this.dir, "transcript.ndjson");
  }
  get recordPath(): string {
    return join(this.dir, "session.json");
  }

  async load(): Promise<StoredSession | null> {
    const text = await readFile(this.recordPath, "utf8").catch(() => null);
    if (text === null) return null;
    const r = v.safeParse(StoredSessionSchema, JSON.parse(text));
    return r.success ? r.output : null;
  }

  async save(s: StoredSession): Promise<void> {
    await writeFileAtomic(this.recordPath, `${JSON.stringify(s, null, 2)}\n`);
  }

  /** Start over: a new session id and a fresh database (the old one is removed, not left to grow). */
  async reset(): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    for (const f of [this.databasePath, `${this.databasePath}-wal`, `${this.databasePath}-shm`, this.transcriptPath, this.recordPath]) {
      await rm(f, { force: true });
    }
    return randomUUID();
  }

  /**
   * One heartbeat per session at a time; a lock whose owner died is taken over. A lock held by a worker's prepared VM
   * (src/worker/resumable.ts) is asked for and waited for: the worker lets the session go (its VM gone) within
   * seconds. `pids`: processes besides ours that use the session's database under this lock (a worker's sidecar),
   * so the lock is not taken over while one of them still lives.
   */
  async lock(runId: string, opts: { pids?: number[] } = {}): Promise<() => Promise<void>> {
    await mkdir(this.dir, { recursive: true });
    const owner: LockOwner = { pid: process.pid, runId, ...(opts.pids?.length ? { pids: opts.pids } : {}) };
    const deadline = Date.now() + LOCK_HANDOFF_WAIT_MS;
    let asked = false;
    for (let turn = 0; ; turn++) {
      if (await this.createLock(owner)) {
        await rm(this.releaseRequestPath, { force: true });
        return () => rm(this.lockPath, { force: true });
      }
      const read = await this.readLock();
      const held = read && lockAlive(read.owner) ? (read.owner as LockOwner) : undefined;
      if (!held) {
        if (read && (await this.takeOver(read, owner))) {
          await rm(this.releaseRequestPath, { force: true });
          return () => rm(this.lockPath, { force: true });
        }
        // Gone, or its owner died and another taker was first: again (a lock that keeps coming back is waited for, not spun on).
        if (turn > 10 && Date.now() > deadline) throw runtimeError("could not lock the session", `see ${this.lockPath}`, "session_busy");
        if (turn > 10) await Bun.sleep(50);
        continue;
      }
      // (A zombie, a killed worker its parent has not reaped yet, holds nothing: it counts as dead.)
      const ownerAlive = pidRunning(held.pid);
      if (ownerAlive && !held.prepared) {
        throw runtimeError(
          `another heartbeat (run ${held.runId ?? "?"}, pid ${held.pid}) is using this session`,
          "wait for it to finish, or use a different --task-key",
          "session_busy",
        );
      }
      if (ownerAlive && !asked) {
        await writeFileAtomic(this.releaseRequestPath, `${JSON.stringify({ pid: process.pid, runId })}\n`);
        logger.info(`the worker (pid ${held.pid}) has this session's next VM ready: asking it to let the session go`);
        asked = true;
      }
      if (Date.now() > deadline) {
        throw runtimeError(
          ownerAlive
            ? `the worker (pid ${held.pid}) did not let go of its prepared VM of this session in ${LOCK_HANDOFF_WAIT_MS / 1000} s`
            : `the sidecar of a worker that died (pid ${held.pid}) still uses this session after ${LOCK_HANDOFF_WAIT_MS / 1000} s`,
          "try again in a moment; 'paperclip-aos serve --status' shows the worker",
          "session_busy",
        );
      }
      await Bun.sleep(50);
    }
  }

  /**
   * Lock the session for a worker's prepared VM: undefined when anything holds it. `onAsked` is called (once) when
   * another run asks for the session; the holder then lets it go (`release`) as soon as its VM is gone, or hands the
   * lock to its own heartbeat of the session (`handOver`).
   */
  async lockPrepared(onAsked: () => void, opts: { pids?: number[] } = {}): Promise<PreparedLock | undefined> {
    // No mkdir: a session removed meanwhile (session rm) is not brought back as an empty dir.
    const owner: LockOwner = { pid: process.pid, runId: "prepared", prepared: true, ...(opts.pids?.length ? { pids: opts.pids } : {}) };
    // A request left by a contender that gave up; one made from now on reads this lock first.
    await rm(this.releaseRequestPath, { force: true });
    if (!(await this.createLock(owner).catch(() => false))) return undefined;
    let asked = false;
    let held = true;
    const ask = () => {
      if (asked || !held || !existsSync(this.releaseRequestPath)) return;
      asked = true;
      onAsked();
    };
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(this.dir, (_event, name) => name === RELEASE_REQUEST && ask());
      watcher.on("error", () => {});
    } catch (e) {
      logger.debug(`session lock: cannot watch ${this.dir}: ${errorMessage(e)}`);
    }
    // A request made before the watch began.
    queueMicrotask(ask);
    const stop = () => {
      watcher?.close();
      held = false;
    };
    return {
      setPids: async (pids) => {
        if (held) await this.replaceLock({ ...owner, pids });
      },
      handOver: async (runId, pids) => {
        if (!held) throw new Error("the prepared lock was let go already");
        stop();
        await this.replaceLock({ pid: process.pid, runId, ...(pids?.length ? { pids } : {}) });
        return () => rm(this.lockPath, { force: true });
      },
      release: async () => {
        if (!held) return;
        stop();
        await rm(this.releaseRequestPath, { force: true });
        await rm(this.lockPath, { force: true });
      },
    };
  }

  private get lockPath(): string {
    return join(this.dir, "lock");
  }
  private get releaseRequestPath(): string {
    return join(this.dir, RELEASE_REQUEST);
  }

  /** Our lock's new owner, in one rename: a contender never reads a half-written one. */
  private async replaceLock(owner: LockOwner): Promise<void> {
    const tmp = `${this.lockPath}.${process.pid}.${randomUUID()}`;
    await writeFile(tmp, JSON.stringify(owner));
    await rename(tmp, this.lockPath);
  }

  /**
   * Create the lock file with its owner in one step (a link of a complete file): false when it exists. On a file
   * system without hard links it is created exclusively and then written (a contender may then read it empty for a
   * moment, which counts as a dead owner's).
   */
  private async createLock(owner: LockOwner): Promise<boolean> {
    const tmp = `${this.lockPath}.${process.pid}.${randomUUID()}`;
    await writeFile(tmp, JSON.stringify(owner));
    try {
      await link(tmp, this.lockPath);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return false;
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw e;
      return writeExclusive(this.lockPath, JSON.stringify(owner));
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** The lock file as it is now, with its inode (read through one descriptor, so the two belong together). */
  private async readLock(): Promise<ReadLock | undefined> {
    let fh;
    try {
      fh = await open(this.lockPath, "r");
    } catch {
      return undefined;
    }
    try {
      const [st, text] = [await fh.stat({ bigint: true }), await fh.readFile("utf8")];
      let owner: Partial<LockOwner> = {};
      try {
        owner = JSON.parse(text) as Partial<LockOwner>;
      } catch {
        // an older build's lock caught being written: its pid is unknown, so it counts as dead
      }
      return { ino: st.ino, text, owner };
    } finally {
      await fh.close();
    }
  }

  /**
   * Take over a lock whose owner died (`stale`, as read): true when the lock is now `owner`'s. Two takers must not
   * both win, so removing the stale file and creating ours (two steps, between which another taker can do the same
   * and then lose its new lock to our removal) is not how: a taker first claims the stale file by linking it to a
   * name made of its inode (`lock.stale.<ino>`), which only one taker can create; the claimant checks it claimed the
   * file it read (the same inode and text: the lock may have changed hands since), and then puts its own lock in
   * its place in one rename. Nobody else replaces or removes a lock that is claimed, so nothing live is overwritten.
   */
  private async takeOver(stale: ReadLock, owner: LockOwner): Promise<boolean> {
    const claim = `${this.lockPath}.stale.${stale.ino}`;
    try {
      await link(this.lockPath, claim);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return false; // gone meanwhile: create it anew
      if (code === "EEXIST") {
        await this.dropAbandonedClaim(claim);
        return false;
      }
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw e;
      // No hard links here: remove it and create ours on the next turn (two racing takers could both win).
      await rm(this.lockPath, { force: true });
      return false;
    }
    try {
      const text = await readFile(claim, "utf8");
      if ((await stat(claim, { bigint: true })).ino !== stale.ino || text !== stale.text) return false;
      await this.replaceLock(owner);
      return true;
    } finally {
      await rm(claim, { force: true });
    }
  }

  /**
   * A claim whose taker died between its link and its rename leaves the stale lock claimed for good: one older than
   * a few seconds (a takeover takes milliseconds) is removed, and the stale lock is taken over on a later turn.
   */
  private async dropAbandonedClaim(claim: string): Promise<void> {
    const st = await stat(claim).catch(() => null);
    if (st && Date.now() - st.ctimeMs > ABANDONED_CLAIM_MS) await rm(claim, { force: true });
  }
}

/** The lock file as read: its inode, its text and the owner in it (empty when unreadable). */
interface ReadLock {
  ino: bigint;
  text: string;
  owner: Partial<LockOwner>;
}

/** Does the lock's owner, or a process it names, still live? (A zombie, a killed worker not reaped yet, does not.) */
function lockAlive(owner: Partial<LockOwner>): boolean {
  return !!owner.pid && [owner.pid, ...(owner.pids ?? [])].some(pidRunning);
}

/** How old a takeover's claim on a stale lock must be to count as its taker's, who died mid-takeover. */
const ABANDONED_CLAIM_MS = 10_000;

/** Who holds a session's lock (its `lock` file). */
interface LockOwner {
  pid: number;
  runId: string;
  /** Other processes using the session's database under this lock (a worker's sidecar). */
  pids?: number[];
  /** A worker's prepared VM (src/worker/resumable.ts): it lets the session go when asked. */
  prepared?: boolean;
}

/** A worker's hold on a session for the VM it prepared ahead (SessionSlot.lockPrepared). */
export interface PreparedLock {
  /** Processes besides the worker that use the database now (its sidecar): the lock outlives the worker while they live. */
  setPids(pids: number[]): Promise<void>;
  /** The session goes to this worker's own heartbeat of it: the lock becomes the run's, with its unlock. */
  handOver(runId: string, pids?: number[]): Promise<() => Promise<void>>;
  /** Let the session go (its VM is gone): whoever asked takes it. */
  release(): Promise<void>;
}

/** How long `lock` waits for a prepared VM to let the session go (its teardown can take ~5 s, more under load). */
const LOCK_HANDOFF_WAIT_MS = 30_000;
/** The file a run creates in a session's dir to ask a worker's prepared VM for the session. */
const RELEASE_REQUEST = "lock.release";

async function writeExclusive(path: string, text: string): Promise<boolean> {
  try {
    const fh = await open(path, "wx");
    await fh.writeFile(text);
    await fh.close();
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

/**
 * The slot holding a request's session. Usually the task's own; but a keyless wake (no task: Paperclip hands in only
 * runtime.sessionId) or a handoff wake names a session another task key stored, so the agent's slots are searched for
 * that session id before the task's own slot is taken as "not found".
 */
export async function locateSlot(agentId: string, taskKey: string, sessionId: string | undefined, root = stateDir()): Promise<SessionSlot> {
  const own = new SessionSlot(agentId, taskKey, root);
  if (!sessionId || (await own.load())?.sessionId === sessionId) return own;
  const agentDir = join(root, "sessions", slot(agentId));
  for (const name of await readdir(agentDir).catch(() => [] as string[])) {
    const text = await readFile(join(agentDir, name, "session.json"), "utf8").catch(() => null);
    if (text === null) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      continue;
    }
    const r = v.safeParse(StoredSessionSchema, parsed);
    if (r.success && r.output.sessionId === sessionId && r.output.agentId === agentId) return new SessionSlot(agentId, r.output.taskKey, root);
  }
  return own;
}

/**
 * Fresh or resume, by Paperclip's rules: a reset wake reason starts fresh; otherwise the previous session (the
 * request's sessionParams, else the one stored for this agent and task) resumes only if it is the stored one, still
 * resumable, and from the same cwd and agent. `note` says why a session was not resumed (a `system` event).
 */
export function decideSession(
  req: Pick<RunRequest, "wakeReason" | "session" | "cwd" | "agent">,
  stored: StoredSession | null,
  storedResumable: boolean,
): { resume?: string; note?: string } {
  if (req.wakeReason && FRESH_WAKE_REASONS.includes(req.wakeReason)) return { note: `wake reason '${req.wakeReason}' starts a fresh session` };
  // null is Paperclip resetting the session (clearSession, compaction rotation, a config change): honour it.
  if (req.session === null) return stored ? { note: "the request's session is null: starting a fresh session" } : {};
  const prior = req.session ?? stored;
  if (!prior) return {};
  if (prior.cwd && prior.cwd !== req.cwd) return { note: `session ${prior.sessionId} belongs to ${prior.cwd}, not ${req.cwd}: starting a fresh session` };
  if (prior.agent && prior.agent !== req.agent) return { note: `session ${prior.sessionId} is a ${prior.agent} session, not ${req.agent}: starting a fresh session` };
  if (!stored || stored.sessionId !== prior.sessionId || !storedResumable) return { note: `session ${prior.sessionId} was not found: starting a fresh session` };
  return { resume: prior.sessionId };
}

