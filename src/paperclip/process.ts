import { spawn, type ChildProcess } from "node:child_process";

/**
 * The paperclip-aos child, in its own process group (detached) so that a cancel reaches the sidecar and everything
 * else it started, and so that "nothing is left" can be checked afterwards: a group with no member is gone.
 */
export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Resolves once the process exited and its stdout/stderr closed. */
  done: Promise<{ exitCode: number | null; signal: string | null }>;
}

export function spawnGroup(command: string[], args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv }): Child {
  const [bin, ...pre] = command;
  if (!bin) throw new Error("no paperclip-aos command configured");
  const proc = spawn(bin, [...pre, ...args], { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
  const done = new Promise<{ exitCode: number | null; signal: string | null }>((resolve, reject) => {
    proc.once("error", reject);
    proc.once("close", (code, signal) => resolve({ exitCode: code, signal }));
  });
  if (proc.pid === undefined) {
    // spawn failed synchronously (ENOENT arrives as an 'error' event): done rejects with it.
    return { proc, pid: -1, done };
  }
  return { proc, pid: proc.pid, done };
}

export function groupAlive(pgid: number): boolean {
  if (pgid <= 0) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  if (pgid <= 0) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Make sure nothing of the group is left: wait a little, then TERM, then KILL. True when the group is gone. */
export async function reapGroup(pgid: number, graceMs = 5000): Promise<boolean> {
  for (let waited = 0; waited < 1000 && groupAlive(pgid); waited += 100) await sleep(100);
  if (!groupAlive(pgid)) return true;
  signalGroup(pgid, "SIGTERM");
  for (let waited = 0; waited < graceMs && groupAlive(pgid); waited += 100) await sleep(100);
  if (!groupAlive(pgid)) return true;
  signalGroup(pgid, "SIGKILL");
  for (let waited = 0; waited < 2000 && groupAlive(pgid); waited += 100) await sleep(100);
  return !groupAlive(pgid);
}

/** Split a byte stream into lines; the last partial line is delivered on end. */
export function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = "";
  stream.setEncoding?.("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  stream.on("end", () => {
    if (buf) onLine(buf);
    buf = "";
  });
}
