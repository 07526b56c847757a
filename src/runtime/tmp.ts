import { chmodSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheDir } from "../paths.ts";
import { processStillRuns, procStartTime } from "./proc.ts";

/**
 * agentOS's sidecar puts its scratch in the temp dir (Rust's temp_dir(), i.e. $TMPDIR, else /tmp): a ~63 MB
 * `agentos-node-import-cache-roots-<pid>` per run, `agentos-native-sidecar-shadow-vm-*` (the VM's root, with the
 * agent's config, world-readable) and `agentos-uds-*`, left behind when a run is killed or times out. So every boot
 * gets a private temp dir `<cache>/tmp/<pid>-<start time>` (mode 0700) that is TMPDIR for the sidecar's spawn only;
 * it is removed when the VM closes and at process exit, and a dir whose owner is gone (a SIGKILLed run) is swept at
 * the next boot and by `doctor`. The sidecar's compile cache (reusable, keyed by content) links to one shared dir
 * so it survives the per-run dir.
 */
const COMPILE_CACHE = "agentos-native-sidecar-compile-cache";

export function tempRoot(): string {
  return join(cacheDir(), "tmp");
}

/** The owner's identity in a dir name: pid and start time, so a reused pid does not keep a dead run's dir alive. */
function ownerTag(pid: number): string | null {
  const start = procStartTime(pid);
  return start === null ? null : `${pid}-${start}`;
}

const made = new Set<string>();
let exitHook = false;

/** A fresh private temp dir for one sidecar; `remove()` deletes it (idempotent; also done at process exit). */
export function openRunTempDir(): { path: string; remove(): void } {
  const root = tempRoot();
  mkdirSync(root, { recursive: true, mode: 0o700 });
  chmodSync(root, 0o700);
  const tag = ownerTag(process.pid) ?? `${process.pid}-0`;
  const path = join(root, `${tag}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(path, { mode: 0o700 });
  const shared = join(cacheDir(), COMPILE_CACHE);
  try {
    mkdirSync(shared, { recursive: true, mode: 0o700 });
    symlinkSync(shared, join(path, COMPILE_CACHE));
  } catch {
    // Without the link the sidecar compiles into the run's dir: slower next time, nothing else.
  }
  made.add(path);
  if (!exitHook) {
    exitHook = true;
    process.on("exit", () => {
      for (const p of made) rmSync(p, { recursive: true, force: true });
    });
  }
  return {
    path,
    remove() {
      made.delete(path);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

let processDir: { path: string; remove(): void } | undefined;
/**
 * The temp dir for a sidecar that outlives one VM (a worker's shared sidecar, spawned on its first VM): one per
 * process, removed at process exit (or swept once the process is gone), never when a VM closes.
 */
export function processTempDir(): { path: string; remove(): void } {
  processDir ??= { path: openRunTempDir().path, remove: () => {} };
  return processDir;
}

export interface SweepResult {
  removed: string[];
}

/** Is the process that made a `<pid>-<start>-…` dir still the one running under that pid? */
function ownerAlive(name: string): boolean {
  const m = /^(\d+)-(\d+)-/.exec(name);
  return !!m && processStillRuns(Number(m[1]), Number(m[2]));
}

/**
 * Remove the temp dirs of runs that are gone: ours under <cache>/tmp, and (doctor, `legacy: true`) the per-sidecar
 * import caches older versions left in the system temp dir (`agentos-node-import-cache-roots-<pid>` of a dead pid,
 * owned by us).
 */
export function sweepStaleTempDirs(opts: { legacy?: boolean } = {}): SweepResult {
  const result: SweepResult = { removed: [] };
  const drop = (path: string) => {
    rmSync(path, { recursive: true, force: true });
    result.removed.push(path);
  };
  const root = tempRoot();
  let names: string[] = [];
  try {
    names = readdirSync(root);
  } catch {
    // no temp root yet
  }
  for (const name of names) if (!ownerAlive(name)) drop(join(root, name));
  if (opts.legacy) {
    const sys = tmpdir();
    const uid = process.getuid?.();
    let entries: string[] = [];
    try {
      entries = readdirSync(sys);
    } catch {
      // unreadable temp dir: nothing to sweep
    }
    for (const name of entries) {
      const m = /^agentos-node-import-cache-roots-(\d+)$/.exec(name);
      if (!m || procStartTime(Number(m[1])) !== null) continue;
      const path = join(sys, name);
      try {
        if (uid !== undefined && statSync(path).uid !== uid) continue;
      } catch {
        continue;
      }
      drop(path);
    }
  }
  return result;
}
