import { readFileSync } from "node:fs";
import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir } from "../paths.ts";
import { writeFileAtomic } from "../fsutil.ts";

/**
 * The sidecar forwards its stderr to ours unconditionally, and its V8 worker-pool lines ignore AGENTOS_LOG_LEVEL
 * (docs/agentos.md, "Sidecar and process"). A two-line wrapper sends all of it to a log file instead, unless --debug; stdin, stdout and
 * the fd-3 control pipe pass through untouched because the wrapper `exec`s the real binary.
 */
export const WRAPPER_MARK = "# paperclip-aos: runs the agentOS sidecar";
const WRAPPER = `#!/bin/sh
${WRAPPER_MARK} with its stderr sent to $PAPERCLIP_AOS_SIDECAR_LOG (if set)
# A wrapper asked to run a wrapper would exec itself forever: stop instead.
if [ -n "$PAPERCLIP_AOS_SIDECAR_WRAPPED" ]; then echo "paperclip-aos: the sidecar wrapper was given itself as the sidecar" >&2; exit 70; fi
export PAPERCLIP_AOS_SIDECAR_WRAPPED=1
# No log file (--debug): stderr stays ours, whatever it is (a pipe, a file, a socket: /dev/stderr cannot open a socket).
if [ -z "$PAPERCLIP_AOS_SIDECAR_LOG" ]; then exec "$PAPERCLIP_AOS_REAL_SIDECAR" "$@"; fi
exec "$PAPERCLIP_AOS_REAL_SIDECAR" "$@" 2>>"$PAPERCLIP_AOS_SIDECAR_LOG"
`;

/** Is `path` one of our wrappers (from this or another cache dir), not a sidecar? */
export function isSidecarWrapper(path: string): boolean {
  try {
    return readFileSync(path, "utf8").slice(0, 200).includes(WRAPPER_MARK);
  } catch {
    return false;
  }
}

export async function sidecarWrapperPath(): Promise<string> {
  const path = join(cacheDir(), "bin", "quiet-sidecar.sh");
  const existing = Bun.file(path);
  if (!(await existing.exists()) || (await existing.text()) !== WRAPPER) {
    await writeFileAtomic(path, WRAPPER, 0o755);
    await chmod(path, 0o755);
  }
  return path;
}

export function sidecarLogPath(): string {
  return join(cacheDir(), "logs", "sidecar.log");
}
