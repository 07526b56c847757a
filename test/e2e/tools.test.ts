import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { appendFile, cp, mkdir, readFile, readdir, realpath, rm, stat, symlink, truncate, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseJson, runBin, tempDir, type BinResult, removeTempDirs } from "./helpers.ts";
import { gitFixture, sh, type Fixture } from "./tools-fixture.ts";
import { MAX_BASELINE_FILE_BYTES, takeBaseline } from "../../src/tools/index.ts";

afterAll(removeTempDirs);

let fx: Fixture;

function invoke(name: string, input: unknown, opts: { cwd?: string; home?: string; args?: string[]; stdin?: string } = {}): Promise<BinResult> {
  const args = ["tool", "invoke", name, ...(opts.stdin === undefined ? ["--input", JSON.stringify(input)] : ["--input", "-"]), ...(opts.args ?? [])];
  return runBin(args, { cwd: opts.cwd ?? fx.dir, env: { PAPERCLIP_AOS_HOME: opts.home ?? fx.home }, stdin: opts.stdin });
}

async function ok(name: string, input: unknown, opts?: Parameters<typeof invoke>[2]) {
  const r = await invoke(name, input, opts);
  if (r.code !== 0) throw new Error(`${name} exited ${r.code}: ${r.stderr}`);
  expect(r.stderr).toBe("");
  return parseJson(r.stdout);
}

beforeAll(async () => {
  fx = await gitFixture();
});

/**
 * Every file and directory under `dir` (.git included) with its size and mtime: what a writer would change. Stored
 * git objects count by size only: a repository that borrows them (alternates) makes git refresh their mtime when it
 * hashes content they already hold.
 */
async function treeState(dir: string): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const name of await readdir(dir, { recursive: true })) {
    const st = await stat(join(dir, name));
    state[name] = st.isDirectory() ? `d ${st.mtimeMs}` : name.startsWith(".git/objects/") ? `${st.size}` : `${st.size} ${st.mtimeMs}`;
  }
  return state;
}

