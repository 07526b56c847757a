import { appendFile, cp, lstat, mkdir, readFile, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import * as v from "valibot";
import { writeFileAtomic } from "../fsutil.ts";
import { toolError } from "./errors.ts";
import { git, ok } from "./git.ts";
import type { Repo } from "./git-repo.ts";
import { isInside } from "./paths.ts";
import { runDir } from "./run-dir.ts";

/**
 * The start-of-run baseline behind workspace.diff.
 *
 * At run start, `takeBaseline` records the whole workspace as a git tree in a private bare repository under the
 * state dir (<stateDir>/runs/<runId>/baseline.git), with the workspace as its work tree. It works the same whether
 * or not the workspace is a git repository, never writes into the workspace (not even its .git), and the tree holds
 * every file's content, so the diff at any later point is exact (renames, binary files, deletions included).
 * What is left out: whatever the workspace's .gitignore files ignore, `node_modules/`, nested `.git` dirs, the
 * state dir if it lives inside the workspace, and the content of files over MAX_BASELINE_FILE_BYTES: those are
 * recorded by size and mtime only, and reported as changed (`large: true`, no line counts, no diff) when either moved. The private repository's info/attributes cancels the workspace's
 * filter/diff/text attributes, so no filter program from .gitattributes runs and no line ending is rewritten.
 *
 * Without a run baseline (the host CLI with no --run-id), a git workspace is compared with HEAD instead, using a
 * scratch repository that borrows the workspace's objects (alternates) and is deleted afterwards.
 */
export const DEFAULT_EXCLUDES = ["node_modules/"];
/** Files bigger than this are tracked by size and mtime, not copied into the baseline. */
export const MAX_BASELINE_FILE_BYTES = 8 * 1024 * 1024;
const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

const LargeFile = v.object({ path: v.string(), size: v.number(), mtimeMs: v.number() });
export type LargeFile = v.InferOutput<typeof LargeFile>;

const Record_ = v.object({
  runId: v.string(),
  largeFiles: v.optional(v.array(LargeFile), []),
  tree: v.string(),
  takenAt: v.string(),
  workspaceDir: v.string(),
  files: v.number(),
  durationMs: v.number(),
});
export type BaselineRecord = v.InferOutput<typeof Record_>;

function baselineGitDir(stateDir: string, runId: string): string {
  return join(runDir(stateDir, runId), "baseline.git");
}

/** A private bare repository whose work tree is the workspace. */
export interface Shadow {
  gitDir: string;
  workspaceDir: string;
}

function shadowEnv(s: Shadow, index: string): Record<string, string> {
  return { GIT_DIR: s.gitDir, GIT_WORK_TREE: s.workspaceDir, GIT_INDEX_FILE: index };
}

async function initShadow(gitDir: string, workspaceDir: string, stateDir: string, repo?: Repo): Promise<Shadow> {
  await mkdir(gitDir, { recursive: true });
  ok(await git(["init", "-q", "--bare", gitDir], { cwd: gitDir }), "git init");
  const excludes = [...DEFAULT_EXCLUDES];
  if (isInside(workspaceDir, stateDir) && stateDir !== workspaceDir) excludes.push(`/${relative(workspaceDir, stateDir)}/`);
  if (repo) {
    const own = await readFile(join(repo.commonDir, "info", "exclude"), "utf8").catch(() => "");
    if (own) excludes.push(own);
  }
  await mkdir(join(gitDir, "info"), { recursive: true });
  await writeFile(join(gitDir, "info", "exclude"), `${excludes.join("\n")}\n`);
  // info/attributes beats every .gitattributes: no filters, no custom diff drivers, no eol conversion.
  await writeFile(join(gitDir, "info", "attributes"), "* !filter !diff !text !eol !ident !working-tree-encoding !merge\n");
  return { gitDir, workspaceDir };
}

const SHADOW_CONFIG = ["-c", "core.bare=false", "-c", "advice.addEmbeddedRepo=false", "-c", "core.safecrlf=false"];

/** A gitignore line matching exactly this path (backslash escapes every special character). */
function exactPattern(path: string): string {
  return `/${path.replace(/[\\*?[\]!# ]/g, (c) => `\\${c}`)}`;
}

/**
 * Files over the size cap that `git add -A` would pick up as new (not already in `index`): they are excluded from
 * hashing (appended to the shadow's info/exclude) and returned with size and mtime instead.
 */
async function excludeLargeFiles(s: Shadow, index: string): Promise<LargeFile[]> {
  const env = shadowEnv(s, index);
  const out = ok(await git(["ls-files", "-z", "--others", "--exclude-standard"], { cwd: s.workspaceDir, env, config: SHADOW_CONFIG }), "git ls-files");
  const large: LargeFile[] = [];
  for (const path of out.split("\0")) {
    if (!path) continue;
    const st = await lstat(join(s.workspaceDir, path)).catch(() => null);
    if (st?.isFile() && st.size > MAX_BASELINE_FILE_BYTES) large.push({ path, size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
  }
  if (large.length) await appendFile(join(s.gitDir, "info", "exclude"), `${large.map((f) => exactPattern(f.path)).join("\n")}\n`);
  return large;
}

/**
 * Take checked-out submodules (gitlinks whose directory has a .git) out of the index. For every gitlink it tracks,
 * `git add` runs `git status` inside the submodule, under the submodule's own config, which the agent can write
 * (measured with git 2.39: a clean filter there runs; `diff.ignoreSubmodules` does not stop it). `add -A` then
 * records each one again as new, which only reads its HEAD.
 */
async function dropSubmodules(s: Shadow, env: Record<string, string>): Promise<void> {
  const staged = ok(await git(["ls-files", "--stage", "-z"], { cwd: s.workspaceDir, env, config: SHADOW_CONFIG }), "git ls-files");
  const links: string[] = [];
  for (const rec of staged.split("\0")) {
    if (!rec.startsWith("160000 ")) continue;
    const path = rec.slice(rec.indexOf("\t") + 1);
    if (await lstat(join(s.workspaceDir, path, ".git")).catch(() => null)) links.push(path);
  }
  if (links.length) ok(await git(["update-index", "--force-remove", "--", ...links], { cwd: s.workspaceDir, env, config: SHADOW_CONFIG }), "git update-index");
}

/** Hash the workspace into the shadow repository and return the tree id. */
async function writeTree(s: Shadow, index: string): Promise<{ tree: string; files: number }> {
  const env = shadowEnv(s, index);
  const cfg = SHADOW_CONFIG;
  // A new index (a run's baseline) stages nothing yet, so it has no gitlink to drop: one git process less per heartbeat.
  if (await stat(index).catch(() => null)) await dropSubmodules(s, env);
  ok(await git(["add", "-A", "--ignore-errors", "--", "."], { cwd: s.workspaceDir, env, config: cfg }), "hashing the workspace");
  const tree = ok(await git(["write-tree"], { cwd: s.workspaceDir, env, config: cfg }), "git write-tree").trim();
  const ls = ok(await git(["ls-files", "-z"], { cwd: s.workspaceDir, env, config: cfg }), "git ls-files");
  return { tree, files: ls.split("\0").filter(Boolean).length };
}

/** Record the workspace as it is now, for `run` to call before the agent starts. */
export async function takeBaseline(opts: { workspaceDir: string; stateDir: string; runId: string }): Promise<BaselineRecord> {
  const started = performance.now();
  const gitDir = baselineGitDir(opts.stateDir, opts.runId);
  await rm(gitDir, { recursive: true, force: true });
  const shadow = await initShadow(gitDir, opts.workspaceDir, opts.stateDir);
  const largeFiles = await excludeLargeFiles(shadow, join(gitDir, "index"));
  const { tree, files } = await writeTree(shadow, join(gitDir, "index"));
  const record: BaselineRecord = {
    runId: opts.runId,
    largeFiles,
    tree,
    takenAt: new Date().toISOString(),
    workspaceDir: opts.workspaceDir,
    files,
    durationMs: Math.round(performance.now() - started),
  };
  await writeFileAtomic(join(runDir(opts.stateDir, opts.runId), "baseline.json"), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/** Forget a run's baseline (its artifacts stay): createHostTools' close() calls this when the run is over. */
export async function dropBaseline(stateDir: string, runId: string): Promise<void> {
  const dir = runDir(stateDir, runId);
  await rm(baselineGitDir(stateDir, runId), { recursive: true, force: true });
  await rm(join(dir, "baseline.json"), { force: true });
  await rmdir(dir).catch(() => {}); // only when nothing else (artifacts) is left
}

async function readBaseline(stateDir: string, runId: string): Promise<BaselineRecord | undefined> {
  const text = await readFile(join(runDir(stateDir, runId), "baseline.json"), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const r = v.safeParse(Record_, JSON.parse(text));
  return r.success ? r.output : undefined;
}

/** A change to a file over the size cap, known by size and mtime only. */
export interface LargeChange {
  path: string;
  status: "added" | "modified" | "deleted";
}

export interface Comparison {
  shadow: Shadow;
  from: string;
  to: string;
  /** Large files that appeared, changed or went away (run baselines only). */
  large: LargeChange[];
  baseline: { kind: "run"; runId: string; takenAt: string } | { kind: "head"; commit: string | null };
  cleanup(): Promise<void>;
}

/** The two trees workspace.diff compares: the run's baseline (or HEAD) and the workspace now. */
export async function compareWithBaseline(opts: { workspaceDir: string; stateDir: string; runId?: string; repo?: () => Promise<Repo> }): Promise<Comparison> {
  const record = opts.runId ? await readBaseline(opts.stateDir, opts.runId) : undefined;
  if (record) {
    if (record.workspaceDir !== opts.workspaceDir) {
      throw toolError("baseline_mismatch", `run ${record.runId}'s baseline is of ${record.workspaceDir}, not ${opts.workspaceDir}`, "run the tool in the run's workspace");
    }
    const gitDir = baselineGitDir(opts.stateDir, record.runId);
    const shadow: Shadow = { gitDir, workspaceDir: opts.workspaceDir };
    // Start from the baseline's index: its stat data lets git skip rehashing files that did not change. The copy
    // keeps the index's mtime: git rehashes an entry whose file is not older than its index ("racy git"), and a copy
    // made now would make a file changed within the baseline's second, at the same size, look unchanged.
    const index = join(gitDir, `index.now.${process.pid}.${Date.now()}`);
    await cp(join(gitDir, "index"), index, { preserveTimestamps: true }).catch(() => {});
    try {
      const nowLarge = await excludeLargeFiles(shadow, index);
      const now = await writeTree(shadow, index);
      const large = await largeChanges(opts.workspaceDir, record.largeFiles, nowLarge);
      return {
        shadow,
        from: record.tree,
        to: now.tree,
        large,
        baseline: { kind: "run", runId: record.runId, takenAt: record.takenAt },
        cleanup: () => rm(index, { force: true }),
      };
    } catch (e) {
      await rm(index, { force: true });
      throw e;
    }
  }
  let repo: Repo;
  try {
    if (!opts.repo) throw toolError("not_a_git_repo", "no repository");
    repo = await opts.repo();
  } catch (e) {
    if ((e as { code?: string }).code !== "not_a_git_repo") throw e;
    throw toolError(
      "no_baseline",
      opts.runId ? `run ${opts.runId} has no baseline and the workspace is not a git repository` : "no baseline: the workspace is not a git repository and no run id was given",
      "workspace.diff compares with the start of a run (taken by 'paperclip-aos run'; pass --run-id) or, in a git repository, with HEAD",
    );
  }
  const scratch = join(opts.stateDir, "tmp", `diff-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    const shadow = await initShadow(scratch, opts.workspaceDir, opts.stateDir, repo);
    await writeFile(join(scratch, "objects", "info", "alternates"), `${join(repo.commonDir, "objects")}\n`);
    const head = await git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], { cwd: repo.root, config: repo.config });
    const commit = head.code === 0 ? head.stdout.trim() : null;
    const from = commit
      ? ok(await git(["rev-parse", `${commit}^{tree}`], { cwd: opts.workspaceDir, env: shadowEnv(shadow, join(scratch, "index")) }), "git rev-parse").trim()
      : EMPTY_TREE;
    const repoIndex = join(repo.gitDir, "index");
    if ((await stat(repoIndex).catch(() => null))?.isFile()) await cp(repoIndex, join(scratch, "index"));
    const now = await writeTree(shadow, join(scratch, "index"));
    return {
      shadow,
      from,
      to: now.tree,
      large: [],
      baseline: { kind: "head", commit },
      cleanup: () => rm(scratch, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(scratch, { recursive: true, force: true });
    throw e;
  }
}

/** Run git in a comparison's shadow repository (no index needed for tree-to-tree diffs). */
export function shadowGit(c: Comparison, args: string[], maxBytes?: number) {
  return git(args, { cwd: c.shadow.workspaceDir, env: shadowEnv(c.shadow, join(c.shadow.gitDir, "index")), maxBytes });
}

/**
 * Large files by size and mtime. The baseline's large paths stay in the shadow's info/exclude, so git never sees
 * them again: each is judged here by stat alone (gone, changed, or not).
 */
async function largeChanges(workspaceDir: string, before: LargeFile[], now: LargeFile[]): Promise<LargeChange[]> {
  const large: LargeChange[] = [];
  const seen = new Set<string>();
  for (const b of before) {
    seen.add(b.path);
    const st = await lstat(join(workspaceDir, b.path)).catch(() => null);
    if (!st) large.push({ path: b.path, status: "deleted" });
    else if (st.size !== b.size || Math.floor(st.mtimeMs) !== b.mtimeMs || !st.isFile()) large.push({ path: b.path, status: "modified" });
  }
  for (const n of now) if (!seen.has(n.path)) large.push({ path: n.path, status: "added" });
  return large;
}
