import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { totalmem } from "node:os";
import type { AgentOs, AgentOsOptions, AgentOsSidecar, VirtualFileSystem } from "@rivet-dev/agentos-core";
import { resolveAssets, type SoftwareName } from "./assets.ts";
import { sidecarLogPath, sidecarWrapperPath, WRAPPER_ENV } from "./sidecar-wrapper.ts";
import { rotateFullLog } from "../capped-log.ts";
import { childPids, isSidecarProcess, pidRunning } from "./proc.ts";
import { onShutdown } from "./lifecycle.ts";
import { openRunTempDir, processTempDir, sweepStaleTempDirs } from "./tmp.ts";
import { unavailableCommandsPackage } from "./unavailable.ts";
import { sidecarWithheldEnv } from "../caps/index.ts";
import { HostDirectoryVfs } from "./host-dir-vfs.ts";
import { vmMaxProcesses, writeAllowanceBytes } from "./limits.ts";
import { MemoryDirVfs } from "./memory-vfs.ts";
import { routeVm, type VmRoute } from "./sidecar-router.ts";
import { GUEST_HOME, GUEST_WORKSPACE } from "../guest.ts";
import { firstLine, runtimeError, usageError } from "../errors.ts";
import { logger, logProgress } from "../log.ts";

export { GUEST_HOME, GUEST_WORKSPACE };

type Permissions = NonNullable<AgentOsOptions["permissions"]>;
type HostFunctions = NonNullable<AgentOsOptions["hostFunctions"]>;

export interface BootOptions {
  /** Host directory mounted writable at /workspace; omit when the workspace comes from a snapshot (see `mounts`). */
  workspaceDir?: string;
  /** Mount the workspace read-only (a policy that writes nothing there): a second layer under the kernel rules. */
  workspaceReadOnly?: boolean;
  /** Agent software besides the common tools. */
  agents?: Exclude<SoftwareName, "common">[];
  permissions?: Permissions;
  loopbackExemptPorts?: number[];
  hostFunctions?: HostFunctions;
  /** More mounts (a snapshot's overlay at /workspace comes from src/snapshot's openSnapshotRoot). */
  mounts?: NonNullable<AgentOsOptions["mounts"]>;
  /** agentOS limits (maxProcesses: vmMaxProcesses()): the filesystem quota comes from src/plan (the workspace's or the snapshot's size plus writeAllowanceBytes()). */
  limits?: NonNullable<AgentOsOptions["limits"]>;
  /** SQLite file for durable sessions (required by sessions.open). */
  databasePath?: string;
  /** agentOS's database elsewhere than databasePath: the session actor's, through its runtime socket (src/rivet). */
  database?: { type: "actor_uds"; path: string };
  /** Send sidecar and agent stderr to our stderr instead of the log file (agent stderr is dropped otherwise). */
  debug?: boolean;
  /**
   * A sidecar that outlives this VM (the worker's, src/worker): the VM boots on it, and closing disposes only the VM,
   * waiting at most graceMs while the teardown finishes in the background. Without it each VM has a sidecar of its own.
   */
  sidecar?: AgentOsSidecar;
  /** How many VMs the sidecar this boot may spawn will hold at once (its memory cap allows for each; default 1). */
  sidecarVms?: number;
}

/** Where a VM keeps its sessions when that is not ours to choose (the session actor's storage, src/rivet). */
export type VmStorage = Pick<BootOptions, "database">;

export interface VmHandle {
  vm: AgentOs;
  /**
   * Mount a host directory at /workspace now (a VM booted without `workspaceDir`), through the same checked filesystem
   * as a boot-time workspace. The VM's filesystem quota counts it (see src/plan for the quota fixed at boot). Without
   * a directory: an empty stand-in that refuses every write, until rebindWorkspace shows the real one.
   */
  mountWorkspace(dir: string | undefined, opts?: { readOnly?: boolean }): Promise<void>;
  /**
   * Show another host directory at the mounted /workspace, checked the same way and read-only as it was mounted: only
   * the driver that answers the mount changes, in this process, so it costs no sidecar round trip (a spare VM's
   * stand-in becomes its run's workspace). Call it while nothing in the VM uses /workspace.
   */
  rebindWorkspace(dir: string): void;
  /** Mount an in-memory, read-only directory at guestPath (answered in this process; memory-vfs.ts). */
  mountFiles(guestPath: string, files: MemoryDirVfs): Promise<void>;
  /**
   * Whether the sidecar this VM runs on still runs: undefined when its process is not known (a shared sidecar's is
   * the worker's to know). A failed call is a crash only when this says false (heartbeat/run.ts classify).
   */
  sidecarRunning(): boolean | undefined;
  /** Dispose the VM and sidecar without letting agentOS's 5 s teardown deadline delay us (state is committed before). */
  close(opts?: { graceMs?: number }): Promise<void>;
}

