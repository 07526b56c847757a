/**
 * `snapshot build`: walk a directory, split it into content-chunked layers, write the layers the store does not have
 * yet, record the snapshot and tag it.
 *
 * A rebuild of an unchanged tree reads no file contents: a per-directory stat cache (size, mtime, ctime, inode →
 * digest, as git's index does) lets the build compute each layer's header, and so its id, from metadata alone; a layer
 * whose id is already stored is reused. An entry changed (mtime or ctime) shortly before the cached build started is
 * hashed again (git's "racy" rule), so a write in the same timestamp tick as our read is never missed: 50 ms where the
 * filesystem keeps sub-second times (Linux stamps files from a coarse clock, one tick is at most 10 ms), 2 s where
 * it keeps whole seconds.
 */
import { readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { usageError } from "../errors.ts";
import { writeFileAtomic } from "../fsutil.ts";
import { chunkEntries } from "./chunk.ts";
import { encodeHeader, ID_PREFIX, sha256Hex, type LayerEntry, type LayerHeader } from "./format.ts";
import type { LayerInput } from "./layer.ts";
import { layerWriter, type LayerWriter } from "./layer-pool.ts";
import { checkTagName, SnapshotStore, type NameMove, type SnapshotRecord } from "./store.ts";
import { layerIntact } from "./verify.ts";
import { walkTree, type WalkEntry, type WalkResult } from "./walk.ts";

export interface BuildOptions {
  dir: string;
  name?: string;
  include?: string[];
  exclude?: string[];
  respectGitignore?: boolean;
  store?: SnapshotStore;
  /** Move `name` even when it points at another snapshot, without keeping that one (see SnapshotStore.nameSnapshot). */
  force?: boolean;
  /** Worker threads writing layers (layer-pool.ts); default: one per core for a build with much to write, else none. */
  workers?: number;
  /** Called as layers are written or found: files and bytes done so far, out of the totals. */
  onProgress?: (p: BuildProgress) => void;
}

export interface BuildProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
}

export interface BuildResult {
  id: string;
  name: string | null;
  files: number;
  bytes: number;
  layers: number;
  durationMs: number;
  /** The same tree was built before: no layer was written. */
  cached: boolean;
  /** Layers written by this build (the rest were already in the store, and whole). */
  layersWritten: number;
  /** Layers that were in the store but damaged, and so were written again. */
  layersRepaired: number;
  /** What giving the snapshot its name did to the snapshot the name pointed at before. */
  nameMove?: NameMove;
  storedBytes: number;
  dirs: number;
  symlinks: number;
  skippedSpecial: string[];
  sensitiveExcluded: WalkResult["sensitiveExcluded"];
  sensitiveIncluded: WalkResult["sensitiveIncluded"];
  excluded: number;
}

interface StatCache {
  v: 1;
  dir: string;
  /** When the cached build's walk started (ms): entries changed just before it are not trusted. */
  written: number;
  files: Record<string, [size: number, mtimeMs: number, ctimeMs: number, ino: number, digest: string]>;
}

const RACY_MS_FINE = 50;
const RACY_MS_COARSE = 2000;

function cachePath(store: SnapshotStore, dir: string): string {
  return join(store.dir("cache"), `${sha256Hex(dir).slice(0, 32)}.json`);
}

function loadCache(store: SnapshotStore, dir: string): StatCache | undefined {
  try {
    const c = JSON.parse(readFileSync(cachePath(store, dir), "utf8")) as StatCache;
    return c.v === 1 && c.dir === dir ? c : undefined;
  } catch {
    return undefined;
  }
}

function cachedDigest(cache: StatCache | undefined, e: WalkEntry): string | undefined {
  const c = cache?.files[e.rel];
  if (!c) return undefined;
  const [size, mtimeMs, ctimeMs, ino, digest] = c;
  if (size !== e.stat.size || mtimeMs !== e.stat.mtimeMs || ctimeMs !== e.stat.ctimeMs || ino !== e.stat.ino) return undefined;
  // ctime cannot be set by utimes, so whole-second ctimes mean a filesystem with whole-second timestamps.
  const margin = ctimeMs % 1000 !== 0 ? RACY_MS_FINE : RACY_MS_COARSE;
  if (Math.max(mtimeMs, ctimeMs) >= cache!.written - margin) return undefined;
  return digest;
}

