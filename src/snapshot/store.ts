/**
 * The snapshot store under the state dir:
 *
 *   snapshots/layers/<hex>.layer     immutable layer files, named by the SHA-256 of their header (format.ts)
 *   snapshots/layers/<hex>.ok        the layer file's (size, mtime, inode) when a check last found it intact (verify.ts)
 *   snapshots/records/<hex>.json     one record per snapshot: its layers (bottom to top), counts, source
 *   snapshots/tags/<name>.json       a name pointing at a snapshot id
 *   snapshots/leases/<pid>-<n>.json  layers a running build or run is using; gc never removes them
 *   snapshots/cache/<hex>.json       per source directory: layer fingerprint → (layer id, walk time, layer file stat), for fast rebuilds (build.ts)
 *   snapshots/tmp/                   layers being written; renamed into layers/ when complete
 *
 * Every write is a temp file and a rename, so readers see a complete file or none.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stateDir } from "../paths.ts";
import { writeFileAtomic } from "../fsutil.ts";
import { usageError } from "../errors.ts";
import { ID_PREFIX, shortId } from "./format.ts";
// The one function, not the runtime's index: that loads agentOS, the agents and the tools (~12 ms of CPU) into every
// `snapshot` command, none of which boots a VM.
import { pidAlive } from "../runtime/proc.ts";

export interface BuildSource {
  kind: "build";
  dir: string;
  include?: string[];
  exclude?: string[];
  respectGitignore?: boolean;
}
export interface CommitSource {
  kind: "commit";
  parent: string;
  command?: string;
}

export interface SnapshotRecord {
  v: 1;
  id: string;
  /** Layer ids, bottom to top. */
  layers: string[];
  files: number;
  dirs: number;
  symlinks: number;
  /** Bytes of all files in the tree. */
  bytes: number;
  /** Bytes of the layer files on disk (shared layers counted once). */
  storedBytes: number;
  created: string;
  source: BuildSource | CommitSource;
  /**
   * Set when a name moved from this snapshot to another one (build --name, --commit-snapshot): gc keeps it although
   * no name points at it any more, until `snapshot rm ID` removes it.
   */
  retained?: { name: string; since: string };
}

/** What a layer file's stat is compared by to know it unchanged: size, mtime, ctime, inode. */
export type LayerFileStat = [size: number, mtimeMs: number, ctimeMs: number, ino: number];

export interface Lease {
  pid: number;
  purpose: "build" | "run";
  started: string;
  snapshot?: string;
  layers: string[];
}

const TAG_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkTagName(name: string): string {
  if (!TAG_NAME.test(name) || name.startsWith("sha256")) {
    throw usageError(
      `invalid snapshot name '${name}'`,
      "use letters, digits, '.', '_' and '-' (up to 128, starting with a letter or digit), e.g. --name web-preview",
      "snapshot_bad_name",
    );
  }
  return name;
}

const hexOf = (id: string) => id.replace(ID_PREFIX, "");

export class SnapshotStore {
  readonly root: string;

  constructor(root = join(stateDir(), "snapshots")) {
    this.root = root;
  }

  private readonly made = new Set<string>();

  dir(kind: "layers" | "records" | "tags" | "leases" | "cache" | "tmp"): string {
    const d = join(this.root, kind);
    if (!this.made.has(d)) {
      mkdirSync(d, { recursive: true });
      this.made.add(d);
    }
    return d;
  }

  layerPath(id: string): string {
    return join(this.dir("layers"), `${hexOf(id)}.layer`);
  }

  hasLayer(id: string): boolean {
    return existsSync(this.layerPath(id));
  }

  layerSize(id: string): number {
    try {
      return statSync(this.layerPath(id)).size;
    } catch {
      return 0;
    }
  }

  /** The layer file's (size, mtime, ctime, inode), or undefined when it is missing. */
  layerFileStat(id: string): LayerFileStat | undefined {
    const st = statSync(this.layerPath(id), { throwIfNoEntry: false });
    return st ? [st.size, st.mtimeMs, st.ctimeMs, st.ino] : undefined;
  }

  layerMtime(id: string): number {
    try {
      return statSync(this.layerPath(id)).mtimeMs;
    } catch {
      return 0;
    }
  }

