import { constants, realpathSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { isAbsolute, join, posix, relative, sep } from "node:path";
import * as v from "valibot";
import { ToolInputError, toolError } from "./errors.ts";
import { GUEST_WORKSPACE } from "../guest.ts";


/**
 * The path with every link resolved, or null when it does not resolve. Synchronously: node:fs is loaded anyway, and
 * the first async fs call would start Bun's thread pool (~0.4 ms of a `tool invoke`).
 */
export function realpathOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** True when `p` is `root` or below it (both absolute, already resolved). */
export function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * A path an agent or a person gave, as a workspace-relative path: relative paths, or guest paths under /workspace
 * (what the agent sees). Any other absolute path and any `..` that climbs out is refused before touching the disk.
 */
export function workspaceRelative(input: string, field = "path"): string {
  if (input.includes("\0")) throw new ToolInputError(`${field} contains a NUL byte`, field);
  let p = input.replaceAll("\\", "/");
  if (p === GUEST_WORKSPACE || p.startsWith(`${GUEST_WORKSPACE}/`)) p = p.slice(GUEST_WORKSPACE.length).replace(/^\/+/, "");
  else if (p.startsWith("/") || /^[A-Za-z]:/.test(p)) {
    throw new ToolInputError(
      `${field} '${input}' is an absolute path outside the workspace`,
      field,
      "give a path relative to the workspace, or under /workspace",
    );
  }
  const norm = posix.normalize(p === "" ? "." : p);
  if (norm === ".." || norm.startsWith("../")) {
    throw new ToolInputError(`${field} '${input}' climbs out of the workspace`, field, "give a path inside the workspace");
  }
  return norm === "." ? "" : norm.replace(/\/+$/, "");
}

/** The `paths` input of git.status, git.log and workspace.diff: workspace paths (relative or under /workspace). */
export function pathsInput(description: string) {
  return v.optional(v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.maxLength(100), v.description(description)));
}

/** `paths` as literal git pathspecs (the workspace itself is "."); a bad entry is invalid input naming `paths.N`. */
export function pathspecs(paths: string[] | undefined): string[] {
  return (paths ?? []).map((p, i) => workspaceRelative(p, `paths.${i}`) || ".");
}

export interface OpenedFile {
  handle: FileHandle;
  /** The resolved host path of the file actually opened. */
  realPath: string;
  size: number;
}

/**
 * Open a workspace file for reading so that what we check is what we read: open first, then ask the kernel which
 * file the descriptor is (/proc/self/fd), so a symlink, or one swapped in by the agent between a check and the
 * read, cannot lead outside the workspace. Without /proc the check falls back to realpath before opening.
 */
export async function openWorkspaceFile(workspaceDir: string, rel: string, field = "path"): Promise<OpenedFile> {
  const abs = join(workspaceDir, rel);
  // Here, not at the top: git.status and git.log use this module's path checks and never open a file with it.
  const { open, readlink, realpath } = await import("node:fs/promises");
  let handle: FileHandle;
  try {
    handle = await open(abs, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw toolError("not_found", `${field} '${rel}' does not exist in the workspace`);
    if (code === "EACCES") throw toolError("permission_denied", `${field} '${rel}' is not readable`);
    if (code === "ELOOP") throw toolError("path_outside_workspace", `${field} '${rel}' is a symlink loop`);
    throw e;
  }
  try {
    const real = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => realpath(abs));
    if (!isInside(workspaceDir, real)) {
      throw toolError("path_outside_workspace", `${field} '${rel}' resolves to ${real}, outside the workspace`, "symlinks that leave the workspace are refused");
    }
    const st = await handle.stat();
    if (!st.isFile()) throw toolError("not_a_file", `${field} '${rel}' is not a regular file`);
    return { handle, realPath: real, size: st.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}
