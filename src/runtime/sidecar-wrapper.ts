import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir } from "../paths.ts";
import { writeFileAtomic } from "../fsutil.ts";

/**
 * The sidecar forwards its stderr to ours unconditionally, and its V8 worker-pool lines ignore AGENTOS_LOG_LEVEL
 * (notes/agentos-api.md §7). A two-line wrapper sends all of it to a log file instead, unless --debug; stdin, stdout and
 * the fd-3 control pipe pass through untouched because the wrapper `exec`s the real binary.
 */
const WRAPPER = `#!/bin/sh
# paperclip-aos: runs the agentOS sidecar with its stderr sent to $PAPERCLIP_AOS_SIDECAR_LOG
exec "$PAPERCLIP_AOS_REAL_SIDECAR" "$@" 2>>"$PAPERCLIP_AOS_SIDECAR_LOG"
`;

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
