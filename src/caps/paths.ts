/**
 * Guest paths and path patterns for fs.read / fs.write.
 *
 * Grammar of a rule path (after normalisation it is always an absolute guest path):
 * - `/workspace/src`, `/tmp/**`: absolute guest paths. The workspace is mounted at /workspace.
 * - `src/**`, `./docs`, `.env`: relative paths are relative to /workspace and must stay inside it.
 * - `/home/me/proj/src`: a host path under the mounted workspace directory (when it is known) becomes /workspace/src.
 * - `.` and `..` segments are resolved lexically; symlinks are not (the agentOS kernel checks the resolved target of an
 *   existing path, so a link inside the workspace that points outside is checked against where it points).
 * - Globs: `*` is any run of characters inside one path segment (dotfiles included), `?` is one character inside a
 *   segment, `**` as a whole segment is zero or more segments. `**` inside a segment (`a**b`) is an error.
 * - A path without a glob names itself and everything below it (Deno's rule): `/workspace/src` = `/workspace/src/**`.
 *   `dir/**` also matches `dir` itself.
 * Matching is exact on code points: no case folding, no Unicode normalisation (the VM's filesystem is case-sensitive).
 *
 * Specificity (larger wins; compared left to right):
 *   1. literal depth: the number of leading segments without a wildcard;
 *   2. segment count: the number of segments, not counting `**`;
 *   3. literal length: the number of non-wildcard characters in those segments.
 * A path without a glob counts as `path/**`. So `/workspace/src/a.ts` [3,3,17] beats `/workspace/src/*.ts` [2,3,15],
 * which beats `/workspace/src` [2,2,12], which beats `/workspace/**` [1,1,9] and `**` relative forms below it.
 */
import { GUEST_HOME, GUEST_WORKSPACE, pathSegments } from "../guest.ts";
import { looksLikeUrl, type Parsed } from "./vocabulary.ts";

export { GUEST_WORKSPACE, GUEST_HOME };

/** Top-level directories of the VM's filesystem (`ls /` in agentOS 0.2.21); a rule outside these names nothing the agent can see. */
const GUEST_ROOTS = [
  "workspace", "tmp", "home", "opt", "usr", "bin", "sbin", "lib", "lib64", "etc", "dev", "proc", "sys", "var", "run", "root", "mnt", "srv",
  "boot", "media",
];

export interface PathContext {
  /** The host directory mounted at /workspace; host paths under it are translated to guest paths. */
  workspaceHostDir?: string;
}

export interface PathPattern {
  /** Normalised absolute guest pattern, e.g. `/workspace/src/**`. */
  pattern: string;
  segments: string[];
  /** Has `*` or `?`; without a glob the pattern also names everything below it. */
  glob: boolean;
  /** This path only, nothing below it (runtime rules only; the policy grammar has no way to say it). */
  self?: boolean;
  specificity: number[];
}

const hasGlob = (s: string) => s.includes("*") || s.includes("?");

/** Split an absolute path into segments, resolving `.` and `..` (`/..` stays `/`). */

const join = (segments: string[]) => `/${segments.join("/")}`;

function isUnder(segments: string[], base: string[]): boolean {
  return segments.length >= base.length && base.every((s, i) => segments[i] === s);
}

const WORKSPACE_SEGS = [GUEST_WORKSPACE.slice(1)];

/**
 * Turn what a person wrote into absolute guest path segments: relative → under /workspace, host path under the
 * mounted workspace → /workspace/..., `..` resolved. Relative or host paths that climb out of the workspace are errors.
 */
