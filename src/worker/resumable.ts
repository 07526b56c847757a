import { sessionResumable, driverFor } from "../agents/index.ts";
import type { ClaimedSession, NextSession, PreparedLock, SessionSlot, SpareNeed, SpareVm } from "../heartbeat/index.ts";
import { vmReleased } from "../runtime/index.ts";
import { firstLine } from "../errors.ts";
import { logger } from "../log.ts";
import type { SessionVm, SparePool } from "./spares.ts";

/**
 * Sessions' next VMs (docs/worker.md, "Resumed heartbeats"). A spare cannot serve a resumed heartbeat: its session
 * database is new, and a resumed session must run on its own. So after a heartbeat's result (and once its VM has let
 * go of the database) the worker boots the session's next VM on that database, with the policy of that heartbeat,
 * runs its first shell, puts the agent's spare config in place and opens the stored session under its id. The next
 * heartbeat of the task whose plan has the same key takes it; any other discards it and boots as without it.
 *
 * A prepared VM holds the session's database, so it holds the session's lock (SessionSlot.lockPrepared): a heartbeat
 * of this worker claims it together with the lock; anyone else (an in-process `run`, `session rm`) asks for the
 * session through the lock and gets it once the VM is gone. A killed worker's lock names its sidecar too, and is free
 * once both are gone. At most `max` are kept (each idle one is ~160 MB), the oldest dropped first.
 */
export interface ResumableOptions {
  spares: SparePool;
  /** Sessions whose next VM is kept ready at most; 0 turns this off. */
  max: number;
  /**
   * The heartbeats besides the caller's own take every core, or one waits for a slot (Slots.busy(1)): nothing is
   * prepared then (it is ~1.5-2 s of CPU), and what is prepared and not claimed goes (yieldToLoad).
   */
  busy: () => boolean;
}

export interface ResumableInfo {
  /** Sessions with their next VM ready, and being prepared. */
  ready: number;
  preparing: number;
  max: number;
  /** Resumed heartbeats that took their prepared VM; prepared VMs thrown away (another plan, a fresh session, asked for by another run, dropped for a newer one, a recycled sidecar, or a heartbeat that started on a busy worker: yieldToLoad). */
  hits: number;
  discarded: number;
  /** Prepared VMs made again on a new sidecar after theirs was recycled (the session kept its lock meanwhile). */
  moved: number;
}

interface Entry {
  slot: SessionSlot;
  sessionId: string;
  need: SpareNeed;
  /** Settles once preparing has ended, whatever its outcome (vm and lock set on success). */
  done: Promise<void>;
  lock: PreparedLock | undefined;
  vm: SessionVm | undefined;
  /** Another run asked for the session, or the entry was dropped: let it go as soon as it is prepared. */
  dropped: boolean;
  /** A heartbeat of this worker has it (claim): it is no longer this pool's to drop. */
  claimed: boolean;
}

export class ResumableSessions {
  /** By session dir, oldest first (a Map keeps insertion order). */
  private readonly entries = new Map<string, Entry>();
  private closed = false;
  private hits = 0;
  private discarded = 0;
  private moved = 0;

  constructor(private readonly opts: ResumableOptions) {}

  /** After a heartbeat (its session unlocked): prepare that session's next VM in the background. */
  prepare(next: NextSession): void {
    // Only an agent whose session a VM can open before its run (SpareSetup `ahead`) has its next VM prepared.
    if (this.closed || this.opts.max === 0 || driverFor(next.need.agent).spare?.session !== "ahead" || this.opts.busy()) return;
    const dir = next.slot.dir;
    if (this.entries.has(dir)) return;
    const entry: Entry = { slot: next.slot, sessionId: next.sessionId, need: next.need, done: Promise.resolve(), lock: undefined, vm: undefined, dropped: false, claimed: false };
    this.entries.set(dir, entry);
    entry.done = this.build(entry).catch((e) => {
      logger.warn(`worker: the next VM of session ${next.sessionId} could not be prepared: ${firstLine(e)}`);
      this.forget(entry);
    });
    // The oldest go beyond the limit.
    for (const old of [...this.entries.values()].slice(0, Math.max(0, this.entries.size - this.opts.max))) this.drop(old);
  }

