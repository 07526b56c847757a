/**
 * Sandbox escapes through the host (issue 9, classes 3-6 and "also found"): host tools acting for the agent, the
 * environment, host paths in the guest, and leftovers outside the state and cache dirs. In each test the agent in a
 * real VM (exec, or run on the scripted model, through the compiled binary) tries the escape and the host checks
 * that nothing happened.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { binPath, filesUnder, parseJson, privateCache, processesMentioning, removeTempDirs, runBin, runEvents, scriptedRun, stopServe, tempDir } from "./helpers.ts";
import { untilServing } from "../../src/worker/index.ts";
import { sh } from "./tools-fixture.ts";
import { bootVm } from "../../src/runtime/index.ts";
import { defaultMemoryCapKb } from "../../src/runtime/vm.ts";
import { childPids } from "../../src/runtime/proc.ts";
import { buildRunRequest, bindHostTools, EventSink, runHeartbeat } from "../../src/heartbeat/index.ts";
import { compileSandbox } from "../../src/caps/index.ts";

afterAll(removeTempDirs);

const VM_TIMEOUT = 180_000;

/** A host tool called from the agent's shell, then its exit code on a line of its own. */
const call = (fn: string, input: object) => `agentos-paperclip ${fn} --json '${JSON.stringify(input)}'; echo "@@rc=$?"`;

/**
 * The agent's shell script, run by exec in a VM over `ws`: exec's JSON result, and its stdout split at each call's
 * exit-code line (parts[1], parts[3], ... the codes; parts[0], parts[2], ... what each call printed).
 */
async function execAgent(ws: string, home: string, script: string, flags: string[] = [], env: Record<string, string> = {}) {
  const r = await runBin(["exec", "--json", ...flags, "--", script], { cwd: ws, env: { PAPERCLIP_AOS_HOME: home, ...env } });
  const out = parseJson<{ exitCode: number; stdout: string; stderr: string }>(r.stdout);
  return { r, out, parts: out.stdout.split(/@@rc=(\d+)\n/) };
}
const SECRETS = { env: "ENV-SECRET-a1b2c3", local: "ENV-LOCAL-SECRET-d4e5f6", denied: "DENY-READ-SECRET-g7h8i9" };

/** A git workspace holding a .env, a .env.local, a file the tests deny by flag, and an ordinary file, each changed since HEAD. */
async function secretWorkspace(): Promise<string> {
  const ws = await tempDir("aos-esc-ws-");
  sh(ws, "init", "-q", "-b", "main");
  await writeFile(join(ws, ".env"), "A=1\n");
  await writeFile(join(ws, ".env.local"), "B=1\n");
  await writeFile(join(ws, "private.txt"), "nothing yet\n");
  await writeFile(join(ws, "ok.txt"), "ok\n");
  sh(ws, "add", "-A");
  sh(ws, "commit", "-q", "-m", "base");
  await writeFile(join(ws, ".env"), `A=1\nTOKEN=${SECRETS.env}\n`);
  await writeFile(join(ws, ".env.local"), `B=${SECRETS.local}\n`);
  await writeFile(join(ws, "private.txt"), `${SECRETS.denied}\n`);
  await writeFile(join(ws, "ok.txt"), "ok\nchanged-visible\n");
  return ws;
}

async function expectNoSecretUnder(dir: string) {
  for (const f of await filesUnder(dir)) {
    const text = await readFile(f, "latin1");
    for (const s of Object.values(SECRETS)) expect({ file: f, leaked: text.includes(s) }).toEqual({ file: f, leaked: false });
  }
}

/**
 * Each WASM command adds ~0.5 GB to its sidecar's data size, which the memory cap counts: ~25-30 at once took the
 * sidecar down with every VM on it ("sidecar process exited with disconnect"). The VM's process limit
 * (src/runtime/limits.ts vmMaxProcesses) refuses the next one instead.
 */
describe("a flood of processes in the VM", () => {
  test("exec: 40 background commands at once get EAGAIN past the VM's process limit; the command and its sidecar go on", async () => {
    const ws = await tempDir("aos-esc-ws-");
    const flood = "i=0; while [ $i -lt 40 ]; do sleep 100 & i=$((i+1)); done; echo spawned $i; echo still-running";
    const r = await runBin(["exec", "--json", "--", flood], { cwd: ws, env: { PAPERCLIP_AOS_HOME: await tempDir("aos-esc-home-") } });
    expect({ code: r.code, stderr: r.stderr.slice(-300) }).toMatchObject({ code: 0 });
    const out = parseJson<{ exitCode: number; stdout: string; stderr: string }>(r.stdout);
    expect({ exitCode: out.exitCode, stdout: out.stdout }).toEqual({ exitCode: 0, stdout: "spawned 40\nstill-running\n" });
    expect(out.stderr).toContain("Resource temporarily unavailable");
  }, VM_TIMEOUT);
});

/**
 * Host tools write for the agent on the host's disk: artifacts.publish copied a workspace file into the run's store
 * once per call, so one file changed a byte at a time between calls (no workspace growth) made a copy each.
 */
