/**
 * The VM's own layout, the same for every module: where the workspace is mounted and the agent's home. A file with no
 * imports, so the light modules (caps, snapshot) and the runtime can share it without loading each other.
 */
export const GUEST_WORKSPACE = "/workspace";
export const GUEST_HOME = "/home/agentos";

/** A path's segments with "" and "." dropped and ".." applied lexically; ".." never climbs above the start. */
export function pathSegments(path: string): string[] {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return out;
}

const ERRNO_MESSAGES: Record<string, string> = {
  ENOENT: "no such file or directory",
  EEXIST: "file already exists",
  ENOTDIR: "not a directory",
  EISDIR: "illegal operation on a directory",
  ENOTEMPTY: "directory not empty",
  EINVAL: "invalid argument",
  ELOOP: "too many symbolic links encountered",
  EIO: "i/o error",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  EXDEV: "cross-device link not permitted",
  EBUSY: "resource busy or locked",
  EFBIG: "file too large",
  ENOSPC: "no space left on device",
};

/**
 * An error from a filesystem of ours that the VM mounts (agentOS's js_bridge): the errno name leads the message
 * because that is what the bridge maps back to the guest's errno, and the path is the guest's, never a host path.
 */
export class GuestFsError extends Error {
  constructor(
    readonly code: string,
    op: string,
    path: string,
  ) {
    super(`${code}: ${ERRNO_MESSAGES[code] ?? code.toLowerCase()}, ${op} '${path}'`);
  }
}
