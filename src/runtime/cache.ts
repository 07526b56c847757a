/**
 * The extracted runtime under `<cache>/rt/`: the compiled binary writes its sidecar and software packages there under
 * content-hashed names (embedded.ts), ~360 MB per version, and a new version adds the files that changed. Each binary
 * records which files are its own in `rt/.versions/<id>.json` (with when it last ran), so `cache ls` can say what
 * belongs to which version and `cache clean` can remove what no current binary needs. A file a live process has open
 * or runs (a sidecar of a run in progress) is never removed, nor any other file of its version.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../paths.ts";
import { writeFileAtomic } from "../fsutil.ts";
import { buildInfo } from "../version.ts";
import { allPids, pidAlive } from "./proc.ts";

const VERSIONS = ".versions";

export interface VersionRecord {
  id: string;
  version: string;
  commit: string;
  /** Names of the files in rt/ this binary extracts (each with its `.ok` stamp). */
  files: string[];
  lastUsed: string;
}

export interface CacheVersion extends VersionRecord {
  current: boolean;
  /** A live process uses one of its files (a run in progress). */
  inUse: boolean;
  /** Bytes of its files that are present (shared files count for each version that has them). */
  bytes: number;
  /** Of its files, those present. */
  present: number;
}

export interface CacheReport {
  dir: string;
  /** The running binary's version id; null when run from source (the runtime then comes from node_modules). */
  current: string | null;
  versions: CacheVersion[];
  /** Files in rt/ no recorded version names (extracted by a binary older than the records, or left by a crash). */
  unrecorded: { files: string[]; bytes: number };
  totalBytes: number;
  /** What `cache clean` would free now. */
  reclaimableBytes: number;
}

export interface CleanResult {
  dir: string;
  removed: string[];
  freedBytes: number;
  /** Files kept because a live process uses their version. */
  keptInUse: string[];
  dryRun: boolean;
}

export function runtimeCacheDir(): string {
  return join(cacheDir(), "rt");
}

/** The id of a set of files: the same files are the same version, whatever binary extracted them. */
export function versionId(files: string[]): string {
  return new Bun.CryptoHasher("sha256").update([...files].sort().join("\n")).digest("hex").slice(0, 12);
}

/** Called by the embedded provider after each resolve: this binary's files, and that it ran now. */
export async function recordVersion(files: string[], dir = runtimeCacheDir()): Promise<void> {
  const info = buildInfo();
  const rec: VersionRecord = { id: versionId(files), version: info.version, commit: info.commit, files: [...files].sort(), lastUsed: new Date().toISOString() };
  mkdirSync(join(dir, VERSIONS), { recursive: true });
  await writeFileAtomic(join(dir, VERSIONS, `${rec.id}.json`), `${JSON.stringify(rec)}\n`);
}

function readVersions(dir: string): VersionRecord[] {
  const vdir = join(dir, VERSIONS);
  if (!existsSync(vdir)) return [];
  const out: VersionRecord[] = [];
  for (const n of readdirSync(vdir)) {
    if (!n.endsWith(".json")) continue;
    try {
      out.push(JSON.parse(readFileSync(join(vdir, n), "utf8")) as VersionRecord);
    } catch {
      // being rewritten (temp + rename): the next look sees it
    }
  }
  return out;
}

/** Bytes under a path (a file, or a directory some versions extract), not following links. */
function sizeOf(path: string): number {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of readdirSync(path)) n += sizeOf(join(path, e));
  return n;
}

/** The base name an entry belongs to: `x.ok` is x's stamp, `x.<pid>.<time>.tmp` an extraction of x. */
function baseOf(entry: string): string {
  if (entry.endsWith(".ok")) return entry.slice(0, -3);
  const tmp = /^(.*)\.(\d+)\.\d+\.tmp$/.exec(entry);
  return tmp ? tmp[1]! : entry;
}

/** Entries of rt/ (not the version records), grouped by the file they belong to. */
function entriesByBase(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir)) {
    if (e === VERSIONS) continue;
    const b = baseOf(e);
    out.set(b, [...(out.get(b) ?? []), e]);
  }
  return out;
}