describe("the host's disk through a host tool", () => {
  test("exec: artifacts.publish stores no more than the write allowance for one VM; the same file under the same name again costs nothing", async () => {
    const ws = await tempDir("aos-esc-ws-");
    const home = await tempDir("aos-esc-home-");
    const script = [
      "dd if=/dev/zero of=a.bin bs=1024 count=700 iflag=fullblock 2>/dev/null",
      call("artifacts-publish", { path: "a.bin", name: "one.bin" }),
      // The store has it already: no second copy, nothing taken from the allowance.
      call("artifacts-publish", { path: "a.bin", name: "one.bin" }),
      "printf x | dd of=a.bin bs=1 count=1 conv=notrunc 2>/dev/null",
      call("artifacts-publish", { path: "a.bin", name: "two.bin" }),
      "printf y | dd of=a.bin bs=1 count=1 conv=notrunc 2>/dev/null",
      call("artifacts-publish", { path: "a.bin", name: "three.bin" }),
    ].join("\n");
    const { out, parts } = await execAgent(ws, home, script, [], { PAPERCLIP_AOS_WRITE_ALLOWANCE_MB: "2" });
    expect([parts[1], parts[3], parts[5], parts[7]]).toEqual(["0", "0", "0", "1"]);
    expect(out.stderr).toContain("too_large: a.bin does not fit what this run may still publish");
    const stored = await filesUnder(join(home, "artifacts"));
    expect(stored.map((f) => f.split("/").pop()).sort()).toEqual(["one.bin", "two.bin"]);
    for (const f of stored) expect(statSync(f).size).toBe(700 * 1024);
  }, VM_TIMEOUT);
});

describe("class 3: host tools read the workspace with the agent's own fs policy", () => {
  test("exec: publish and diff of .env, a --deny-read file and .env.local through a guest symlink are refused; the store and output hold nothing of them", async () => {
    const ws = await secretWorkspace();
    const home = await tempDir("aos-esc-home-");
    const script = [
      "ln -s .env.local notes.txt",
      call("artifacts-publish", { path: ".env" }),
      call("artifacts-publish", { path: "/workspace/private.txt" }),
      call("artifacts-publish", { path: "notes.txt" }),
      call("artifacts-publish", { path: "ok.txt" }),
      call("workspace-diff", {}),
    ].join("\n");
    const { r, out, parts } = await execAgent(ws, home, script, ["--deny-read=private.txt"]);
    expect([parts[1], parts[3], parts[5], parts[7], parts[9]]).toEqual(["1", "1", "1", "0", "0"]);
    expect(out.stderr).toContain("permission_denied: artifacts.publish may not read /workspace/.env: reading /workspace/.env is always denied");
    expect(out.stderr).toContain("permission_denied: artifacts.publish may not read /workspace/private.txt: reading /workspace/private.txt is denied by deny 'private.txt' from flag --deny-read");
    expect(out.stderr).toContain("may not read /workspace/.env.local: it is a link to /workspace/.env.local");
    // Only ok.txt reached the artifact store.
    const stored = (await filesUnder(join(home, "artifacts"))).map((f) => f.split("/").pop());
    expect(stored).toEqual(["ok.txt"]);
    // The diff lists every changed file, the refused ones without counts or content.
    const diff = JSON.parse(parts[8]!).result;
    const byPath = Object.fromEntries(diff.files.map((f: { path: string }) => [f.path, f]));
    expect(Object.keys(byPath).sort()).toEqual([".env", ".env.local", "notes.txt", "ok.txt", "private.txt"]);
    for (const p of [".env", ".env.local", "notes.txt", "private.txt"]) expect(byPath[p]).toMatchObject({ additions: null, deletions: null, withheld: expect.any(String) });
    expect(byPath["ok.txt"]).toMatchObject({ additions: 1, deletions: 0 });
    expect(byPath["ok.txt"].withheld).toBeUndefined();
    expect(diff.diff).toContain("+changed-visible");
    for (const s of Object.values(SECRETS)) expect(r.stdout + r.stderr).not.toContain(s);
    await expectNoSecretUnder(home);
  }, VM_TIMEOUT);

  test("run: the agent's publish and diff of a symlink to .env.local and of .env are refused with permission events", async () => {
    const ws = await secretWorkspace();
    const home = await tempDir("aos-esc-home-");
    const bash = (command: string) => ({ tool: "bash", input: { command } });
    const r = await scriptedRun({
      ws,
      home,
      steps: [
        bash("ln -s .env.local notes.txt"),
        bash(`agentos-paperclip artifacts-publish --json '{"path":"notes.txt"}'`),
        bash(`agentos-paperclip artifacts-publish --json '{"path":".env"}'`),
        bash(`agentos-paperclip workspace-diff --json '{}'`),
        { text: "done" },
      ],
    });
    expect(r.code).toBe(0);
    const perms = r.evs.filter((e) => e.type === "permission" && e.capability === "fs.read").map((e) => e.target);
    expect(perms).toContain("/workspace/.env.local");
    expect(perms).toContain("/workspace/.env");
    const results = r.evs.filter((e) => e.type === "tool_result").map((e) => e.content as string);
    expect(results.some((c) => c.includes("artifacts.publish may not read /workspace/.env.local"))).toBe(true);
    // The diff the agent got names notes.txt (added during the run) without its target's content.
    expect(results.some((c) => c.includes('"withheld"') && c.includes("notes.txt"))).toBe(true);
    const stored = (await filesUnder(home)).filter((f) => f.includes("/artifacts/"));
    expect(stored).toEqual([]);
    for (const s of Object.values(SECRETS)) expect(r.stdout).not.toContain(s);
    await expectNoSecretUnder(home);
  }, VM_TIMEOUT);

  test("heartbeat: with the kernel allowing every tool, the host's own second check still refuses a denied tool", async () => {
    const ws = await secretWorkspace();
    const home = await tempDir("aos-esc-home-");
    const scratch = await tempDir("aos-esc-script-");
    const file = join(scratch, "script.json");
    await writeFile(file, JSON.stringify({ steps: [{ tool: "bash", input: { command: `agentos-paperclip artifacts-publish --json '{"path":"ok.txt"}'` } }, { text: "done" }] }));
    const saved = process.env.PAPERCLIP_AOS_HOME;
    process.env.PAPERCLIP_AOS_HOME = home;
    try {
      const req = buildRunRequest(undefined, { prompt: "publish", cwd: ws, model: `scripted:${file}`, taskKey: "gate" }, {}, ws);
      const events: Record<string, any>[] = [];
      const sink = new EventSink(null);
      sink.listen((e) => events.push(e));
      const result = await runHeartbeat(req, {
        sink,
        stop: new AbortController().signal,
        // The policy denies artifacts.publish; the kernel's hostFunction scope is opened to everything, so only the
        // host's check in the tool binding can refuse it.
        sandbox: async (gatewayPort) => {
          const s = await compileSandbox({ flags: undefined, json: { version: 1, extends: "workspace-write", deny: { "tool.invoke": ["artifacts.publish"] } }, workspaceHostDir: ws, gatewayPort });
          return { ...s, permissions: { ...s.permissions, hostFunction: "allow" as never } };
        },
        tools: bindHostTools,
      });
      expect(result.exitCode).toBe(0);
      const perm = events.find((e) => e.type === "permission" && e.capability === "tool.invoke");
      expect(perm).toMatchObject({ target: "artifacts.publish", decision: "deny" });
      const res = events.find((e) => e.type === "tool_result" && String(e.content).includes("artifacts"));
      expect(JSON.parse(String(res?.content))).toMatchObject({ error: { code: "permission_denied", message: expect.stringContaining("artifacts.publish is not allowed by the policy (tool.invoke deny artifacts.publish") } });
      expect(String(res?.content)).not.toContain("blocked by hostFunction.invoke policy");
      expect((await filesUnder(home)).filter((f) => f.includes("/artifacts/"))).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.PAPERCLIP_AOS_HOME;
      else process.env.PAPERCLIP_AOS_HOME = saved;
    }
  }, VM_TIMEOUT);
});

