import { appendFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { firstLine, runtimeError } from "../errors.ts";
import { logger } from "../log.ts";
import { pidAlive } from "../runtime/index.ts";

/**
 * rivetkit's napi module puts each actor's runtime socket in a new `rivet-actor-runtime.<12 hex>/` directory of
 * XDG_RUNTIME_DIR when that is set, else of TMPDIR (else /tmp), and leaves the directory behind even after a clean
 * shutdown (measured, rivetkit 2.3.19: the socket goes, the directory stays; a killed worker leaves the socket too). The
 * native code reads both from the C environment at each socket it makes, not from process.env (Bun keeps its own copy,
 * which is also what children are spawned with). So a runner points the C environment's XDG_RUNTIME_DIR and TMPDIR
 * (libc setenv, through bun:ffi) at a directory of its own in the state dir while it runs, and removes it when it
 * stops; one a killed runner left is removed by the next runner's start.
 * Where that path would be too long for a socket, the inherited directory stays and each socket rivetkit makes is
 * listed in `<root>/tmp@<pid>.sockets`: removed at stop, or by the next runner's start after a kill. Where that one is
 * too long as well, no heartbeat could run (rivetkit fails each with "An internal error occurred"), so the runner
 * does not start.
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

/** Can rivetkit make its runtime sockets in `dir`? */
function roomForSockets(dir: string): boolean {
  return Buffer.byteLength(dir) + RIVETKIT_SUFFIX <= SOCKET_PATH_MAX;
}

/**
 * Give rivetkit's native code a socket directory of its own: `<root>/tmp@<pid>`, unless that path is too long for
 * the sockets inside it (then the inherited one stays, and the sockets tracked, listed in `<root>/tmp@<pid>.sockets`,
 * are removed at close instead). What runners that are no longer running left is removed first. Throws (exit 1)
 * when the inherited directory is too long too, naming both and what to change.
 */
export async function useNativeTmpdir(root: string): Promise<NativeTmpdir> {
  removeStale(root);
  const dir = join(root, `${DIR_PREFIX}${process.pid}`);
  const list = `${dir}${LIST_SUFFIX}`;
  const tracked = new Set<string>();
  const libc = await openLibc();
  const inherited = rivetkitSocketDir(libc);
  let restore: (() => void) | undefined;
  if (roomForSockets(dir)) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      restore = setNativeEnv(libc, { XDG_RUNTIME_DIR: dir, TMPDIR: dir });
    } catch (e) {
      logger.debug(`worker: no socket directory of our own for rivetkit (${firstLine(e)}): its sockets go to ${inherited.name}`);
    }
  } else {
    logger.debug(`worker: ${dir} is too long for rivetkit's socket paths: its sockets go to ${inherited.name}`);
  }
  if (!restore && !roomForSockets(inherited.dir)) {
    libc?.close();
    rmSync(dir, { recursive: true, force: true });
    const max = SOCKET_PATH_MAX - RIVETKIT_SUFFIX;
    throw runtimeError(
      `rivetkit's actor runtime sockets need a directory of at most ${max} bytes, but the state dir's ${dir} is ${Buffer.byteLength(dir)} and ${inherited.name}=${inherited.dir} is ${Buffer.byteLength(inherited.dir)}`,
      `start the worker with a short ${inherited.name} (e.g. ${inherited.name}=/tmp) or a shorter PAPERCLIP_AOS_HOME`,
      "rivet_socket_path",
    );
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
      libc?.close();
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

type Libc = Awaited<ReturnType<typeof openLibc>>;

async function openLibc() {
  const { dlopen, FFIType, CString } = await import("bun:ffi");
  try {
    const lib = dlopen("libc.so.6", {
      getenv: { args: [FFIType.cstring], returns: FFIType.ptr },
      setenv: { args: [FFIType.cstring, FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
      unsetenv: { args: [FFIType.cstring], returns: FFIType.i32 },
    });
    const c = (s: string) => Buffer.from(`${s}\0`);
    return {
      get(name: string): string | null {
        const p = lib.symbols.getenv(c(name));
        return p ? new CString(p).toString() : null;
      },
      set(name: string, value: string | null): boolean {
        return (value === null ? lib.symbols.unsetenv(c(name)) : lib.symbols.setenv(c(name), c(value), 1)) === 0;
      },
      close: () => lib.close(),
    };
  } catch (e) {
    logger.debug(`worker: libc not loaded (${firstLine(e)}): rivetkit's sockets go where it puts them`);
    return null;
  }
}

/** Where rivetkit makes its sockets when left alone: what the C environment says, as Rust's std reads it. */
function rivetkitSocketDir(libc: Libc): { name: string; dir: string } {
  const get = (name: string) => (libc ? libc.get(name) : (process.env[name] ?? null)) || null;
  const xdg = get("XDG_RUNTIME_DIR");
  if (xdg) return { name: "XDG_RUNTIME_DIR", dir: xdg };
  return { name: "TMPDIR", dir: get("TMPDIR") ?? "/tmp" };
}

/** Set variables in the C environment (what native code reads); returns what puts the old values back. */
function setNativeEnv(libc: Libc, vars: Record<string, string>): () => void {
  if (!libc) throw new Error("libc is not loaded");
  const old = Object.keys(vars).map((name) => [name, libc.get(name)] as const);
  for (const [name, value] of Object.entries(vars)) {
    if (!libc.set(name, value)) {
      for (const [n, v] of old) libc.set(n, v);
      throw new Error(`setenv ${name} failed`);
    }
  }
  return () => {
    for (const [n, v] of old) libc.set(n, v);
  };
}