/** Names in rt/ that a live process runs or has open (the sidecar of a run, the packages it reads), and extractions in progress. */
function namesInUse(dir: string): Set<string> {
  const used = new Set<string>();
  const prefix = `${dir}/`;
  const note = (target: string) => {
    if (target.startsWith(prefix)) used.add(baseOf(target.slice(prefix.length).split("/")[0]!.replace(/ \(deleted\)$/, "")));
  };
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    try {
      note(readlinkSync(`/proc/${pid}/exe`));
    } catch {
      // gone, or not ours to read
    }
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          note(readlinkSync(`/proc/${pid}/fd/${fd}`));
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // gone, or not ours to read
    }
  }
  for (const e of existsSync(dir) ? readdirSync(dir) : []) {
    const tmp = /\.(\d+)\.\d+\.tmp$/.exec(e);
    if (tmp && pidAlive(Number(tmp[1]))) used.add(baseOf(e));
  }
  return used;
}

interface Plan {
  report: CacheReport;
  /** Base names clean would remove (without --all / with --all), and those it keeps for a live process. */
  removable: { others: string[]; all: string[]; inUse: string[] };
  groups: Map<string, string[]>;
}

function plan(currentFiles: string[] | null, dir: string): Plan {
  const groups = entriesByBase(dir);
  const bytesOf = new Map([...groups].map(([b, es]) => [b, es.reduce((n, e) => n + sizeOf(join(dir, e)), 0)]));
  const inUseNames = namesInUse(dir);
  const current = currentFiles ? versionId(currentFiles) : null;
  const records = readVersions(dir);
  if (current && !records.some((r) => r.id === current)) {
    const info = buildInfo();
    records.push({ id: current, version: info.version, commit: info.commit, files: [...currentFiles!].sort(), lastUsed: "" });
  }
  // A version is in use when a live process uses any of its files: all of them stay.
  const versions: CacheVersion[] = records
    .map((r) => ({
      ...r,
      current: r.id === current,
      inUse: r.files.some((f) => inUseNames.has(f)),
      bytes: r.files.reduce((n, f) => n + (bytesOf.get(f) ?? 0), 0),
      present: r.files.filter((f) => groups.has(f)).length,
    }))
    .filter((v) => v.present > 0 || v.current)
    .sort((a, b) => Number(b.current) - Number(a.current) || b.lastUsed.localeCompare(a.lastUsed));
  const recorded = new Set(records.flatMap((r) => r.files));
  const protectedNames = new Set([...inUseNames, ...versions.filter((v) => v.inUse).flatMap((v) => v.files)]);
  const currentNames = new Set(currentFiles ?? []);
  const unrecordedFiles = [...groups.keys()].filter((b) => !recorded.has(b)).sort();
  const all = [...groups.keys()].filter((b) => !protectedNames.has(b)).sort();
  const others = all.filter((b) => !currentNames.has(b));
  const sum = (names: string[]) => names.reduce((n, b) => n + (bytesOf.get(b) ?? 0), 0);
  return {
    report: {
      dir,
      current,
      versions,
      unrecorded: { files: unrecordedFiles, bytes: sum(unrecordedFiles) },
      totalBytes: sum([...groups.keys()]),
      reclaimableBytes: sum(others),
    },
    removable: { others, all, inUse: [...groups.keys()].filter((b) => protectedNames.has(b)).sort() },
    groups,
  };
}

/** What is in the runtime cache. `currentFiles`: the running binary's files (null from source). */
export function listRuntimeCache(currentFiles: string[] | null, dir = runtimeCacheDir()): CacheReport {
  return plan(currentFiles, dir).report;
}

/**
 * Remove every file the running binary does not use (with `all`, its own too), except what a live process uses.
 * Version records whose files are all gone are removed with them.
 */
export function cleanRuntimeCache(currentFiles: string[] | null, opts: { all?: boolean; dryRun?: boolean } = {}, dir = runtimeCacheDir()): CleanResult {
  const p = plan(currentFiles, dir);
  const names = opts.all ? p.removable.all : p.removable.others;
  let freed = 0;
  for (const b of names) {
    for (const e of p.groups.get(b) ?? []) {
      freed += sizeOf(join(dir, e));
      if (!opts.dryRun) rmSync(join(dir, e), { recursive: true, force: true });
    }
  }
  if (!opts.dryRun) {
    const left = entriesByBase(dir);
    for (const r of readVersions(dir)) if (!r.files.some((f) => left.has(f))) rmSync(join(dir, VERSIONS, `${r.id}.json`), { force: true });
  }
  return { dir, removed: names, freedBytes: freed, keptInUse: p.removable.inUse, dryRun: Boolean(opts.dryRun) };
}