function toGuestSegments(raw: string, ctx: PathContext): Parsed<string[]> {
  const notes: string[] = [];
  if (raw === "") return { ok: false, message: "empty path", hint: "write a guest path such as /workspace/src or a path relative to /workspace" };
  if (raw.includes("\0")) return { ok: false, message: "path contains a NUL character" };
  if (raw === "~" || raw.startsWith("~/")) {
    return {
      ok: false,
      message: `'~' is ambiguous (the host's home or the VM's ${GUEST_HOME}?)`,
      hint: `write ${GUEST_HOME}${raw.slice(1)} for the VM's home, or a path under the workspace`,
    };
  }
  if (looksLikeUrl(raw)) return { ok: false, message: "a URL is not a path", hint: "write a guest path such as /workspace/src" };
  const globAt = raw.split("/").findIndex(hasGlob);
  if (globAt !== -1 && raw.split("/").slice(globAt + 1).includes("..")) {
    return { ok: false, message: "'..' after a wildcard cannot be resolved", hint: "resolve the path yourself and put the wildcard last" };
  }
  if (!raw.startsWith("/")) {
    const segs = pathSegments(`${GUEST_WORKSPACE}/${raw}`);
    if (!isUnder(segs, WORKSPACE_SEGS)) {
      return {
        ok: false,
        message: `relative path '${raw}' climbs out of ${GUEST_WORKSPACE} (it would be ${join(segs)})`,
        hint: `relative paths are relative to ${GUEST_WORKSPACE}; write the absolute guest path if you mean ${join(segs)}`,
      };
    }
    return { ok: true, value: segs, notes };
  }
  const segs = pathSegments(raw);
  if (raw.split("/").includes("..")) notes.push(`'${raw}' contains '..'; it means ${join(segs)}`);
  if (isUnder(segs, WORKSPACE_SEGS)) return { ok: true, value: segs, notes };
  const host = ctx.workspaceHostDir ? pathSegments(ctx.workspaceHostDir) : undefined;
  if (host && host.length > 0) {
    const rawSegs = raw.split("/").filter((s) => s !== "" && s !== ".");
    const startsInHost = host.every((s, i) => rawSegs[i] === s);
    if (isUnder(segs, host)) {
      const guest = [...WORKSPACE_SEGS, ...segs.slice(host.length)];
      notes.push(`host path '${raw}' is ${join(guest)} in the VM`);
      return { ok: true, value: guest, notes };
    }
    if (startsInHost) {
      return {
        ok: false,
        message: `host path '${raw}' climbs out of the mounted workspace ${join(host)} (it is ${join(segs)})`,
        hint: "only the workspace directory is visible in the VM; name a path inside it",
      };
    }
  }
  return { ok: true, value: segs, notes };
}

function specificityOf(segments: string[], glob: boolean): number[] {
  let literal = 0;
  while (literal < segments.length && !hasGlob(segments[literal]!)) literal++;
  const counted = segments.filter((s) => s !== "**");
  const chars = counted.reduce((n, s) => n + s.replace(/[*?]/g, "").length, 0);
  return glob ? [literal, counted.length, chars] : [segments.length, segments.length, chars];
}

/**
 * An unclosed or stray bracket or brace: `[abc` or `a{b,c` reads as a character class or alternatives that this grammar
 * does not have (and that the kernel might read differently), so it is refused instead of matching literally.
 */
function unbalancedBracket(seg: string): string | undefined {
  for (const [open, close] of [["[", "]"], ["{", "}"]] as const) {
    let depth = 0;
    for (const ch of seg) {
      if (ch === open) depth++;
      else if (ch === close && --depth < 0) return `'${close}' without '${open}'`;
    }
    if (depth > 0) return `'${open}' is never closed`;
  }
  return undefined;
}

/** Parse a rule path (see the grammar above). */
export function parsePathPattern(raw: string, ctx: PathContext = {}): Parsed<PathPattern> {
  const r = toGuestSegments(raw, ctx);
  if (!r.ok) return r;
  const segments: string[] = [];
  for (const seg of r.value) {
    const unbalanced = unbalancedBracket(seg);
    if (unbalanced) {
      return {
        ok: false,
        message: `malformed pattern '${raw}': ${unbalanced}`,
        hint: "the wildcards are *, ? and **; brackets and braces match themselves, so close them or leave them out",
      };
    }
    if (seg.includes("**") && seg !== "**") {
      return { ok: false, message: `'**' must be a whole path segment (got '${seg}')`, hint: "write a/**/b or a/*b" };
    }
    if (seg === "**" && segments[segments.length - 1] === "**") continue;
    segments.push(seg);
  }
  if (segments.filter((s) => s === "**").length > 3) {
    return { ok: false, message: "more than three '**' segments in one path", hint: "split it into several rules" };
  }
  const glob = segments.some(hasGlob);
  const pattern = join(segments);
  if (segments.length > 0 && !GUEST_ROOTS.includes(segments[0]!) && !hasGlob(segments[0]!)) {
    r.notes.push(
      `/${segments[0]} is not a directory in the VM (the workspace is ${GUEST_WORKSPACE})` +
        (ctx.workspaceHostDir ? `; host paths are only visible under ${ctx.workspaceHostDir}` : "; a host path is only visible if it is under the mounted workspace"),
    );
  }
  return { ok: true, value: { pattern, segments, glob, specificity: specificityOf(segments, glob) }, notes: r.notes };
}