  /**
   * A heartbeat of this worker for `slot`: its prepared VM (waiting for one being prepared) with the session's lock,
   * now the run's (naming `pids` too: the run's sidecar); undefined when there is none.
   */
  async claim(slot: SessionSlot, runId: string, pids: number[]): Promise<ClaimedSession | undefined> {
    const entry = this.entries.get(slot.dir);
    if (!entry) return undefined;
    this.entries.delete(slot.dir);
    // From here a request for the session from elsewhere is not granted: this worker's heartbeat has it (the other
    // run gets session_busy, as two heartbeats of one task at once do).
    entry.claimed = true;
    await entry.done;
    const { vm, lock } = entry;
    if (!vm || !lock || entry.dropped) return undefined;
    let unlock: () => Promise<void>;
    try {
      unlock = await lock.handOver(runId, [...new Set([...pids, ...(vm.sidecarPid ? [vm.sidecarPid] : [])])]);
    } catch (e) {
      // The lock file could not be rewritten: the VM goes and the run locks the session as without it.
      logger.warn(`worker: the prepared VM of session ${entry.sessionId} could not be handed over: ${firstLine(e)}`);
      await this.letGo(entry);
      return undefined;
    }
    let lent: SpareVm | undefined;
    let discarding: Promise<void> | undefined;
    const discard = () => {
      if (lent) return lent.release();
      discarding ??= (this.discarded++, vm.discard());
      return discarding;
    };
    return {
      unlock,
      sessionId: entry.sessionId,
      take: async (need) => {
        if (lent) return lent;
        if (!discarding && vm.usable() && this.opts.spares.keyOf(need) === vm.key) {
          this.hits++;
          return (lent = vm.lend());
        }
        await discard();
        return undefined;
      },
      discard,
    };
  }

  /**
   * A heartbeat starts on a busy worker (`busy`, Slots.busy(1): the heartbeats besides the one starting take every
   * core, or one waits for a slot; on 2 cores that is a third heartbeat at once, not a second): every prepared VM not
   * claimed goes, and its session is let go. It
   * was a bet on a quiet worker (nothing is prepared on a busy one), and it holds ~165 MB that the running heartbeats
   * need at their peak (their VMs, their shell commands at once; docs/worker.md, "Memory"): `worker.rss-4` had one
   * idle beside its four. Its task's next heartbeat boots on the session's database, as without it.
   */
  yieldToLoad(): void {
    if (!this.opts.busy()) return;
    for (const e of [...this.entries.values()]) this.drop(e);
  }

  /**
   * After each heartbeat and when a sidecar is taken out of service (recycled, crashed): a prepared VM on a sidecar
   * no longer in service is made again on the one in service, on a quiet worker (the task's next heartbeat would
   * otherwise boot its own: a recycle for memory must not cost the next resume its head start); on a busy one it is
   * dropped, as yieldToLoad would.
   */
  moveUnusable(): void {
    for (const e of [...this.entries.values()]) {
      if (!e.vm || e.vm.usable()) continue;
      if (this.opts.busy() || this.closed) this.drop(e);
      else this.move(e);
    }
  }

  /**
   * Its VM goes from the old sidecar (its teardown lets go of the database: never two VMs on one SQLite file), then
   * one is booted on the sidecar in service, the session's lock held throughout (a heartbeat of the task meanwhile
   * waits for it, as for one being prepared; another run asks through the lock as ever).
   */
  private move(entry: Entry): void {
    const old = entry.vm!;
    entry.vm = undefined;
    entry.done = (async () => {
      await discardQuietly(old);
      const lock = entry.lock!;
      try {
        if (this.wanted(entry)) {
          entry.vm = await this.make(entry, lock);
          this.moved++;
        }
      } catch (e) {
        logger.warn(`worker: the next VM of session ${entry.sessionId} could not be made again on the new sidecar: ${firstLine(e)}`);
        await entry.vm?.discard();
        entry.vm = entry.lock = undefined;
        this.forget(entry);
        await lock.release();
        return;
      }
      if (entry.dropped || this.closed || !entry.vm || !entry.vm.usable()) return this.letGo(entry);
      logger.debug(`worker: the next VM of session ${entry.sessionId} moved to the new sidecar`);
    })();
  }

