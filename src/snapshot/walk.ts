/**
 * Walk a source directory into a sorted list of entries. Symlinks are recorded as links (their target text) and never
 * followed, wherever they point; sockets, FIFOs and devices are skipped with a warning; names come from readdir, so
 * no entry can name a path outside the directory. An entry the walk cannot stat (a name that is not UTF-8, which
 * readdir's text cannot name again; a path longer than the kernel takes) fails the build: leaving it out would make a
 * snapshot that silently lacks files. Only an entry removed while the walk runs is left out.
 */
import { isUtf8 } from "node:buffer";
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { runtimeError, usageError } from "../errors.ts";
import { joinRel } from "./format.ts";
import { PathFilter, type FilterOptions, type Inherited } from "./filter.ts";

export interface WalkEntry {
  rel: string;
  type: "f" | "d" | "l";
  mode: number;
  /** What the snapshot stores: st_size for a file, 0 for a directory or link. */
  size: number;
  target?: string;
  /** Stat fields for the rebuild cache (build.ts), flat: one object per entry, not two. The snapshot stores whole ms. */
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /** st_size whatever the type (a directory's or link's too). */
  statSize: number;
}

export interface WalkResult {
  entries: WalkEntry[];
  files: number;
  bytes: number;
  /** Sockets, FIFOs, devices: not stored. */
  special: string[];
  /** Secrets the mandatory-deny list names, left out. */
  sensitiveExcluded: { path: string; rule: string }[];
  /** Secrets kept because an --include named them. */
  sensitiveIncluded: { path: string; rule: string }[];
  /** Paths (files, links, directories with what is below them) left out by --exclude or .gitignore. */
  excluded: number;
}

function typeOf(st: Stats): WalkEntry["type"] | "special" {
  if (st.isSymbolicLink()) return "l";
  if (st.isDirectory()) return "d";
  if (st.isFile()) return "f";
  return "special";
}

function entryOf(rel: string, abs: string, st: Stats, type: WalkEntry["type"]): WalkEntry {
  const mtimeMs = st.mtimeMs;
  const size = st.size;
  // One shape for every entry (target always present), so the walk's and the fingerprints' loops stay monomorphic.
  return {
    rel,
    type,
    mode: st.mode & 0o7777,
    size: type === "f" ? size : 0,
    target: type === "l" ? readlinkSync(abs) : undefined,
    mtimeMs,
    ctimeMs: st.ctimeMs,
    ino: st.ino,
    statSize: size,
  };
}

/** Sort entries by path (the order of a layer's entries and of the layer groups, chunk.ts). */
export function sortEntries(entries: WalkEntry[]): WalkEntry[] {
  return entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

function readIgnoreTexts(abs: string, atRoot: boolean): string[] {
  const texts: string[] = [];
  for (const f of atRoot ? [".git/info/exclude", ".gitignore"] : [".gitignore"]) {
    try {
      const st = lstatSync(join(abs, f));
      if (st.isFile()) texts.push(readFileSync(join(abs, f), "utf8"));
    } catch {
      // no ignore file here
    }
  }
  return texts;
}

/** `name` (as readdir's text gave it) stands for a name in `dir` that is not UTF-8: the text lost bytes, so no lstat finds it. */
function notUtf8(dir: string, name: string): boolean {
  if (!name.includes("\uFFFD")) return false;
  try {
    return readdirSync(dir, { encoding: "buffer" }).some((b) => !isUtf8(b) && b.toString() === name);
  } catch {
    return false;
  }
}

export interface WalkOptions {
  /** false leaves the entries in the walk's order (readdir's, depth first), for a caller that may not need them sorted. */
  sort?: boolean;
  /** Called mid-walk for each regular file kept, with the bytes of the files kept so far (build.ts starts writing then). */
  onFile?: (entry: WalkEntry, bytes: number) => void;
  /**
   * Directories (real absolute paths) left out with all they hold, whatever the filter says: the tool's own state
   * and cache dirs when they are inside the tree (build.ts). They are not the user's files, they change while the
   * build writes into them, and a snapshot that held its own store would grow by itself at every build.
   */
  skipDirs?: ReadonlySet<string>;
}

export function walkTree(root: string, opts: FilterOptions, { sort = true, onFile, skipDirs }: WalkOptions = {}): WalkResult {
  const filter = new PathFilter(opts);
  const result: WalkResult = { entries: [], files: 0, bytes: 0, special: [], sensitiveExcluded: [], sensitiveIncluded: [], excluded: 0 };
  const rootStat = lstatSync(root);
  result.entries.push(entryOf("", root, rootStat, "d"));

  /** Returns whether anything below `rel` was kept (so an excluded directory is kept as a parent). */
  const visit = (rel: string, abs: string, parentRel: string | undefined, from: Inherited): boolean => {
    const excluded = Boolean(from.excluded);
    if (opts.respectGitignore && !excluded) filter.enterDir(rel, parentRel, readIgnoreTexts(abs, rel === ""));
    else filter.enterDir(rel, parentRel, []);
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch (e) {
      throw runtimeError(`cannot read directory ${abs}: ${(e as Error).message}`, "fix its permissions or --exclude it", "snapshot_source_unreadable");
    }
    let keptAny = false;
    for (const name of names) {
      const childRel = joinRel(rel, name);
      const childAbs = `${abs}/${name}`;
      let st: Stats;
      try {
        st = lstatSync(childAbs);
      } catch (e) {
        // Left out on purpose, by --exclude or .gitignore, whatever it is: no reason to look at it.
        if (!filter.verdict(childRel, false, from).keep && !filter.verdict(childRel, true, from).keep) continue;
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT" && !notUtf8(abs, name)) continue; // removed while we walk
        throw code === "ENOENT"
          ? usageError(`cannot snapshot ${childAbs}: its name is not valid UTF-8, which a snapshot cannot store`, "rename it, or leave it out with --exclude", "snapshot_source_bad_name")
          : runtimeError(`cannot read ${childAbs}: ${(e as Error).message}`, "leave it out with --exclude", "snapshot_source_unreadable");
      }
      const type = typeOf(st);
      if (type === "d" && skipDirs?.has(childAbs)) continue;
      if (type === "special") {
        if (!excluded) result.special.push(childRel);
        continue;
      }
      const v = filter.verdict(childRel, type === "d", from);
      if (v.keep) {
        if (v.sensitive) result.sensitiveIncluded.push({ path: childRel, rule: v.sensitive });
        const entry = entryOf(childRel, childAbs, st, type);
        result.entries.push(entry);
        keptAny = true;
        if (type === "f") {
          result.files++;
          result.bytes += entry.size;
          onFile?.(entry, result.bytes);
        }
        if (type === "d") visit(childRel, childAbs, rel, filter.inherit(v, from));
        continue;
      }
      if (v.why === "sensitive" && !excluded) result.sensitiveExcluded.push({ path: childRel, rule: v.sensitive! });
      else if (!excluded) result.excluded++;
      // An --include may still want something below an excluded directory.
      if (type === "d" && filter.hasIncludes) {
        const at = result.entries.length;
        if (visit(childRel, childAbs, rel, filter.inherit(v, from))) {
          result.entries.splice(at, 0, entryOf(childRel, childAbs, st, "d"));
          keptAny = true;
        }
      }
    }
    return keptAny;
  };
  visit("", root, undefined, {});
  if (sort) sortEntries(result.entries);
  return result;
}