/**
 * The teardown of a VM on a shared sidecar goes on after close() returns (a Pi VM's up to 5 s), and agentOS lets a
 * second VM open the same SQLite database meanwhile without a word. So a VM's real end is kept here, per database
 * file, with what has to wait for it (afterVmReleased), and the next user of the database waits for it
 * (vmReleased): the next heartbeat of the same session, and any VM booted on that database.
 */
const releasing = new Map<string, Promise<void>>();
/** agentOS's own teardown deadline is 5 s; a dispose that has not ended well after it is not waited for any longer. */
const RELEASE_WAIT_MS = 10_000;

/** Resolves once no VM of this process is still tearing down on this database (at most RELEASE_WAIT_MS). */
export async function vmReleased(databasePath: string): Promise<void> {
  const pending = releasing.get(resolve(databasePath));
  if (!pending) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((r) => (timer = setTimeout(r, RELEASE_WAIT_MS)));
  await Promise.race([pending, late]);
  clearTimeout(timer);
  if (releasing.get(resolve(databasePath)) === pending) logger.warn(`the previous VM on ${databasePath} did not finish its teardown in ${RELEASE_WAIT_MS / 1000} s; going on`);
}

/** Every teardown still going on, and what waits for it (a stopping worker's last session-env scrubs). */
export async function allVmsReleased(): Promise<void> {
  await Promise.race([Promise.all(releasing.values()), Bun.sleep(RELEASE_WAIT_MS)]);
}

/** Run `fn` once the VM on this database is really gone: at once (awaited) if none is tearing down, else after it. */
export async function afterVmReleased(databasePath: string, fn: () => unknown): Promise<void> {
  const key = resolve(databasePath);
  const pending = releasing.get(key);
  if (!pending) {
    await fn();
    return;
  }
  trackRelease(key, pending.then(fn).then(
    () => {},
    (e) => logger.debug(`after the VM's teardown: ${firstLine(e)}`),
  ));
}

/**
 * The database is in use until `until` settles although no VM was booted on it under this name: a worker's spare VM
 * runs on its own file, hard-linked as the session's (src/worker/spares.ts). vmReleased and afterVmReleased wait for it.
 */
export function holdDatabase(databasePath: string, until: Promise<void>): void {
  trackRelease(resolve(databasePath), until);
}

function trackRelease(key: string, done: Promise<void>): void {
  releasing.set(key, done);
  void done.finally(() => {
    if (releasing.get(key) === done) releasing.delete(key);
  });
}

/** Every live handle, so a signal or a fatal error can still stop the sidecar before we exit. */
const live = new Set<VmHandle>();
export function liveVms(): ReadonlySet<VmHandle> {
  return live;
}
onShutdown(async (graceMs) => {
  await Promise.all([...live].map((h) => h.close({ graceMs }).catch(() => {})));
});

export { checkWorkspaceDir } from "../paths.ts";