describe("tool list and schema", () => {
  test("list prints each tool on stdout; --json adds the guest command and schemas", async () => {
    const text = await runBin(["tool", "list"]);
    expect(text.code).toBe(0);
    const names = text.stdout.trim().split("\n").map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(["artifacts.publish", "git.log", "git.status", "preview.status", "services.list", "workspace.diff"]);
    const json = parseJson((await runBin(["tool", "list", "--json"])).stdout);
    const status = json.tools.find((t: { name: string }) => t.name === "git.status");
    expect(status.guestCommand).toBe("agentos-paperclip git-status --json '{...}'");
    expect(Object.keys(status.inputSchema.properties)).toEqual(["paths", "untracked", "maxFiles"]);
    expect(status.outputSchema.required).toContain("files");
  });

  test("schema NAME prints the JSON Schemas; an unknown name is exit 2 with a suggestion", async () => {
    const r = await runBin(["tool", "schema", "artifacts.publish"]);
    expect(r.code).toBe(0);
    const s = parseJson(r.stdout);
    expect(s.inputSchema.required).toEqual(["path"]);
    expect(s.inputSchema.additionalProperties).toBe(false);
    const bad = await runBin(["tool", "schema", "git.stat"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown tool 'git.stat'");
    expect(bad.stderr).toContain("did you mean 'git.status'?");
    // invoke loads only the tool it is asked for: a name that is none (or an Object.prototype key) still gets the suggestion
    for (const name of ["git.stat", "constructor"]) {
      const inv = await invoke(name, {});
      expect(inv.code).toBe(2);
      expect(parseJson(inv.stdout).error.code).toBe("unknown_tool");
      expect(inv.stderr).toContain(`unknown tool '${name}'`);
    }
    expect((await invoke("git.stat", {})).stderr).toContain("did you mean 'git.status'?");
  });
});

describe("git.status and git.log on a real repository", () => {
  test("git.status: branch, head, and each kind of change", async () => {
    const s = await ok("git.status", {});
    expect(s.branch).toBe("main");
    expect(s.head).toBe(sh(fx.dir, "rev-parse", "HEAD").trim());
    expect(s.upstream).toBeNull();
    expect(s.clean).toBe(false);
    const byPath = Object.fromEntries(s.files.map((f: { path: string }) => [f.path, f]));
    expect(byPath["a.txt"]).toMatchObject({ status: "modified", index: ".", worktree: "M" });
    expect(byPath["src/b.js"]).toMatchObject({ status: "deleted", index: "D" });
    expect(byPath["staged.txt"]).toMatchObject({ status: "added", index: "A" });
    expect(byPath["new-name.md"]).toMatchObject({ status: "renamed", origPath: "old-name.md" });
    expect(byPath["notes/todo.txt"]).toMatchObject({ status: "untracked" });
    expect(s.counts).toEqual({ staged: 3, unstaged: 1, untracked: 1, conflicted: 0 });
  });

  test("git.status: paths narrow it, untracked:false hides untracked files, a tracking branch shows ahead/behind", async () => {
    const s = await ok("git.status", { paths: ["/workspace/src"], untracked: false });
    expect(s.files.map((f: { path: string }) => f.path)).toEqual(["src/b.js"]);
    const clone = await tempDir("aos-tools-clone-");
    sh(clone, "clone", "-q", fx.dir, "c");
    const c = join(clone, "c");
    sh(c, "reset", "-q", "--hard", "HEAD~1");
    await writeFile(join(c, "local.txt"), "x\n");
    sh(c, "add", "local.txt");
    sh(c, "commit", "-q", "-m", "local");
    const t = await ok("git.status", {}, { cwd: c });
    expect(t).toMatchObject({ branch: "main", upstream: "origin/main", ahead: 1, behind: 1, clean: true });
  });

  test("git.log: newest first with author and parents; limit, more, ref and paths", async () => {
    const all = await ok("git.log", {});
    expect(all.commits.map((c: { subject: string }) => c.subject)).toEqual(fx.subjects);
    expect(all.more).toBe(false);
    expect(all.commits[0]).toMatchObject({ sha: sh(fx.dir, "rev-parse", "HEAD").trim(), author: { name: "Fixture Author", email: "author@example.test" } });
    expect(all.commits[0].parents).toEqual([all.commits[1].sha]);
    expect(all.commits[2].parents).toEqual([]);
    expect(Number.isNaN(Date.parse(all.commits[0].date))).toBe(false);
    const one = await ok("git.log", { limit: 1 });
    expect(one.commits).toHaveLength(1);
    expect(one.more).toBe(true);
    expect((await ok("git.log", { ref: "HEAD~1" })).commits[0].subject).toBe(fx.subjects[1]);
    expect((await ok("git.log", { paths: ["src/c.js"] })).commits.map((c: { subject: string }) => c.subject)).toEqual([fx.subjects[0]]);
  });

  test("an unknown ref is a tool failure: exit 1 with a structured error", async () => {
    const r = await invoke("git.log", { ref: "no-such-branch" });
    expect(r.code).toBe(1);
    expect(parseJson(r.stdout)).toEqual({
      error: { code: "unknown_ref", message: "'no-such-branch' is not a commit in this repository", hint: expect.any(String) },
    });
    expect(r.stderr).toContain("error: 'no-such-branch' is not a commit");
  });

  test("a directory that is not a repository, or only inside one, is not_a_git_repo (exit 1)", async () => {
    const plain = await tempDir("aos-tools-plain-");
    for (const cwd of [plain, join(fx.dir, "src")]) {
      const r = await invoke("git.status", {}, { cwd });
      expect(r.code).toBe(1);
      expect(parseJson(r.stdout).error.code).toBe("not_a_git_repo");
    }
  });
});

/**
 * `tool invoke` has a fast path (commands/_fast.ts) that runs it without main's parser and registry; main takes
 * the same command when a global flag comes before `tool` (commands/_entry.ts dispatches on `tool invoke` first).
 * Both must answer alike: stdout, stderr and exit code, for a result, each kind of error and --help.
 */
/** A repository with 3,000 untracked files: ~280 KB of git.status output. */
async function bigRepo(): Promise<string> {
  const dir = await tempDir("aos-tools-big-");
  sh(dir, "init", "-q");
  await Promise.all(Array.from({ length: 3000 }, (_, i) => writeFile(join(dir, `a-file-with-a-longer-name-${i}.txt`), "")));
  return dir;
}

describe("tool invoke: the fast path answers as main does", () => {
  const cases: { what: string; args: string[]; stdin?: string; cwd?: () => Promise<string> }[] = [
    { what: "a result", args: ["git.status", "--input", "{}"] },
    { what: "a result with input", args: ["git.status", "--input={\"paths\":[\"src\"],\"untracked\":false}", "-q"] },
    { what: "another tool", args: ["git.log", "--input", '{"limit":2}', "--debug"] },
    { what: "input on stdin", args: ["git.log", "--input", "-"], stdin: '{"limit":1}' },
    { what: "invalid input", args: ["git.status", "--input", '{"untracked":true,"colour":"red"}'] },
    { what: "input that is not JSON", args: ["git.log", "--input", "{limit:"] },
    { what: "an unknown tool", args: ["git.stat"] },
    { what: "a tool failure", args: ["git.log", "--input", '{"ref":"no-such-ref"}'] },
    { what: "not a repository", args: ["git.status"], cwd: () => tempDir() },
    { what: "a missing --cwd", args: ["git.status", "--cwd", "/no/such/dir"] },
    { what: "--help", args: ["git.status", "--help"] },
    // Several pipe buffers of output: all of it is written before the fast path exits.
    { what: "a large result", args: ["git.status", "--input", '{"maxFiles":5000}'], cwd: bigRepo },
  ];
  for (const c of cases) {
    test(c.what, async () => {
      const cwd = c.cwd ? await c.cwd() : fx.dir;
      const run = (args: string[]) => runBin(args, { cwd, env: { PAPERCLIP_AOS_HOME: fx.home }, stdin: c.stdin });
      const [fast, full] = await Promise.all([run(["tool", "invoke", ...c.args, "--json"]), run(["--json", "tool", "invoke", ...c.args])]);
      expect({ code: fast.code, stdout: fast.stdout, stderr: fast.stderr }).toEqual({ code: full.code, stdout: full.stdout, stderr: full.stderr });
      // Not two empty answers: each case prints what it is about.
      expect(fast.stdout.length + fast.stderr.length).toBeGreaterThan(c.cwd === bigRepo ? 250_000 : 0);
    });
  }
});

describe("input validation happens before anything runs", () => {
  test("invalid input is exit 2 with the field path; invalid JSON too", async () => {
    const r = await invoke("git.log", { limit: 1000 });
    expect(r.code).toBe(2);
    const e = parseJson(r.stdout).error;
    expect(e).toMatchObject({ code: "invalid_input", path: "limit" });
    expect(e.message).toContain("invalid input for git.log at 'limit'");
    const unknownField = parseJson((await invoke("git.status", { untracked: true, colour: "red" })).stdout).error;
    expect(unknownField).toMatchObject({ code: "invalid_input", path: "colour", message: "invalid input for git.status at 'colour': unknown field 'colour'" });
    // A ref is a revision, never an option git would act on.
    const option = parseJson((await invoke("git.log", { ref: "--all" })).stdout).error;
    expect(option).toMatchObject({ code: "invalid_input", path: "ref" });
    const notJson = await runBin(["tool", "invoke", "git.log", "--input", "{limit:"], { cwd: fx.dir, env: { PAPERCLIP_AOS_HOME: fx.home } });
    expect(notJson.code).toBe(2);
    expect(parseJson(notJson.stdout).error.code).toBe("invalid_json");
  });

  test("--input - reads the input from stdin", async () => {
    const r = await invoke("git.log", undefined, { stdin: '{"limit":2}' });
    expect(r.code).toBe(0);
    expect(parseJson(r.stdout).commits).toHaveLength(2);
  });

  test("--cwd that is missing or not a directory is exit 2 before any tool runs", async () => {
    const missing = await runBin(["tool", "invoke", "git.status", "--cwd", join(fx.dir, "no-such-dir"), "--json"], { env: { PAPERCLIP_AOS_HOME: fx.home } });
    expect([missing.code, parseJson(missing.stdout).error.code]).toEqual([2, "cwd_missing"]);
    const file = await runBin(["tool", "invoke", "git.status", "--cwd", join(fx.dir, "a.txt"), "--json"], { env: { PAPERCLIP_AOS_HOME: fx.home } });
    expect([file.code, parseJson(file.stdout).error.code]).toEqual([2, "cwd_not_dir"]);
  });

  test("an invalid artifact name is refused before the artifact store is even created", async () => {
    const home = await tempDir("aos-tools-home-");
    const r = await invoke("artifacts.publish", { path: "a.txt", name: "../../evil" }, { home });
    expect(r.code).toBe(2);
    expect(parseJson(r.stdout).error.path).toBe("name");
    expect(await readdir(home)).toEqual([]);
  });
});

describe("workspace.diff", () => {
  test("outside a run it compares with HEAD: every change, with line counts and a unified diff", async () => {
    const before = await treeState(fx.dir);
    const d = await ok("workspace.diff", {});
    expect(d.baseline).toEqual({ kind: "head", commit: sh(fx.dir, "rev-parse", "HEAD").trim() });
    const byPath = Object.fromEntries(d.files.map((f: { path: string }) => [f.path, f]));
    expect(byPath["a.txt"]).toMatchObject({ status: "modified", additions: 1, deletions: 0, binary: false });
    expect(byPath["src/b.js"]).toMatchObject({ status: "deleted", deletions: 1 });
    expect(byPath["staged.txt"]).toMatchObject({ status: "added", additions: 1 });
    expect(byPath["new-name.md"]).toMatchObject({ status: "renamed", oldPath: "old-name.md" });
    expect(byPath["notes/todo.txt"]).toMatchObject({ status: "added" });
    expect(d.diff).toContain("+gamma\n");
    expect(d.diff).toContain("rename from old-name.md");
    expect(d.truncated).toBe(false);
    // The comparison writes nothing into the workspace or its repository (not even the index).
    expect(await treeState(fx.dir)).toEqual(before);
    expect(existsSync(join(fx.home, "tmp")) ? await readdir(join(fx.home, "tmp")) : []).toEqual([]);
  });

  test("maxBytes caps the diff at a line boundary and says so", async () => {
    const d = await ok("workspace.diff", { maxBytes: 120 });
    expect(d.truncated).toBe(true);
    expect(Buffer.byteLength(d.diff)).toBeLessThanOrEqual(120);
    expect(d.diff.endsWith("\n")).toBe(true);
    expect(d.files.length).toBeGreaterThan(3);
    const list = await ok("workspace.diff", { maxBytes: 0 });
    expect(list.diff).toBe("");
  });

  test("with --run-id it compares with the run's start, in a directory that is not a git repository", async () => {
    const ws = await tempDir("aos-tools-plain-");
    const home = await tempDir("aos-tools-home-");
    await writeFile(join(ws, "keep.txt"), "same\n");
    await writeFile(join(ws, "edit.txt"), "one\ntwo\n");
    await writeFile(join(ws, "drop.txt"), "bye\n");
    await writeFile(join(ws, "pic.bin"), new Uint8Array([0, 1, 2, 3]));
    await mkdir(join(ws, "node_modules", "x"), { recursive: true });
    const before = await treeState(ws);
    const b = await takeBaseline({ workspaceDir: await realpath(ws), stateDir: home, runId: "run-42" });
    expect(b.files).toBe(4);
    expect(await treeState(ws)).toEqual(before);
    await writeFile(join(ws, "edit.txt"), "one\nTWO\n");
    await Bun.$`rm ${join(ws, "drop.txt")}`.quiet();
    await writeFile(join(ws, "added.txt"), "new\n");
    await writeFile(join(ws, "pic.bin"), new Uint8Array([0, 1, 2, 4]));
    await writeFile(join(ws, "node_modules", "x", "index.js"), "ignored\n");
    // Compared in a later second than the baseline and the edits (same size, so only their content tells): git trusts
    // an index entry's stat data when the index is older than the file, so a comparison index copied with a new mtime
    // called edit.txt and pic.bin unchanged (CI, 1 in many runs; every time with this wait, before the fix).
    await Bun.sleep(1100);
    const d = await ok("workspace.diff", {}, { cwd: ws, home, args: ["--run-id", "run-42"] });
    expect(d.baseline).toMatchObject({ kind: "run", runId: "run-42", takenAt: b.takenAt });
    expect(d.files).toEqual([
      { path: "added.txt", status: "added", binary: false, additions: 1, deletions: 0 },
      { path: "drop.txt", status: "deleted", binary: false, additions: 0, deletions: 1 },
      { path: "edit.txt", status: "modified", binary: false, additions: 1, deletions: 1 },
      { path: "pic.bin", status: "modified", binary: true, additions: null, deletions: null },
    ]);
    expect(d.diff).toContain("-two\n+TWO\n");
    expect(d.excluded).toContain("node_modules/");
    // No baseline and no git: a clear error.
    const none = await invoke("workspace.diff", {}, { cwd: ws, home });
    expect(none.code).toBe(1);
    expect(parseJson(none.stdout).error.code).toBe("no_baseline");
    const badId = await invoke("workspace.diff", {}, { cwd: ws, home, args: ["--run-id", "../x"] });
    expect(badId.code).toBe(2);
  });

  test("files over the size cap are tracked by size and mtime, not copied into the baseline", async () => {
    const ws = await tempDir("aos-tools-plain-");
    const home = await tempDir("aos-tools-home-");
    const big = (fill: number) => new Uint8Array(MAX_BASELINE_FILE_BYTES + 1).fill(fill);
    await writeFile(join(ws, "data.bin"), big(1));
    await writeFile(join(ws, "gone.bin"), big(2));
    await writeFile(join(ws, "same.bin"), big(3));
    await writeFile(join(ws, "small.txt"), "x\n");
    const b = await takeBaseline({ workspaceDir: await realpath(ws), stateDir: home, runId: "big" });
    expect(b.largeFiles.map((f) => f.path).sort()).toEqual(["data.bin", "gone.bin", "same.bin"]);
    const stored = Number(Bun.spawnSync(["du", "-sk", join(home, "runs", "big")]).stdout.toString().split("\t")[0]);
    expect(stored).toBeLessThan(MAX_BASELINE_FILE_BYTES / 1024);
    await writeFile(join(ws, "data.bin"), big(9));
    await utimes(join(ws, "data.bin"), new Date(), new Date(Date.now() + 5000));
    await Bun.$`rm ${join(ws, "gone.bin")}`.quiet();
    await writeFile(join(ws, "new.bin"), big(4));
    const d = await ok("workspace.diff", {}, { cwd: ws, home, args: ["--run-id", "big"] });
    expect(d.files).toEqual([
      { path: "data.bin", status: "modified", binary: true, additions: null, deletions: null, large: true },
      { path: "gone.bin", status: "deleted", binary: true, additions: null, deletions: null, large: true },
      { path: "new.bin", status: "added", binary: true, additions: null, deletions: null, large: true },
    ]);
  });
});

describe("artifacts.publish", () => {
  test("copies the file into the state dir with its sha256 and content type, and returns a stable ref", async () => {
    await writeFile(join(fx.dir, "report.html"), "<html><title>r</title></html>\n");
    const a = await ok("artifacts.publish", { path: "/workspace/report.html" });
    const content = await readFile(join(fx.dir, "report.html"));
    const sha = createHash("sha256").update(content).digest("hex");
    expect(a).toMatchObject({ name: "report.html", source: "report.html", sha256: sha, size: content.length, contentType: "text/html;charset=utf-8" });
    expect(a.ref).toBe(`artifact://local/${sha}/report.html`);
    expect(a.storedPath.startsWith(await realpath(fx.home))).toBe(true);
    expect(await readFile(a.storedPath)).toEqual(content);
    const again = await ok("artifacts.publish", { path: "report.html" });
    expect(again.ref).toBe(a.ref);
    const inRun = await ok("artifacts.publish", { path: "report.html", name: "final report.html" }, { args: ["--run-id", "r7"] });
    expect(inRun.ref).toBe(`artifact://r7/${sha}/final%20report.html`);
    expect(inRun.storedPath).toBe(join(await realpath(fx.home), "runs", "r7", "artifacts", sha, "final report.html"));
  });

  test("refuses paths that leave the workspace: .., absolute paths, symlinks pointing out", async () => {
    const outside = await tempDir("aos-tools-outside-");
    await writeFile(join(outside, "secret.txt"), "secret\n");
    await symlink(join(outside, "secret.txt"), join(fx.dir, "link-out"));
    await symlink(outside, join(fx.dir, "dir-out"));
    await symlink("a.txt", join(fx.dir, "link-in"));
    for (const [path, code, exit] of [
      ["../x", "invalid_input", 2],
      ["src/../../x", "invalid_input", 2],
      [join(outside, "secret.txt"), "invalid_input", 2],
      ["/etc/passwd", "invalid_input", 2],
      ["link-out", "path_outside_workspace", 1],
      ["dir-out/secret.txt", "path_outside_workspace", 1],
      ["src", "not_a_file", 1],
      ["missing.txt", "not_found", 1],
    ] as const) {
      const r = await invoke("artifacts.publish", { path });
      expect({ path, exit: r.code, code: parseJson(r.stdout).error?.code }).toEqual({ path, exit, code });
    }
    const home = fx.home;
    const stored = existsSync(join(home, "artifacts")) ? await readdir(join(home, "artifacts"), { recursive: true }) : [];
    expect(stored.filter((p) => String(p).includes("secret"))).toEqual([]);
    // Over the 256 MiB cap (a sparse file): refused before anything is copied.
    const huge = join(fx.dir, "huge.bin");
    await writeFile(huge, "");
    await truncate(huge, 256 * 1024 * 1024 + 1);
    const big = await invoke("artifacts.publish", { path: "huge.bin" });
    expect([big.code, parseJson(big.stdout).error.code]).toEqual([1, "too_large"]);
    expect(existsSync(join(home, "artifacts")) ? (await readdir(join(home, "artifacts"))).filter((n) => n.startsWith(".incoming")) : []).toEqual([]);
    await Bun.$`rm ${huge}`.quiet();
    // A symlink that stays inside is fine.
    expect((await ok("artifacts.publish", { path: "link-in" })).sha256).toBe(createHash("sha256").update(await readFile(join(fx.dir, "a.txt"))).digest("hex"));
  });
});

describe("preview.status and services.list on the host", () => {
  let server: ReturnType<typeof Bun.serve>;
  beforeAll(() => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) =>
        new URL(req.url).pathname === "/moved"
          ? new Response(null, { status: 302, headers: { location: "http://example.com/" } })
          : new Response("<!doctype html><title>Demo &amp; preview</title><p>hi", { headers: { "content-type": "text/html" } }),
    });
  });
  afterAll(() => server.stop(true));

  test("an answering page: status, latency, title; a redirect is reported, not followed", async () => {
    const p = await ok("preview.status", { port: server.port });
    expect(p).toMatchObject({ url: `http://127.0.0.1:${server.port}/`, answering: true, status: 200, title: "Demo & preview", via: "host", error: null });
    expect(p.latencyMs).toBeGreaterThanOrEqual(0);
    const moved = await ok("preview.status", { url: `http://localhost:${server.port}/moved` });
    expect(moved).toMatchObject({ status: 302, location: "http://example.com/", title: null });
  });

  test("a closed port is answering:false (not a failure); a non-loopback URL or both url and port is invalid input", async () => {
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const port = probe.port;
    probe.stop(true);
    const p = await ok("preview.status", { port, timeoutMs: 2000 });
    expect(p).toMatchObject({ answering: false, status: null, error: "connection refused" });
    for (const input of [{ url: "http://example.com/" }, { url: "https://127.0.0.1/" }, { port: 80, url: "http://127.0.0.1/" }, {}]) {
      const r = await invoke("preview.status", input);
      expect(r.code).toBe(2);
    }
  });

  test("services.list without a VM is empty and says it is not live", async () => {
    expect(await ok("services.list", {})).toEqual({ live: false, services: [] });
  });
});

