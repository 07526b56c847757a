/**
 * The git tools' repository checks without a git process for the common case (src/tools/git-repo.ts): the config
 * scan is compared with what git itself lists, the setup trace is parsed from real git output, and a repository
 * that changes between the check and the work is refused. Real git throughout.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdir, readFile, realpath, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gitInRepo, isPlainLocalConfig, openRepo, parseSetupTrace } from "../../src/tools/index.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);

function git(cwd: string, args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(["git", ...args], { cwd, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd, GIT_CONFIG_NOSYSTEM: "1", ...env } });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

async function repo(): Promise<string> {
  const dir = await realpath(await tempDir("aos-git-unit-"));
  git(dir, ["init", "-q", "-b", "main"]);
  await writeFile(join(dir, "a.txt"), "a\n");
  git(dir, ["add", "a.txt"]);
  git(dir, ["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "one"]);
  return dir;
}

/** What git itself makes of a config file (includes followed); null when git rejects the file. */
function gitView(file: string): { keys: string[]; bare: string | undefined } | null {
  const r = git(join(file, ".."), ["config", "-f", file, "--includes", "--list", "-z"]);
  if (r.code !== 0) return null;
  const keys: string[] = [];
  let bare: string | undefined;
  for (const rec of r.stdout.split("\0").filter(Boolean)) {
    const [key, value] = [rec.split("\n", 1)[0]!, rec.slice(rec.indexOf("\n") + 1)];
    keys.push(key);
    if (key === "core.bare") bare = rec.includes("\n") ? value : "true";
  }
  return { keys, bare };
}

// Pieces a config file is made of, the awkward ones included: case, the old [a.b] syntax, inline entries after a
// header, quotes, escapes, continuation lines, CRLF, comments, includes and work-tree keys.
const PIECES = [
  "[core]", "[CORE]", "[Core]", '[core "x"]', "  [core]  ", "[core] bare = true", "[core]bare=true",
  "\tbare = false", "\tbare = true", "\tBARE = TRUE", "\tbare", "\tbare = no", "\tbare = 0", "\tbare = 1", "\tbare =", "\tbare = false # no", '\tbare = "true"',
  "\tbare = fa\\", "lse", "\trepositoryformatversion = 0", "\tfilemode = true", "\tlogallrefupdates = true",
  '[filter "evil"]', '[FILTER "evil"]', "[filter.evil]", "[Filter.Evil]", "[fil", "ter]", "\tclean = cat", "\tsmudge = cat", "\tprocess = cat",
  "[include]", "\tpath = other.cfg", '[includeIf "gitdir:/"]', "[includeif \"onbranch:main\"]", "[extensions]", "\tworktreeConfig = true", "\tworktree = /tmp",
  '[remote "origin"]', "\turl = https://example.test/r.git", "\tfetch = +refs/heads/*:refs/remotes/origin/*", '[branch "main"]', "\tremote = origin",
  "# a comment", "; another", "", "   ", '\tkey = "quoted value"', "\tkey = a\\nb", "\tkey = trailing \\", "\tname = fi\\", "lter",
  "[sec\\tion]", "[a-b]", "[a_b]", "\t1bad = x", "\tk = v ; c", "\tk=v#c", "garbage line", "[]", '[core ""]',
];