export async function bootVm(opts: BootOptions): Promise<VmHandle> {
  const assets = await resolveAssets({ onProgress: logProgress });
  // Point agentOS at our wrapper so the sidecar's stderr goes to a log file (or ours with --debug). agentOS spawns the
  // sidecar with our process.env, and what else runs in this process meanwhile (a worker's other heartbeats) reads
  // it: so only variables nobody else reads are added, for the boot only, and the wrapper makes the sidecar's
  // environment from them (sidecar-wrapper.ts). Left in our environment, every child we start later would inherit them.
  const logPath = sidecarLogPath();
  await mkdir(dirname(logPath), { recursive: true });
  // Sidecars append to it themselves (the wrapper's 2>>): a full one is moved aside before a boot that may start one.
  rotateFullLog(logPath);
  // Never two live VMs on one database: a previous VM on it (same process, shared sidecar) ends first. Waited for
  // before the boot turn, which other heartbeats' boots wait for.
  if (opts.databasePath) await vmReleased(opts.databasePath);
  // Two boots in one process must not interleave their spawn-only environments (one would restore the other's
  // values for good): boots take turns.
  const release = await bootTurn();
  try {
    // The sidecar's scratch goes to a private dir of ours (tmp.ts), not /tmp; a killed run's is swept here next time.
    sweepStaleTempDirs();
    // A shared sidecar (opts.sidecar) outlives this VM: its scratch lives as long as the process.
    const tmp = opts.sidecar ? processTempDir() : openRunTempDir();
    // A shared sidecar spawns on its first VM only, but which boot that is (a crashed sidecar's replacement, a
    // recycled one) is agentOS's business: every boot adds the variables, harmless where nothing is spawned.
    const restoreEnv = addEnv({
      ...sidecarSpawnEnv(assets.sidecarBin, opts.debug ? "" : logPath, tmp.path, opts.debug ?? false, opts.sidecarVms ?? 1),
      // Read in-process by agentOS when it resolves the binary to spawn (the wrapper).
      AGENTOS_SIDECAR_BIN: await sidecarWrapperPath(),
    });
    try {
      const handle = await bootWithEnv(opts, assets, logPath, tmp.remove);
      return handle;
    } catch (e) {
      tmp.remove();
      throw e;
    } finally {
      restoreEnv();
    }
  } finally {
    release();
  }
}

/**
 * What the wrapper turns into the sidecar's environment (sidecar-wrapper.ts): the sidecar needs no key of ours, so
 * provider keys and secret-looking variables are withheld; its scratch goes to our private temp dir; quieter logs.
 */
function sidecarSpawnEnv(realSidecar: string, log: string, tmpdir: string, debug: boolean, vms: number): Record<string, string> {
  return {
    [WRAPPER_ENV.real]: realSidecar,
    // Empty with --debug: the sidecar then writes to our stderr as it is (see the wrapper).
    [WRAPPER_ENV.log]: log,
    [WRAPPER_ENV.withhold]: sidecarWithheldEnv(process.env).join("\n"),
    [WRAPPER_ENV.tmpdir]: tmpdir,
    [WRAPPER_ENV.logLevel]: process.env.AGENTOS_LOG_LEVEL ?? (debug ? "info" : "error"),
    // The sidecar keeps a pool of pre-created V8 isolates; with a Pi session that pool is ~350 MB of a ~1 GB peak,
    // and a one-heartbeat process gains nothing measurable from it (bench: run.peak-memory). Set it to opt back in.
    [WRAPPER_ENV.warmIsolates]: process.env.AGENTOS_V8_WARM_ISOLATES ?? "0",
    [WRAPPER_ENV.maxDataKb]: String(sidecarMemoryCapKb(process.env, vms)),
  };
}

/**
 * What the data limit must leave each VM a sidecar holds for address space V8 reserves and barely touches: its code
 * space is writable private memory, which the limit counts (measured, docs/sandbox-host.md: a sidecar with one Pi VM
 * had 2.4 GB of such regions, 512 MB and 128 MB each, at 4 MB resident; its data size 2.7-3.2 GB at 0.75 GB RSS).
 */
export const RESERVED_PER_VM_KB = 1024 * 1024;

/**
 * The sidecar's memory cap (its data limit, set by the wrapper), in KiB; 0 for none. agentOS 0.2.21 limits no VM's
 * memory, so without it one guest could take the host's (and a worker's other heartbeats') memory: by default half
 * the host's memory (at least 2 GiB) plus RESERVED_PER_VM_KB for each VM the sidecar may hold at once (`vms`: 1 for a
 * run's own sidecar, the worker's concurrency with its spares and prepared VMs for its shared one) and two more (its
 * WASM commands' runners); `PAPERCLIP_AOS_VM_MEMORY_MB` sets the limit itself (0: no cap).
 */