describe("the workspace cannot turn host git against the host", () => {
  test("a clean filter in the repository's own config never runs", async () => {
    const ws = (await gitFixture()).dir;
    const sentinel = join(await tempDir("aos-tools-sentinel-"), "pwned");
    sh(ws, "config", "filter.evil.clean", `touch ${sentinel}; cat`);
    sh(ws, "config", "core.fsmonitor", `touch ${sentinel}`);
    await writeFile(join(ws, ".gitattributes"), "* filter=evil\n");
    // Same size, older mtime: git has to hash the file to know, which is when it runs the clean filter.
    await writeFile(join(ws, "a.txt"), "alphA\nbeta\ngamma\n");
    await utimes(join(ws, "a.txt"), new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    await ok("git.status", {}, { cwd: ws });
    await ok("workspace.diff", {}, { cwd: ws });
    await ok("git.log", {}, { cwd: ws });
    expect(existsSync(sentinel)).toBe(false);
  });

  test("a nested repository's own filter never runs: git never runs inside a submodule", async () => {
    const ws = (await gitFixture()).dir;
    const sentinel = join(await tempDir("aos-tools-sentinel-"), "pwned");
    const sub = join(ws, "sub");
    await mkdir(sub);
    sh(sub, "init", "-q");
    await writeFile(join(sub, ".gitattributes"), "* filter=evil\n");
    await writeFile(join(sub, "s.txt"), "hello\n");
    sh(sub, "add", "-A");
    sh(sub, "commit", "-q", "-m", "sub");
    sh(sub, "config", "filter.evil.clean", `touch ${sentinel}; cat`);
    sh(ws, "add", "sub");
    sh(ws, "commit", "-q", "-m", "add sub");
    const home = await tempDir("aos-tools-home-");
    await takeBaseline({ workspaceDir: await realpath(ws), stateDir: home, runId: "sub" });
    // Same size, older mtime: a status inside the submodule would have to run the clean filter to know.
    const stale = async (text: string, hoursAgo: number) => {
      await writeFile(join(sub, "s.txt"), text);
      await utimes(join(sub, "s.txt"), new Date(Date.now() - hoursAgo * 3600_000), new Date(Date.now() - hoursAgo * 3600_000));
    };
    await stale("hellO\n", 1);
    await ok("git.status", {}, { cwd: ws });
    const head = await ok("workspace.diff", {}, { cwd: ws });
    expect(head.files.map((f: { path: string }) => f.path)).not.toContain("sub");
    await stale("hellA\n", 2);
    await ok("workspace.diff", {}, { cwd: ws, home, args: ["--run-id", "sub"] });
    expect(existsSync(sentinel)).toBe(false);
  });

  test("a .git file or core.worktree pointing outside the workspace is refused", async () => {
    const other = await gitFixture();
    const ws = await tempDir("aos-tools-ws-");
    await writeFile(join(ws, ".git"), `gitdir: ${join(other.dir, ".git")}\n`);
    const r = await invoke("git.log", {}, { cwd: ws });
    expect(r.code).toBe(1);
    expect(parseJson(r.stdout).error.code).toBe("repo_outside_workspace");
    const moved = (await gitFixture()).dir;
    sh(moved, "config", "core.worktree", other.dir);
    const w = await invoke("git.status", {}, { cwd: moved });
    expect([w.code, parseJson(w.stdout).error.code]).toEqual([1, "repo_outside_workspace"]);
  });

  /**
   * A workspace whose filter plain host git runs (checked on a twin, so the setup is live), then the same through the
   * tools, which must not run it. `plant` writes the trap into a fresh fixture for a given sentinel.
   */
  async function trapNeverRuns(plant: (ws: string, sentinel: string) => Promise<void>) {
    const sentinels = await tempDir("aos-tools-sentinel-");
    const [twin, ws] = [(await gitFixture()).dir, (await gitFixture()).dir];
    for (const [dir, name] of [[twin, "control"], [ws, "pwned"]] as const) {
      // The index holds a.txt as it is now; below it changes to the same size with an older mtime, so git has to
      // hash it to know (which is when it runs the clean filter), whatever the timing of the index write.
      sh(dir, "add", "a.txt");
      await plant(dir, join(sentinels, name));
      await writeFile(join(dir, ".gitattributes"), "* filter=evil\n");
      await writeFile(join(dir, "a.txt"), "alphA\nbeta\ngamma\n");
      await utimes(join(dir, "a.txt"), new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    }
    Bun.spawnSync(["git", "status", "--porcelain"], { cwd: twin, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: twin } });
    expect(existsSync(join(sentinels, "control"))).toBe(true);
    await ok("git.status", {}, { cwd: ws });
    await ok("git.log", {}, { cwd: ws });
    expect(existsSync(join(sentinels, "pwned"))).toBe(false);
  }

  test("a filter brought in by include.path or includeIf, or spelled in capitals or the old [filter.x] form, never runs", async () => {
    const filter = (sentinel: string, header = '[filter "evil"]') => `${header}\n\tclean = touch ${sentinel}; cat\n`;
    // Included from inside .git (a workspace file included is refused outright: escapes-host.test.ts).
    await trapNeverRuns(async (ws, s) => {
      await writeFile(join(ws, ".git", "evil.cfg"), filter(s));
      sh(ws, "config", "include.path", "evil.cfg");
    });
    await trapNeverRuns(async (ws, s) => {
      await writeFile(join(ws, ".git", "evil.cfg"), filter(s));
      sh(ws, "config", "includeIf.gitdir:/.path", "evil.cfg");
    });
    await trapNeverRuns((ws, s) => appendFile(join(ws, ".git", "config"), filter(s, '[FILTER "evil"]').replace("clean", "CLEAN")));
    await trapNeverRuns((ws, s) => appendFile(join(ws, ".git", "config"), filter(s, "[filter.Evil]")));
  });

  test("a workspace laid out as a bare repository beside a broken .git (git takes the workspace itself for the repository) is refused; its filter never runs", async () => {
    // git tries <ws>/.git first; with that broken it takes the workspace itself for the repository, config and all:
    // files the agent can write (only a .git directory is write-protected), so the tools refuse it.
    const sentinels = await tempDir("aos-tools-sentinel-");
    const ws = (await gitFixture()).dir;
    for (const name of ["HEAD", "index", "objects", "refs"]) await cp(join(ws, ".git", name), join(ws, name), { recursive: true });
    await writeFile(join(ws, "config"), `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = ${ws}\n${'[filter "evil"]'}\n\tclean = touch ${join(sentinels, "pwned")}; cat\n`);
    await rm(join(ws, ".git", "HEAD"));
    await writeFile(join(ws, ".gitattributes"), "* filter=evil\n");
    for (const tool of ["git.status", "git.log"]) {
      const r = await invoke(tool, {}, { cwd: ws });
      expect([tool, r.code, parseJson(r.stdout).error.code]).toEqual([tool, 1, "unsafe_git_config"]);
    }
    expect(existsSync(join(sentinels, "pwned"))).toBe(false);
  });

  test("a .git that is a symbolic link to a repository outside the workspace is refused", async () => {
    const other = await gitFixture();
    const ws = await tempDir("aos-tools-ws-");
    await symlink(join(other.dir, ".git"), join(ws, ".git"));
    const r = await invoke("git.status", {}, { cwd: ws });
    expect([r.code, parseJson(r.stdout).error.code]).toEqual([1, "repo_outside_workspace"]);
  });

  test("inherited GIT_* variables cannot point the tools at another repository", async () => {
    const other = await gitFixture();
    sh(other.dir, "commit", "-q", "--allow-empty", "-m", "only in the other repository");
    const r = await runBin(["tool", "invoke", "git.log", "--input", "{}"], {
      cwd: fx.dir,
      env: { PAPERCLIP_AOS_HOME: fx.home, GIT_DIR: join(other.dir, ".git"), GIT_WORK_TREE: other.dir },
    });
    expect(r.code).toBe(0);
    expect(parseJson(r.stdout).commits.map((c: { subject: string }) => c.subject)).toEqual(fx.subjects);
  });
});
