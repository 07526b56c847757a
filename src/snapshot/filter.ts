/**
 * Which paths of a source directory go into a snapshot.
 *
 * Globs (for --include / --exclude, and the .gitignore syntax): `*` any run of characters inside one path segment,
 * `?` one character, `[abc]`/`[!abc]` a class, `**` as a whole segment any number of segments. A pattern without a
 * '/' (other than a trailing one) matches a name at any depth (`*.log`, `node_modules`); one with a '/' is anchored
 * at the source directory (`build/out`, `/dist`). A trailing '/' matches directories only. A pattern that matches a
 * directory covers everything below it.
 *
 * Precedence: --exclude, .gitignore (with --respect-gitignore) and the capability mandatory-deny secrets (from
 * src/caps: .env*, keys, credentials) exclude; --include puts back what they excluded and never removes anything. A
 * secret comes back only when an --include *names* it: the pattern's last segment has no wildcard (`.env`,
 * `config/id_rsa`) or the pattern is the deny rule's own name (`.env*`, `.ssh/**`). `--include '**'` names nothing.
 */
// The list's own file, not caps' index (the compiler and its schemas: start-up every `snapshot build` would pay).
import { mandatorySecretNames } from "../caps/runtime-needs.ts";
import { baseName, normalizeRel, parentOf } from "./format.ts";

export interface Glob {
  source: string;
  re: RegExp;
  dirOnly: boolean;
  /** The last segment has no wildcard: the pattern names one file. */
  literalName: boolean;
}

const escapeRe = (s: string) => s.replace(/[.+^${}()|\\]/g, "\\$&");

