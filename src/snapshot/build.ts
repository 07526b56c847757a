/**
 * `snapshot build`: walk a directory, split it into content-chunked layers, write the layers the store does not have
 * yet, record the snapshot and tag it.
 *
 * A rebuild of an unchanged tree reads no file contents: the build cache (per source directory) maps a fingerprint of
 * each layer's entries (path, type, mode, size, mtime, ctime, inode, link target: what git's index compares) to the
 * layer it gave, so a layer whose entries all look as they did is reused without reading them, and its id is not
 * computed again. Entries changed (mtime or ctime) shortly before the walk that recorded them are not trusted (git's
 * "racy" rule), so a write in the same timestamp tick as that build's read is never missed: 50 ms where the
 * filesystem keeps sub-second times (Linux stamps files from a coarse clock, one tick is at most 10 ms), 2 s where it
 * keeps whole seconds. ctime cannot be set from user space, so a content change that keeps size and mtime (utimes)
 * still moves the fingerprint.
 *
 * An unchanged rebuild goes further (unchangedRebuild): the cache also keeps, for each whole tree built lately, the
 * fingerprint of all its entries in walk order and its layers' fingerprints. A walk that fingerprints the same has the
 * same entries, so the same layers and the same snapshot id: it skips sorting, chunking and the per-layer fingerprints,
 * and, when the record, the name and every layer file are as that build left them, writes nothing at all (no lease,
 * no cache, no tag). What it cannot skip is the walk itself: an lstat of every entry (measured: scripts/bench-snapshot.ts).
 *
 * A cold build (no cache for this directory) starts writing during the walk (buildFrom): the workers boot once the
 * walk has seen enough bytes, and each big file's layer is written on a worker as soon as the walk finds it.
 */
import { readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { usageError } from "../errors.ts";
import { cacheDir, stateDir } from "../paths.ts";
import { writeFileAtomic } from "../fsutil.ts";
import { BIG_FILE, chunkEntries } from "./chunk.ts";
import { ID_PREFIX, sha256Hex } from "./format.ts";
import type { LayerInput } from "./layer.ts";
import { layerWriter, PARALLEL_MIN_BYTES, type LayerWriter } from "./layer-pool.ts";
import { checkTagName, SnapshotStore, type LayerFileStat, type LeaseHandle, type NameMove, type SnapshotRecord } from "./store.ts";
import { layerIntact } from "./verify.ts";
import { sortEntries, walkTree, type WalkEntry, type WalkResult } from "./walk.ts";

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

interface BuildCache {
  v: 2;
  dir: string;
  /**
   * Layers built from this directory lately, by fingerprint (layerFingerprint): the layer id, when the walk that saw
   * those entries started (ms; entries changed just before it are not trusted), and the layer file's stat when it was
   * last known whole (so a reused layer is not checked again while its file is unchanged).
   */
  layers: Record<string, [id: string, walked: number, stat: LayerFileStat]>;
  /**
   * Whole trees built from this directory lately, by treeFingerprint (all kept entries in walk order): when the walk
   * of the build that recorded it started, and the tree's layer fingerprints in order (each a key of `layers`).
   * Absent in caches written before it; such a cache still serves the per-layer path.
   */
  trees?: Record<string, [walked: number, layers: string[]]>;
}

const RACY_MS_FINE = 50;
const RACY_MS_COARSE = 2000;
/**
 * Fingerprints of layers this build does not have are kept for a while: a build of the same directory with other
 * --include/--exclude/--respect-gitignore groups the same files differently, and stays a cache hit.
 */
const KEEP_OLD_LAYERS = 1024;
/** Whole trees kept (newest first): the same few --include/--exclude variants of one directory stay fast. */
const KEEP_TREES = 4;

function cachePath(store: SnapshotStore, dir: string): string {
  return join(store.dir("cache"), `${sha256Hex(dir).slice(0, 32)}.json`);
}

function loadCache(store: SnapshotStore, dir: string): BuildCache | undefined {
  try {
    const c = JSON.parse(readFileSync(cachePath(store, dir), "utf8")) as BuildCache;
    return c.v === 2 && c.dir === dir && c.layers && typeof c.layers === "object" ? c : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a layer of these entries depends on besides the contents: every field of its header but the digests and
 * offsets, and the stat fields that move when a file's content is written (size, mtime, ctime, inode). The names and
 * link targets go in as text (NUL ends each: no path or target contains one), the numbers as float64s (turning
 * 5,000 mtimes into decimal text was a third of a cached rebuild's fingerprinting).
 */
function layerFingerprint(group: WalkEntry[]): string {
  return entriesFingerprint(group, "");
}

/**
 * The fingerprint of a whole tree: every kept entry as layerFingerprint sees it, in the walk's order (readdir's, which
 * stays the same while a directory is unchanged). The same fingerprint means the same entries with the same metadata,
 * hence the same sorted list, the same layer groups and the same layer fingerprints; an order that moved only misses.
 */
function treeFingerprint(entries: WalkEntry[]): string {
  return entriesFingerprint(entries, "tree\0");
}

function entriesFingerprint(group: WalkEntry[], domain: string): string {
  let text = domain;
  const nums = new Float64Array(group.length * 5);
  let k = 0;
  for (const e of group) {
    text += `${e.type}${e.rel}\0${e.target ?? ""}\0`;
    nums[k++] = e.mode;
    nums[k++] = e.mtimeMs;
    nums[k++] = e.ctimeMs;
    nums[k++] = e.ino;
    nums[k++] = e.statSize;
  }
  return new Bun.CryptoHasher("sha256").update(text).update(nums).digest("base64");
}

/** No file of the group changed within the racy window before `walked`, so its content is what that build read. */
function settledBefore(group: WalkEntry[], walked: number): boolean {
  for (const e of group) {
    if (e.type !== "f") continue;
    // ctime cannot be set by utimes, so whole-second ctimes mean a filesystem with whole-second timestamps.
    const margin = e.ctimeMs % 1000 !== 0 ? RACY_MS_FINE : RACY_MS_COARSE;
    if (Math.max(e.mtimeMs, e.ctimeMs) >= walked - margin) return false;
  }
  return true;
}

const LAYER_ID = /^sha256:[0-9a-f]{64}$/;

/** The cache's record of a layer, when it has one of the right shape (the file is ours, but may be damaged). */
function cachedLayer(cache: BuildCache | undefined, fingerprint: string): BuildCache["layers"][string] | undefined {
  const hit = cache && Object.hasOwn(cache.layers, fingerprint) ? cache.layers[fingerprint] : undefined;
  const ok = Array.isArray(hit) && typeof hit[0] === "string" && LAYER_ID.test(hit[0]) && typeof hit[1] === "number" && Array.isArray(hit[2]);
  return ok ? hit : undefined;
}

const sameStat = (a: LayerFileStat | undefined, b: LayerFileStat | undefined) =>
  a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

/** The cache's record of a whole tree, when it has one of the right shape. */
function cachedTree(cache: BuildCache | undefined, fingerprint: string): [walked: number, layers: string[]] | undefined {
  const hit = cache?.trees && typeof cache.trees === "object" && Object.hasOwn(cache.trees, fingerprint) ? cache.trees[fingerprint] : undefined;
  const ok = Array.isArray(hit) && typeof hit[0] === "number" && Array.isArray(hit[1]) && hit[1].every((fp) => typeof fp === "string");
  return ok ? hit : undefined;
}

/**
 * This build's layers by fingerprint, then the older ones the cache knew (up to KEEP_OLD_LAYERS), newest first; this
 * tree (`tree`: its fingerprint, the walk's start and its layers' fingerprints), then the older trees.
 */
function nextCache(
  dir: string,
  old: BuildCache | undefined,
  fingerprints: string[],
  seen: (BuildCache["layers"][string] | undefined)[],
  tree: { fingerprint: string; walked: number } | undefined,
): BuildCache {
  const layers: BuildCache["layers"] = {};
  fingerprints.forEach((fp, i) => {
    if (seen[i]) layers[fp] = seen[i];
  });
  let kept = 0;
  for (const [fp, entry] of Object.entries(old?.layers ?? {})) {
    if (kept >= KEEP_OLD_LAYERS) break;
    if (fp in layers) continue;
    layers[fp] = entry;
    kept++;
  }
  const trees: NonNullable<BuildCache["trees"]> = {};
  if (tree) trees[tree.fingerprint] = [tree.walked, fingerprints];
  for (const [fp, entry] of Object.entries(old?.trees ?? {})) {
    if (Object.keys(trees).length >= KEEP_TREES) break;
    if (!(fp in trees) && cachedTree(old, fp)) trees[fp] = entry;
  }
  return { v: 2, dir, layers, trees };
}

/**
 * The snapshot an unchanged tree gives, without sorting, chunking or a write: when the cache knows this tree's
 * fingerprint, no file changed within the racy window before the walk that recorded it (which had checked every layer
 * under its own rule, so nothing else is needed), every layer's file is as it was when last known whole, the record is
 * there and `name`, if given, already points at it. Anything else is left to the full build.
 *
 * It takes no lease: it writes nothing and removes nothing, and what it reports is what the store held when it looked
 * (a named snapshot is kept by its name; one without a name is usable until the next gc, as after any build).
 */
function unchangedRebuild(store: SnapshotStore, cache: BuildCache | undefined, fingerprint: string, entries: WalkEntry[], name: string | undefined): SnapshotRecord | undefined {
  const tree = cachedTree(cache, fingerprint);
  if (!tree || !settledBefore(entries, tree[0])) return undefined;
  const ids: string[] = [];
  for (const fp of tree[1]) {
    const hit = cachedLayer(cache, fp);
    if (!hit || !sameStat(store.layerFileStat(hit[0]), hit[2])) return undefined;
    ids.push(hit[0]);
  }
  const rec = store.readRecord(snapshotIdOf(ids));
  if (!rec || (name !== undefined && store.tagged(name) !== rec.id)) return undefined;
  return rec;
}

function resultOf(
  rec: SnapshotRecord,
  walked: WalkResult,
  o: { name: string | undefined; started: number; cached: boolean; written: number; repaired: number; nameMove?: NameMove },
): BuildResult {
  return {
    id: rec.id,
    name: o.name ?? null,
    files: rec.files,
    bytes: rec.bytes,
    layers: rec.layers.length,
    durationMs: Math.round(performance.now() - o.started),
    cached: o.cached,
    layersWritten: o.written,
    layersRepaired: o.repaired,
    ...(o.nameMove ? { nameMove: o.nameMove } : {}),
    storedBytes: rec.storedBytes,
    dirs: rec.dirs,
    symlinks: rec.symlinks,
    skippedSpecial: walked.special,
    sensitiveExcluded: walked.sensitiveExcluded,
    sensitiveIncluded: walked.sensitiveIncluded,
    excluded: walked.excluded,
  };
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

  const cache = loadCache(store, dir);
  const hold = buildHold(store, opts.workers);
  try {
    return await buildFrom(opts, store, dir, cache, hold, started);
  } catch (e) {
    await hold.settle();
    dropUnusedLayers(store, hold.committed);
    throw e;
  } finally {
    await hold.release();
  }
}

/**
 * After a failed build, the layers it committed that no snapshot uses: removed now rather than left for gc (a cold
 * build writes layers during its walk, so a walk that fails later leaves whole layers no record names). A layer a
 * record uses stays, and so does every one while another build or run holds a lease: that one may be using a layer of
 * the same id (gc's own rule, admin.ts). Nothing trusts such a layer meanwhile: a build reuses a layer only through
 * its cache, which a failed build does not write.
 */
function dropUnusedLayers(store: SnapshotStore, committed: Set<string>): void {
  if (!committed.size) return;
  const leases = store.liveLeases();
  // The one lease left is this build's own (it committed layers, so it took one): no one else can want them.
  if (leases.length !== 1 || leases[0]!.pid !== process.pid || leases[0]!.purpose !== "build") return;
  for (const rec of store.listRecords()) for (const l of rec.layers) committed.delete(l);
  for (const id of committed) store.removeLayer(id);
}

/**
 * The tool's own directories a walk leaves out when they are inside the tree: the store always, and the state and
 * cache dirs for a build in the default store (the CLI's). A state dir in the project (PAPERCLIP_AOS_HOME=./.state)
 * was walked into every snapshot: its layers, its temp layers being written (renamed before their read: the build
 * failed), so the same tree never gave the same id and each build stored the one before it again.
 */
function ownDirs(store: SnapshotStore, defaultStore: boolean): Set<string> {
  const dirs = new Set<string>();
  for (const d of [store.root, ...(defaultStore ? [stateDir(), cacheDir()] : [])]) {
    try {
      dirs.add(realpathSync(d));
    } catch {
      // not made yet: nothing of it to walk
    }
  }
  return dirs;
}

/**
 * What a build holds until it ends: its layer writer (made on first use), its lease (taken before its first write),
 * the layer writes under way and the layers it committed (so a failed build can wait for the first and drop the second).
 */
function buildHold(store: SnapshotStore, workers: number | undefined) {
  let writer: LayerWriter | undefined;
  let lease: Promise<LeaseHandle> | undefined;
  const writes: Promise<void>[] = [];
  const committed = new Set<string>();
  return {
    writer: (bytes: number, layers: number) => (writer ??= layerWriter({ bytes, layers, workers })),
    lease: () => (lease ??= store.acquireLease("build")),
    committed,
    track<T extends { id: string }>(p: Promise<T>): Promise<T> {
      writes.push(p.then((r) => void committed.add(r.id), () => {}));
      return p;
    },
    async settle() {
      await Promise.all(writes);
    },
    async release() {
      writer?.close();
      (await lease?.catch(() => undefined))?.release();
    },
  };
}

/** A layer of these entries written and committed under its id: the id and the committed file's stat. */
async function commitLayerOf(store: SnapshotStore, dir: string, group: WalkEntry[], w: LayerWriter, now = false): Promise<{ id: string; stat: LayerFileStat | undefined }> {
  const tmp = store.tmpPath("layer");
  const inputs: LayerInput[] = group.map((e) => {
    const mt = Math.floor(e.mtimeMs);
    return e.type === "f"
      ? { p: e.rel, t: "f", m: e.mode, mt, hostPath: join(dir, e.rel) }
      : e.type === "l"
        ? { p: e.rel, t: "l", m: e.mode, mt, l: e.target! }
        : { p: e.rel, t: "d", m: e.mode, mt };
  });
  let committed = false;
  try {
    const layer = await w.write(tmp, inputs, now);
    // gc keeps every layer written since a live build started (admin.ts), so no lease write per layer.
    const stat = store.commitLayer(tmp, layer.id);
    committed = true;
    return { id: layer.id, stat };
  } finally {
    if (!committed) rmSync(tmp, { force: true });
  }
}

async function buildFrom(
  opts: BuildOptions,
  store: SnapshotStore,
  dir: string,
  cache: BuildCache | undefined,
  hold: ReturnType<typeof buildHold>,
  started: number,
): Promise<BuildResult> {
  /**
   * A directory never built into this store has every layer to write, so its writing starts during the walk: the
   * writer threads as soon as the walk has seen enough bytes to want them (a Worker is ready only some ms after it is
   * made), and each big file's layer (a big file is a layer of its own, chunk.ts) as soon as the walk finds it, on a
   * worker while this thread walks on. The lease comes first, as before any write, but only once a write is due: a
   * lease taken before the walk would be walked itself when the store is inside the tree (a state dir in the project).
   */
  const cold = cache === undefined;
  const early = new Map<string, Promise<{ id: string; stat: LayerFileStat | undefined }>>();
  const onFile = (e: WalkEntry, bytes: number) => {
    if (bytes < PARALLEL_MIN_BYTES) return;
    const w = hold.writer(bytes, Infinity);
    if (w.workers === 0 || e.size < BIG_FILE) return;
    const written = hold.track(hold.lease().then(() => commitLayerOf(store, dir, [e], w, true)));
    written.catch(() => {}); // awaited where its layer is used, or below when the walk fails
    early.set(e.rel, written);
  };
  const walkStarted = Date.now();
  // A walk that fails leaves the layers it handed out to buildSnapshot, which waits for them and drops them.
  const walked = walkTree(
    dir,
    { include: opts.include, exclude: opts.exclude, respectGitignore: opts.respectGitignore },
    { sort: false, onFile: cold ? onFile : undefined, skipDirs: ownDirs(store, opts.store === undefined) },
  );
  const treeFp = treeFingerprint(walked.entries);
  const unchanged = unchangedRebuild(store, cache, treeFp, walked.entries, opts.name);
  if (unchanged) {
    opts.onProgress?.({ files: walked.files, bytes: walked.bytes, totalFiles: walked.files, totalBytes: walked.bytes });
    return resultOf(unchanged, walked, { name: opts.name, started, cached: true, written: 0, repaired: 0 });
  }
  sortEntries(walked.entries);
  const groups = chunkEntries(walked.entries);
  const fingerprints = groups.map(layerFingerprint);
  /** What the next build's cache records for each group of this one (set as each layer is written or reused). */
  const seen: (BuildCache["layers"][string] | undefined)[] = [];
  /** Every group was reused from the cache as it stands, stamp included: the cache file needs no rewrite. */
  let cacheUpToDate = cache !== undefined;

  const lease = await hold.lease();
  const layerIds: string[] = [];
  let written = 0;
  let repaired = 0;
  let doneFiles = 0;
  let doneBytes = 0;
  const progress = (files: number, bytes: number) =>
    opts.onProgress?.({ files, bytes, totalFiles: walked.files, totalBytes: walked.bytes });
  const writeGroup = async (i: number, w: LayerWriter): Promise<string> => {
    const group = groups[i]!;
    const { id, stat } = await ((group.length === 1 && early.get(group[0]!.rel)) || hold.track(commitLayerOf(store, dir, group, w)));
    for (const e of group) if (e.type === "f") {
      doneFiles++;
      doneBytes += e.size;
    }
    progress(doneFiles, doneBytes);
    written++;
    cacheUpToDate = false;
    seen[i] = stat && [id, walkStarted, stat];
    return id;
  };
  /** Write these groups' layers: in order in this thread, or all at once through the workers (the first failure stops the rest). */
  const writeAll = async (indices: number[]): Promise<void> => {
    if (!indices.length) return;
    const bytes = indices.reduce((n, i) => n + groups[i]!.reduce((m, e) => m + (e.type === "f" ? e.size : 0), 0), 0);
    const w = hold.writer(bytes, indices.length);
    if (w.workers === 0) {
      for (const i of indices) layerIds[i] = await writeGroup(i, w);
      return;
    }
    let failure: unknown;
    await Promise.all(
      indices.map((i) =>
        writeGroup(i, w).then(
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
  const reused: number[] = [];
  const toWrite: number[] = [];
  for (const [i, group] of groups.entries()) {
    const hit = cachedLayer(cache, fingerprints[i]!);
    const id = hit && settledBefore(group, hit[1]) ? hit[0] : undefined;
    // Reuse only a stored layer that is whole: a damaged one is written again from the source. Its file unchanged
    // since this cache saw it whole is enough; else the store's own check (verify.ts) decides.
    const stat = id === undefined ? undefined : store.layerFileStat(id);
    const stamped = stat !== undefined && sameStat(stat, hit![2]);
    const reusable = stamped || (id !== undefined && layerIntact(store, id));
    if (id && !reusable && store.hasLayer(id)) repaired++;
    if (!stamped) cacheUpToDate = false;
    if (reusable) {
      layerIds[i] = id!;
      reused.push(i);
      const now = stamped ? stat : store.layerFileStat(id!);
      seen[i] = now && [id!, hit![1], now];
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
  // Reused layers are leased only now; one that a concurrent gc removed in between is written again. A cold build
  // reuses none: no lease rewrite.
  if (reused.length) await lease.add(reused.map((i) => layerIds[i]!));
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
  // Every layer reused as the cache stands, and this tree recorded with these layers: the file on disk is right.
  const known = cachedTree(cache, treeFp);
  const treeKnown = known !== undefined && known[1].length === fingerprints.length && known[1].every((fp, i) => fp === fingerprints[i]);
  if (!cacheUpToDate || !treeKnown) {
    const tree = fingerprints.every((_, i) => seen[i] !== undefined) ? { fingerprint: treeFp, walked: walkStarted } : undefined;
    await writeFileAtomic(cachePath(store, dir), JSON.stringify(nextCache(dir, cache, fingerprints, seen, tree)));
  }
  return resultOf(rec, walked, { name: opts.name, started, cached: Boolean(existed) && written === 0, written, repaired, nameMove });
}
