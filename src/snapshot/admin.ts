/** `snapshot ls / inspect / rm / gc`: reading and pruning the store. */
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { shortId } from "./format.ts";
import { LayerReader } from "./layer.ts";
import { mergeLayers } from "./overlay.ts";
import { SnapshotStore, type SnapshotRecord } from "./store.ts";

export interface SnapshotSummary {
  id: string;
  shortId: string;
  names: string[];
  files: number;
  bytes: number;
  storedBytes: number;
  layers: number;
  created: string;
  source: SnapshotRecord["source"];
  /** Kept by gc without a name: a name moved from it to another snapshot (remove it with `snapshot rm ID`). */
  retained?: SnapshotRecord["retained"];
}

function namesOf(tags: Map<string, string>, id: string): string[] {
  return [...tags].filter(([, t]) => t === id).map(([n]) => n).sort();
}

function summary(rec: SnapshotRecord, tags: Map<string, string>): SnapshotSummary {
  return {
    id: rec.id,
    shortId: shortId(rec.id),
    names: namesOf(tags, rec.id),
    files: rec.files,
    bytes: rec.bytes,
    storedBytes: rec.storedBytes,
    layers: rec.layers.length,
    created: rec.created,
    source: rec.source,
    ...(rec.retained ? { retained: rec.retained } : {}),
  };
}

export function listSnapshots(store = new SnapshotStore()): SnapshotSummary[] {
  const tags = store.tags();
  return store.listRecords().map((r) => summary(r, tags));
}

export interface InspectedLayer {
  id: string;
  entries: number;
  files: number;
  /** Bytes of file contents (deduplicated within the layer). */
  bytes: number;
  /** Bytes of the layer file. */
  size: number;
  whiteouts: number;
  /** Other snapshots that use this layer too. */
  sharedWith: number;
}

export interface InspectedEntry {
  path: string;
  type: "file" | "dir" | "symlink";
  mode: string;
  size: number;
  mtime: string;
  target?: string;
}

export interface Inspection extends SnapshotSummary {
  dirs: number;
  symlinks: number;
  layerDetails: InspectedLayer[];
  entries: InspectedEntry[];
  /** Set with verify: every file's content was checked against its digest. */
  verified?: boolean;
}

/** Everything about one snapshot; `verify` reads every file and throws the integrity error on a mismatch. */
export function inspectSnapshot(ref: string, opts: { verify?: boolean; store?: SnapshotStore } = {}): Inspection {
  const store = opts.store ?? new SnapshotStore();
  const rec = store.resolve(ref);
  const tags = store.tags();
  const others = store.listRecords().filter((r) => r.id !== rec.id);
  const readers = rec.layers.map((id) => new LayerReader(id, store.layerPath(id)));
  try {
    const layerDetails = readers.map((r) => ({
      id: r.id,
      entries: r.header.entries.length,
      files: r.header.entries.filter((e) => e.t === "f").length,
      bytes: r.header.data,
      size: store.layerSize(r.id),
      whiteouts: r.header.entries.filter((e) => e.t === "w").length,
      sharedWith: others.filter((o) => o.layers.includes(r.id)).length,
    }));
    const tree = mergeLayers(readers);
    if (opts.verify) for (const n of tree.values()) if (n.type === "f") n.layer!.verify(n.entry);
    const entries: InspectedEntry[] = [...tree]
      .filter(([p]) => p !== "")
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([path, n]) => ({
        path,
        type: n.type === "f" ? "file" : n.type === "d" ? "dir" : "symlink",
        mode: `0${n.mode.toString(8)}`,
        size: n.type === "f" ? (n.entry.s ?? 0) : 0,
        mtime: new Date(n.mtime).toISOString(),
        ...(n.type === "l" ? { target: n.entry.l } : {}),
      }));
    return { ...summary(rec, tags), dirs: rec.dirs, symlinks: rec.symlinks, layerDetails, entries, ...(opts.verify ? { verified: true } : {}) };
  } finally {
    for (const r of readers) r.close();
  }
}

export interface RemoveResult {
  ref: string;
  id: string;
  untagged: string[];
  /** The record was removed (no name points at it any more). Its layers go at the next gc. */
  removed: boolean;
}

/**
 * Remove a name, or a snapshot by id. A name: the name goes, and the snapshot with it when no other name points at
 * it. An id: all its names and the snapshot. Layers are freed by gc (a run still using one keeps it).
 */
export function removeSnapshot(ref: string, store = new SnapshotStore()): RemoveResult {
  const rec = store.resolve(ref);
  const names = namesOf(store.tags(), rec.id);
  const untagged = names.includes(ref) ? [ref] : names;
  for (const n of untagged) store.removeTag(n);
  const removed = untagged.length === names.length;
  if (removed) store.removeRecord(rec.id);
  return { ref, id: rec.id, untagged, removed };
}

export interface GcResult {
  removedSnapshots: string[];
  removedLayers: string[];
  freedBytes: number;
  /** Layers kept only because a running build or run uses them. */
  keptInUse: number;
  keptLayers: number;
  dryRun: boolean;
}

/** Files in tmp/ older than this are leftovers of a crashed build. */
const STALE_TMP_MS = 60 * 60 * 1000;

/**
 * Remove snapshots without a name (unless a run is using one right now, or a name moved away from it: retained), then every layer that no remaining
 * snapshot and no running build or run references, and stale temp files.
 */
export function gcSnapshots(opts: { dryRun?: boolean; store?: SnapshotStore } = {}): GcResult {
  const store = opts.store ?? new SnapshotStore();
  const leases = store.liveLeases();
  const leasedSnapshots = new Set(leases.map((l) => l.snapshot).filter(Boolean) as string[]);
  const leasedLayers = new Set(leases.flatMap((l) => l.layers));
  // A running build (or commit) holds every layer written since it started, before it can name them in a record.
  const builds = leases.filter((l) => l.purpose === "build").map((l) => Date.parse(l.started) - 1000);
  const buildSince = builds.length ? Math.min(...builds) : Infinity;
  const tagged = new Set(store.tags().values());
  const removedSnapshots: string[] = [];
  const keep = new Set<string>();
  for (const rec of store.listRecords()) {
    if (tagged.has(rec.id) || leasedSnapshots.has(rec.id) || rec.retained) {
      for (const l of rec.layers) keep.add(l);
      continue;
    }
    removedSnapshots.push(rec.id);
    if (!opts.dryRun) store.removeRecord(rec.id);
  }
  const layers = store.listLayerIds();
  const unused = layers.filter((id) => !keep.has(id));
  // A build or run may have leased one of them since we looked: ask again right before deleting.
  const late = new Set(store.liveLeases().flatMap((l) => l.layers));
  const removedLayers = unused.filter((id) => !leasedLayers.has(id) && !late.has(id) && store.layerMtime(id) < buildSince);
  const keptInUse = unused.length - removedLayers.length;
  const keptLayers = layers.length - removedLayers.length;
  let freedBytes = 0;
  for (const id of removedLayers) {
    freedBytes += store.layerSize(id);
    if (!opts.dryRun) store.removeLayer(id);
  }
  const tmp = store.dir("tmp");
  for (const n of readdirSync(tmp)) {
    const p = join(tmp, n);
    try {
      const st = statSync(p);
      if (Date.now() - st.mtimeMs > STALE_TMP_MS) {
        freedBytes += st.size;
        if (!opts.dryRun) rmSync(p, { force: true });
      }
    } catch {
      // gone already
    }
  }
  return { removedSnapshots, removedLayers, freedBytes, keptInUse, keptLayers, dryRun: Boolean(opts.dryRun) };
}
