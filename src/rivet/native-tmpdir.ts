import { appendFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { firstLine } from "../errors.ts";
import { logger } from "../log.ts";
import { pidAlive } from "../runtime/index.ts";

/**
 * rivetkit's napi module puts each actor's runtime socket in a new `rivet-actor-runtime.<12 hex>/` directory of TMPDIR,
 * and leaves the directory behind even after a clean shutdown (measured, rivetkit 2.3.19: the socket goes, the
 * directory stays; a killed worker leaves the socket too). The native code reads TMPDIR from the C environment at each
 * socket it makes, not from process.env (Bun keeps its own copy, which is also what children are spawned with). So a
 * runner points the C environment's TMPDIR (libc setenv, through bun:ffi) at a directory of its own in the state dir
 * while it runs, and removes it when it stops; one a killed runner left is removed by the next runner's start.
 * Where that path would be too long for a socket, TMPDIR stays and each socket rivetkit makes is listed in
 * `<root>/tmp@<pid>.sockets`: removed at stop, or by the next runner's start after a kill.
 */

/** A Unix socket path has at most 107 bytes; rivetkit's own part of it is `/rivet-actor-runtime.<12>/<12>.sock`. */
const SOCKET_PATH_MAX = 107;
const RIVETKIT_SUFFIX = "/rivet-actor-runtime.000000000000/000000000000.sock".length;
/** `@` is not in a worker name (runner.ts makes those of [A-Za-z0-9_.-]), so this never meets a worker's scratch dir. */
const DIR_PREFIX = "tmp@";

export interface NativeTmpdir {
  /** The directory the runtime sockets go to, or null when TMPDIR was left as it is. */
  readonly dir: string | null;
  /** Remember a socket rivetkit made (actorRuntimeSocket's path): its directory is removed at close if still there. */
  track(socketPath: string): void;
  /** Restore TMPDIR and remove what rivetkit left. */
  close(): void;
}

/**
 * Give rivetkit's native code a TMPDIR of its own: `<root>/tmp@<pid>`, unless that path is too long for the sockets
 * inside it (then TMPDIR stays, and the sockets tracked, listed in `<root>/tmp@<pid>.sockets`, are removed at close
 * instead). What runners that are no longer running left is removed first.
 */
export async function useNativeTmpdir(root: string): Promise<NativeTmpdir> {
  removeStale(root);
  const dir = join(root, `${DIR_PREFIX}${process.pid}`);
  const list = `${dir}${LIST_SUFFIX}`;
  const tracked = new Set<string>();
  let restore: (() => void) | undefined;
  if (dir.length + RIVETKIT_SUFFIX <= SOCKET_PATH_MAX) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      restore = await setNativeEnv("TMPDIR", dir);
    } catch (e) {
      logger.debug(`worker: TMPDIR for rivetkit's sockets not set (${firstLine(e)}): they go to the inherited TMPDIR`);
    }
  } else {
    logger.debug(`worker: ${dir} is too long for rivetkit's socket paths: its sockets go to the inherited TMPDIR`);
  }
  const own = restore ? dir : null;
  return {
    dir: own,
    track(socketPath) {
      const d = dirname(socketPath);
      if (!basename(d).startsWith("rivet-actor-runtime.") || (own !== null && dirname(d) === own) || tracked.has(socketPath)) return;
      tracked.add(socketPath);
      try {
        mkdirSync(root, { recursive: true });
        appendFileSync(list, `${socketPath}\n`, { mode: 0o600 });
      } catch (e) {
        logger.debug(`worker: could not list ${socketPath} in ${list}: ${firstLine(e)}`);
      }
    },
    close() {
      restore?.();
      restore = undefined;
      if (own) rmSync(own, { recursive: true, force: true });
      // Called after the registry's shutdown: these sockets (ours) serve nobody now.
      removeSockets(tracked);
      tracked.clear();
      rmSync(list, { force: true });
    },
  };
}

const LIST_SUFFIX = ".sockets";

/** Each socket (only a socket, in a rivetkit socket directory), then its directory if that is then empty. */
function removeSockets(paths: Iterable<string>): void {
  for (const socket of paths) {
    if (!basename(dirname(socket)).startsWith("rivet-actor-runtime.")) continue;
    try {
      if (lstatSync(socket).isSocket()) rmSync(socket, { force: true });
    } catch {
      // already gone
    }
    try {
      rmdirSync(dirname(socket)); // only when empty: anything else in it is not ours
    } catch {
      // not empty, or already gone
    }
  }
}

/** The `tmp@<pid>` directories and `tmp@<pid>.sockets` lists (and their sockets) of runners no longer running. */
function removeStale(root: string): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const isList = name.endsWith(LIST_SUFFIX);
    const pid = Number(name.slice(DIR_PREFIX.length, isList ? -LIST_SUFFIX.length : undefined));
    if (!Number.isInteger(pid) || pid <= 0 || pidAlive(pid)) continue;
    const path = join(root, name);
    if (isList) {
      try {
        removeSockets(readFileSync(path, "utf8").split("\n").filter(Boolean));
      } catch {
        // unreadable: only the list goes
      }
    }
    rmSync(path, { recursive: true, force: true });
  }
}

/** Set a variable in the C environment (what native code reads); returns what puts the old value back. */
async function setNativeEnv(name: string, value: string): Promise<() => void> {
  const { dlopen, FFIType, CString } = await import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    getenv: { args: [FFIType.cstring], returns: FFIType.ptr },
    setenv: { args: [FFIType.cstring, FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
    unsetenv: { args: [FFIType.cstring], returns: FFIType.i32 },
  });
  const c = (s: string) => Buffer.from(`${s}\0`);
  const before = libc.symbols.getenv(c(name));
  const old = before ? new CString(before).toString() : null;
  if (libc.symbols.setenv(c(name), c(value), 1) !== 0) throw new Error(`setenv ${name} failed`);
  return () => {
    if (old === null) libc.symbols.unsetenv(c(name));
    else libc.symbols.setenv(c(name), c(old), 1);
    libc.close();
  };
}