describe("class 3: the host's git, run by the tools for the agent, runs nothing and quotes nothing of the workspace", () => {
  /** A git workspace with one commit whose .git/config the policy lets the agent write (an exact allow lifts the mandatory deny). */
  async function writableConfigWorkspace() {
    const ws = await tempDir("aos-esc-ws-");
    sh(ws, "init", "-q", "-b", "main");
    await writeFile(join(ws, "a.txt"), "one\n");
    sh(ws, "add", "a.txt");
    sh(ws, "commit", "-q", "-m", "base");
    return { ws, flags: ["--allow-write=/workspace/.git/config"], home: await tempDir("aos-esc-home-"), marker: join(await tempDir("aos-esc-marker-"), "ran") };
  }

  test("exec: a git config the agent writes cannot make git.log run a program on the host (a promisor remote's uploadpack)", async () => {
    const { ws, flags, home, marker } = await writableConfigWorkspace();
    // git looks a missing object up in a promisor remote by fetching from it: a local url runs uploadpack in a shell.
    const config = `[remote "x"]\n\turl = /nonexistent\n\tpromisor = true\n\tuploadpack = echo agent-ran > ${marker}; false\n`;
    const script = [
      `printf '%s' '${config}' >> /workspace/.git/config`,
      call("git-log", { ref: "1111111111111111111111111111111111111111" }),
      call("git-log", {}),
      call("git-status", {}),
    ].join("\n");
    const { out, parts } = await execAgent(ws, home, script, flags);
    expect(await readFile(join(ws, ".git", "config"), "utf8")).toContain("uploadpack = echo agent-ran");
    expect(existsSync(marker)).toBe(false);
    expect([parts[1], parts[3], parts[5]]).toEqual(["1", "0", "0"]);
    expect(out.stderr).toContain("unknown_ref: '1111111111111111111111111111111111111111' is not a commit in this repository");
    expect(JSON.parse(parts[2]!).result.commits.map((c: { subject: string }) => c.subject)).toEqual(["base"]);
  }, VM_TIMEOUT);

  test("exec: a filter driver whose name holds '=' cannot turn the tools' neutralising -c into a clean command", async () => {
    // `-c filter.NAME.clean=` is split by git at its first '=': for NAME `x.clean=CMD #` it set filter.x.clean to CMD.
    const { ws, flags, home, marker } = await writableConfigWorkspace();
    const config = `[filter "x.clean=echo agent-ran > ${marker}; cat #"]\n\tclean = cat\n`;
    const script = [
      `printf '%s' '${config}' >> /workspace/.git/config`,
      `printf '*.txt filter=x\\n' > /workspace/.gitattributes`,
      // Same size, new content: git status must hash it again, through the filter.
      "printf 'two\\n' > /workspace/a.txt",
      call("git-status", {}),
      call("workspace-diff", {}),
    ].join("\n");
    const { out, parts } = await execAgent(ws, home, script, flags);
    expect(await readFile(join(ws, ".git", "config"), "utf8")).toContain("agent-ran");
    expect(existsSync(marker)).toBe(false);
    expect(parts[1]).toBe("1");
    expect(out.stderr).toContain("unsafe_git_config: the repository's config names a filter driver with '=' in its name");
  }, VM_TIMEOUT);

  test("exec: a repository whose config includes a workspace file (the agent's to write) is refused by the git tools; one included from .git is not", async () => {
    // Every git process reads the included file anew, so the agent could change it between the process that listed
    // the config and the one that does the work: the tools do not run git under it at all.
    const ws = await tempDir("aos-esc-ws-");
    sh(ws, "init", "-q", "-b", "main");
    sh(ws, "commit", "-q", "--allow-empty", "-m", "base");
    const base = await readFile(join(ws, ".git", "config"), "utf8");
    await writeFile(join(ws, ".git", "config"), `${base}[include]\n\tpath = ../project.gitconfig\n`);
    const home = await tempDir("aos-esc-home-");
    const script = [`printf '[core]\\n\\tabbrev = 12\\n' > /workspace/project.gitconfig`, call("git-status", {}), call("git-log", {})].join("\n");
    const { out, parts } = await execAgent(ws, home, script);
    expect([parts[1], parts[3]]).toEqual(["1", "1"]);
    expect(out.stderr).toContain("unsafe_git_config: the repository's config includes project.gitconfig, a workspace file the agent can write");
    // The host user's own include from inside .git (write-protected for the agent) is fine.
    await writeFile(join(ws, ".git", "config"), `${base}[include]\n\tpath = shared.gitconfig\n`);
    await writeFile(join(ws, ".git", "shared.gitconfig"), "[core]\n\tabbrev = 12\n");
    const { out: out2 } = await execAgent(ws, home, call("git-log", {}));
    expect(out2.stdout).toContain("@@rc=0");
    expect(out2.stdout).toContain('"subject":"base"');
  }, VM_TIMEOUT);

  test("exec: a workspace the agent lays out as a git dir of its own (HEAD, config, refs, objects beside no .git) is refused: its alternates cannot show another host repository", async () => {
    const other = await tempDir("aos-esc-other-");
    sh(other, "init", "-q", "-b", "main");
    sh(other, "commit", "-q", "--allow-empty", "-m", "private subject of another repository");
    const sha = sh(other, "rev-parse", "HEAD").trim();
    const ws = await tempDir("aos-esc-ws-");
    const home = await tempDir("aos-esc-home-");
    // The agent learns the workspace's host path from any tool error ("the workspace /... is not a git repository").
    const config = `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = ${ws}\n`;
    const script = [
      "cd /workspace && mkdir -p objects/info refs/heads",
      "echo 'ref: refs/heads/main' > HEAD",
      `echo ${sha} > refs/heads/main`,
      `echo '${join(other, ".git", "objects")}' > objects/info/alternates`,
      `printf '%s' '${config}' > config`,
      call("git-log", {}),
      call("git-status", {}),
    ].join("\n");
    const { r, out, parts } = await execAgent(ws, home, script);
    expect(existsSync(join(ws, "objects", "info", "alternates"))).toBe(true);
    expect([parts[1], parts[3]]).toEqual(["1", "1"]);
    expect(out.stderr).toContain("unsafe_git_config: the repository's git dir");
    expect(r.stdout).not.toContain("private subject");
  }, VM_TIMEOUT);

  test("exec: git's error on a file it parses through a link the host user made does not quote the file in the tool's error", async () => {
    const ws = await secretWorkspace();
    // .env's first line is what git would quote; a symlink in .git is the host user's (the agent cannot make one).
    await writeFile(join(ws, ".env"), `TOKEN=${SECRETS.env}\n`);
    sh(ws, "pack-refs", "--all");
    const { symlinkSync, rmSync } = await import("node:fs");
    rmSync(join(ws, ".git", "packed-refs"));
    rmSync(join(ws, ".git", "refs", "heads", "main"), { force: true });
    symlinkSync("../.env", join(ws, ".git", "packed-refs"));
    const home = await tempDir("aos-esc-home-");
    const script = [call("git-status", {}), call("workspace-diff", {})].join("\n");
    const { r, out, parts } = await execAgent(ws, home, script, ["--deny-read=private.txt"]);
    expect(parts[1]).toBe("1");
    expect(out.stderr).toContain("git_failed: git status failed (git exited 128)");
    for (const s of Object.values(SECRETS)) expect(r.stdout + r.stderr).not.toContain(s);
  }, VM_TIMEOUT);
});

