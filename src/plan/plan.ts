import type { CompiledPermissions, CompiledSandbox } from "../caps/index.ts";
import { GUEST_HOME, writeAllowanceBytes, type BootOptions, type SoftwareName } from "../runtime/index.ts";
import type { SnapshotRoot } from "../snapshot/index.ts";
import { withHostToolPermissions } from "../tools/index.ts";

/**
 * The VM plan: everything that decides what a VM may do, turned into its boot options in one place, so `run`,
 * `exec` and `caps explain` cannot disagree. From the compiled policy, the workspace (a host directory or a
 * snapshot's tree) and the host tools come the permissions (the policy's plus what the tools need), the mounts
 * (the workspace read-only when the policy writes nothing there), the loopback ports, the guest environment and
 * the filesystem quota.
 */
export interface PlanInput {
  sandbox: CompiledSandbox;
  /** The host directory mounted at /workspace (checked by the caller); omit with a snapshot. */
  workspaceDir?: string;
  /** A snapshot's tree at /workspace instead of a host directory. */
  snapshot?: Pick<SnapshotRoot, "mounts" | "limits">;
  /** The host tools bound to this VM (their host functions); the VM then gets what the tools need to work. */
  hostFunctions?: BootOptions["hostFunctions"];
  /** Agent software besides the common tools. */
  software?: Exclude<SoftwareName, "common">[];
  /** SQLite file for durable sessions. */
  databasePath?: string;
  /**
   * false: leave the workspace's quota out (boot.limits unset), for a caller that may not boot a VM of its own (a
   * worker's spare or prepared VM has a fixed quota) and fills it with workspaceLimits only if it does. Default true.
   */
  sizeWorkspace?: boolean;
  /** Variables on top of the policy's guest environment (a run request's `env`). */
  env?: Record<string, string>;
  debug?: boolean;
}

export interface VmPlan {
  boot: BootOptions;
  /** The whole environment of the guest's processes and sessions: the policy's env.read names, the request's env, HOME. */
  guestEnv: Record<string, string>;
}

/** The permissions the VM boots with: the policy's, plus what the host tools need when they are bound. */
export function vmPermissions<P extends CompiledPermissions | NonNullable<BootOptions["permissions"]>>(permissions: P, opts: { hostTools: boolean }): P {
  return opts.hostTools ? withHostToolPermissions(permissions) : permissions;
}

export async function planVm(input: PlanInput): Promise<VmPlan> {
  const { sandbox } = input;
  if (Boolean(input.workspaceDir) === Boolean(input.snapshot)) throw new Error("planVm: give a workspace directory or a snapshot, not both or neither");
  const boot: BootOptions = {
    permissions: vmPermissions(sandbox.permissions, { hostTools: input.hostFunctions !== undefined }),
    loopbackExemptPorts: sandbox.loopbackExemptPorts,
    ...(input.hostFunctions ? { hostFunctions: input.hostFunctions } : {}),
    ...(input.software?.length ? { agents: input.software } : {}),
    ...(input.databasePath ? { databasePath: input.databasePath } : {}),
    ...(input.debug ? { debug: true } : {}),
  };
  if (input.workspaceDir) {
    boot.workspaceDir = input.workspaceDir;
    // A second layer under the kernel rules: a policy that lets nothing in /workspace be written gets a read-only mount.
    boot.workspaceReadOnly = !sandbox.compiled.workspaceWritable;
    // agentOS counts every mounted byte against one VM-wide quota (default 40-72 MB in 0.2.21), so a larger host
    // workspace could not be written at all ("Bad address"): size the quota from the workspace plus a write allowance.
    if (input.sizeWorkspace !== false) boot.limits = await workspaceLimits(input.workspaceDir);
  } else {
    boot.mounts = input.snapshot!.mounts;
    boot.limits = input.snapshot!.limits;
  }
  return { boot, guestEnv: { ...sandbox.guestEnv, ...input.env, HOME: GUEST_HOME } };
}

/** The quota of a VM with this host directory at /workspace: its size plus a write allowance (measured now: a walk). */
export async function workspaceLimits(dir: string): Promise<NonNullable<BootOptions["limits"]>> {
  return { resources: { maxFilesystemBytes: (await workspaceBytes(dir)) + writeAllowanceBytes() } };
}

/**
 * Bytes under a directory; `du` is the fastest walk there is, and a failure only means the default allowance. Not
 * waited for in a blocking spawn: in a worker, other heartbeats' requests and VMs go on while a big workspace is walked.
 */
async function workspaceBytes(dir: string): Promise<number> {
  const du = Bun.spawn(["du", "-sb", "--", dir], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
  const [out] = await Promise.all([new Response(du.stdout).text(), du.exited]);
  const n = Number(out.split("\t")[0]);
  return Number.isFinite(n) ? n : 0;
}
