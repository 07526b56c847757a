import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync, utimesSync } from "node:fs";
import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir } from "../paths.ts";
import { writeFileAtomic } from "../fsutil.ts";

/**
 * The sidecar forwards its stderr to ours unconditionally, and its V8 worker-pool lines ignore AGENTOS_LOG_LEVEL
 * (docs/agentos.md, "Sidecar and process"). A small wrapper sends all of it to a log file instead, unless --debug; stdin, stdout and
 * the fd-3 control pipe pass through untouched because the wrapper `exec`s the real binary (same pid).
 *
 * agentOS spawns the sidecar with our whole process.env, and in a worker other heartbeats run in this process while a
 * VM boots: so bootVm only ADDS the variables below (read by nobody but this wrapper), and the wrapper makes the
 * sidecar's environment from them: it withholds the names listed in PAPERCLIP_AOS_SIDECAR_WITHHOLD (one a line;
 * `env -u` takes any name, not only shell identifiers), sets TMPDIR, AGENTOS_LOG_LEVEL and AGENTOS_V8_WARM_ISOLATES,
 * sets glibc malloc's arena count and trim threshold (unless the environment has its own), and drops its own
 * variables, keeping only the self-exec guard's PAPERCLIP_AOS_SIDECAR_WRAPPED.
 */
export const WRAPPER_MARK = "# paperclip-aos: runs the agentOS sidecar";
/** The variables bootVm gives the wrapper (see sidecarSpawnEnv in vm.ts). */
export const WRAPPER_ENV = {
  real: "PAPERCLIP_AOS_REAL_SIDECAR",
  log: "PAPERCLIP_AOS_SIDECAR_LOG",
  withhold: "PAPERCLIP_AOS_SIDECAR_WITHHOLD",
  tmpdir: "PAPERCLIP_AOS_SIDECAR_TMPDIR",
  logLevel: "PAPERCLIP_AOS_SIDECAR_LOG_LEVEL",
  warmIsolates: "PAPERCLIP_AOS_SIDECAR_WARM_ISOLATES",
  maxDataKb: "PAPERCLIP_AOS_SIDECAR_MAX_DATA_KB",
} as const;
const WRAPPER = `#!/bin/sh
${WRAPPER_MARK} with its stderr sent to $PAPERCLIP_AOS_SIDECAR_LOG (if set)
# A wrapper asked to run a wrapper would exec itself forever: stop instead.
if [ -n "$PAPERCLIP_AOS_SIDECAR_WRAPPED" ]; then echo "paperclip-aos: the sidecar wrapper was given itself as the sidecar" >&2; exit 70; fi
export PAPERCLIP_AOS_SIDECAR_WRAPPED=1
real=$PAPERCLIP_AOS_REAL_SIDECAR
log=$PAPERCLIP_AOS_SIDECAR_LOG
withhold=$PAPERCLIP_AOS_SIDECAR_WITHHOLD
# Each only when given (bootVm gives all three): unset, the variable stays as inherited.
if [ -n "\${PAPERCLIP_AOS_SIDECAR_TMPDIR+x}" ]; then export TMPDIR="$PAPERCLIP_AOS_SIDECAR_TMPDIR"; fi
if [ -n "\${PAPERCLIP_AOS_SIDECAR_LOG_LEVEL+x}" ]; then export AGENTOS_LOG_LEVEL="$PAPERCLIP_AOS_SIDECAR_LOG_LEVEL"; fi
if [ -n "\${PAPERCLIP_AOS_SIDECAR_WARM_ISOLATES+x}" ]; then export AGENTOS_V8_WARM_ISOLATES="$PAPERCLIP_AOS_SIDECAR_WARM_ISOLATES"; fi
# glibc malloc (the sidecar's Rust allocator) returns freed memory: without these a long-lived sidecar kept 20-60 MB
# per heartbeat after its VM was gone (docs/worker.md, "Memory"). A value already in the environment wins.
export MALLOC_ARENA_MAX="\${MALLOC_ARENA_MAX:-2}" MALLOC_TRIM_THRESHOLD_="\${MALLOC_TRIM_THRESHOLD_:-131072}"
# agentOS 0.2.21 caps no VM's memory: a guest's node allocated 6 GB of buffers in the sidecar (measured). The data
# limit (writable private memory, which V8's heaps and buffers and the VM's in-memory files are) makes an allocation
# past it fail inside the guest instead of the host running out of memory (docs/sandbox-host.md).
if [ -n "$PAPERCLIP_AOS_SIDECAR_MAX_DATA_KB" ] && [ "$PAPERCLIP_AOS_SIDECAR_MAX_DATA_KB" != 0 ]; then ulimit -d "$PAPERCLIP_AOS_SIDECAR_MAX_DATA_KB" || exit 70; fi
unset PAPERCLIP_AOS_REAL_SIDECAR PAPERCLIP_AOS_SIDECAR_LOG PAPERCLIP_AOS_SIDECAR_WITHHOLD PAPERCLIP_AOS_SIDECAR_TMPDIR PAPERCLIP_AOS_SIDECAR_LOG_LEVEL PAPERCLIP_AOS_SIDECAR_WARM_ISOLATES PAPERCLIP_AOS_SIDECAR_MAX_DATA_KB
# The arguments become: env -u NAME ... REAL ARGS (prepended one name at a time; the order of -u does not matter).
set -- "$real" "$@"
nl='
'
# No globbing: a name is a name, whatever it holds.
set -f; IFS=$nl
for name in $withhold; do set -- -u "$name" "$@"; done
# No log file (--debug): stderr stays ours, whatever it is (a pipe, a file, a socket: /dev/stderr cannot open a socket).
if [ -z "$log" ]; then exec env "$@"; fi
exec env "$@" 2>>"$log"
`;

