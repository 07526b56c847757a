/**
 * Sandbox escapes by renaming, moving, deleting and linking (issue class 1): the guest in a real VM (through `exec`
 * of the compiled binary) tries to take a path out from under a deny or to plant one under a protected name, and the
 * host checks that nothing changed: its hooks and git config are as they were, its own `git status` runs nothing the
 * agent planted, no credential's content came out. src/caps/guards.ts says which rules make this hold.
 *
 * The attempts are made as caps-attempts.ts says.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { mandatoryDenies } from "../../src/caps/index.ts";
import { removeTempDirs, runBin, tempDir } from "./helpers.ts";
import { attempts, attemptsScript, DENIED, execReports, VM_TIMEOUT, type Attempt } from "./caps-attempts.ts";

/** A refused attempt: non-zero exit with a permission error (or, for node, whose errors bypass the shell, just the exit). */
function refused(a: Attempt, name: string, { quiet = false } = {}) {
  expect({ name, rc: a.rc === 0 ? 0 : "non-zero", denied: quiet || DENIED.test(a.out), out: a.out }).toMatchObject({ name, rc: "non-zero", denied: true });
}

// Every temp dir comes from helpers.tempDir, which tracks it; this file removes them when it is done.
afterAll(removeTempDirs);

const git = (cwd: string, ...args: string[]) => Bun.spawnSync(["git", ...args], { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" } });
const link = (from: string, to: string) => `node -e "require('fs').linkSync('${from}','${to}')"`;

describe("the mandatory denies cannot be renamed around (default policy)", () => {
  const HOOK = "#!/bin/sh\necho original hook\n";
  let ws: string;
  let config: string;
  let other: string;
  let otherSha: string;
  let run: ReturnType<typeof attempts>;
  const secrets: Record<string, string> = {
    ".kube/config": "kube-credential-content",
    ".config/gcloud/credentials.db": "gcloud-credential-content",
    ".config/gh/hosts.yml": "gh-token-content",
    ".docker/config.json": "docker-auth-content",
    ".cargo/credentials.toml": "cargo-token-content",
    ".env": "dotenv-secret-content",
  };
  beforeAll(async () => {
    ws = await tempDir("aos-escape-git-");
    expect(git(ws, "init", "-q").exitCode).toBe(0);
    // Another repository on the host, which the workspace's git must never see into.
    other = await tempDir("aos-escape-other-");
    await writeFile(join(other, "private.txt"), "private\n");
    for (const args of [["init", "-q"], ["add", "private.txt"], ["-c", "user.name=o", "-c", "user.email=o@example.com", "commit", "-qm", "private subject"]]) expect(git(other, ...args).exitCode).toBe(0);
    otherSha = git(other, "rev-parse", "HEAD").stdout.toString().trim();
    await writeFile(join(ws, ".git/hooks/pre-commit"), HOOK, { mode: 0o755 });
    config = readFileSync(join(ws, ".git/config"), "utf8");
    for (const [p, c] of Object.entries(secrets)) {
      await mkdir(join(ws, p, ".."), { recursive: true });
      await writeFile(join(ws, p), `${c}\n`);
    }
    for (const d of ["sub", "sub2", "sub3", "evil/hooks"]) await mkdir(join(ws, d), { recursive: true });
    run = attempts(ws, [], [
      // The reproductions of the issue: a round trip through another name, and a whole repository planted.
      ["hook_roundtrip", `mv .git g && echo "echo X" >> g/hooks/pre-commit; mv g .git`],
      ["config_roundtrip", `mv .git g2 && printf "[core]\\n\\tfsmonitor = touch ${ws}/PWNED\\n" >> g2/config; mv g2 .git`],
      ["plant_repo", `mkdir -p sub/g/hooks sub/g/objects sub/g/refs && echo "ref: refs/heads/main" > sub/g/HEAD && printf "[core]\\n\\tfsmonitor = touch ${ws}/PWNED\\n" > sub/g/config && mv sub/g sub/.git`],
      ["plant_hooks_dir", `mkdir -p sub4/.git h2 && echo evil > h2/pre-commit && mv h2 sub4/.git/hooks`],
      ["gitfile", `echo "gitdir: /workspace/evil" > sub2/.git`],
      ["git_symlink", "ln -s ../evil sub3/.git"],
      ["delete_git", "rm -r .git"],
      // Git's alternates file makes the host's git tools read another repository's objects (its commits, by sha).
      ["alternates", `mkdir -p .git/objects/info && echo ${other}/.git/objects > .git/objects/info/alternates`],
      ["alternates_roundtrip", `mv .git/objects o && mkdir -p o/info && echo ${other}/.git/objects > o/info/alternates; mv o .git/objects`],
      // Credentials read through a renamed parent.
      ["kube", "mv .kube k && cat k/config"],
      ["gcloud", "mv .config/gcloud gc && cat gc/credentials.db"],
      ["config_dir", "mv .config cfg && cat cfg/gh/hosts.yml"],
      ["gh", "mv .config/gh gh2 && cat gh2/hosts.yml"],
      ["docker", "mv .docker d2 && cat d2/config.json"],
      ["cargo", "mv .cargo c2 && cat c2/credentials.toml"],
      ["kube_copy_dir", "cp -r .kube k3 && cat k3/config"],
      // Other names for the same file: hard links (node can make them; agentOS checks a link as a write of both
      // paths) and symlinks (agentOS checks the target).
      ["hardlink_hook", `${link(".git/hooks/pre-commit", "hook-link")} && echo evil >> hook-link`],
      ["hardlink_env", `${link(".env", "env-link")} && cat env-link`],
      ["hardlink_kube", `${link(".kube/config", "kube-link")} && cat kube-link`],
      ["symlink_kube", "ln -s .kube/config kube-sym && cat kube-sym"],
      ["symlink_kube_dir", "ln -s .kube kube-dir && cat kube-dir/config"],
    ]);
  });

  test("renaming the git dir, planting one (as a directory, a gitdir file or a symlink), deleting it or giving it alternates is refused; the host's hook and config are unchanged and its git runs nothing planted nor reads another repository", async () => {
    const { r, get } = await run;
    expect(r.code).toBe(0);
    for (const n of ["hook_roundtrip", "config_roundtrip", "plant_repo", "plant_hooks_dir", "gitfile", "git_symlink", "delete_git", "alternates", "alternates_roundtrip"]) refused(get(n), n);
    expect(existsSync(join(ws, ".git/objects/info/alternates"))).toBe(false);
    expect(git(ws, "cat-file", "-e", otherSha).exitCode).not.toBe(0);
    expect(readFileSync(join(ws, ".git/hooks/pre-commit"), "utf8")).toBe(HOOK);
    expect(readFileSync(join(ws, ".git/config"), "utf8")).toBe(config);
    for (const p of ["g", "g2", "sub/.git", "sub2/.git", "sub3/.git", "sub4/.git/hooks"]) expect({ p, exists: existsSync(join(ws, p)) }).toEqual({ p, exists: false });
    expect(lstatSync(join(ws, ".git")).isDirectory()).toBe(true);
    // The host's own git in both directories: a planted core.fsmonitor would create PWNED.
    git(ws, "status");
    git(join(ws, "sub"), "status");
    expect(existsSync(join(ws, "PWNED"))).toBe(false);
  }, VM_TIMEOUT);

  test("credential directories renamed or copied away stay unreadable, and stay where they were", async () => {
    const { r, get } = await run;
    for (const n of ["kube", "gcloud", "config_dir", "gh", "docker", "cargo"]) refused(get(n), n);
    // cp reports the refused read as "other error".
    refused(get("kube_copy_dir"), "kube_copy_dir", { quiet: true });
    for (const [p, c] of Object.entries(secrets)) {
      expect(r.stdout).not.toContain(c);
      expect(readFileSync(join(ws, p), "utf8")).toBe(`${c}\n`);
    }
    for (const p of ["k", "gc", "cfg", "gh2", "d2", "c2"]) expect({ p, exists: existsSync(join(ws, p)) }).toEqual({ p, exists: false });
  }, VM_TIMEOUT);

  test("hard links and symlinks give a protected file no other name", async () => {
    const { r, get } = await run;
    for (const n of ["hardlink_hook", "hardlink_env", "hardlink_kube"]) refused(get(n), n, { quiet: true });
    for (const n of ["symlink_kube", "symlink_kube_dir"]) refused(get(n), n);
    for (const p of ["hook-link", "env-link", "kube-link"]) expect({ p, exists: existsSync(join(ws, p)) }).toEqual({ p, exists: false });
    expect(readFileSync(join(ws, ".git/hooks/pre-commit"), "utf8")).toBe(HOOK);
    for (const c of Object.values(secrets)) expect(r.stdout).not.toContain(c);
  }, VM_TIMEOUT);
});

describe("user denies cannot be renamed around", () => {
  let ws: string;
  let run: ReturnType<typeof attempts>;
  beforeAll(async () => {
    ws = await tempDir("aos-escape-user-");
    await mkdir(join(ws, "secret"));
    await mkdir(join(ws, "data/sub"), { recursive: true });
    await mkdir(join(ws, "nested/deep/private"), { recursive: true });
    await writeFile(join(ws, "secret/k.txt"), "user-secret-content\n");
    await writeFile(join(ws, "data/sub/x.csv"), "csv-secret-content\n");
    await writeFile(join(ws, "data/sub/notes.txt"), "public notes\n");
    await writeFile(join(ws, "nested/deep/private/p.txt"), "deep-secret-content\n");
    run = attempts(ws, ["--deny-read=secret", "--deny-read=data/**/*.csv", "--deny-read=nested/deep/private"], [
      ["baseline_secret", "cat secret/k.txt"],
      ["baseline_csv", "cat data/sub/x.csv"],
      ["notes_ok", "cat data/sub/notes.txt"],
      ["write_elsewhere_ok", "echo ok > out.txt && mv out.txt out2.txt"],
      ["mv_secret_dir", "mv secret s2 && cat s2/k.txt"],
      ["mv_secret_file", "mv secret/k.txt k.txt && cat k.txt"],
      ["hardlink_secret", `${link("secret/k.txt", "k-link.txt")} && cat k-link.txt`],
      ["mv_ancestor", "mv nested n2 && cat n2/deep/private/p.txt"],
      ["mv_ancestor_deep", "mv nested/deep nested/d2 && cat nested/d2/private/p.txt"],
      ["delete_ancestor", "rm -r nested"],
      ["glob_mv_dir_out", "mv data/sub moved && cat moved/x.csv"],
      ["glob_mv_data", "mv data d3 && cat d3/sub/x.csv"],
      ["glob_rename_file", "mv data/sub/x.csv data/sub/x.txt && cat data/sub/x.txt"],
      ["glob_hardlink", `${link("data/sub/x.csv", "data/sub/y.txt")} && cat data/sub/y.txt`],
      ["replant_secret", "mkdir -p s3 && echo planted > s3/k.txt && mv s3 secret-new && rm -r secret && mv secret-new secret"],
    ]);
  });

  test("--deny-read=DIR: neither the directory, the file in it, nor an ancestor can be moved, deleted or linked to read it elsewhere", async () => {
    const { r, get } = await run;
    expect(r.code).toBe(0);
    refused(get("baseline_secret"), "baseline_secret");
    expect(get("write_elsewhere_ok").rc).toBe(0);
    for (const n of ["mv_secret_dir", "mv_secret_file", "mv_ancestor", "mv_ancestor_deep"]) refused(get(n), n);
    // rm -r exits 1 without a message when a file below is refused, and cannot list a read-denied directory ("No such
    // file or directory"); the host checks below are what counts.
    for (const n of ["delete_ancestor", "replant_secret"]) refused(get(n), n, { quiet: true });
    refused(get("hardlink_secret"), "hardlink_secret", { quiet: true });
    for (const c of ["user-secret-content", "deep-secret-content"]) expect(r.stdout).not.toContain(c);
    expect(readFileSync(join(ws, "secret/k.txt"), "utf8")).toBe("user-secret-content\n");
    expect(readFileSync(join(ws, "nested/deep/private/p.txt"), "utf8")).toBe("deep-secret-content\n");
    expect(readFileSync(join(ws, "secret/k.txt"), "utf8")).not.toContain("planted");
    for (const p of ["s2", "k.txt", "k-link.txt", "n2", "nested/d2"]) expect({ p, exists: existsSync(join(ws, p)) }).toEqual({ p, exists: false });
  }, VM_TIMEOUT);

  test("a glob deny (data/**/*.csv): moving the directory out of data, renaming or linking the file does not open it", async () => {
    const { r, get } = await run;
    refused(get("baseline_csv"), "baseline_csv");
    expect(get("notes_ok")).toMatchObject({ rc: 0, out: "public notes" });
    for (const n of ["glob_mv_dir_out", "glob_mv_data", "glob_rename_file"]) refused(get(n), n);
    refused(get("glob_hardlink"), "glob_hardlink", { quiet: true });
    expect(r.stdout).not.toContain("csv-secret-content");
    expect(readFileSync(join(ws, "data/sub/x.csv"), "utf8")).toBe("csv-secret-content\n");
    for (const p of ["moved", "d3", "data/sub/x.txt", "data/sub/y.txt"]) expect({ p, exists: existsSync(join(ws, p)) }).toEqual({ p, exists: false });
  }, VM_TIMEOUT);
});

/**
 * Every mandatory-deny entry, in a real VM, under /workspace, the VM's home and /root: one VM per root runs a generated
 * script with an attempt per entry, so removing any one entry (or narrowing where it applies) fails its line. The
 * policy opens those roots for reading and writing, so only the mandatory denies stand in the way.
 *
 * Writes are tried everywhere (creating each protected name; in the workspace overwriting the host's file). Reads
 * need a file to read, and nothing can put one in the VM's home or /root: the agent cannot create a protected name
 * (that is what the write lines prove) and the host reaches the VM's filesystem only through the same policy. So the
 * reads are tried on the host's files in the workspace, where each secret must be unreadable and each config readable.
 */
/**
 * The expected mandatory set, written out here (not read from the code, so removing an entry there fails a line
 * here): the entry, a real path it must protect, and its kind: a secret (no reading, no writing) or a config (no
 * writing) everywhere in the VM, or an agent CLI's project file (no writing, in the workspace).
 */
const TABLE: [string, string, "secret" | "config" | "project"][] = [
  [".env*", ".env.local", "secret"],
  [".ssh/**", ".ssh/id_ed25519", "secret"],
  ["id_rsa*", "id_rsa", "secret"],
  ["id_dsa*", "id_dsa", "secret"],
  ["id_ecdsa*", "id_ecdsa.pub", "secret"],
  ["id_ed25519*", "keys/id_ed25519", "secret"],
  ["*.pem", "server.pem", "secret"],
  ["*.key", "tls.key", "secret"],
  ["*.p12", "store.p12", "secret"],
  ["*.pfx", "store.pfx", "secret"],
  [".aws/**", ".aws/credentials", "secret"],
  [".azure/**", ".azure/accessTokens.json", "secret"],
  [".config/gcloud/**", ".config/gcloud/application_default_credentials.json", "secret"],
  [".kube/config", ".kube/config", "secret"],
  [".docker/config.json", ".docker/config.json", "secret"],
  [".gnupg/**", ".gnupg/pubring.kbx", "secret"],
  [".npmrc", ".npmrc", "secret"],
  [".yarnrc.yml", ".yarnrc.yml", "secret"],
  [".yarnrc", ".yarnrc", "secret"],
  [".pypirc", ".pypirc", "secret"],
  [".netrc", ".netrc", "secret"],
  [".git-credentials", ".git-credentials", "secret"],
  [".cargo/credentials*", ".cargo/credentials.toml", "secret"],
  [".gem/credentials", ".gem/credentials", "secret"],
  [".config/gh/hosts.yml", ".config/gh/hosts.yml", "secret"],
  [".git/hooks/**", ".git/hooks/pre-commit", "config"],
  [".git/config", ".git/config", "config"],
  [".git/config.worktree", ".git/config.worktree", "config"],
  [".git/commondir", ".git/commondir", "config"],
  // Write-protected for itself, and unreadable too: it lies in the object store (.git/objects/**).
  [".git/objects/info/alternates", ".git/objects/info/alternates", "secret"],
  [".git/objects/**", ".git/objects/ab/cdef0123", "secret"],
  [".git/lfs/**", ".git/lfs/objects/ab/cd/abcd", "secret"],
  [".git/worktrees/**", ".git/worktrees/wt/config.worktree", "config"],
  [".git/modules/**", ".git/modules/sub/hooks/post-checkout", "config"],
  [".git/rebase-merge/**", ".git/rebase-merge/git-rebase-todo", "config"],
  [".git/rebase-apply/**", ".git/rebase-apply/patch", "config"],
  [".git/sequencer/**", ".git/sequencer/opts", "config"],
  [".git/**", ".git/info/exclude", "config"],
  [".gitconfig", ".gitconfig", "config"],
  [".config/git/**", ".config/git/config", "config"],
  [".gitmodules", ".gitmodules", "config"],
  [".husky/**", ".husky/pre-commit", "config"],
  [".pre-commit-config.yaml", ".pre-commit-config.yaml", "config"],
  ["lefthook*", "lefthook.yml", "config"],
  [".lefthook*", ".lefthook-local.yml", "config"],
  [".hg/**", ".hg/hgrc", "config"],
  [".jj/**", ".jj/repo/config.toml", "config"],
  [".hg/store/**", ".hg/store/data/secret.txt.i", "secret"],
  [".jj/repo/store/**", ".jj/repo/store/git/objects/ab/cdef", "secret"],
  [".bashrc", ".bashrc", "config"],
  [".bash_profile", ".bash_profile", "config"],
  [".bash_login", ".bash_login", "config"],
  [".bash_logout", ".bash_logout", "config"],
  [".profile", ".profile", "config"],
  [".zshrc", ".zshrc", "config"],
  [".zshenv", ".zshenv", "config"],
  [".zprofile", ".zprofile", "config"],
  [".zlogin", ".zlogin", "config"],
  [".cshrc", ".cshrc", "config"],
  [".tcshrc", ".tcshrc", "config"],
  [".kshrc", ".kshrc", "config"],
  [".config/fish/**", ".config/fish/config.fish", "config"],
  [".vscode/**", ".vscode/tasks.json", "config"],
  [".idea/**", ".idea/workspace.xml", "config"],
  [".mcp.json", ".mcp.json", "config"],
  [".zed/**", ".zed/settings.json", "config"],
  [".helix/**", ".helix/languages.toml", "config"],
  [".nvim.lua", ".nvim.lua", "config"],
  [".exrc", ".exrc", "config"],
  [".nvimrc", ".nvimrc", "config"],
  [".vimrc", ".vimrc", "config"],
  [".gvimrc", ".gvimrc", "config"],
  ["*.code-workspace", "project.code-workspace", "config"],
  [".devcontainer/**", ".devcontainer/devcontainer.json", "config"],
  ["mise.toml", "mise.toml", "config"],
  [".mise.toml", ".mise.toml", "config"],
  ["mise.local.toml", "mise.local.toml", "config"],
  [".mise.local.toml", ".mise.local.toml", "config"],
  [".mise/**", ".mise/tasks/build", "config"],
  [".claude/**", ".claude/settings.local.json", "project"],
  [".codex/**", ".codex/config.toml", "project"],
  ["opencode.json", "opencode.json", "project"],
  ["opencode.jsonc", "opencode.jsonc", "project"],
  [".opencode/**", ".opencode/plugin/p.js", "project"],
  [".cursor/**", ".cursor/mcp.json", "project"],
  [".gemini/**", ".gemini/settings.json", "project"],
  [".pi/**", ".pi/extensions/e.ts", "project"],
  [".aider.conf.yml", ".aider.conf.yml", "project"],
  [".continue/**", ".continue/mcpServers/s.yaml", "project"],
  [".roo/**", ".roo/mcp.json", "project"],
  [".kiro/**", ".kiro/settings/mcp.json", "project"],
  [".amazonq/**", ".amazonq/mcp.json", "project"],
  [".paperclip-aos.json", ".paperclip-aos.json", "project"],
];

describe("every mandatory deny in a real VM", () => {
  const ROOTS = ["/workspace", "/home/agentos", "/root"];
  const FLAGS = ["--allow-read=/workspace,/home,/root,/tmp", "--allow-write=/workspace,/home,/root,/tmp"];
  const entries = TABLE.map(([name, path, kind], i) => ({ id: `e${i}`, name, path, secret: kind === "secret", scope: kind === "project" ? "workspace" : "everywhere" }));
  const inScope = (root: string) => entries.filter((e) => e.scope === "everywhere" || root === "/workspace");
  const dirOf = (p: string) => p.slice(0, p.lastIndexOf("/"));

  test("the table covers every entry the code has (a new entry needs its line here)", () => {
    expect(mandatoryDenies().map((m) => m.name).filter((n) => !TABLE.some(([t]) => t === n))).toEqual([]);
  });

  /**
   * The generated script, one line per attempt, each printing `@@NAME CODE DETAIL`. Writes are made by the shell
   * (agentOS checks WASM commands' writes against the fs rules everywhere); reads by one node process, which keeps a
   * hundred attempts fast and reads through the same checks. Node's writes are checked too (workspace-mount.test.ts
   * proves it for /workspace), but the shell's are what every entry was first proved with.
   */
  function script(root: string): string {
    const base = `${root}/n`;
    const lines = [`o=$( { mkdir -p ${base}/plain; echo planted >> ${base}/plain/f; } 2>&1 ); echo "@@w_control $? $o"`];
    const reads: { name: string; full: string }[] = [{ name: "control", full: `${base}/plain/f` }];
    for (const e of inScope(root)) {
      const full = `${base}/${e.path}`;
      lines.push(`o=$( { mkdir -p ${dirOf(full)} 2>/dev/null; echo planted >> ${full}; } 2>&1 ); echo "@@w_${e.id} $? $o"`);
      if (root === "/workspace") reads.push({ name: e.id, full });
    }
    const js = `const fs=require("fs");for(const a of ${JSON.stringify(reads)}){try{console.log("@@r_"+a.name+" OK "+fs.readFileSync(a.full,"utf8").replace(/\\n/g," "))}catch(e){console.log("@@r_"+a.name+" "+e.code+" "+e.message)}}`;
    return `${lines.join("\n")}\nnode -e '${js}'`;
  }

  let ws: string;
  beforeAll(async () => {
    ws = await tempDir("aos-mandatory-table-");
    for (const e of entries) {
      await mkdir(join(ws, "n", e.path, ".."), { recursive: true });
      await writeFile(join(ws, "n", e.path), `content-of-${e.id}\n`);
    }
  });

  for (const root of ROOTS) {
    test(`under ${root}: every entry in scope refuses writing${root === "/workspace" ? ", secrets refuse reading, configs stay readable" : ""}`, async () => {
      const r = await runBin(["exec", ...FLAGS, "--", script(root)], { cwd: ws });
      expect(r.code).toBe(0);
      const got = new Map([...r.stdout.matchAll(/^@@(\S+) (\S+) ?(.*)$/gm)].map((m) => [m[1]!, { code: m[2]!, detail: m[3]! }]));
      const get = (n: string) => got.get(n) ?? { code: "NO REPORT", detail: r.stderr.slice(0, 300) };
      expect(get("w_control").code).toBe("0");
      expect(get("r_control")).toMatchObject({ code: "OK", detail: expect.stringContaining("planted") });
      const wrong: string[] = [];
      for (const e of inScope(root)) {
        const w = get(`w_${e.id}`);
        if (w.code === "0" || !DENIED.test(w.detail)) wrong.push(`${e.name}: writing ${root}/n/${e.path} was not refused (${w.code} ${w.detail})`);
        if (root !== "/workspace") continue;
        const rd = get(`r_${e.id}`);
        if (e.secret && (rd.code !== "EACCES" || rd.detail.includes(`content-of-${e.id}`))) wrong.push(`${e.name}: reading ${e.path} was not refused (${rd.code} ${rd.detail})`);
        if (!e.secret && !(rd.code === "OK" && rd.detail.includes(`content-of-${e.id}`))) wrong.push(`${e.name}: a write-protected config should stay readable (${rd.code} ${rd.detail})`);
        if (readFileSync(join(ws, "n", e.path), "utf8") !== `content-of-${e.id}\n`) wrong.push(`${e.name}: the host's file changed`);
      }
      expect(wrong).toEqual([]);
    }, VM_TIMEOUT);
  }
});

/**
 * The host's git reads the files in .git (packed-refs, shallow, info/grafts, ...) with the host's rights and quotes a
 * line it cannot parse in its error, so a link the agent made there turned git.status into a reader of any workspace
 * file: `.git/packed-refs -> ../.env` answered `unexpected line in .git/packed-refs: TOKEN=...`. guards.ts: no link
 * is made or moved into a git dir.
 */
describe("git's own files: no other way to a file the agent may not read, no way to hide a change from review", () => {
  test("symlinks made in .git or moved there are refused; git.status and git.log show neither .env nor a --deny-read file", async () => {
    const ws = await tempDir("aos-escape-gitlink-");
    expect(git(ws, "init", "-q", "-b", "main").exitCode).toBe(0);
    await writeFile(join(ws, "a.txt"), "a\n");
    for (const args of [["add", "a.txt"], ["-c", "user.name=o", "-c", "user.email=o@example.com", "commit", "-qm", "base"]]) expect(git(ws, ...args).exitCode).toBe(0);
    await writeFile(join(ws, ".env"), "TOKEN=gitlink-dotenv-secret\n");
    await writeFile(join(ws, "private.txt"), "gitlink-private-secret\n");
    // The host tools print only to the exec's own stdout (not into a captured subshell): called at the top level.
    const tool = (name: string, input: object) => `agentos-paperclip ${name} --json '${JSON.stringify(input)}'; r=$?; echo; echo "@@${name} $r"`;
    const script = attemptsScript([
      ["packed_refs", "ln -s ../.env .git/packed-refs"],
      ["shallow", "ln -s ../private.txt .git/shallow"],
      // Made where its text leads to .env from .git/info (the guest cannot make a link that leaves the workspace).
      ["moved_in", "mkdir -p s1/s2 && ln -s ../../.env s1/s2/lnk && mv s1/s2/lnk .git/info/grafts"],
      ["dir_moved_in", "mkdir -p ld/x && ln -s ../../.env ld/x/packed-refs && mv ld/x .git/x"],
    ]);
    const { r, get } = await execReports(ws, ["--deny-read=private.txt"], [script, tool("git-status", {}), tool("git-log", { ref: "main" })].join("\n"));
    expect(r.code).toBe(0);
    for (const n of ["packed_refs", "shallow", "moved_in", "dir_moved_in"]) refused(get(n), n);
    expect([get("git-status").rc, get("git-log").rc]).toEqual([0, 0]);
    expect(r.stdout).toContain('"branch":"main"');
    expect(r.stdout).toContain('"subject":"base"');
    for (const s of ["gitlink-dotenv-secret", "gitlink-private-secret"]) expect(r.stdout + r.stderr).not.toContain(s);
    const links = Bun.spawnSync(["find", join(ws, ".git"), "-type", "l"]).stdout.toString();
    expect(links).toBe("");
  }, VM_TIMEOUT);

  test("review evasion: the agent cannot hide its changes from the user's own git status and diff (index flags, info/exclude, info/attributes)", async () => {
    const ws = await tempDir("aos-escape-review-");
    expect(git(ws, "init", "-q", "-b", "main").exitCode).toBe(0);
    await writeFile(join(ws, "app.js"), "console.log('app')\n");
    for (const args of [["add", "app.js"], ["-c", "user.name=o", "-c", "user.email=o@example.com", "commit", "-qm", "base"]]) expect(git(ws, ...args).exitCode).toBe(0);
    // An index with app.js marked skip-worktree: bytes the agent could as well write with node (a checksummed file).
    await writeFile(join(ws, "flagged-index"), readFileSync(join(ws, ".git/index")));
    expect(Bun.spawnSync(["git", "update-index", "--skip-worktree", "app.js"], { cwd: ws, env: { ...process.env, GIT_INDEX_FILE: join(ws, "flagged-index") } }).exitCode).toBe(0);
    const index = readFileSync(join(ws, ".git/index"));
    const { r, get } = await attempts(ws, [], [
      ["edit_ok", "echo \"console.log('hidden change')\" >> app.js && echo evil > evil.sh"],
      ["index", "cp flagged-index .git/index"],
      ["exclude", "echo evil.sh >> .git/info/exclude"],
      ["attributes", "echo \"app.js -diff\" > .git/info/attributes"],
      ["cleanup_ok", "rm flagged-index"],
    ]);
    expect(r.code).toBe(0);
    expect([get("edit_ok").rc, get("cleanup_ok").rc]).toEqual([0, 0]);
    for (const n of ["index", "exclude", "attributes"]) refused(get(n), n);
    expect(readFileSync(join(ws, ".git/index")).equals(index)).toBe(true);
    // The user's own git on the host sees both changes, with their content.
    expect(git(ws, "status", "--porcelain").stdout.toString()).toBe(" M app.js\n?? evil.sh\n");
    expect(git(ws, "diff").stdout.toString()).toContain("+console.log('hidden change')");
  }, VM_TIMEOUT);

  test("a committed --deny-read file and a committed .env cannot be read from git's object store (loose or packed); HEAD stays readable", async () => {
    const ws = await tempDir("aos-escape-objects-");
    const commit = (msg: string) => {
      for (const args of [["add", "-A"], ["-c", "user.name=o", "-c", "user.email=o@example.com", "commit", "-qm", msg]]) expect(git(ws, ...args).exitCode).toBe(0);
    };
    expect(git(ws, "init", "-q", "-b", "main").exitCode).toBe(0);
    await writeFile(join(ws, "private.txt"), "objects-packed-secret\n");
    await writeFile(join(ws, ".env"), "TOKEN=objects-dotenv-secret\n");
    commit("first");
    expect(git(ws, "gc", "-q").exitCode).toBe(0);
    await writeFile(join(ws, "private.txt"), "objects-loose-secret\n");
    commit("second");
    // Every object file, inflated when it is a loose one, searched for the secrets' text.
    const scan = `const fs=require("fs"),z=require("zlib");const walk=(d)=>{for(const e of fs.readdirSync(d,{withFileTypes:true})){const p=d+"/"+e.name;if(e.isDirectory())walk(p);else{let b=fs.readFileSync(p);try{b=z.inflateSync(b)}catch{}if(/objects-|TOKEN/.test(b.toString("latin1")))console.log("LEAK "+p)}}};walk("/workspace/.git/objects")`;
    const loose = git(ws, "rev-parse", "HEAD:private.txt").stdout.toString().trim();
    // By name: the guest cannot list the directory to expand a glob.
    const pack = readdirSync(join(ws, ".git/objects/pack")).find((f) => f.endsWith(".pack"))!;
    const { r, get } = await attempts(ws, ["--deny-read=private.txt"], [
      ["baseline", "cat private.txt"],
      ["cat_loose", `cat .git/objects/${loose.slice(0, 2)}/${loose.slice(2)}`],
      ["cat_pack", `cat .git/objects/pack/${pack}`],
      ["node_scan", `node -e '${scan}'`],
      ["head_ok", "cat .git/HEAD"],
    ]);
    expect(r.code).toBe(0);
    for (const n of ["baseline", "cat_loose", "cat_pack"]) refused(get(n), n);
    refused(get("node_scan"), "node_scan", { quiet: true });
    expect(get("node_scan").out).not.toContain("LEAK");
    expect(get("head_ok")).toMatchObject({ rc: 0, out: "ref: refs/heads/main" });
    for (const s of ["objects-packed-secret", "objects-loose-secret", "objects-dotenv-secret"]) expect(r.stdout + r.stderr).not.toContain(s);
  }, VM_TIMEOUT);
});

describe("other spellings of a denied path", () => {
  test("`..`, doubled and trailing slashes, /proc/self/root and /proc/self/cwd, and a symlinked parent do not open .env or a --deny-read file", async () => {
    const ws = await tempDir("aos-escape-alias-");
    await mkdir(join(ws, "sub"));
    await writeFile(join(ws, ".env"), "TOKEN=alias-dotenv-secret\n");
    await writeFile(join(ws, "sub/p.txt"), "alias-private-secret\n");
    const paths = ["/workspace/sub/../.env", "/workspace//.env", ".//.env", "/proc/self/root/workspace/.env", "/proc/self/cwd/.env", "sub/./p.txt", "/workspace/sub//p.txt", "sub/p.txt/", "/proc/self/cwd/sub/p.txt"];
    const { r, get } = await attempts(ws, ["--deny-read=sub/p.txt"], [
      ...paths.map((p, i): [string, string] => [`p${i}`, `cat ${p}`]),
      ["node_proc_root", `node -e 'require("fs").readFileSync("/proc/self/root/workspace/.env")'`],
      ["parent_link", "ln -s sub s2 && cat s2/p.txt"],
    ]);
    expect(r.code).toBe(0);
    // /proc/self/root and /proc/self/cwd lead nowhere in agentOS 0.2.21 (ENOENT); the others are refused by the rules.
    for (const n of [...paths.map((_, i) => `p${i}`), "node_proc_root", "parent_link"]) expect({ n, rc: get(n).rc === 0 ? 0 : "non-zero" }).toEqual({ n, rc: "non-zero" });
    for (const [i, p] of paths.entries()) if (!p.startsWith("/proc")) refused(get(`p${i}`), `p${i}`);
    refused(get("parent_link"), "parent_link");
    for (const s of ["alias-dotenv-secret", "alias-private-secret"]) expect(r.stdout + r.stderr).not.toContain(s);
  }, VM_TIMEOUT);
});

describe("links that leave the workspace on the host", () => {
  test("a symlink moved up (alone or inside its directory) or hard-linked elsewhere cannot come to point outside the workspace on the host", async () => {
    // A link's text is read from where it lies: `../..` made two levels down names the workspace, one level down the
    // host directory above it. The guest may make the first; it must not turn it into the second.
    const ws = await tempDir("aos-escape-links-");
    const { r, get } = await attempts(ws, [], [
      ["make", "mkdir -p a/b c/d/e f/g && ln -s ../.. a/b/up && ln -s ../../.. c/d/e/up3 && ln -s ../.. f/g/up && readlink a/b/up"],
      ["dir_up", "mv a/b b"],
      ["link_up", "mv c/d/e/up3 up3"],
      ["hard_up", link("/workspace/f/g/up", "/workspace/hl")],
      ["same_depth", "mv a/b a/b2 && mv a/b2 a/b"],
      ["deeper", "mkdir -p x/y && mv f/g x/y/g"],
    ]);
    expect(r.code).toBe(0);
    expect(get("make")).toMatchObject({ rc: 0, out: "../.." });
    refused(get("dir_up"), "dir_up");
    refused(get("link_up"), "link_up");
    refused(get("hard_up"), "hard_up", { quiet: true });
    // Moves that keep every link's depth, or deepen it, still work.
    expect(get("same_depth").rc).toBe(0);
    expect(get("deeper").rc).toBe(0);
    // On the host, no link in the workspace resolves outside it.
    const outside: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isSymbolicLink()) {
          const real = realpathSync(p);
          if (real !== ws && !real.startsWith(`${ws}/`)) outside.push(`${p} -> ${real}`);
        } else if (e.isDirectory()) walk(p);
      }
    };
    walk(ws);
    expect(outside).toEqual([]);
    expect(lstatSync(join(ws, "a/b/up")).isSymbolicLink()).toBe(true);
  }, VM_TIMEOUT);
});