function randomConfig(rand: () => number): string {
  const lines: string[] = [];
  const n = 1 + Math.floor(rand() * 7);
  for (let i = 0; i < n; i++) lines.push(PIECES[Math.floor(rand() * PIECES.length)]!);
  const eol = rand() < 0.2 ? "\r\n" : "\n";
  return lines.join(eol) + (rand() < 0.8 ? eol : "");
}

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("isPlainLocalConfig: true only where git finds no filter, include, work tree or bare repository", () => {
  test("on generated configs, whenever it says plain, git's own listing agrees", async () => {
    const dir = await tempDir("aos-git-scan-");
    // The file an include would bring in: a filter, so an include that slipped through would show in the listing.
    await writeFile(join(dir, "other.cfg"), '[filter "smuggled"]\n\tclean = cat\n');
    const rand = mulberry32(20261201);
    let plain = 0;
    let refused = 0;
    let readByGit = 0;
    for (let i = 0; i < 2000; i++) {
      const text = randomConfig(rand);
      if (!isPlainLocalConfig(text)) {
        refused++;
        continue;
      }
      plain++;
      const file = join(dir, "config");
      await writeFile(file, text);
      const view = gitView(file);
      if (view === null) continue; // git refuses the file outright: git status would not start either
      readByGit++;
      const risky = view.keys.filter((k) => /^(filter|include|includeif)\.|^core\.worktree$|^extensions\.worktreeconfig$/.test(k));
      expect({ text, risky }).toEqual({ text, risky: [] });
      expect({ text, bare: ["false", "no", "off", "0", undefined].includes(view.bare?.toLowerCase()) }).toEqual({ text, bare: true });
    }
    // Both answers were exercised.
    expect(readByGit).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(plain);
  });

  test("the config git init writes is plain; each way of naming a filter, include or work tree is not", async () => {
    expect(isPlainLocalConfig(await readFile(join(await repo(), ".git", "config"), "utf8"))).toBe(true);
    expect(isPlainLocalConfig("")).toBe(true);
    for (const text of [
      '[filter "x"]\n\tclean = cat\n',
      '[FiLtEr "x"]\n\tclean = cat\n',
      "[filter.x]\n\tclean = cat\n",
      "[include]\n\tpath = a.cfg\n",
      '[includeIf "gitdir:/"]\n\tpath = a.cfg\n',
      "[core]\n\tworktree = /elsewhere\n",
      "[extensions]\n\tworktreeConfig = true\n",
      "[core]\n\tbare = true\n",
      "[core]\n\tbare\n",
      "[core] bare = false\n",
      '[core]\n\tbare = "false"\n',
      "[core]\n\tbare = fa\\\nlse\n",
      "[core]\n\tname = caf\u00e9\n",
      "[core]\r\tbare = false\n",
      "bare = false\n",
    ]) {
      expect({ text, plain: isPlainLocalConfig(text) }).toEqual({ text, plain: false });
    }
  });
});

describe("parseSetupTrace reads where git found the repository", () => {
  test("from real git output, with a backslash and a newline in the path", async () => {
    const parent = await realpath(await tempDir("aos-git-trace-"));
    const dir = join(parent, "odd\\name\nhere");
    await mkdir(dir);
    git(dir, ["init", "-q"]);
    const r = Bun.spawnSync(["git", "config", "--list"], { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, GIT_TRACE_SETUP: "2" } });
    const setup = parseSetupTrace(r.stderr.toString());
    expect(setup).toEqual({ gitDir: join(dir, ".git"), commonDir: join(dir, ".git"), worktree: dir });
    const bare = join(parent, "bare.git");
    git(parent, ["init", "-q", "--bare", bare]);
    const b = Bun.spawnSync(["git", "config", "--list"], { cwd: bare, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: bare, GIT_TRACE_SETUP: "2" } });
    expect(parseSetupTrace(b.stderr.toString())).toEqual({ gitDir: bare, commonDir: bare, worktree: null });
    expect(parseSetupTrace("fatal: not a git repository\n")).toBeNull();
  });
});

describe("gitInRepo checks the repository git used, in the same process", () => {
  test("a .git swapped for a link to another repository after openRepo is refused, not read", async () => {
    const ws = await repo();
    const other = await repo();
    const checked = await openRepo(ws);
    expect(checked).toMatchObject({ root: ws, gitDir: join(ws, ".git"), worktree: ws, config: [] });
    expect((await gitInRepo(checked, ["status", "--porcelain=v2"])).code).toBe(0);
    // The swap: the workspace's .git now sends git to the other repository.
    await rename(join(ws, ".git"), join(ws, "moved.git"));
    await writeFile(join(ws, ".git"), `gitdir: ${join(other, ".git")}\n`);
    const err = await gitInRepo(checked, ["status", "--porcelain=v2"]).catch((e) => e);
    expect(err.code).toBe("repo_changed");
    // And a fresh openRepo refuses it as outside the workspace.
    expect((await openRepo(ws).catch((e) => e)).code).toBe("repo_outside_workspace");
    await rm(join(ws, ".git"));
    expect((await openRepo(ws).catch((e) => e)).code).toBe("not_a_git_repo");
  });
});