/** Is `path` one of our wrappers (from this or another cache dir), not a sidecar? */
export function isSidecarWrapper(path: string): boolean {
  try {
    return readFileSync(path, "utf8").slice(0, 200).includes(WRAPPER_MARK);
  } catch {
    return false;
  }
}

/**
 * Named by its content: the cache dir is shared by every paperclip-aos version on the machine, and one that rewrote
 * a common file with its own wrapper between our write and our spawn would decide our sidecar's environment (an
 * older wrapper withholds nothing: it expects its bootVm to remove the keys from process.env).
 */
const WRAPPER_NAME = `quiet-sidecar-${createHash("sha256").update(WRAPPER).digest("hex").slice(0, 12)}.sh`;

export async function sidecarWrapperPath(): Promise<string> {
  const bin = join(cacheDir(), "bin");
  const path = join(bin, WRAPPER_NAME);
  const existing = Bun.file(path);
  if (!(await existing.exists()) || (await existing.text()) !== WRAPPER) {
    await writeFileAtomic(path, WRAPPER, 0o755);
    await chmod(path, 0o755);
  } else {
    // Its mtime says when a binary of this version last booted a sidecar: removeUnusedWrappers goes by it.
    const now = new Date();
    utimesSync(path, now, now);
  }
  if (!cleaned.has(bin)) {
    cleaned.add(bin);
    removeUnusedWrappers(bin);
  }
  return path;
}

/** A wrapper no sidecar was booted through for this long is another version's that is no longer used. */
export const WRAPPER_UNUSED_MS = 24 * 3600_000;
const cleaned = new Set<string>();

/**
 * Each binary version writes its own wrapper (named by its hash), so versions pile up in <cache>/bin. A sidecar that
 * runs needs its wrapper no more (the wrapper exec'd it), and every version since the hash-named ones rewrites its
 * wrapper when it is missing, before each boot. So another version's wrapper is removed once it is a day old: for
 * this version and the next ones that is a day without a boot (each use touches it); a binary older than that
 * touch rewrites it, unless it booted in the instant between its check and the spawn. Not ours (no mark): left alone.
 */
export function removeUnusedWrappers(bin: string, now = Date.now()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(bin);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (name === WRAPPER_NAME || !/^quiet-sidecar-[0-9a-f]{12}\.sh$/.test(name)) continue;
    const file = join(bin, name);
    try {
      if (now - statSync(file).mtimeMs < WRAPPER_UNUSED_MS || !isSidecarWrapper(file)) continue;
      rmSync(file, { force: true });
      removed.push(name);
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}

export function sidecarLogPath(): string {
  return join(cacheDir(), "logs", "sidecar.log");
}
