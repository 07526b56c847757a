/**
 * What a run may add to the host's disk (bytes): to its workspace (host dir or snapshot) before a write fails with
 * ENOSPC, and again to the artifact store through artifacts.publish. 1 GiB, or PAPERCLIP_AOS_WRITE_ALLOWANCE_MB.
 * In-process it is on top of the VM's filesystem quota (src/plan); on every host directory at /workspace our own
 * filesystem counts it too (host-dir-vfs.ts), which is the bound for a worker's spare and prepared VMs, whose quota is
 * fixed large before their workspace is known. Light (no agentOS): host tools read it.
 */
export function writeAllowanceBytes(env: Record<string, string | undefined> = process.env): number {
  const raw = env.PAPERCLIP_AOS_WRITE_ALLOWANCE_MB?.trim();
  return (raw && /^[1-9]\d*$/.test(raw) ? Number(raw) : 1024) * 2 ** 20;
}
