import { constants, fstatSync, lstatSync, openSync, readSync, closeSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
// $HOME, as git expands `~/` in an include path; node:os only without it.
import { homedir } from "../paths.ts";
import { toolError } from "./errors.ts";
import { git, ok, type GitOptions, type GitResult, type GitSetup } from "./git.ts";
import { isPlainLocalConfig } from "./git-config-scan.ts";
import { isInside, realpathOrNull } from "./paths.ts";

export interface Repo {
  /** The workspace (git runs here). */
  root: string;
  /** The repository's git dir (its index lives here). */
  gitDir: string;
  /** The repository's object store owner (.git, or the main repository's for a linked worktree). */
  commonDir: string;
  /** The work tree's top level (the workspace, or a directory inside it that core.worktree names). */
  worktree: string;
  /** `-c` overrides that neutralise this repository's own filter drivers. */
  config: string[];
}

/**
 * The workspace as a git repository, or a tool error. Discovery stops at the workspace (a workspace inside some
 * bigger repository is not a repository here), and the work tree and git dir must both lie inside the workspace:
 * a `.git` file or `core.worktree` pointing elsewhere on the host is refused.
 *
 * Most workspaces are a plain `.git` directory whose config defines no filter, include or work tree: that is
 * recognised from the files alone (plainRepo), with no git process. Anything else asks git (discoverRepo). Either
 * way gitInRepo then checks, in the very git process that does the work, that git used this repository.
 */
export async function openRepo(workspaceDir: string): Promise<Repo> {
  return plainRepo(workspaceDir) ?? (await discoverRepo(workspaceDir));
}

/**
 * Run git in the repository, and refuse its output unless that process itself (its setup trace) used the same git
 * dir, common dir and work tree that openRepo checked: the workspace can change between the two. Only for commands
 * that git sets up before running them (status, log, diff ...): rev-parse sets itself up and traces nothing.
 */
export async function gitInRepo(repo: Repo, args: string[], opts: Omit<GitOptions, "cwd" | "config" | "traceSetup"> = {}): Promise<GitResult & { truncated: boolean }> {
  const r = await git(args, { ...opts, cwd: repo.root, config: repo.config, traceSetup: true });
  if (r.code !== 0) {
    // Anchored: a line git quotes from a file cannot pose as this one.
    if (/^fatal: not a git repository/m.test(r.stderr)) throw notARepo(repo.root);
    return r;
  }
  if (!r.setup || !sameRepo(repo, r.setup)) {
    throw toolError("repo_changed", `the repository in ${repo.root} changed while git read it`, "run the tool again");
  }
  return r;
}

function sameRepo(repo: Repo, s: GitSetup): boolean {
  if (s.gitDir === repo.gitDir && s.commonDir === repo.commonDir && s.worktree === repo.worktree) return true;
  const real = (p: string | null) => (p === null ? null : realpathOrNull(p));
  return real(s.gitDir) === repo.gitDir && real(s.commonDir) === repo.commonDir && real(s.worktree) === repo.worktree;
}

function notARepo(workspaceDir: string) {
  return toolError("not_a_git_repo", `the workspace ${workspaceDir} is not a git repository`, "run 'git init' there, or use workspace.diff (which works without git during a run)");
}

/** Config files larger than this are left to git. */
const MAX_PLAIN_CONFIG = 64 * 1024;

/**
 * The common case without a process: `<ws>/.git` is a real directory (not a link, not a `.git` file) without a
 * `commondir` file, so git's discovery (which GIT_CEILING_DIRECTORIES stops at the workspace) can only land on it;
 * `<ws>/HEAD` does not exist, so the workspace itself cannot pass for a bare repository when `.git` is broken; and
 * its config is one that isPlainLocalConfig proves defines no filter driver, include, work tree or bare repository.
 * Then git dir and common dir are `<ws>/.git`, the work tree is the workspace, and no driver needs neutralising:
 * exactly what discoverRepo would find. Anything else (or any doubt): null, and git is asked.
 */
function plainRepo(ws: string): Repo | null {
  const gitDir = join(ws, ".git");
  const st = lstatSync(gitDir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return null;
  if (lstatSync(join(gitDir, "commondir"), { throwIfNoEntry: false })) return null;
  if (lstatSync(join(ws, "HEAD"), { throwIfNoEntry: false })) return null;
  const text = readSmallFile(join(gitDir, "config"));
  if (text === null || !isPlainLocalConfig(text)) return null;
  return { root: ws, gitDir, commonDir: gitDir, worktree: ws, config: [] };
}

/** A regular file's text ("" when there is none), or null when it is anything else or too large to bother. */
function readSmallFile(path: string): string | null {
  let fd: number;
  try {
    // No link followed and no blocking on a FIFO: either is git's to deal with.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "" : null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_PLAIN_CONFIG) return null;
    const buf = Buffer.allocUnsafe(st.size + 1);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return got > st.size ? null : buf.subarray(0, got).toString("latin1"); // grew while read: let git read it
  } finally {
    closeSync(fd);
  }
}

/**
 * Ask git: one process lists the config (with the scope of each key) and, on its trace pipe, where it found the
 * repository. The git dir, common dir and work tree must lie inside the workspace; filter drivers from the
 * repository's own config (local and worktree scope, includes resolved into the scope that includes them) are
 * neutralised. Listing the config runs nothing.
 */
async function discoverRepo(workspaceDir: string): Promise<Repo> {
  const r = await git(["config", "--list", "--show-scope", "--show-origin", "-z"], { cwd: workspaceDir, traceSetup: true });
  ok(r, "git config");
  const s = r.setup;
  if (!s) throw notARepo(workspaceDir);
  if (s.worktree === null) {
    throw toolError("git_failed", `the repository in ${workspaceDir} has no work tree (a bare repository)`, "git tools read a checked-out repository");
  }
  const reals: string[] = [];
  for (const [what, p] of [["work tree", s.worktree], ["git dir", s.gitDir], ["git common dir", s.commonDir]] as const) {
    const real = realpathOrNull(p) ?? p;
    reals.push(real);
    if (!isInside(workspaceDir, real)) {
      throw toolError("repo_outside_workspace", `the repository's ${what} (${p}) is outside the workspace ${workspaceDir}`, "git tools only read repositories that live inside the workspace");
    }
  }
  // A git dir the agent can write is the agent's repository (its config, refs, alternates): only those inside a `.git`
  // directory are write-protected (src/caps). A workspace laid out as a git dir (HEAD, config, refs, objects at its
  // top, beside no .git) was taken for one, and its objects/info/alternates showed another host repository's commits.
  for (const [what, real] of [["git dir", reals[1]!], ["git common dir", reals[2]!]] as const) {
    if (!inDotGit(workspaceDir, real)) {
      throw toolError("unsafe_git_config", `the repository's ${what} (${real}) is not inside a .git directory, so the agent can write it`, "git tools read a repository whose git dir is a .git directory of the workspace");
    }
  }
  const entries = configEntries(r.stdout);
  refuseWritableIncludes(workspaceDir, entries);
  return { root: workspaceDir, worktree: reals[0]!, gitDir: reals[1]!, commonDir: reals[2]!, config: neutralisedDrivers(entries) };
}

/** Is `real` (inside the workspace) in one of its `.git` directories, which src/caps write-protects for the agent? */
function inDotGit(workspaceDir: string, real: string): boolean {
  return relative(workspaceDir, real).split(sep).includes(".git");
}

interface ConfigEntry {
  scope: string;
  /** `file:<path>` (relative to the workspace, where git ran), `command line:`, ... */
  origin: string;
  key: string;
  value: string;
}

/** `git config --list --show-scope --show-origin -z`: "<scope>\0<origin>\0<key>\n<value>\0" repeated. */
function configEntries(listing: string): ConfigEntry[] {
  const parts = listing.split("\0");
  const out: ConfigEntry[] = [];
  for (let i = 0; i + 2 < parts.length; i += 3) {
    const kv = parts[i + 2]!;
    const nl = kv.indexOf("\n");
    out.push({ scope: parts[i]!, origin: parts[i + 1]!, key: nl === -1 ? kv : kv.slice(0, nl), value: nl === -1 ? "" : kv.slice(nl + 1) });
  }
  return out;
}

/**
 * A config file the agent can write is the agent's config: a workspace file outside any `.git` (those are
 * write-protected: src/caps) that the repository's config includes, as a project's shared `.gitconfig` often is. The
 * tools cannot make git safe under such a config: it is read anew by every git process, so what one process listed and
 * neutralised need not be what the next one reads. So a repository that includes one is refused.
 */
function refuseWritableIncludes(workspaceDir: string, entries: ConfigEntry[]): void {
  for (const e of entries) {
    if (e.scope === "command" || !/^include(if\..*)?\.path$/is.test(e.key) || !e.origin.startsWith("file:")) continue;
    const from = dirname(resolve(workspaceDir, e.origin.slice("file:".length)));
    const target = e.value.startsWith("~/") ? join(homedir(), e.value.slice(2)) : resolve(from, e.value);
    const real = realpathOrNull(target) ?? join(realpathOrNull(dirname(target)) ?? dirname(target), basename(target));
    if (!isInside(workspaceDir, real)) continue;
    if (inDotGit(workspaceDir, real)) continue;
    throw toolError(
      "unsafe_git_config",
      `the repository's config includes ${relative(workspaceDir, real) || "."}, a workspace file the agent can write`,
      "git tools do not run under a config the agent writes: include it from outside the workspace, or from inside .git",
    );
  }
}

/** `-c` overrides emptying every filter driver that the local, worktree or command scope defines. */
function neutralisedDrivers(entries: ConfigEntry[]): string[] {
  const drivers = new Set<string>();
  for (const { scope, key } of entries) {
    if (scope !== "local" && scope !== "worktree" && scope !== "command") continue;
    const f = /^filter\.(.+)\.(clean|smudge|process)$/i.exec(key);
    if (!f) continue;
    // git splits `-c KEY=VALUE` at its first '=', so `-c filter.NAME.clean=` would set filter.x.clean to CMD for the
    // NAME `x.clean=CMD #` (measured: the agent's command ran on the host at git status). No such name is neutralised.
    if (f[1]!.includes("=")) {
      throw toolError("unsafe_git_config", "the repository's config names a filter driver with '=' in its name, which git tools cannot neutralise", "remove that [filter] section from the repository's config (or the file it includes)");
    }
    drivers.add(f[1]!);
  }
  const config: string[] = [];
  for (const d of drivers) config.push("-c", `filter.${d}.clean=`, "-c", `filter.${d}.smudge=`, "-c", `filter.${d}.process=`);
  return config;
}