export function sidecarMemoryCapKb(env: Record<string, string | undefined> = process.env, vms = 1): number {
  const raw = env.PAPERCLIP_AOS_VM_MEMORY_MB?.trim();
  if (raw && /^\d+$/.test(raw)) return Number(raw) * 1024;
  return defaultMemoryCapKb(Math.floor(totalmem() / 1024), vms);
}

/** The default cap for a host with `hostKb` of memory and a sidecar holding `vms` VMs at once (see sidecarMemoryCapKb). */
export function defaultMemoryCapKb(hostKb: number, vms: number): number {
  return Math.max(2 * 1024 * 1024, Math.floor(hostKb / 2)) + (Math.max(1, vms) + 2) * RESERVED_PER_VM_KB;
}

let lastBoot: Promise<void> = Promise.resolve();
/** Wait for the previous boot's turn to end; the returned function ends this one's. */
async function bootTurn(): Promise<() => void> {
  let release!: () => void;
  const previous = lastBoot;
  lastBoot = new Promise<void>((r) => (release = r));
  await previous;
  return release;
}

/**
 * Set variables in process.env that only the sidecar's spawn reads; the returned function puts the previous values
 * back. Never used to remove or change a variable the rest of the process reads (PAPERCLIP_AOS_HOME, TMPDIR, keys).
 */
