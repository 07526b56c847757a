/**
 * A run on a snapshot: open (and check) its layers, hand agentOS an overlay mount for /workspace, and at the end
 * diff, export or commit what the run changed, then drop the upper layer.
 *
 *   const root = await openSnapshotRoot("web", { keepChanges: "out/", commitName: "web-2" });
 *   try {
 *     const vm = await bootVm({ mounts: root.mounts, limits: root.limits, ... });   // no workspaceDir
 *     ... run in /workspace ...
 *     const done = await root.finish();     // {changes, keptTo?, committed?}; throws the integrity error if a layer broke
 *   } finally {
 *     root.close();
 *   }
 */
import type { AgentOsOptions } from "@rivet-dev/agentos-core";
import { logger } from "../log.ts";
import { GUEST_WORKSPACE } from "../guest.ts";
import { usageError, type AosError } from "../errors.ts";
import { shortId } from "./format.ts";
import { AosLayerStore } from "./layer-store.ts";
import { changeCount, checkKeepChangesDir, commitChanges, computeChanges, exportChanges, type Changes } from "./changes.ts";
import { checkTagName, describeNameMove, SnapshotStore, type LeaseHandle, type NameMove, type SnapshotRecord } from "./store.ts";

type MountConfig = NonNullable<AgentOsOptions["mounts"]>[number];
type Limits = NonNullable<AgentOsOptions["limits"]>;

export interface FinishOptions {
  /** Export the changed files (and a manifest of the diff) to this new or empty directory. */
  keepChanges?: string;
  /** Store the result as a new snapshot (the snapshot's layers plus one layer of changes) under this name. */
  commitName?: string;
  /** Recorded in the committed snapshot's source. */
  command?: string;
}

export interface FinishResult {
  changes: Changes;
  keptTo?: string;
  committed?: { id: string; name: string; layers: number; nameMove?: NameMove };
}

export interface SnapshotRoot {
  record: SnapshotRecord;
  /** The overlay mount for /workspace: pass to bootVm/AgentOs.create `mounts` (and do not mount a host workspace). */
  mounts: MountConfig[];
  /**
   * agentOS counts every mounted byte against one VM-wide quota (limits.resources.maxFilesystemBytes; its default,
   * measured between 40 and 72 MB in 0.2.21, is below many trees), so the quota is the snapshot's size plus the write
   * allowance a host workspace gets (src/runtime). The upper layer lives in host memory, which this also bounds.
   */
  limits: Limits;
  /** Diff the run's view against the snapshot; export and commit as given at open (or overridden here). */
  finish(opts?: FinishOptions): Promise<FinishResult>;
  close(): void;
}

export interface OpenOptions extends FinishOptions {
  store?: SnapshotStore;
}

/**
 * A run's snapshot, if it names one. keepChanges and commitName only mean something on top of a snapshot, so without
 * one they are an error (exit 2) rather than silently ignored.
 */
export async function openSnapshotFor(ref: string | null | undefined, opts: OpenOptions = {}): Promise<SnapshotRoot | undefined> {
  if (ref) return openSnapshotRoot(ref, opts);
  if (opts.keepChanges || opts.commitName) {
    throw usageError(
      "--keep-changes and --commit-snapshot need --snapshot",
      "add --snapshot NAME (a run request: the snapshot field), or drop them: without a snapshot, writes land in the directory",
      "snapshot_flag_needs_snapshot",
    );
  }
  return undefined;
}

/** One line on what a run did to its snapshot: "2 added, 1 modified, 0 deleted; exported to out/". */
export function describeFinish(r: FinishResult): string {
  const c = r.changes;
  const where = [r.keptTo ? `exported to ${r.keptTo}` : "", r.committed ? `committed snapshot ${r.committed.name} (${shortId(r.committed.id)})` : ""].filter(Boolean);
  const moved = r.committed?.nameMove && describeNameMove(r.committed.nameMove);
  return `${c.added.length} added, ${c.modified.length} modified, ${c.deleted.length} deleted; ${where.join("; ") || "discarded"}${moved ? `; ${moved}` : ""}`;
}

export async function openSnapshotRoot(ref: string, opts: OpenOptions = {}): Promise<SnapshotRoot> {
  const store = opts.store ?? new SnapshotStore();
  // Check what the end of the run needs before it starts.
  if (opts.keepChanges) checkKeepChangesDir(opts.keepChanges);
  if (opts.commitName) checkTagName(opts.commitName);
  const record = store.resolve(ref);
  const lease: LeaseHandle = await store.acquireLease("run", record.id, record.layers);
  const integrity: AosError[] = [];
  const layerStore = new AosLayerStore(store, {
    // The guest owns the snapshot's files: bootVm runs it as the host user.
    uid: process.getuid?.() ?? 1000,
    gid: process.getgid?.() ?? 1000,
    onIntegrityError: (e) => {
      integrity.push(e);
      logger.error(e.message);
    },
  });
  let lowers;
  try {
    lowers = await Promise.all(record.layers.map((id) => layerStore.openSnapshotLayer(id)));
  } catch (e) {
    layerStore.dispose();
    lease.release();
    throw e;
  }
  const mount = { path: GUEST_WORKSPACE, filesystem: { type: "overlay" as const, store: layerStore, lowers } };
  // Imported here: the runtime's index would load agentOS into every `snapshot` command (store.ts says why).
  const { writeAllowanceBytes } = await import("../runtime/index.ts");
  let closed = false;
  return {
    record,
    mounts: [mount],
    limits: { resources: { maxFilesystemBytes: record.bytes + writeAllowanceBytes() } },
    async finish(more: FinishOptions = {}): Promise<FinishResult> {
      const fo = { ...opts, ...more };
      const ov = layerStore.latestOverlay();
      if (integrity.length) throw integrity[0];
      if (!ov) return { changes: { added: [], modified: [], deleted: [] } };
      try {
        const changes = computeChanges(ov);
        const result: FinishResult = { changes };
        if (fo.keepChanges) {
          exportChanges(ov, changes, fo.keepChanges, { snapshot: record.id });
          result.keptTo = fo.keepChanges;
        }
        if (fo.commitName) {
          const { record: rec, nameMove } = await commitChanges(ov, changes, store, record, fo.commitName, fo.command);
          result.committed = { id: rec.id, name: fo.commitName, layers: rec.layers.length, ...(describeNameMove(nameMove) ? { nameMove } : {}) };
        }
        logger.debug(`snapshot ${shortId(record.id)}: ${changeCount(changes)} changed paths`);
        return result;
      } finally {
        // Reading a file's bytes for the export or the commit is where a damaged layer shows: say that, not EIO.
        if (integrity.length) throw integrity[0];
      }
    },
    close() {
      if (closed) return;
      closed = true;
      layerStore.dispose();
      lease.release();
    },
  };
}
