import { compileSandbox, problemLine, readGate, toolGate, type SandboxInput } from "../caps/index.ts";
import { execInVm, type BootOptions, type ExecRequest, type ExecResult } from "../runtime/index.ts";
import type { SnapshotRoot } from "../snapshot/index.ts";
import { createHostTools } from "../tools/index.ts";
import { logger } from "../log.ts";
import { planVm } from "./plan.ts";

export interface PolicyExecRequest extends Omit<ExecRequest, "boot" | "env"> {
  /** The host directory at /workspace (also what relative policy paths mean). */
  cwd: string;
  /** The policy sources (flags, presets, files); the workspace and host env are filled in. */
  policy: Omit<SandboxInput, "workspaceHostDir">;
  /** A snapshot's tree at /workspace instead of `cwd` (opened by the caller, who also finishes it). */
  snapshot?: SnapshotRoot;
  debug?: boolean;
  /** Boot on this long-lived sidecar (the worker's, src/worker) instead of one of the VM's own. */
  sidecar?: BootOptions["sidecar"];
}

/**
 * `exec` as a library call: compile the policy, bind the typed host tools (a snapshot run has no host workspace for
 * them), plan the VM and run one command in it. Policy warnings go to the log.
 */
export async function execWithPolicy(req: PolicyExecRequest): Promise<ExecResult> {
  const sandbox = await compileSandbox({ ...req.policy, workspaceHostDir: req.cwd });
  for (const w of sandbox.compiled.warnings) logger.warn(problemLine(w));
  const tools = req.snapshot ? undefined : await createHostTools({
    workspaceDir: req.cwd,
    decide: toolGate(sandbox.policy),
    // Files the tools read for the agent are decided with its own fs policy (src/tools/fs-policy.ts).
    decideRead: readGate(sandbox.policy, { workspaceHostDir: req.cwd }),
  });
  const plan = await planVm({
    sandbox,
    ...(req.snapshot ? { snapshot: req.snapshot } : { workspaceDir: req.cwd }),
    hostFunctions: tools?.hostFunctions,
    debug: req.debug,
  });
  const { cwd: _cwd, policy: _policy, snapshot: _snapshot, debug: _debug, sidecar, onBoot, ...exec } = req;
  const boot = sidecar ? { ...plan.boot, sidecar } : plan.boot;
  try {
    return await execInVm({
      ...exec,
      boot,
      env: plan.guestEnv,
      onBoot: async (vm) => {
        tools?.attachVm(vm);
        await onBoot?.(vm);
      },
    });
  } finally {
    await tools?.close();
  }
}