/** The header a layer of these entries would have, when every file's digest is known; else undefined. */
function predictHeader(group: WalkEntry[], digestOf: (e: WalkEntry) => string | undefined): LayerHeader | undefined {
  const entries: LayerEntry[] = [];
  const offsets = new Map<string, number>();
  let pos = 0;
  for (const e of group) {
    if (e.type !== "f") {
      entries.push(e.type === "l" ? { p: e.rel, t: "l", m: e.mode, mt: e.mtime, l: e.target! } : { p: e.rel, t: "d", m: e.mode, mt: e.mtime });
      continue;
    }
    const h = digestOf(e);
    if (!h) return undefined;
    let o = offsets.get(h);
    if (o === undefined) {
      o = pos;
      offsets.set(h, o);
      pos += e.size;
    }
    entries.push({ p: e.rel, t: "f", m: e.mode, mt: e.mtime, s: e.size, o, h });
  }
  return { v: 1, data: pos, entries };
}

export function snapshotIdOf(layers: string[]): string {
  return ID_PREFIX + sha256Hex(JSON.stringify({ v: 1, layers }));
}

export async function buildSnapshot(opts: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const store = opts.store ?? new SnapshotStore();
  if (opts.name !== undefined) checkTagName(opts.name);
  let dir: string;
  try {
    dir = realpathSync(opts.dir);
  } catch {
    throw usageError(`snapshot source ${opts.dir} does not exist`, "pass an existing directory: paperclip-aos snapshot build DIR", "snapshot_source_missing");
  }
  if (!statSync(dir).isDirectory()) throw usageError(`snapshot source ${dir} is not a directory`, "pass a directory", "snapshot_source_not_dir");

  const walkStarted = Date.now();
  const walked = walkTree(dir, { include: opts.include, exclude: opts.exclude, respectGitignore: opts.respectGitignore });
  const cache = loadCache(store, dir);
  const newCache: StatCache = { v: 1, dir, written: walkStarted, files: {} };
  const groups = chunkEntries(walked.entries);

  const lease = await store.acquireLease("build");
  const layerIds: string[] = [];
  let written = 0;
  let repaired = 0;
  let doneFiles = 0;
  let doneBytes = 0;
  const progress = (files: number, bytes: number) =>
    opts.onProgress?.({ files, bytes, totalFiles: walked.files, totalBytes: walked.bytes });
  // A layer's header lists the group's entries in order: remember each file's digest with the stat it was read at.
  const remember = (group: WalkEntry[], header: LayerHeader) =>
    header.entries.forEach((le, i) => {
      const e = group[i]!;
      if (le.t === "f") newCache.files[e.rel] = [e.stat.size, e.stat.mtimeMs, e.stat.ctimeMs, e.stat.ino, le.h!];
    });
  let writer: LayerWriter | undefined;
  const writeGroup = async (group: WalkEntry[], w: LayerWriter): Promise<string> => {
    const tmp = store.tmpPath("layer");
    const inputs: LayerInput[] = group.map((e) =>
      e.type === "f"
        ? { p: e.rel, t: "f", m: e.mode, mt: e.mtime, hostPath: join(dir, e.rel) }
        : e.type === "l"
          ? { p: e.rel, t: "l", m: e.mode, mt: e.mtime, l: e.target! }
          : { p: e.rel, t: "d", m: e.mode, mt: e.mtime },
    );
    let committed = false;
    try {
      const layer = await w.write(tmp, inputs);
      for (const e of group) if (e.type === "f") {
        doneFiles++;
        doneBytes += e.size;
      }
      progress(doneFiles, doneBytes);
      // gc keeps every layer written since a live build started (admin.ts), so no lease write per layer.
      store.commitLayer(tmp, layer.id);
      committed = true;
      written++;
      remember(group, layer.header);
      return layer.id;
    } finally {
      if (!committed) rmSync(tmp, { force: true });
    }
  };
  /** Write these groups' layers: in order in this thread, or all at once through the workers (the first failure stops the rest). */
  const writeAll = async (indices: number[]): Promise<void> => {
    if (!indices.length) return;
    const bytes = indices.reduce((n, i) => n + groups[i]!.reduce((m, e) => m + (e.type === "f" ? e.size : 0), 0), 0);
    writer ??= layerWriter({ bytes, layers: indices.length, workers: opts.workers });
    const w = writer;
    if (w.workers === 0) {
      for (const i of indices) layerIds[i] = await writeGroup(groups[i]!, w);
      return;
    }
    let failure: unknown;
    await Promise.all(
      indices.map((i) =>
        writeGroup(groups[i]!, w).then(
          (id) => void (layerIds[i] = id),
          (e) => {
            failure ??= e;
            w.abort(e as Error);
          },
        ),
      ),
    );
    if (failure !== undefined) throw failure;
  };
  try {
    const reused: number[] = [];
    const toWrite: number[] = [];
    for (const [i, group] of groups.entries()) {
      const predicted = predictHeader(group, (e) => cachedDigest(cache, e));
      const id = predicted && ID_PREFIX + sha256Hex(encodeHeader(predicted));
      // Reuse only a stored layer that is whole: a damaged one is written again from the source.
      const reusable = id !== undefined && layerIntact(store, id);
      if (id && !reusable && store.hasLayer(id)) repaired++;
      if (reusable && predicted) {
        layerIds[i] = id;
        reused.push(i);
        remember(group, predicted);
        for (const e of group) if (e.type === "f") {
          doneFiles++;
          doneBytes += e.size;
        }
        progress(doneFiles, doneBytes);
        continue;
      }
      toWrite.push(i);
    }
    await writeAll(toWrite);
    // Reused layers are leased only now; one that a concurrent gc removed in between is written again.
    await lease.add(reused.map((i) => layerIds[i]!));
    await writeAll(reused.filter((i) => !store.hasLayer(layerIds[i]!)));

    const id = snapshotIdOf(layerIds);
    const existed = store.readRecord(id);
    const dirs = walked.entries.filter((e) => e.type === "d").length;
    const symlinks = walked.entries.filter((e) => e.type === "l").length;
    const uniqueLayers = [...new Set(layerIds)];
    const rec: SnapshotRecord = existed ?? {
      v: 1,
      id,
      layers: layerIds,
      files: walked.files,
      dirs,
      symlinks,
      bytes: walked.bytes,
      storedBytes: uniqueLayers.reduce((n, l) => n + store.layerSize(l), 0),
      created: new Date().toISOString(),
      source: {
        kind: "build",
        dir,
        ...(opts.include?.length ? { include: opts.include } : {}),
        ...(opts.exclude?.length ? { exclude: opts.exclude } : {}),
        ...(opts.respectGitignore ? { respectGitignore: true } : {}),
      },
    };
    if (!existed) await store.writeRecord(rec);
    const nameMove = opts.name ? await store.nameSnapshot(opts.name, id, { force: opts.force }) : undefined;
    // Nothing hashed and the same files: the cache on disk is already right (and rewriting it is most of a cached build).
    const unchanged = written === 0 && cache !== undefined && Object.keys(cache.files).length === Object.keys(newCache.files).length;
    if (!unchanged) await writeFileAtomic(cachePath(store, dir), JSON.stringify(newCache));
    return {
      id,
      name: opts.name ?? null,
      files: rec.files,
      bytes: rec.bytes,
      layers: layerIds.length,
      durationMs: Math.round(performance.now() - started),
      cached: Boolean(existed) && written === 0,
      layersWritten: written,
      layersRepaired: repaired,
      ...(nameMove ? { nameMove } : {}),
      storedBytes: rec.storedBytes,
      dirs,
      symlinks,
      skippedSpecial: walked.special,
      sensitiveExcluded: walked.sensitiveExcluded,
      sensitiveIncluded: walked.sensitiveIncluded,
      excluded: walked.excluded,
    };
  } finally {
    writer?.close();
    lease.release();
  }
}
