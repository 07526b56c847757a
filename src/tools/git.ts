import { realpath } from "node:fs/promises";
import { dirname } from "node:path";
import { toolError } from "./errors.ts";
import { isInside } from "./paths.ts";

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

export interface GitOptions {
  cwd: string;
  /** Extra environment (GIT_DIR, GIT_INDEX_FILE ... for the private baseline repository). */
  env?: Record<string, string>;
  /** Extra `-c` overrides, placed after the hardening. */
  config?: string[];
  /** Cap on stdout bytes kept (the rest is dropped and `truncated` set); default 64 MiB. */
  maxBytes?: number;
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
    LC_ALL: "C",
    ...(ceiling ? { GIT_CEILING_DIRECTORIES: ceiling } : {}),
    ...extra,
  });
  return env;
}

export async function git(args: string[], opts: GitOptions): Promise<GitResult & { truncated: boolean }> {
  let p;
  try {
    p = Bun.spawn(["git", ...HARDENING, ...(opts.config ?? []), "--no-pager", ...args], {
      cwd: opts.cwd,
      env: gitEnv(opts.env, dirname(opts.cwd)),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
  } catch (e) {
    throw toolError("git_missing", "git is not installed or not on PATH", "install git on the host", e);
  }
  const max = opts.maxBytes ?? 64 * 1024 * 1024;
  const [out, stderr, code] = await Promise.all([readCapped(p.stdout, max), new Response(p.stderr).text(), p.exited]);
  return { code, stdout: out.text, stderr, truncated: out.truncated };
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

/** A git result that must have succeeded, else a tool error carrying git's first stderr line. */
export function ok(r: GitResult, what: string): string {
  if (r.code !== 0) {
    const line = r.stderr.split("\n").find((l) => l.trim()) ?? `exit ${r.code}`;
    throw toolError("git_failed", `${what}: ${line.replace(/^(fatal|error): /, "")}`);
  }
  return r.stdout;
}

export interface Repo {
  /** The workspace (the repository's top level). */
  root: string;
  /** The repository's git dir (its index lives here). */
  gitDir: string;
  /** The repository's object store owner (.git, or the main repository's for a linked worktree). */
  commonDir: string;
  /** `-c` overrides that neutralise this repository's own filter drivers. */
  config: string[];
}

/**
 * The workspace as a git repository, or a tool error. Discovery stops at the workspace (a workspace inside some
 * bigger repository is not a repository here), and the work tree and git dir must both lie inside the workspace:
 * a `.git` file or `core.worktree` pointing elsewhere on the host is refused.
 */
export async function openRepo(workspaceDir: string): Promise<Repo> {
  // Both at once: a git spawn costs a few ms and this runs before every git tool. Listing the config runs nothing.
  const [r, cfg] = await Promise.all([
    git(["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-dir", "--git-common-dir"], { cwd: workspaceDir }),
    git(["config", "--list", "--show-scope", "-z"], { cwd: workspaceDir }),
  ]);
  if (r.code !== 0) {
    if (/not a git repository/i.test(r.stderr)) {
      throw toolError("not_a_git_repo", `the workspace ${workspaceDir} is not a git repository`, "run 'git init' there, or use workspace.diff (which works without git during a run)");
    }
    ok(r, "git rev-parse");
  }
  const [top, gitDir, commonDir] = r.stdout.split("\n");
  const reals: string[] = [];
  for (const [what, p] of [["work tree", top], ["git dir", gitDir], ["git common dir", commonDir]] as const) {
    const real = p ? await realpath(p).catch(() => p) : "";
    reals.push(real);
    if (!real || !isInside(workspaceDir, real)) {
      throw toolError("repo_outside_workspace", `the repository's ${what} (${p}) is outside the workspace ${workspaceDir}`, "git tools only read repositories that live inside the workspace");
    }
  }
  const config: string[] = [];
  const drivers = new Set<string>();
  // -z output: "<scope>\0<key>\n<value>\0" repeated.
  const parts = cfg.stdout.split("\0");
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const scope = parts[i]!;
    const key = parts[i + 1]!.split("\n", 1)[0]!;
    if (scope !== "local" && scope !== "worktree" && scope !== "command") continue;
    const f = /^filter\.(.+)\.(clean|smudge|process)$/i.exec(key);
    if (f) drivers.add(f[1]!);
  }
  for (const d of drivers) config.push("-c", `filter.${d}.clean=`, "-c", `filter.${d}.smudge=`, "-c", `filter.${d}.process=`);
  return { root: workspaceDir, gitDir: reals[1]!, commonDir: reals[2]!, config };
}