function addEnv(vars: Record<string, string>): () => void {
  const previous = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of Object.entries(previous)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

async function bootWithEnv(opts: BootOptions, assets: Awaited<ReturnType<typeof resolveAssets>>, logPath: string, removeTemp: () => void): Promise<VmHandle> {
  const { AgentOs } = await import("@rivet-dev/agentos-core");
  let sidecar: AgentOsSidecar;
  const before = childPids();
  const shared = opts.sidecar;
  try {
    sidecar = shared ?? (await AgentOs.createSidecar());
  } catch (e) {
    throw runtimeError(
      `the agentOS sidecar did not start: ${firstLine(e)}`,
      `run 'paperclip-aos doctor'; the sidecar log is ${logPath}`,
      "sidecar_failed",
      e,
    );
  }
  // agentOS spawns the sidecar lazily (on the first VM), so look for it when we need it.
  const ours = () => (shared ? [] : childPids().filter((p) => !before.includes(p)));
  const software = [
    ...assets.software.common,
    ...(opts.agents ?? []).flatMap((a) => assets.software[a]),
    // Last, so its npm/npx/python commands replace agentOS's silent stubs (unavailable.ts).
    await unavailableCommandsPackage(),
  ].map((packagePath) => ({ packagePath }));

  const mounts: NonNullable<AgentOsOptions["mounts"]> = [];
  // Our own filesystem over the host directory, not agentOS's native host_dir mount: the kernel then decides every
  // guest operation on it with the policy, where host_dir let node programs write without asking (host-dir-vfs.ts).
  // On a shared sidecar too: the router (sidecar-router.ts) answers each VM's calls from its own filesystem.
  if (opts.workspaceDir) mounts.push(workspaceMount(opts.workspaceDir, opts.workspaceReadOnly ?? false));
  if (opts.mounts) mounts.push(...opts.mounts);

  // The workspace's files keep their host owners, and the kernel checks guest permissions against them: run the
  // guest as the host user so the workspace is writable and new files belong to whoever ran us.
  const uid = process.getuid?.() ?? 1000;
  const gid = process.getgid?.() ?? 1000;
  let vm: AgentOs;
  try {
    vm = await AgentOs.create({
      sidecar: { kind: "explicit", handle: sidecar },
      defaultSoftware: false,
      software,
      user: { uid, gid, euid: uid, egid: gid },
      mounts,
      ...(opts.permissions ? { permissions: opts.permissions } : {}),
      ...(opts.loopbackExemptPorts?.length ? { loopbackExemptPorts: opts.loopbackExemptPorts } : {}),
      ...(opts.hostFunctions ? { hostFunctions: opts.hostFunctions } : {}),
      limits: { ...opts.limits, resources: { maxProcesses: vmMaxProcesses(), ...opts.limits?.resources } },
      ...(opts.database ? { database: opts.database } : opts.databasePath ? { database: { type: "sqlite_file", path: opts.databasePath } } : {}),
      onAgentStderr: (e) => (opts.debug ? process.stderr.write(e.chunk) : undefined),
    } as AgentOsOptions);
  } catch (e) {
    if (!shared) await disposeQuickly(sidecar, 300, ours);
    throw runtimeError(`the agentOS VM did not boot: ${firstLine(e)}`, `the sidecar log is ${logPath}`, "vm_boot_failed", e);
  }
  // Before the VM runs anything: on a shared sidecar its requests must reach it, not the VM created last.
  let route: VmRoute;
  try {
    route = routeVm(vm);
  } catch (e) {
    await Promise.race([vm.dispose().catch(() => {}), Bun.sleep(300)]);
    if (!shared) await disposeQuickly(sidecar, 300, ours);
    throw e;
  }
  for (const m of mounts) if ("driver" in m) route.addMount(m.path, m.driver, m.readOnly ?? false);
  // The sidecar of our own that this boot started (found now, while it surely runs).
  const sidecarPids = ours().filter(isSidecarProcess);
  let closed = false;
  /** How /workspace is mounted: at boot, or by mountWorkspace (undefined: not mounted). */
  let workspaceReadOnly = opts.workspaceDir ? (opts.workspaceReadOnly ?? false) : undefined;
  /** A js_bridge mount answered by our driver (routed before the mount exists, so no call finds it unanswered). */
  const mountDriver = async (path: string, driver: VirtualFileSystem, readOnly: boolean, what: string) => {
    route.addMount(path, driver, readOnly);
    try {
      await vm.filesystem.mount({ path, plugin: { id: "js_bridge", config: {} }, readOnly });
    } catch (e) {
      route.removeMount(path);
      throw runtimeError(`${what} could not be mounted: ${firstLine(e)}`, `the sidecar log is ${logPath}`, "vm_boot_failed", e);
    }
  };
  const handle: VmHandle = {
    vm,
    async mountWorkspace(dir, { readOnly = false } = {}) {
      const driver = dir === undefined ? new MemoryDirVfs(GUEST_WORKSPACE) : workspaceMount(dir, readOnly).driver;
      await mountDriver(GUEST_WORKSPACE, driver, readOnly, "the workspace");
      workspaceReadOnly = readOnly;
    },
    rebindWorkspace(dir) {
      if (workspaceReadOnly === undefined) throw new Error("rebindWorkspace: no workspace is mounted");
      const m = workspaceMount(dir, workspaceReadOnly);
      route.addMount(m.path, m.driver, workspaceReadOnly);
    },
    mountFiles: (guestPath, files) => mountDriver(guestPath, files, true, guestPath),
    sidecarRunning: () => (sidecarPids.length ? sidecarPids.some(pidRunning) : undefined),
    async close({ graceMs = 300 } = {}) {
      if (closed) return;
      closed = true;
      live.delete(handle);
      // From here on the VM's requests are refused: nothing of a finished run reaches its workspace or host tools.
      route.close();
      if (shared) {
        const disposed = vm.dispose().catch(() => {});
        if (opts.databasePath) trackRelease(resolve(opts.databasePath), disposed);
        await Promise.race([disposed, Bun.sleep(graceMs)]);
      } else await disposeQuickly(sidecar, graceMs, ours);
      removeTemp();
    },
  };
  live.add(handle);
  return handle;
}

/** The host directory at /workspace through our own checked filesystem (host-dir-vfs.ts), for boot or a runtime mount. */
function workspaceMount(dir: string, readOnly: boolean) {
  return { path: GUEST_WORKSPACE, driver: new HostDirectoryVfs({ root: dir, guestPath: GUEST_WORKSPACE, readOnly, allowanceBytes: writeAllowanceBytes() }), readOnly };
}

/**
 * agentOS waits up to 5 s for a Pi VM to tear down, and the sidecar outlives our exit by that long; everything durable
 * is committed before, so race the dispose and then kill the sidecar process we started.
 */
async function disposeQuickly(sidecar: AgentOsSidecar, graceMs: number, pids: () => number[]): Promise<void> {
  const spawned = pids();
  await Promise.race([sidecar.dispose().catch(() => {}), Bun.sleep(graceMs)]);
  for (const pid of spawned) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
