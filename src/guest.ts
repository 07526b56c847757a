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