describe("the warm worker: nothing of one heartbeat stays for the next on the shared sidecar", () => {
  test("run, then a run of another task: /tmp, the home, node's import cache of a path and the gateway token are each heartbeat's own", async () => {
    const home = await tempDir("aos-esc-whome-");
    const cache = await privateCache();
    const env = { PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: cache };
    const serve = Bun.spawn([binPath(), "serve"], { env: { ...process.env, ...env }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    try {
      await untilServing(serve.stderr as ReadableStream<Uint8Array>, "worker ready");
      const heartbeat = async (ws: string, command: string, task: string) => {
        const file = join(await tempDir("aos-esc-wscript-"), "script.json");
        await writeFile(file, JSON.stringify({ steps: [{ tool: "bash", input: { command } }, { text: "done" }] }));
        const r = await runBin(["run", "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "x", "--task-key", task], { env });
        expect(r.code).toBe(0);
        return runEvents(r.stdout).find((e) => e.type === "tool_result")!.content as string;
      };
      const token = (out: string) => /"apiKey":\s*"([^"]+)"/.exec(out)![1]!;
      const wsA = await tempDir("aos-esc-wws-");
      await writeFile(join(wsA, "test.mjs"), 'console.log("A-CODE-q7");\n');
      // A leaves a file in /tmp and in its home, and has the sidecar load /workspace/test.mjs by path (the sidecar keeps
      // a copy of an entry started so, which a later bare `node test.mjs` runs: docs/agentos.md).
      const a = await heartbeat(wsA, "echo A-TMP-q7 > /tmp/planted.txt; echo A-HOME-q7 > ~/planted.txt; node /workspace/test.mjs; cd /workspace && node test.mjs; cat ~/.pi/agent/models.json", "leftover-a");
      expect(a).toContain("A-CODE-q7");
      const wsB = await tempDir("aos-esc-wws-");
      await writeFile(join(wsB, "test.mjs"), 'console.log("B-CODE-q7");\n');
      const b = await heartbeat(wsB, "ls -a /tmp ~; cat /tmp/planted.txt ~/planted.txt; cd /workspace && node test.mjs; node /workspace/test.mjs; cat ~/.pi/agent/models.json", "leftover-b");
      expect(b).toContain("B-CODE-q7");
      for (const s of ["A-TMP-q7", "A-HOME-q7", "A-CODE-q7", "planted.txt\n"]) expect({ s, seen: b.includes(s) }).toEqual({ s, seen: false });
      expect(token(b)).not.toBe(token(a));
      expect(b).not.toContain(token(a));
      const status = JSON.parse((await runBin(["serve", "--status", "--json"], { env })).stdout);
      expect(status.served.heartbeats).toBe(2);
      expect(status.served.failed).toBe(0);
    } finally {
      await stopServe(serve);
    }
  }, VM_TIMEOUT * 2);
});

describe("class 4: provider keys and secret-looking variables stay out of the VM", () => {
  const KEYS = { OPENAI_API_KEY: "sk-openai-ESCAPE-111", ANTHROPIC_API_KEY: "sk-ant-ESCAPE-222", GITHUB_TOKEN: "ghp-ESCAPE-333", OPENAI_BASE_URL: "http://upstream.invalid/ESCAPE-444" };

  test("run --allow-env (and an exact rule for OPENAI_API_KEY): no key in the agent's env, /proc/self/environ, agentos.db, the transcript or the sidecar's environ", async () => {
    const ws = await tempDir("aos-esc-ws-");
    const home = await tempDir("aos-esc-home-");
    const cache = await privateCache();
    const scratch = await tempDir("aos-esc-script-");
    const file = join(scratch, "script.json");
    const steps = [
      { tool: "bash", input: { command: "env; echo ====; cat /proc/self/environ; echo; echo started > /workspace/started.txt; sleep 6" } },
      { text: "done" },
    ];
    await writeFile(file, JSON.stringify({ steps }));
    const p = Bun.spawn([binPath(), "run", "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "env", "--allow-env", "--allow-env=OPENAI_API_KEY"], {
      env: { ...process.env, ...KEYS, AOS_VISIBLE: "visible-value", PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: cache },
      stdout: "pipe",
      stderr: "pipe",
    });
    // While the agent sleeps, read the environment of this run's sidecar(s) from the host.
    const t0 = Date.now();
    while (!existsSync(join(ws, "started.txt")) && Date.now() - t0 < 120_000) await Bun.sleep(100);
    const pids = Bun.spawnSync(["pgrep", "-f", cache]).stdout.toString().split("\n").filter(Boolean).map(Number);
    const environs = pids.map((pid) => readFileSync(`/proc/${pid}/environ`, "latin1"));
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(0);
    expect(environs.length).toBeGreaterThan(0);
    expect(environs.some((e) => e.includes("AGENTOS_LOG_LEVEL="))).toBe(true);
    const evs = runEvents(stdout);
    const out = evs.find((e) => e.type === "tool_result")!.content as string;
    // The plain variable passed (the filter is not everything-off), the keys did not.
    expect(out).toContain("AOS_VISIBLE=visible-value");
    expect(out).toContain("====");
    const db = (await filesUnder(home)).filter((f) => f.endsWith("agentos.db") || f.endsWith("transcript.ndjson"));
    expect(db.length).toBeGreaterThanOrEqual(2);
    for (const value of Object.values(KEYS)) {
      expect({ value, inGuest: out.includes(value), inStdout: stdout.includes(value), inStderr: stderr.includes(value) }).toEqual({ value, inGuest: false, inStdout: false, inStderr: false });
      for (const e of environs) expect(e.includes(value)).toBe(false);
      for (const f of await filesUnder(home)) expect({ f, leaked: (await readFile(f, "latin1")).includes(value) }).toEqual({ f, leaked: false });
    }
  }, VM_TIMEOUT);

  test("exec: --allow-env leaves secret-looking names out, an exact rule passes one; caps explain shows the guest env as it will be", async () => {
    // One-word names too (a part ending in TOKEN, PASSWORD, ...; JWT, PAT): these passed --allow-env before.
    const oneWord = { PGPASSWORD: "pg-exec-1", npm_config__authToken: "npm-auth-exec-2", GITHUB_PAT: "pat-exec-3", CI_JOB_JWT: "jwt-exec-4", SSHPASS: "sshpass-exec-5" };
    const env = { GITHUB_TOKEN: "ghp-exec-555", NPM_TOKEN: "npm-exec-666", AWS_SECRET_ACCESS_KEY: "aws-exec-777", AOS_VISIBLE: "visible-exec", ...oneWord };
    const all = await runBin(["exec", "--allow-env", "--", "env"], { env });
    expect(all.code).toBe(0);
    expect(all.stdout).toContain("AOS_VISIBLE=visible-exec");
    for (const v of ["ghp-exec-555", "npm-exec-666", "aws-exec-777", ...Object.values(oneWord)]) expect({ v, leaked: all.stdout.includes(v) }).toEqual({ v, leaked: false });
    const exact = await runBin(["exec", "--allow-env", "--allow-env=GITHUB_TOKEN", "--", "env"], { env });
    expect(exact.stdout).toContain("GITHUB_TOKEN=ghp-exec-555");
    expect(exact.stdout).not.toContain("npm-exec-666");
    const explain = await runBin(["caps", "explain", "--allow-env", "--json"], { env });
    const j = parseJson(explain.stdout);
    expect(j.compiled.guestEnvNames).toContain("AOS_VISIBLE");
    expect(j.compiled.guestEnvNames).not.toContain("GITHUB_TOKEN");
    expect(j.compiled.withheldEnv.filter((w: { name: string }) => Object.keys(env).includes(w.name)).map((w: { name: string; kind: string }) => [w.name, w.kind]).sort()).toEqual(
      [["AWS_SECRET_ACCESS_KEY", "secret"], ["GITHUB_TOKEN", "secret"], ["NPM_TOKEN", "secret"], ...Object.keys(oneWord).map((n) => [n, "secret"])].sort(),
    );
    expect(JSON.stringify(j)).not.toContain("ghp-exec-555");
  }, VM_TIMEOUT);
});

describe("class 5: host paths in the guest (an agentOS 0.2.21 limit, stated where users look)", () => {
  test("every guest process sees AGENTOS_GUEST_PATH_MAPPINGS naming the shadow root in our cache (not the workspace: it is our own filesystem, no host mapping); caps explain and doctor say so", async () => {
    const ws = await tempDir("aos-esc-ws-");
    const cache = await privateCache();
    const r = await runBin(
      ["exec", "--json", "--", `cat /proc/self/environ; echo; echo ====; cat /proc/1/cmdline; echo; echo ====; node -e 'console.log(process.env.AGENTOS_GUEST_PATH_MAPPINGS)'`],
      { cwd: ws, env: { PAPERCLIP_AOS_CACHE: cache } },
    );
    const out = parseJson<{ stdout: string }>(r.stdout).stdout;
    const [environ, cmdline, nodeEnv] = out.split("====\n");
    expect(environ).toContain("AGENTOS_GUEST_PATH_MAPPINGS=");
    expect(environ).not.toContain(ws);
    expect(environ).toContain("AGENTOS_EXTRA_FS_READ_PATHS=");
    expect(environ).toContain(join(cache, "tmp"));
    expect(nodeEnv).toContain(join(cache, "tmp"));
    expect(nodeEnv).not.toContain(ws);
    // The shadow root the mappings name lives in our private temp dir under the cache, not in /tmp.
    expect(cmdline).toContain(join(cache, "tmp"));
    expect(environ).not.toContain("/tmp/agentos-native-sidecar-shadow");
    const explain = await runBin(["caps", "explain"]);
    expect(explain.stdout).toContain("AGENTOS_GUEST_PATH_MAPPINGS and AGENTOS_EXTRA_FS_* name the sidecar's shadow root under our cache dir");
    // doctor says so too (checked in the class 6 test, which runs doctor anyway).
  }, VM_TIMEOUT);
});

describe("class 6: nothing of a run stays outside the state and cache dirs", () => {
  /**
   * The binary gets a temp dir of the test's own as TMPDIR: whatever agentOS would put in "the system temp dir" lands
   * there, so "nothing new in it" is checked without racing the other processes that share /tmp.
   */
  test("after exec, run, a timed-out run and a SIGKILLed run nothing is left in the temp dir; the sweep removes the killed run's leftovers", async () => {
    const sysTmp = await tempDir("aos-esc-systmp-");
    const cache = await privateCache();
    const ws = await tempDir("aos-esc-ws-");
    const home = await tempDir("aos-esc-home-");
    const env = { TMPDIR: sysTmp, PAPERCLIP_AOS_CACHE: cache, PAPERCLIP_AOS_HOME: home };
    const ours = () => (existsSync(join(cache, "tmp")) ? readdirSync(join(cache, "tmp")) : []);
    const left = () => ({ sysTmp: readdirSync(sysTmp), cacheTmp: ours() });
    const empty = { sysTmp: [], cacheTmp: [] };

    expect((await runBin(["exec", "--", "echo x > /tmp/scratch.txt"], { cwd: ws, env })).code).toBe(0);
    expect(left()).toEqual(empty);
    expect((await scriptedRun({ ws, home, steps: [{ tool: "bash", input: { command: "echo hi" } }, { text: "ok" }], env })).code).toBe(0);
    expect(left()).toEqual(empty);
    const timedOut = await scriptedRun({ ws, home, steps: [{ tool: "bash", input: { command: "sleep 60" } }, { text: "never" }], env, args: ["--timeout", "4"] });
    expect(timedOut.code).toBe(124);
    expect(left()).toEqual(empty);

    const scratch = await tempDir("aos-esc-script-");
    const file = join(scratch, "script.json");
    await writeFile(file, JSON.stringify({ steps: [{ tool: "bash", input: { command: "echo started > /workspace/started.txt; sleep 60" } }, { text: "never" }] }));
    const p = Bun.spawn([binPath(), "run", "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "long"], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "ignore" });
    const t0 = Date.now();
    while (!existsSync(join(ws, "started.txt")) && Date.now() - t0 < 120_000) await Bun.sleep(100);
    expect(ours()).toHaveLength(1);
    expect(statSync(join(cache, "tmp", ours()[0]!)).mode & 0o777).toBe(0o700);
    p.kill("SIGKILL");
    await p.exited;
    // A SIGKILLed binary cannot clean up: its sidecar is stopped here (the sidecar is the test's child's child).
    for (let i = 0; i < 50 && processesMentioning(cache).length; i++) await Bun.sleep(100);
    for (const pid of Bun.spawnSync(["pgrep", "-f", cache]).stdout.toString().split("\n").filter(Boolean)) process.kill(Number(pid), "SIGKILL");
    expect(ours()).toHaveLength(1);
    expect(readdirSync(sysTmp)).toEqual([]);
    const doctor = parseJson((await runBin(["doctor", "--json"], { env })).stdout);
    expect(doctor.checks.find((c: { code: string }) => c.code === "temp_dirs").message).toMatch(/^removed 1 temp dir of runs that are gone/);
    expect(doctor.checks.find((c: { code: string }) => c.code === "limit_guest_env_paths").message).toContain("cannot be hidden");
    expect(doctor.checks.find((c: { code: string }) => c.code === "limit_child_spin").message).toContain("--timeout and SIGTERM/SIGINT still end such a run promptly");
    expect(left()).toEqual(empty);
  }, 400_000);

  test("two VMs booted at once in one process get their own temp dirs and leave the environment as it was", async () => {
    const keys = ["TMPDIR", "AGENTOS_SIDECAR_BIN", "GITHUB_TOKEN"];
    const saved = process.env.GITHUB_TOKEN;
    process.env.GITHUB_TOKEN = "ghp-concurrent-888";
    try {
      const before = keys.map((k) => process.env[k]);
      const [a, b] = await Promise.all([bootVm({}), bootVm({})]);
      try {
        expect(keys.map((k) => process.env[k])).toEqual(before);
        const sandboxRoot = async (h: typeof a) => (await h.vm.process.exec("cat /proc/self/environ", { output: { capture: "all" } })).stdout!.match(/AGENTOS_SANDBOX_ROOT=([^\0]+)/)![1]!;
        const [ra, rb] = await Promise.all([sandboxRoot(a), sandboxRoot(b)]);
        expect(ra.split("/agentos-native-sidecar-shadow")[0]).not.toBe(rb.split("/agentos-native-sidecar-shadow")[0]);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
      expect(keys.map((k) => process.env[k])).toEqual(before);
    } finally {
      if (saved === undefined) delete process.env.GITHUB_TOKEN;
      else process.env.GITHUB_TOKEN = saved;
    }
  }, VM_TIMEOUT);

  test("closing a VM whose guest still runs a process leaves no sidecar behind (the kill after the dispose race)", async () => {
    const before = childPids();
    const handle = await bootVm({});
    await handle.vm.process.spawn("sleep", ["60"], {});
    const sidecars = childPids().filter((p) => !before.includes(p));
    expect(sidecars.length).toBeGreaterThan(0);
    await handle.close();
    // Right after close: agentOS's own dispose would take its 5 s teardown deadline; the kill must have ended it.
    await Bun.sleep(200);
    expect(sidecars.filter((p) => existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, "utf8").includes(") Z "))).toEqual([]);
  }, VM_TIMEOUT);
});

describe("a planted workspace: its project config cannot widen the run", () => {
  test("a .paperclip-aos.json choosing the networked preset, or a scripted model outside the workspace (by path or by a link), is exit 2 and reads nothing of the host", async () => {
    const outside = await tempDir("aos-esc-outside-");
    await writeFile(join(outside, "secret.txt"), "PLANTED-CONFIG-SECRET-k9 and more\n");
    const ws = await tempDir("aos-esc-ws-");
    sh(ws, "init", "-q", "-b", "main");
    const home = await tempDir("aos-esc-home-");
    const env = { PAPERCLIP_AOS_HOME: home };
    const project = join(ws, ".paperclip-aos.json");
    await writeFile(project, JSON.stringify({ preset: "networked" }));
    const net = await runBin(["exec", "--", "echo ran"], { cwd: ws, env });
    expect(net.code).toBe(2);
    expect(net.stdout).not.toContain("ran");
    expect(net.stderr).toContain("a project file may not choose the 'networked' preset");
    const { symlinkSync } = await import("node:fs");
    symlinkSync(join(outside, "secret.txt"), join(ws, "p.json"));
    for (const model of [`scripted:${join(outside, "secret.txt")}`, "scripted:../" + outside.split("/").pop() + "/secret.txt", "scripted:./p.json"]) {
      await writeFile(project, JSON.stringify({ model }));
      const r = await runBin(["run", "--prompt", "hi"], { cwd: ws, env });
      expect({ model, code: r.code }).toEqual({ model, code: 2 });
      expect(r.stderr).toContain("a project file's scripted model must be a file inside its directory");
      expect(r.stdout + r.stderr).not.toContain("PLANTED-CONFIG-SECRET");
    }
    // The same from the user's own config, or by flag, is the operator's choice and still works.
    await writeFile(project, JSON.stringify({ model: "scripted:./script.json", preset: "read-only" }));
    await writeFile(join(ws, "script.json"), JSON.stringify({ steps: [{ text: "project-script-ok" }] }));
    const ok = await runBin(["run", "--prompt", "hi"], { cwd: ws, env });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("project-script-ok");
  }, VM_TIMEOUT);
});

/**
 * The largest value (KiB) of a /proc status field among the processes whose command line contains `match` (a private
 * cache dir: the run's sidecar), sampled every `everyMs` until stop().
 */
function peakStatusKb(match: string, field: "VmRSS" | "VmData", everyMs: number): { stop(): number } {
  const re = new RegExp(`${field}:\\s+(\\d+)`);
  let peak = 0;
  const poll = setInterval(() => {
    for (const pid of Bun.spawnSync(["pgrep", "-f", match]).stdout.toString().split("\n").filter(Boolean)) {
      const m = re.exec(existsSync(`/proc/${pid}/status`) ? readFileSync(`/proc/${pid}/status`, "utf8") : "");
      if (m) peak = Math.max(peak, Number(m[1]));
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(poll);
      return peak;
    },
  };
}

describe("resource abuse: a guest cannot take the host's memory", () => {
  test("a guest's node allocating past PAPERCLIP_AOS_VM_MEMORY_MB fails in the VM; the sidecar's RSS stays under the cap", async () => {
    const ws = await tempDir("aos-esc-ws-");
    const cache = await privateCache();
    // 100 MB buffers, filled (so the pages are real), up to 2 GB; the cap is 1 GB.
    await writeFile(join(ws, "hog.js"), `const a = [];\ntry { for (let i = 1; i <= 20; i++) { a.push(Buffer.alloc(100 * 1024 * 1024, 7)); console.log("held " + i * 100); } console.log("ALLOCATED-ALL"); } catch (e) { console.log("REFUSED " + e.name); }\n`);
    const p = Bun.spawn([binPath(), "exec", "--", "node /workspace/hog.js"], {
      cwd: ws,
      env: { ...process.env, PAPERCLIP_AOS_CACHE: cache, PAPERCLIP_AOS_VM_MEMORY_MB: "1024" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const peak = peakStatusKb(cache, "VmRSS", 200);
    const [stdout] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    const maxRssKb = peak.stop();
    expect(stdout).not.toContain("ALLOCATED-ALL");
    expect(stdout).not.toContain("held 2000");
    expect(maxRssKb).toBeGreaterThan(0);
    expect(maxRssKb).toBeLessThan(1400 * 1024);
  }, VM_TIMEOUT);
});

describe("the memory cap leaves real work its room", () => {
  // The data limit counts address space V8 reserves and never touches (its code space): a cap of half a small host's
  // memory (2 GiB on a 4 GiB host) was below what a sidecar running one Codex heartbeat reserves (2.5 GB measured, at
  // far less resident), so every Codex run there would fail an allocation. The default allows for each VM; measured
  // on a real heartbeat's own sidecar here (Codex: the agent whose sidecar reserves the most; Pi's ~1.6 GB).
  test("a Codex heartbeat's sidecar stays within the default cap of a 4 GiB host (its data size, which the limit counts)", async () => {
    const ws = await tempDir("aos-esc-ws-");
    const cache = await privateCache();
    const p = Bun.spawn([binPath(), "run", "--demo", "--agent", "codex"], { cwd: ws, env: { ...process.env, PAPERCLIP_AOS_CACHE: cache }, stdout: "pipe", stderr: "pipe" });
    const peak = peakStatusKb(join(cache, "rt"), "VmData", 100);
    const [, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    const maxDataKb = peak.stop();
    console.log(`the heartbeat's sidecar: data size at most ${Math.round(maxDataKb / 1024)} MB`);
    expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
    expect(maxDataKb).toBeGreaterThan(0);
    expect(maxDataKb).toBeLessThan(defaultMemoryCapKb(4 * 1024 * 1024, 1));
  }, VM_TIMEOUT);
});

describe("also found: silent stubs and programs that spin", () => {
  test("npm, npx, python3 say they are not available and exit 127; with --deny-run=node too", async () => {
    const script = 'npm test; echo "@@npm=$?"; npx tsc; echo "@@npx=$?"; python3 -c 1; echo "@@py=$?"';
    for (const flags of [[], ["--deny-run=node"]]) {
      const r = parseJson<{ stdout: string; stderr: string }>((await runBin(["exec", "--json", ...flags, "--", script])).stdout);
      expect([flags, r.stdout]).toEqual([flags, "@@npm=127\n@@npx=127\n@@py=127\n"]);
      expect(r.stderr).toContain("npm: npm is not available in this VM");
      expect(r.stderr).toContain("python3: python3 is not available in this VM");
    }
  }, VM_TIMEOUT);

  test("a guest program whose child spins is ended by exec --timeout, and by SIGTERM for exec and run", async () => {
    const ws = await tempDir("aos-esc-ws-");
    await writeFile(join(ws, "spin.mjs"), `import { spawn } from "node:child_process";\nspawn("sh", ["-c", "echo child"]).on("exit", (c) => console.log("exit", c));\n`);
    // By absolute path: agentOS 0.2.21 does not start a relative ES-module entry from the workspace filesystem.
    const timed = await runBin(["exec", "--timeout", "5", "--", "node /workspace/spin.mjs"], { cwd: ws, timeoutMs: 60_000 });
    expect(timed.code).toBe(124);
    expect(timed.stderr).toContain("did not finish within 5s");

    const term = async (args: string[], marker: string) => {
      const p = Bun.spawn([binPath(), ...args], { cwd: ws, env: { ...process.env, PAPERCLIP_AOS_HOME: join(ws, ".aos-state") }, stdout: "pipe", stderr: "pipe" });
      const t0 = Date.now();
      while (!existsSync(join(ws, marker)) && Date.now() - t0 < 120_000) await Bun.sleep(100);
      await Bun.sleep(1500); // the child is spinning now
      p.kill("SIGTERM");
      const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
      return { stdout, code };
    };
    const ex = await term(["exec", "--", "echo go > /workspace/exec-started; node /workspace/spin.mjs"], "exec-started");
    expect(ex.code).toBe(143);
    const scratch = await tempDir("aos-esc-script-");
    const file = join(scratch, "script.json");
    await writeFile(file, JSON.stringify({ steps: [{ tool: "bash", input: { command: "echo go > /workspace/run-started; node /workspace/spin.mjs" } }, { text: "never" }] }));
    const run = await term(["run", "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "spin"], "run-started");
    expect(run.code).toBe(143);
    expect(runEvents(run.stdout).at(-1)).toMatchObject({ type: "result", errorCode: "cancelled" });
  }, 300_000);
});