  tmpPath(label: string): string {
    return join(this.dir("tmp"), `${label}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  }

  /**
   * Move a finished temp layer into place. It replaces a file of the same id: the same id should mean the same bytes,
   * but the file in the store may have been damaged since, and the one just written is known to be whole. A reader
   * that has the old file open keeps reading it; the new file's mtime tells gc it was written during the running build.
   * Returns the file's stat, which a build's cache keeps as "known whole" (build.ts); no `.ok` stamp is written here
   * (a file per layer, a third of a cold build's file creations): a later check that finds none verifies the layer
   * once and stamps it then.
   */
  commitLayer(tmp: string, id: string): LayerFileStat | undefined {
    renameSync(tmp, this.layerPath(id));
    return this.layerFileStat(id);
  }

  private stampPath(id: string): string {
    return join(this.dir("layers"), `${hexOf(id)}.ok`);
  }

  /** Record the layer file's current (size, mtime, inode) as intact. */
  stampLayer(id: string): void {
    try {
      const st = statSync(this.layerPath(id));
      writeFileSync(this.stampPath(id), JSON.stringify([st.size, st.mtimeMs, st.ino]));
    } catch {
      // no stamp only means a full check next time
    }
  }

  /** The layer file is unchanged since it was stamped intact (a change of size, mtime or inode means: check it again). */
  layerStamped(id: string): boolean {
    try {
      const st = statSync(this.layerPath(id));
      const [size, mtimeMs, ino] = JSON.parse(readFileSync(this.stampPath(id), "utf8")) as number[];
      return size === st.size && mtimeMs === st.mtimeMs && ino === st.ino;
    } catch {
      return false;
    }
  }

  listLayerIds(): string[] {
    return readdirSync(this.dir("layers"))
      .filter((n) => n.endsWith(".layer"))
      .map((n) => ID_PREFIX + n.slice(0, -6));
  }

  removeLayer(id: string): void {
    rmSync(this.layerPath(id), { force: true });
    rmSync(this.stampPath(id), { force: true });
  }

  // --- records ---
  private recordPath(id: string): string {
    return join(this.dir("records"), `${hexOf(id)}.json`);
  }

  async writeRecord(rec: SnapshotRecord): Promise<void> {
    await writeFileAtomic(this.recordPath(rec.id), `${JSON.stringify(rec, null, 2)}\n`);
  }

  readRecord(id: string): SnapshotRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.recordPath(id), "utf8")) as SnapshotRecord;
    } catch {
      return undefined;
    }
  }

  removeRecord(id: string): void {
    rmSync(this.recordPath(id), { force: true });
  }

  listRecords(): SnapshotRecord[] {
    const out: SnapshotRecord[] = [];
    for (const n of readdirSync(this.dir("records"))) {
      if (!n.endsWith(".json")) continue;
      const rec = this.readRecord(ID_PREFIX + n.slice(0, -5));
      if (rec) out.push(rec);
    }
    return out.sort((a, b) => b.created.localeCompare(a.created));
  }

  // --- tags ---
  tags(): Map<string, string> {
    const out = new Map<string, string>();
    for (const n of readdirSync(this.dir("tags"))) {
      if (!n.endsWith(".json")) continue;
      const id = this.tagged(n.slice(0, -5));
      if (id !== undefined) out.set(n.slice(0, -5), id);
    }
    return out;
  }

  /** The id one name points at (one file read, not every tag's), or undefined. */
  tagged(name: string): string | undefined {
    try {
      const t = JSON.parse(readFileSync(join(this.dir("tags"), `${name}.json`), "utf8")) as { id?: unknown };
      return typeof t.id === "string" ? t.id : undefined;
    } catch {
      // none, or a tag being rewritten right now (the rename makes it whole again)
      return undefined;
    }
  }

  async setTag(name: string, id: string): Promise<void> {
    checkTagName(name);
    await writeFileAtomic(join(this.dir("tags"), `${name}.json`), `${JSON.stringify({ id, tagged: new Date().toISOString() })}\n`);
  }

  /**
   * Point `name` at `id`. When it pointed at another snapshot that no other name keeps, that snapshot is marked
   * retained (gc keeps it) unless `force`; the result says what happened so the caller can tell the user.
   */
  async nameSnapshot(name: string, id: string, opts: { force?: boolean } = {}): Promise<NameMove> {
    const tags = this.tags();
    const previous = tags.get(name);
    if (previous === id) return { name };
    await this.setTag(name, id);
    if (!previous) return { name };
    const stillNamed = [...tags].some(([n, t]) => n !== name && t === previous);
    const rec = this.readRecord(previous);
    if (!rec || stillNamed) return { name, previous, orphaned: false };
    if (opts.force) return { name, previous, orphaned: true };
    await this.writeRecord({ ...rec, retained: { name, since: new Date().toISOString() } });
    return { name, previous, orphaned: false, retained: true };
  }

  removeTag(name: string): void {
    rmSync(join(this.dir("tags"), `${name}.json`), { force: true });
  }

  /** A name, a full id (sha256:…), or a unique prefix (4+ hex digits) of one. */
  resolve(ref: string): SnapshotRecord {
    const tagged = this.tags().get(ref);
    if (tagged) {
      const rec = this.readRecord(tagged);
      if (!rec) throw usageError(`snapshot '${ref}' points at ${shortId(tagged)}, which is gone`, `rebuild it, or remove the name with 'paperclip-aos snapshot rm ${ref}'`, "snapshot_not_found");
      return rec;
    }
    const hex = ref.startsWith(ID_PREFIX) ? ref.slice(ID_PREFIX.length) : ref;
    if (/^[0-9a-f]{4,64}$/.test(hex)) {
      const matches = readdirSync(this.dir("records")).filter((n) => n.endsWith(".json") && n.startsWith(hex));
      if (matches.length > 1) throw usageError(`snapshot id prefix '${ref}' is ambiguous (${matches.length} snapshots)`, "give more digits", "snapshot_ambiguous");
      const rec = matches[0] ? this.readRecord(ID_PREFIX + matches[0].slice(0, -5)) : undefined;
      if (rec) return rec;
    }
    throw usageError(`no snapshot named or with id '${ref}'`, "list them with 'paperclip-aos snapshot ls', or build one with 'paperclip-aos snapshot build DIR --name NAME'", "snapshot_not_found");
  }

  // --- leases ---
  async acquireLease(purpose: Lease["purpose"], snapshot?: string, layers: string[] = []): Promise<LeaseHandle> {
    const path = join(this.dir("leases"), `${process.pid}-${Math.random().toString(36).slice(2)}.json`);
    const lease: Lease = { pid: process.pid, purpose, started: new Date().toISOString(), snapshot, layers: [...layers] };
    await writeFileAtomic(path, JSON.stringify(lease));
    return {
      async add(ids: string[]) {
        lease.layers.push(...ids);
        await writeFileAtomic(path, JSON.stringify(lease));
      },
      release() {
        rmSync(path, { force: true });
      },
    };
  }

  /** Leases of live processes; leases left by dead ones are removed. */
  liveLeases(): Lease[] {
    const out: Lease[] = [];
    const dir = this.dir("leases");
    for (const n of readdirSync(dir)) {
      const p = join(dir, n);
      if (!n.endsWith(".json")) continue;
      try {
        const l = JSON.parse(readFileSync(p, "utf8")) as Lease;
        if (pidAlive(l.pid)) out.push(l);
        else rmSync(p, { force: true });
      } catch {
        // being written right now (temp + rename): ignore this round
      }
    }
    return out;
  }
}

/** What naming a snapshot did to the snapshot the name pointed at before. */
export interface NameMove {
  name: string;
  /** The snapshot the name pointed at before, when it was another one. */
  previous?: string;
  /** The previous snapshot has no name now and is not retained: the next gc removes it. */
  orphaned?: boolean;
  /** The previous snapshot has no name now and is kept (SnapshotRecord.retained) until removed by id. */
  retained?: boolean;
}

/** The warning for a name that moved, or undefined when nothing needs saying. */
export function describeNameMove(m: NameMove): string | undefined {
  if (!m.previous || (!m.orphaned && !m.retained)) return undefined;
  const old = shortId(m.previous);
  return m.retained
    ? `the name '${m.name}' moved from snapshot ${old} to this one; ${old} is kept (remove it with 'paperclip-aos snapshot rm ${old}', or pass --force to move a name without keeping the old snapshot)`
    : `the name '${m.name}' moved from snapshot ${old} to this one; ${old} has no name now and the next 'paperclip-aos snapshot gc' removes it`;
}

export interface LeaseHandle {
  add(ids: string[]): Promise<void>;
  release(): void;
}

