import { chmodSync, lstatSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { stateDir } from "../paths.ts";
import { runtimeError } from "../errors.ts";
import { processStillRuns, procStartTime } from "../runtime/proc.ts";

/**
 * Where the worker listens: `<state dir>/worker/worker.sock`. The directory is 0700 and the socket 0700, both owned by
 * the user who runs `serve`: the kernel refuses anyone else at connect(), which is the access control (Bun exposes no
 * SO_PEERCRED; test/e2e/worker.test.ts proves another uid is refused).
 */
export function workerDir(state = stateDir()): string {
  return join(state, "worker");
}

export function defaultSocketPath(state = stateDir()): string {
  return join(workerDir(state), "worker.sock");
}

/** The lock a `serve` holds beside its socket, naming it (server.ts takes it; the client reads it). */
export function workerLockPath(socketPath: string): string {
  return join(dirname(socketPath), "worker.pid");
}

/**
 * What a lock says: the owner's pid and its start time. A pid alone is not a process: a worker ended by SIGKILL, an
 * OOM kill or a reboot leaves its lock, and with pids reused (32768 of them on many hosts) the next process to get
 * that pid would hold the state dir against every later `serve`.
 */
export function workerLockText(): string {
  const start = procStartTime("self");
  return start === null ? `${process.pid}\n` : `${process.pid} ${start}\n`;
}

/** An older version's lock holds the pid only (no start: the pid's liveness is taken at its word). */
function readWorkerLock(socketPath: string): { pid: number; start?: number } | undefined {
  let text: string;
  try {
    text = readFileSync(workerLockPath(socketPath), "utf8");
  } catch {
    return undefined;
  }
  const [pid = NaN, start] = text.trim().split(/\s+/).map(Number);
  return Number.isInteger(pid) && pid > 0 ? { pid, start: Number.isInteger(start) ? start : undefined } : undefined;
}

/** The pid the worker's lock names, live or not; undefined when there is no lock or it names none. */
export function workerLockPid(socketPath: string): number | undefined {
  return readWorkerLock(socketPath)?.pid;
}

/** The pid in the worker's lock when that process still runs; undefined when there is no lock or its owner is gone. */
export function workerLockOwner(socketPath: string): number | undefined {
  const lock = readWorkerLock(socketPath);
  return lock && processStillRuns(lock.pid, lock.start) ? lock.pid : undefined;
}

/** sun_path holds 108 bytes with its NUL: a longer path cannot be bound or connected to. */
const MAX_SOCKET_PATH = 107;

export function checkSocketPath(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw runtimeError(`the worker socket path is ${Buffer.byteLength(path)} bytes, over the ${MAX_SOCKET_PATH} a Unix socket allows: ${path}`, "use a shorter PAPERCLIP_AOS_HOME or --socket PATH", "worker_socket_path");
  }
}

/** Make the socket's directory private to us, refusing one that is a symlink or belongs to someone else. */
export function preparePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw runtimeError(`${dir} is not a directory of ours`, "remove it, or point PAPERCLIP_AOS_HOME elsewhere", "worker_dir_unsafe");
  }
  chmodSync(dir, 0o700);
}

export type Probe = "live" | "stale" | "absent" | "refused";

/**
 * Is a worker answering at `path`? `stale`: the file is there but nobody listens (a worker that was killed);
 * `refused`: it is there and we may not connect (another user's).
 */
export function probeSocket(path: string, timeoutMs = 2000): Promise<Probe> {
  return new Promise((resolve) => {
    let st;
    try {
      st = lstatSync(path);
    } catch (e) {
      // A directory we may not enter (another user's 0700 worker dir) hides the socket: that is a refusal too.
      return resolve((e as NodeJS.ErrnoException).code === "EACCES" ? "refused" : "absent");
    }
    if (!st.isSocket()) return resolve("stale");
    const s = connect(path);
    const done = (p: Probe) => {
      clearTimeout(timer);
      s.destroy();
      resolve(p);
    };
    const timer = setTimeout(() => done("stale"), timeoutMs);
    s.once("connect", () => done("live"));
    s.once("error", (e: NodeJS.ErrnoException) => done(e.code === "EACCES" || e.code === "EPERM" ? "refused" : e.code === "ENOENT" ? "absent" : "stale"));
  });
}

export function removeSocket(path: string): void {
  rmSync(path, { force: true });
}

/** Connect, resolving with the socket once connected (or the connect error). */
export function connectSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once("connect", () => {
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** Split a byte stream into lines, calling `onLine` for each complete one. */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let buf = "";
  // A chunk may end inside a multi-byte character: the decoder keeps the partial bytes for the next one.
  const decoder = new StringDecoder("utf8");
  return (chunk) => {
    buf += typeof chunk === "string" ? chunk : decoder.write(chunk);
    let nl: number;
    while ((nl = buf.indexOf("\n")) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line) onLine(line);
    }
  };
}
