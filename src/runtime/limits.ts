// The limits every VM gets from us (agentOS 0.2.21 sets neither), each with the variable that sets another. Light (no
// agentOS): host tools read them too.
type Env = Record<string, string | undefined>;

/**
 * What a run may add to the host's disk (bytes): to its workspace (host dir or snapshot) before a write fails with
 * ENOSPC, and again to the artifact store through artifacts.publish. 1 GiB, or PAPERCLIP_AOS_WRITE_ALLOWANCE_MB.
 * In-process it is on top of the VM's filesystem quota (src/plan); on every host directory at /workspace our own
 * filesystem counts it too (host-dir-vfs.ts), which is the bound for a worker's spare and prepared VMs, whose quota is
 * fixed large before their workspace is known.
 */
export function writeAllowanceBytes(env: Env = process.env): number {
  return positiveIntEnv(env, "PAPERCLIP_AOS_WRITE_ALLOWANCE_MB", 1024) * 2 ** 20;
}

/**
 * Processes one VM may have at once (agentOS limits.resources.maxProcesses; 0.2.21 sets none). Each WASM command
 * adds ~0.5 GB to the sidecar's data size (its runner's writable reservations; 20 idle `sleep`s: 12.5 GB at 0.9 GB
 * RSS), which the memory cap counts, so ~25-30 of them at once took the whole sidecar down in 2 s on a 24 GiB host
 * ("sidecar process exited with disconnect"), every VM on it with it: under `serve`, every heartbeat on that sidecar.
 * At the limit the guest's next start fails with EAGAIN ("Resource temporarily unavailable") and the VM goes on. An
 * agent's heartbeat has a handful at once (the adapter, its shell, a command's pipeline).
 * `PAPERCLIP_AOS_VM_MAX_PROCESSES` sets another.
 */
export const DEFAULT_VM_MAX_PROCESSES = 16;

export function vmMaxProcesses(env: Env = process.env): number {
  return positiveIntEnv(env, "PAPERCLIP_AOS_VM_MAX_PROCESSES", DEFAULT_VM_MAX_PROCESSES);
}

/** A variable holding a whole number above 0, else `fallback` (unset, empty, 0 or not a number). */
function positiveIntEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  return raw && /^[1-9]\d*$/.test(raw) ? Number(raw) : fallback;
}