  info(): ResumableInfo {
    const all = [...this.entries.values()];
    return { ready: all.filter((e) => e.vm).length, preparing: all.filter((e) => !e.vm).length, max: this.opts.max, hits: this.hits, discarded: this.discarded, moved: this.moved };
  }

  /** The worker stops: every prepared VM goes, and its session is let go. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values()];
    for (const e of all) this.drop(e);
    await Promise.all(all.map((e) => e.done));
  }

  private async build(entry: Entry): Promise<void> {
    const { slot, sessionId, need } = entry;
    // The heartbeat's VM lets go of the database in the background (and its session env is scrubbed then).
    await vmReleased(need.databasePath);
    // A heartbeat of the session that came before the VM began to boot (a back-to-back one) boots its own rather than
    // waiting for all of this one's making (its first shell included).
    if (entry.dropped || entry.claimed) return this.forget(entry);
    const lock = await slot.lockPrepared(() => this.asked(entry));
    if (!lock) return this.forget(entry); // someone else has the session now
    entry.lock = lock;
    // The VM is the entry's only once usable: moveUnusable would otherwise move one this loop is about to make again.
    let vm: SessionVm | undefined;
    try {
      const stored = await slot.load();
      if (stored?.sessionId !== sessionId || !(await sessionResumable(driverFor(need.agent), slot, sessionId))) throw new Error("the session is gone or was replaced");
      // A recycle that took its sidecar out of service while it was made (moveUnusable passes over a VM not made yet)
      // would leave the session without its head start: it is made once more on the sidecar in service.
      for (let attempt = 0; attempt < 2 && this.wanted(entry) && !vm?.usable(); attempt++) {
        if (vm) {
          await discardQuietly(vm);
          vm = undefined;
          if (this.opts.busy()) break;
          this.moved++;
        }
        vm = await this.make(entry, lock);
      }
      entry.vm = vm;
    } catch (e) {
      await vm?.discard();
      entry.vm = entry.lock = undefined;
      await lock.release();
      throw e;
    }
    // (A heartbeat that claimed it meanwhile takes it, or boots its own if it is not usable.)
    if (entry.dropped || this.closed || !entry.vm || !entry.vm.usable()) return this.letGo(entry);
    logger.debug(`worker: the next VM of session ${sessionId} is ready`);
  }

  /** Boot the session's next VM on the sidecar in service; its lock names that sidecar. */
  private async make(entry: Entry, lock: PreparedLock): Promise<SessionVm> {
    const vm = await this.opts.spares.makeForSession(entry.need, entry.sessionId);
    if (vm.sidecarPid) await lock.setPids([vm.sidecarPid]);
    return vm;
  }

  /** Still worth making: not dropped, closed, or claimed by a heartbeat (which boots its own rather than wait). */
  private wanted(entry: Entry): boolean {
    return !entry.dropped && !entry.claimed && !this.closed;
  }

  /** Another run asked for the session through its lock. */
  private asked(entry: Entry): void {
    logger.debug(`worker: another run asks for session ${entry.sessionId}: letting its prepared VM go`);
    this.drop(entry);
  }

  /** No longer offered; its VM and lock go once it is prepared. */
  private drop(entry: Entry): void {
    if (entry.dropped || entry.claimed) return;
    entry.dropped = true;
    if (this.entries.get(entry.slot.dir) === entry) this.entries.delete(entry.slot.dir);
    void entry.done.then(() => this.letGo(entry));
  }

  /** The VM goes (its teardown ended), then the session's lock. */
  private async letGo(entry: Entry): Promise<void> {
    const { vm, lock } = entry;
    entry.vm = entry.lock = undefined;
    this.forget(entry);
    if (vm) {
      this.discarded++;
      await discardQuietly(vm);
    }
    await lock?.release();
  }

  private forget(entry: Entry): void {
    if (this.entries.get(entry.slot.dir) === entry) this.entries.delete(entry.slot.dir);
  }
}

/** A prepared VM's teardown failing is no one's error any more: the VM is gone either way. */
function discardQuietly(vm: SessionVm): Promise<void> {
  return vm.discard().catch((e) => logger.debug(`worker: a prepared VM: ${firstLine(e)}`));
}
