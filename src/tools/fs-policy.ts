import { join, relative } from "node:path";
import { GUEST_WORKSPACE } from "../guest.ts";
import { toolError } from "./errors.ts";
import { isInside, realpathOrNull } from "./paths.ts";
import type { ToolContext } from "./types.ts";

/**
 * A host tool reads workspace files for the agent, so each read is decided with the agent's own fs policy (the
 * kernel's decision, mandatory denies included: ctx.readPolicy, from caps' evaluate). A file is decided under the
 * name the agent gave and under the file it really is on the host (symlinks resolved here, on the host, where the
 * guest cannot swap them): a guest symlink `notes -> .env` is read as .env, so it is refused as .env.
 */

/** The guest path (/workspace/...) of a host path inside the workspace. */
export function guestPathOf(workspaceDir: string, hostPath: string): string {
  const rel = relative(workspaceDir, hostPath);
  return rel === "" ? GUEST_WORKSPACE : `${GUEST_WORKSPACE}/${rel.split("\\").join("/")}`;
}

export interface ReadCheck {
  allowed: boolean;
  reason: string;
  /** The guest path that was refused (the name given or the resolved file). */
  path: string;
}

/**
 * Decide reading `rel` (workspace-relative) and, when known or resolvable, the file it really is. Allowed when no
 * policy is set (the host CLI). A resolved path outside the workspace is refused (the caller reads nothing there).
 */
export async function checkRead(ctx: ToolContext, rel: string, realPath?: string): Promise<ReadCheck> {
  const policy = ctx.readPolicy;
  const named = rel === "" ? GUEST_WORKSPACE : `${GUEST_WORKSPACE}/${rel}`;
  if (!policy) return { allowed: true, reason: "no policy (host CLI)", path: named };
  const real = realPath ?? realpathOrNull(join(ctx.workspaceDir, rel)) ?? undefined;
  const candidates = [named];
  if (real !== undefined) {
    if (!isInside(ctx.workspaceDir, real)) return { allowed: false, reason: `it resolves to ${real}, outside the workspace`, path: named };
    const guest = guestPathOf(ctx.workspaceDir, real);
    if (guest !== named) candidates.push(guest);
  }
  for (const path of candidates) {
    const d = policy.decide(path);
    if (!d.allowed) return { allowed: false, reason: path === named ? d.reason : `it is a link to ${path}: ${d.reason}`, path };
  }
  return { allowed: true, reason: "allowed", path: named };
}

/** checkRead, and a refusal as `permission_denied` (after telling ctx.readPolicy.onDenied). */
export async function requireRead(ctx: ToolContext, tool: string, rel: string, realPath?: string): Promise<void> {
  const c = await checkRead(ctx, rel, realPath);
  if (c.allowed) return;
  ctx.readPolicy?.onDenied?.({ tool, path: c.path, reason: c.reason });
  throw toolError("permission_denied", `${tool} may not read ${c.path}: ${c.reason}`, "the agent's fs.read policy decides what host tools read for it");
}