/** Resolve a path being asked about (no globs) to a normalised absolute guest path. */
export function resolveTargetPath(raw: string, ctx: PathContext = {}): Parsed<string> {
  if (hasGlob(raw)) return { ok: false, message: `'${raw}' is a pattern, not a path`, hint: "ask about one concrete path" };
  if (raw !== "" && !raw.startsWith("/")) {
    // A relative target may name anything; it is simply resolved against /workspace.
    return { ok: true, value: join(pathSegments(`${GUEST_WORKSPACE}/${raw}`)), notes: [] };
  }
  const r = toGuestSegments(raw, ctx);
  if (!r.ok) {
    // A host path that climbs out of the workspace is not visible in the VM; evaluate it as the guest path it spells.
    if (raw.startsWith("/")) return { ok: true, value: join(pathSegments(raw)), notes: [r.message] };
    return r;
  }
  return { ok: true, value: join(r.value), notes: r.notes };
}

const segRegexCache = new Map<string, RegExp>();
function segmentRegex(seg: string): RegExp {
  let re = segRegexCache.get(seg);
  if (!re) {
    const body = seg.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
    re = new RegExp(`^${body}$`, "u");
    if (segRegexCache.size > 10_000) segRegexCache.clear();
    segRegexCache.set(seg, re);
  }
  return re;
}

function matchSegments(p: string[], pi: number, t: string[], ti: number): boolean {
  if (pi === p.length) return ti === t.length;
  const seg = p[pi]!;
  if (seg === "**") {
    for (let k = ti; k <= t.length; k++) if (matchSegments(p, pi + 1, t, k)) return true;
    return false;
  }
  if (ti === t.length) return false;
  const ok = hasGlob(seg) ? segmentRegex(seg).test(t[ti]!) : seg === t[ti];
  return ok && matchSegments(p, pi + 1, t, ti + 1);
}

/** Does the pattern cover this normalised absolute guest path? */
export function pathMatches(p: PathPattern, target: string): boolean {
  if (p.self) return target === p.pattern;
  const t = target === "/" ? [] : target.slice(1).split("/");
  if (!p.glob) return isUnder(t, p.segments);
  return matchSegments(p.segments, 0, t, 0);
}

/**
 * The agentOS globs that match exactly what the pattern matches. agentOS's `**` is "any characters, `/` included",
 * and `a/**` does not match `a`, so every `**` segment becomes two variants: kept (one or more segments) and
 * dropped (zero segments). A path without a glob becomes itself plus `path/**`.
 */
export function toAgentOsGlobs(p: PathPattern): string[] {
  if (p.self) return [p.pattern];
  if (!p.glob) return p.segments.length === 0 ? ["/**"] : [p.pattern, `${p.pattern}/**`];
  let variants: string[][] = [[]];
  for (const seg of p.segments) {
    variants = seg === "**" ? variants.flatMap((v) => [[...v, seg], v]) : variants.map((v) => [...v, seg]);
  }
  return [...new Set(variants.map(join))];
}

/** True if some path under `base` (or base itself) could match the pattern: used to tell if the workspace needs write access. */
export function patternTouches(p: PathPattern, base: string): boolean {
  const b = base === "/" ? [] : base.slice(1).split("/");
  const n = Math.min(b.length, p.segments.length);
  for (let i = 0; i < n; i++) {
    const seg = p.segments[i]!;
    if (seg === "**") return true;
    if (hasGlob(seg) ? !segmentRegex(seg).test(b[i]!) : seg !== b[i]) return false;
  }
  return true;
}
