import { compileSandbox, type CompiledSandbox, type PermissionFlags } from "../caps/index.ts";
import type { RunRequest } from "./request.ts";

/**
 * A heartbeat's policy: the request's capabilities or preset, then the command line's permission flags, compiled
 * once the gateway port is known. `hostEnv` is where env.read looks (the CLI's environment, or a worker client's).
 */
export function requestSandbox(req: RunRequest, flags: PermissionFlags | undefined, hostEnv: Record<string, string | undefined>): (gatewayPort: number) => Promise<CompiledSandbox> {
  return (gatewayPort) =>
    compileSandbox({
      json: req.capabilities ?? undefined,
      preset: req.preset,
      flags,
      workspaceHostDir: req.cwd,
      gatewayPort,
      hostEnv,
    });
}
