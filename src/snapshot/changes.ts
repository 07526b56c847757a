/**
 * What a run changed in its snapshot's tree, and the two ways to keep it: export the changed files to a host
 * directory (--keep-changes) or store them as a new layer on top of the snapshot (--commit-snapshot).
 *
 * The diff compares the run's final view with the snapshot's tree by type, permission bits, symlink target and
 * content digest. Times alone are not a change (agentOS updates access times on every read).
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { join, resolve } from "node:path";
import { runtimeError, usageError } from "../errors.ts";
import { parentOf } from "./format.ts";
import { writeLayer, type LayerInput } from "./layer.ts";
import type { SnapshotOverlay } from "./overlay.ts";
import { snapshotIdOf } from "./build.ts";
import type { NameMove, SnapshotRecord, SnapshotStore } from "./store.ts";

export type ChangeType = "file" | "dir" | "symlink";
export interface Change {
  path: string;
  type: ChangeType;
}
export interface Changes {
  added: Change[];
  modified: Change[];
  deleted: Change[];
}

/** Written into a --keep-changes directory next to the files: the full diff, deletions included. */
export const CHANGES_MANIFEST = ".paperclip-aos-changes.json";

const typeName = (t: "f" | "d" | "l"): ChangeType => (t === "f" ? "file" : t === "d" ? "dir" : "symlink");

export function computeChanges(ov: SnapshotOverlay): Changes {
  const out: Changes = { added: [], modified: [], deleted: [] };
  const live = new Set<string>();
  for (const [path, n] of ov.walk()) {
    live.add(path);
    if (path === "") continue;
    const low = ov.lower.get(path);
    if (!low) {
      out.added.push({ path, type: typeName(n.type) });
      continue;
    }
    let changed = low.type !== n.type || low.mode !== n.mode;
    if (!changed && n.type === "l") changed = (low.entry.l ?? "") !== (n.target ?? "");
    if (!changed && n.type === "f") {
      if (n.lower !== low) changed = ov.fileSize(n) !== low.entry.s || ov.digestOf(n) !== low.entry.h;
    }
    if (changed) out.modified.push({ path, type: typeName(n.type) });
  }
  for (const [path, low] of ov.lower) if (path !== "" && !live.has(path)) out.deleted.push({ path, type: typeName(low.type) });
  out.deleted.sort((a, b) => (a.path < b.path ? -1 : 1));
  return out;
}

export function changeCount(c: Changes): number {
  return c.added.length + c.modified.length + c.deleted.length;
}

/** --keep-changes DIR must be new or empty: we never mix a run's files into existing ones. */
export function checkKeepChangesDir(dir: string): string {
  const abs = resolve(dir);
  if (existsSync(abs)) {
    const st = lstatSync(abs);
    if (!st.isDirectory()) throw usageError(`--keep-changes ${dir} exists and is not a directory`, "give a new directory", "keep_changes_exists");
    if (readdirSync(abs).length > 0) throw usageError(`--keep-changes ${dir} is not empty`, "give a new or empty directory", "keep_changes_exists");
  }
  return abs;
}

/**
 * Write added and modified files, directories and symlinks under `dir` at their workspace paths, plus the manifest.
 * Symlinks are created last and directory modes set last, so nothing is ever written through a link we made.
 */
