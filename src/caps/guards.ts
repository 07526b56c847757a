/**
 * Guards: what keeps a deny from being sidestepped by renaming, moving, deleting or linking.
 *
 * agentOS 0.2.21 checks an fs operation against the rules of the path named in the call only (measured; docs/caps.md):
 * `rename` is checked on the source and on the destination, `rm` on the path removed (unlink and rmdir), a hard
 * link as `write` on the source and on the new name, `symlink` on the new name, `create_dir` on the new directory.
 * A rename of a directory is not checked against the rules of what is below it. So `mv .git g; edit g/hooks/x;
 * mv g .git` passed a deny on `.git/hooks/**`, and `mv secret s2; cat s2/k` passed a deny on `secret`.
 *
 * The property: no rename, move, delete or link changes which rule decides for any path, existing or created. A
 * rename of X to Y moves every X/t to Y/t. For a deny pattern P = p1/.../pn that can change only if
 *   (a) X or Y is an ancestor of what P names, matched by a proper prefix p1..pk that does not end in `**`: such a
 *       prefix is guarded itself (rename, delete, write, truncate, chmod, symlink: everything but mkdir, which makes
 *       an empty directory whose contents P still protects). `write` on the name also stops a *file* taking it, such
 *       as a `.git` file saying `gitdir: elsewhere`; `symlink` stops a link by that name;
 *   (b) a prefix ends in `**` (p1..pk-1 then any depth): a move between two places below p1..pk-1 keeps t and
 *       so the match, but a move out of it or into it does not, so every path below p1..pk-1 is guarded against
 *       rename. Not needed when p1..pk-1 is `/` (nothing is outside) or a mount point: a rename never crosses a
 *       mount (EXDEV; `mv` then copies, and the copy reads and writes through the rules). The mandatory patterns are
 *       `/**\/NAME` or `/workspace/**\/NAME` for that reason (runtime-needs.ts).
 * And the path P names itself: a write deny already denies every write operation there, rename and link included;
 * a read deny implies a write deny of the same pattern (evaluate.ts: what the agent may not read it may not move
 * out or link to another name, and agentOS checks a link as a write).
 *
 * Guards are absolute: checked before the rules (evaluate) and emitted after them (compile); nothing lifts them.
 * Symlinks need nothing more: agentOS resolves them and checks the target, so a link to a denied file reads as that
 * file (the e2e tests try it).
 */
import { GUEST_WORKSPACE } from "../guest.ts";
import { parsePathPattern, pathMatches, type PathPattern } from "./paths.ts";
import type { FsOperation } from "./vocabulary.ts";

/** Everything that changes or replaces a name, but mkdir. */
export const ANCESTOR_OPS = ["write", "rm", "rename", "symlink", "truncate", "chmod"] as const satisfies readonly FsOperation[];
export const BOUNDARY_OPS = ["rename"] as const satisfies readonly FsOperation[];
export const GIT_DIR_OPS = ["symlink", "rename"] as const satisfies readonly FsOperation[];

/** Mount points: a rename cannot cross them, so a pattern below one cannot be left by moving. */
const MOUNT_ROOTS = [[], GUEST_WORKSPACE.slice(1).split("/")];

export interface Guard {
  /** The guarded path or pattern (self-only when literal: the ancestor itself, not what is below it). */
  pattern: PathPattern;
  ops: readonly FsOperation[];
  kind: "ancestor" | "boundary" | "git-dir";
  /** The deny it protects, as a normalised pattern. */
  protects: string;
}

const hasGlob = (s: string) => s.includes("*") || s.includes("?");
const isMountRoot = (segs: string[]) => MOUNT_ROOTS.some((m) => m.length === segs.length && m.every((s, i) => s === segs[i]));

function pattern(segments: string[], self: boolean): PathPattern {
  const r = parsePathPattern(`/${segments.join("/")}`);
  if (!r.ok) throw new Error(`guard pattern /${segments.join("/")}: ${r.message}`);
  return self && !r.value.glob ? { ...r.value, self: true } : r.value;
}

/** The guards one deny pattern needs (see the property above). */
export function guardsFor(p: PathPattern): Guard[] {
  const out: Guard[] = [];
  const segs = p.segments;
  for (let k = 1; k < segs.length; k++) {
    const prefix = segs.slice(0, k);
    const last = prefix[k - 1]!;
    if (last === "**") {
      const base = prefix.slice(0, -1);
      if (isMountRoot(base)) continue;
      out.push({ pattern: pattern(prefix, false), ops: BOUNDARY_OPS, kind: "boundary", protects: p.pattern });
      continue;
    }
    // `dir/**` already names `dir` itself with every write operation.
    if (k === segs.length - 1 && segs[k] === "**") continue;
    if (isMountRoot(prefix)) continue;
    out.push({ pattern: pattern(prefix, !prefix.some(hasGlob)), ops: ANCESTOR_OPS, kind: "ancestor", protects: p.pattern });
  }
  return out;
}

/**
 * No link in a git dir: inside every `.git`, no symlink may be made and nothing may be renamed (so none is moved in).
 * The host's git reads the files there (packed-refs, shallow, info/grafts, index, HEAD, refs) with the host's rights,
 * follows a link to any workspace file, and quotes the first line it cannot parse in its error: a guest-made
 * `.git/packed-refs -> ../.env` made git.status answer `unexpected line in .git/packed-refs: TOKEN=...` (measured,
 * git 2.39), a file the agent may not read. Nothing in the VM runs git, so nothing there needs either operation; a
 * hard link is checked as a write of the file it names (its own deny refuses it). Emitted with every policy.
 */
export const GIT_DIR_GUARD: Guard = { pattern: pattern(["**", ".git", "**"], false), ops: GIT_DIR_OPS, kind: "git-dir", protects: "/**/.git" };

/** The guards of many deny patterns, one per guarded pattern and kind. */
export function guardsOf(denies: PathPattern[]): Guard[] {
  const seen = new Map<string, Guard>();
  for (const d of denies) {
    for (const g of guardsFor(d)) {
      const key = `${g.kind} ${g.pattern.pattern} ${g.pattern.self ? "self" : ""}`;
      if (!seen.has(key)) seen.set(key, g);
    }
  }
  return [...seen.values()];
}

/** The first guard that denies `op` on `path`. */
export function guardFor(guards: Guard[], path: string, op: string): Guard | undefined {
  return guards.find((g) => (g.ops as readonly string[]).includes(op) && pathMatches(g.pattern, path));
}
