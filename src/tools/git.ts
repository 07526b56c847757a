import { closeSync, readSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { toolError } from "./errors.ts";

/**
 * The system git, run with an argv array (never a shell) and hardened against the workspace itself: the agent can
 * write the workspace, so it can write `.git/config` and `.gitattributes`. Keys that make git run a program are
 * overridden on the command line (which beats every config file): fsmonitor, hooks, signature checks, the pager,
 * and every filter driver the repository's own config defines (a clean filter runs during `git status`).
 */
const HARDENING = [
  "-c", "core.fsmonitor=false",
  "-c", "core.hooksPath=/dev/null",
  "-c", "log.showSignature=false",
  "-c", "core.pager=cat",
  "-c", "core.quotePath=false",
  "-c", "color.ui=false",
  "-c", "core.autocrlf=false",
] as const;

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where a git process found its repository, as it reported it itself (GIT_TRACE_SETUP); paths are absolute. */
export interface GitSetup {
  gitDir: string;
  commonDir: string;
  /** null for a repository without a work tree (bare). */
  worktree: string | null;
}

export interface GitOptions {
  cwd: string;
  /** Extra environment (GIT_DIR, GIT_INDEX_FILE ... for the private baseline repository). */
  env?: Record<string, string>;
  /** Extra `-c` overrides, placed after the hardening. */
  config?: string[];
  /** Cap on stdout bytes kept (the rest is dropped and `truncated` set); default 64 MiB. */
  maxBytes?: number;
  /** Also report where this git process found its repository (`setup`; absent: it found none). */
  traceSetup?: boolean;
}

function gitEnv(extra: Record<string, string> = {}, ceiling?: string): Record<string, string> {
  const env: Record<string, string> = {};
  // Inherited GIT_DIR / GIT_WORK_TREE / GIT_INDEX_FILE would silently point git at another repository.
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("GIT_")) env[k] = v;
  Object.assign(env, {
    GIT_TERMINAL_PROMPT: "0",
    GIT_OPTIONAL_LOCKS: "0",
    GIT_PAGER: "cat",
    GIT_ATTR_NOSYSTEM: "1",
    // No transport at all: set, this list replaces every protocol.*.allow of every config, and an empty one allows
    // none. A config the agent writes (one the repository's includes, or a lifted .git/config deny) could otherwise
    // name a promisor remote, and git's lazy fetch of a missing object (git.log of any sha) ran its uploadpack
    // command on the host (measured, git 2.39). The tools never fetch.
    GIT_ALLOW_PROTOCOL: "",
    LC_ALL: "C",
    ...(ceiling ? { GIT_CEILING_DIRECTORIES: ceiling } : {}),
    ...extra,
  });
  return env;
}

/** The descriptor git writes its setup trace to: a pipe of its own, so nothing git prints about files can pose as it. */
const TRACE_FD = 3;

export async function git(args: string[], opts: GitOptions): Promise<GitResult & { truncated: boolean; setup?: GitSetup }> {
  let p;
  const env = gitEnv(opts.env, dirname(opts.cwd));
  if (opts.traceSetup) env.GIT_TRACE_SETUP = String(TRACE_FD);
  try {
    p = Bun.spawn(["git", ...HARDENING, ...(opts.config ?? []), "--no-pager", ...args], {
      cwd: opts.cwd,
      env,
      stdio: opts.traceSetup ? ["ignore", "pipe", "pipe", "pipe"] : ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    throw toolError("git_missing", "git is not installed or not on PATH", "install git on the host", e);
  }
  // Reading the slot hands its descriptor to us (Bun does not close it): it is closed in drainTrace.
  const traceFd = opts.traceSetup ? (p.stdio[TRACE_FD] as number | null) : null;
  const max = opts.maxBytes ?? 64 * 1024 * 1024;
  try {
    const [out, stderr, code] = await Promise.all([readCapped(p.stdout, max), new Response(p.stderr).text(), p.exited]);
    const result: GitResult & { truncated: boolean; setup?: GitSetup } = { code, stdout: out.text, stderr, truncated: out.truncated };
    if (traceFd !== null) {
      const setup = parseSetupTrace(drainTrace(traceFd));
      if (setup) result.setup = setup;
    }
    return result;
  } finally {
    if (typeof traceFd === "number") closeSync(traceFd);
  }
}

/** What git wrote to the trace pipe; it has exited, so what is there is all there is (a few lines). */
function drainTrace(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(16 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") break; // a non-blocking pipe with nothing more in it
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Parse GIT_TRACE_SETUP output (git's trace.c, trace_repo_setup): `setup: git_dir: X`, `git_common_dir`, `worktree`,
 * `cwd`, `prefix`, each after a time and source position, with `\`, CR and LF escaped. Relative paths are relative
 * to the `cwd` line. A child git (a submodule) would trace too, after its parent: the first block is the one.
 * Exported for the tests.
 */
export function parseSetupTrace(text: string): GitSetup | null {
  const seen = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(?:\d\d:\d\d:\d\d\.\d+ +\S+:\d+ +)?setup: (git_dir|git_common_dir|worktree|cwd|prefix): (.*)$/.exec(line);
    if (m && !seen.has(m[1]!)) seen.set(m[1]!, unquoteCrlf(m[2]!));
  }
  const gitDir = seen.get("git_dir");
  const commonDir = seen.get("git_common_dir");
  const worktree = seen.get("worktree");
  const cwd = seen.get("cwd");
  if (gitDir === undefined || commonDir === undefined || worktree === undefined || cwd === undefined || !cwd.startsWith("/")) return null;
  return { gitDir: resolve(cwd, gitDir), commonDir: resolve(cwd, commonDir), worktree: worktree === "(null)" ? null : resolve(cwd, worktree) };
}

function unquoteCrlf(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : c));
}

async function readCapped(stream: ReadableStream<Uint8Array>, max: number): Promise<{ text: string; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    if (size >= max) {
      truncated = true;
      continue; // keep draining so git is not blocked on a full pipe
    }
    const room = max - size;
    if (chunk.length > room) truncated = true;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    chunks.push(part);
    size += part.length;
  }
  return { text: new TextDecoder().decode(Buffer.concat(chunks)), truncated };
}

/**
 * A git result that must have succeeded, else a tool error naming the command and git's exit code only. git's own
 * text stays out: it quotes what it cannot parse (`unexpected line in .git/packed-refs: TOKEN=...`, `bad graft data:
 * ...`, and a warning can come before the fatal line), and it reads files the agent may not read (through a link the
 * host user made, a config include, a file in .git), so a line of it could carry a denied file into the tool result.
 */
export function ok(r: GitResult, what: string): string {
  if (r.code !== 0) throw toolError("git_failed", `${what} failed (git exited ${r.code})`, "git's message is not shown (it can quote files the agent may not read): run git on the host to see it");
  return r.stdout;
}