function segmentToRe(seg: string): string {
  let out = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = seg.indexOf("]", i + 2);
      if (end === -1) {
        out += "\\[";
        continue;
      }
      let body = seg.slice(i + 1, end);
      if (body.startsWith("!")) body = `^${body.slice(1)}`;
      out += `[${body.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else if (c === "\\" && i + 1 < seg.length) {
      out += escapeRe(seg[++i]!);
    } else out += escapeRe(c);
  }
  return out;
}

/** Compile a glob relative to `base` (a directory of the tree, "" for the root). */
export function compileGlob(pattern: string, base = ""): Glob {
  let p = pattern;
  const dirOnly = p.endsWith("/");
  if (dirOnly) p = p.replace(/\/+$/, "");
  const anchored = p.includes("/");
  p = p.replace(/^\/+/, "");
  const segs = p.split("/").filter((s, i, all) => s !== "" && s !== "." && !(s === "**" && all[i - 1] === "**"));
  let body = "";
  segs.forEach((seg, i) => {
    const first = i === 0;
    const last = i === segs.length - 1;
    if (seg === "**") body += last ? (first ? ".*" : "(?:/.*)?") : first ? "(?:.*/)?" : "(?:/.*)?/";
    else body += (first || segs[i - 1] === "**" ? "" : "/") + segmentToRe(seg);
  });
  const prefix = base ? `${escapeRe(base)}/` : "";
  const re = new RegExp(`^${prefix}${anchored ? "" : "(?:.*/)?"}${body}$`);
  const lastSeg = segs[segs.length - 1] ?? "";
  return { source: pattern, re, dirOnly, literalName: lastSeg !== "**" && !/[*?[]/.test(lastSeg) };
}

export function globMatches(g: Glob, rel: string, isDir: boolean): boolean {
  if (g.dirOnly && !isDir) return false;
  return g.re.test(rel);
}

/** One .gitignore file's rules, in order (the last matching rule wins). */
interface IgnoreRule {
  glob: Glob;
  negate: boolean;
}

export function parseGitignore(text: string, base: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (let line of text.split(/\r?\n/)) {
    if (line === "" || line.startsWith("#")) continue;
    line = line.replace(/(?<!\\)\s+$/, "");
    let negate = false;
    if (line.startsWith("!")) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith("\\!") || line.startsWith("\\#")) line = line.slice(1);
    if (line === "") continue;
    rules.push({ glob: compileGlob(line, base), negate });
  }
  return rules;
}

export interface FilterOptions {
  include?: string[];
  exclude?: string[];
  respectGitignore?: boolean;
}

export type Verdict =
  | { keep: true; sensitive?: string; forced?: boolean }
  | { keep: false; why: "exclude" | "gitignore" | "sensitive"; sensitive?: string };

export interface SensitiveRule {
  name: string;
  glob: Glob;
}

/** The capability mandatory-deny secrets (read+write protected), as globs over snapshot-relative paths. */
function sensitiveRules(): SensitiveRule[] {
  return mandatorySecretNames().map((name) => ({ name, glob: compileGlob(`**/${name}`) }));
}

export class PathFilter {
  private readonly includes: Glob[];
  private readonly excludes: Glob[];
  private readonly sensitive = sensitiveRules();
  /** All secret globs in one expression: one test per path in the common case that nothing matches. */
  private readonly anySensitive = anyOf(this.sensitive.map((s) => s.glob));
  /** .gitignore rules that apply below each directory (inherited), keyed by directory. */
  private readonly ignoreRules = new Map<string, IgnoreRule[]>();

  constructor(readonly opts: FilterOptions) {
    this.includes = (opts.include ?? []).map((p) => compileGlob(p));
    this.excludes = (opts.exclude ?? []).map((p) => compileGlob(p));
  }

  get hasIncludes(): boolean {
    return this.includes.length > 0;
  }

  /** Register the .gitignore (and, at the root, .git/info/exclude) text of a directory before walking into it. */
  enterDir(dir: string, parent: string | undefined, texts: string[]): void {
    const inherited = parent === undefined ? [] : (this.ignoreRules.get(parent) ?? []);
    const own = texts.flatMap((t) => parseGitignore(t, dir));
    this.ignoreRules.set(dir, own.length ? [...inherited, ...own] : inherited);
  }

  private gitignored(rel: string, isDir: boolean): boolean {
    if (!this.opts.respectGitignore) return false;
    if (baseName(rel) === ".git") return true;
    const rules = this.ignoreRules.get(parentOf(rel)) ?? [];
    let ignored = false;
    for (const r of rules) if (globMatches(r.glob, rel, isDir)) ignored = !r.negate;
    return ignored;
  }

  private sensitiveName(rel: string, isDir: boolean): string | undefined {
    // Every secret pattern is `**/` plus at most three segments: testing the path's last three segments is enough
    // and keeps the big alternation off long paths.
    if (!this.anySensitive.test(lastSegments(rel, 3))) return undefined;
    return this.sensitive.find((s) => globMatches(s.glob, rel, isDir))?.name;
  }

  /** Does an --include put this path back, and does it name it (for secrets)? */
  private included(rel: string, isDir: boolean, sensitive?: string): boolean {
    return this.includes.some((g) => {
      if (!globMatches(g, rel, isDir)) return false;
      if (!sensitive) return true;
      const src = normalizeRel(g.source);
      return g.literalName || src === sensitive || src.endsWith(`/${sensitive}`);
    });
  }

  /** Decide for one path, given what its ancestors' verdicts pass down (see `Inherited`). */
  verdict(rel: string, isDir: boolean, from: Inherited = {}): Verdict {
    const sensitive = this.sensitiveName(rel, isDir) ?? from.secret;
    if (sensitive) {
      if (from.namedSecret === sensitive || this.included(rel, isDir, sensitive)) return { keep: true, sensitive, forced: true };
      return { keep: false, why: "sensitive", sensitive };
    }
    if (from.forced) return { keep: true, forced: true };
    const excluded = from.excluded
      ? "exclude"
      : this.excludes.some((g) => globMatches(g, rel, isDir))
        ? "exclude"
        : this.gitignored(rel, isDir)
          ? "gitignore"
          : undefined;
    if (!excluded) return { keep: true };
    if (this.included(rel, isDir)) return { keep: true, forced: true };
    return { keep: false, why: excluded };
  }

  /** What a directory's verdict passes down to its entries. */
  inherit(v: Verdict, from: Inherited): Inherited {
    if (v.keep) return { forced: v.forced, secret: v.sensitive ?? from.secret, namedSecret: v.sensitive ?? from.namedSecret };
    return { excluded: true, secret: v.why === "sensitive" ? v.sensitive : from.secret, namedSecret: from.namedSecret };
  }
}

/**
 * A directory's verdict covers what is below it: an excluded directory excludes its entries (only an --include
 * brings one back), a directory put back by --include puts back everything below it, and a secret directory
 * (`.ssh/**`) makes everything below it a secret of the same rule, kept only when an --include named that rule or path.
 */
export interface Inherited {
  excluded?: boolean;
  forced?: boolean;
  secret?: string;
  namedSecret?: string;
}

/**
 * One expression for globs that all match at any depth (`**\/X`, compiled as `^(?:.*\/)?X$`), with the any-depth
 * prefix written once: `^(?:.*\/)?(?:X1|X2|...)$` matches what the alternation of the globs matches, and backtracks
 * over the path's slashes once instead of once per glob (it was most of a cached rebuild's time in this filter).
 */
function anyOf(globs: Glob[]): RegExp {
  const prefix = "^(?:.*\\/)?";
  const bodies = globs.map((g) => {
    const src = g.re.source;
    if (!src.startsWith(prefix) || !src.endsWith("$")) throw new Error(`secret glob ${g.source} does not match at any depth`);
    return src.slice(prefix.length, -1);
  });
  return new RegExp(`${prefix}(?:${bodies.join("|")})$`);
}

function lastSegments(rel: string, n: number): string {
  let i = rel.length;
  for (let k = 0; k < n; k++) {
    i = rel.lastIndexOf("/", i - 1);
    if (i <= 0) return rel;
  }
  return rel.slice(i + 1);
}
