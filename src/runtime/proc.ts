import { readdirSync, readFileSync } from "node:fs";

/**
 * Linux process facts from /proc. agentOS does not tell us the sidecar's pid, and Bun's process.ppid keeps the value
 * it had at start-up, so both are read from the kernel.
 */
export interface ProcStat {
  ppid: number;
  rssKb: number;
}

/** The fields of /proc/<pid>/stat after the command name (field 3 on), or null when the process is gone. */
function statFields(pid: number | "self"): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parens: the fields after it start past the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null; // gone, or not Linux
  }
}

export function procStat(pid: number | "self"): ProcStat | null {
  const fields = statFields(pid);
  return fields ? { ppid: Number(fields[1]), rssKb: Number(fields[21]) * 4 } : null;
}

/** When the process started (clock ticks after boot, /proc/<pid>/stat field 22): with the pid, a process's identity. */
export function procStartTime(pid: number | "self"): number | null {
  const fields = statFields(pid);
  return fields ? Number(fields[19]) : null;
}

/**
 * Is the process that was `pid` when it started at `start` (procStartTime) still running? A pid alone may be a later
 * process's once pids are reused (a lock or a dir name left by a killed process); without a start time the pid's
 * liveness is all there is to go by.
 */
export function processStillRuns(pid: number, start: number | undefined): boolean {
  if (!pidAlive(pid)) return false;
  if (start === undefined) return true;
  const now = procStartTime(pid);
  return now === null || now === start;
}

/** Whether a process runs the agentOS sidecar (its command line names it; our wrapper execs it under the same pid). */
export function isSidecarProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("sidecar");
  } catch {
    return false;
  }
}

/** A process with this pid exists and is not a zombie (killed, not reaped yet by its parent: it holds nothing). */
export function pidRunning(pid: number): boolean {
  return pidAlive(pid) && statFields(pid)?.[0] !== "Z";
}

/** A process with this pid exists (ours included; EPERM: it exists but is another user's). */
export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function allPids(): number[] {
  try {
    return readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
}

/** The current parent: changes when the parent dies and we are reparented. */
export function parentPid(): number {
  return procStat("self")?.ppid ?? process.ppid;
}

/** A process and all its descendants (a CLI and its sidecar; the worker, its sidecars and their children). */
export function processTree(rootPid: number): number[] {
  const stats = new Map(allPids().map((pid) => [pid, procStat(pid)] as const));
  const out: number[] = [];
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop()!;
    if (!stats.get(pid)) continue;
    out.push(pid);
    for (const [child, st] of stats) if (st?.ppid === pid) stack.push(child);
  }
  return out;
}

/** RSS of a process tree (processTree). */
export function treeRssKb(rootPid: number): number {
  return processTree(rootPid).reduce((n, pid) => n + (procStat(pid)?.rssKb ?? 0), 0);
}

export function childPids(of: number = process.pid): number[] {
  return allPids().filter((pid) => procStat(pid)?.ppid === of);
}