export function exportChanges(ov: SnapshotOverlay, changes: Changes, dir: string, meta: Record<string, unknown>): void {
  const abs = checkKeepChangesDir(dir);
  mkdirSync(abs, { recursive: true });
  const nodes = new Map(ov.walk());
  const wanted = [...changes.added, ...changes.modified].sort((a, b) => (a.path < b.path ? -1 : 1));
  if (wanted.some((c) => c.path === CHANGES_MANIFEST)) {
    throw runtimeError(`the run created ${CHANGES_MANIFEST} in the workspace root, which --keep-changes needs for its manifest`, "rename that file in the run", "keep_changes_conflict");
  }
  const ensureParent = (rel: string) => {
    const parent = parentOf(rel);
    if (parent !== "") mkdirSync(join(abs, parent), { recursive: true });
  };
  const dirModes: [string, number][] = [];
  const links: [string, string][] = [];
  for (const c of wanted) {
    const n = nodes.get(c.path)!;
    const target = join(abs, c.path);
    if (n.type === "d") {
      ensureParent(c.path);
      if (!existsSync(target)) mkdirSync(target);
      dirModes.push([target, n.mode]);
    } else if (n.type === "f") {
      ensureParent(c.path);
      writeFileSync(target, ov.bytesOf(c.path, n), { mode: n.mode & 0o777, flag: "wx" });
      chmodSync(target, n.mode);
    } else links.push([target, n.target ?? ""]);
  }
  for (const [target, to] of links) {
    ensureParent(target.slice(abs.length + 1));
    symlinkSync(to, target);
  }
  for (const [target, mode] of dirModes.reverse()) chmodSync(target, mode);
  writeFileSync(join(abs, CHANGES_MANIFEST), `${JSON.stringify({ ...meta, ...changes }, null, 2)}\n`, { flag: "wx" });
}

/**
 * Store the run's changes as one layer on top of the snapshot's layers and record the result as a new snapshot.
 * Deleted paths become whiteouts (only the topmost of a deleted subtree). No change: the new snapshot is the parent.
 */
export async function commitChanges(
  ov: SnapshotOverlay,
  changes: Changes,
  store: SnapshotStore,
  parent: SnapshotRecord,
  name: string,
  command?: string,
): Promise<{ record: SnapshotRecord; nameMove: NameMove }> {
  if (changeCount(changes) === 0) return { record: parent, nameMove: await store.nameSnapshot(name, parent.id) };
  let files = 0;
  let dirs = 0;
  let symlinks = 0;
  let bytes = 0;
  const nodes = new Map(ov.walk());
  for (const n of nodes.values()) {
    if (n.type === "f") {
      files++;
      bytes += ov.fileSize(n);
    } else if (n.type === "d") dirs++;
    else symlinks++;
  }
  const deleted = new Set(changes.deleted.map((c) => c.path));
  const inputs: LayerInput[] = [];
  for (const c of [...changes.added, ...changes.modified]) {
    const n = nodes.get(c.path)!;
    const mt = Math.floor(n.mtime);
    if (n.type === "d") inputs.push({ p: c.path, t: "d", m: n.mode, mt });
    else if (n.type === "l") inputs.push({ p: c.path, t: "l", m: n.mode, mt, l: n.target ?? "" });
    else inputs.push({ p: c.path, t: "f", m: n.mode, mt, data: ov.bytesOf(c.path, n) });
  }
  for (const c of changes.deleted) {
    if (!deleted.has(parentOf(c.path))) inputs.push({ p: c.path, t: "w" });
  }
  inputs.sort((a, b) => (a.p < b.p ? -1 : a.p > b.p ? 1 : 0));
  const lease = await store.acquireLease("build");
  try {
    const tmp = store.tmpPath("layer");
    const layer = await writeLayer(tmp, inputs);
    store.commitLayer(tmp, layer.id);
    const layers = [...parent.layers, layer.id];
    const id = snapshotIdOf(layers);
    const rec: SnapshotRecord = store.readRecord(id) ?? {
      v: 1,
      id,
      layers,
      files,
      dirs,
      symlinks,
      bytes,
      storedBytes: [...new Set(layers)].reduce((s, l) => s + store.layerSize(l), 0),
      created: new Date().toISOString(),
      source: { kind: "commit", parent: parent.id, ...(command ? { command } : {}) },
    };
    await store.writeRecord(rec);
    return { record: rec, nameMove: await store.nameSnapshot(name, id) };
  } finally {
    lease.release();
  }
}
