/**
 * A child outlives a parent killed with SIGKILL (an agentOS sidecar, rivet-engine) and keeps its memory, ports and
 * storage. This one-line shell reads a pipe that only this process holds open, so it sees EOF the moment this process
 * is gone, however it ended, and stops the child (SIGTERM, SIGKILL after `graceS`), unless that pid no longer runs a
 * command line containing `match` (a reused pid is left alone). Spawn it after the child, so the child does not hold
 * the pipe open too; it gets PATH only (not our provider keys or the engine's token). The returned handle must stay
 * referenced while the child runs: the pipe closes with it.
 */
export function killWithParent(pid: number, opts: { match: string; graceS: number; name: string }): { kill(): void } {
  const script = [
    "read -r _",
    'grep -q -- "$3" "/proc/$1/cmdline" 2>/dev/null || exit 0',
    'kill -TERM "$1" 2>/dev/null || exit 0',
    'i=0; while kill -0 "$1" 2>/dev/null; do [ "$i" -ge "$2" ] && exec kill -KILL "$1"; i=$((i + 1)); sleep 1; done',
  ].join("\n");
  const p = Bun.spawn(["sh", "-c", script, opts.name, String(pid), String(opts.graceS), opts.match], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    stdin: "pipe",
    stdout: "ignore",
    stderr: "ignore",
  });
  p.unref();
  return { kill: () => p.kill("SIGKILL") };
}
