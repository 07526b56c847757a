import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { commands, summaries, type CommandPath } from "../../commands/index.ts";
import { binPath, parseJson, runBin, tempDir, removeTempDirs } from "./helpers.ts";

afterAll(removeTempDirs);

/**
 * One entry per command line, typed by the registry: a new command without an entry here is a type error
 * (`bun run typecheck`), and a registry key missing at run time fails the first test. Each entry checks something
 * a user would notice from the compiled binary; the deep behaviour lives in the per-feature test files.
 */
const cases: Record<CommandPath, () => Promise<void>> = {
  async run() {
    const r = await runBin(["run", "--prompt", "x", "--agent", "aider"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--agent");
  },
  async exec() {
    const r = await runBin(["exec", "--json", "--", "echo table"]);
    expect(parseJson(r.stdout)).toMatchObject({ exitCode: 0, stdout: "table\n" });
  },
  async serve() {
    // No worker runs in a fresh state dir: --status says so (the worker itself: test/e2e/worker.test.ts).
    const r = await runBin(["serve", "--status", "--json"]);
    expect(r.code).toBe(1);
    expect(parseJson(r.stdout).error.code).toBe("worker_not_running");
  },
  async worker() {
    // Refused before anything loads (the worker on a real engine: test/rivet/worker.lane.ts).
    const r = await runBin(["worker", "--engine", "127.0.0.1:6420"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--engine 127.0.0.1:6420 is not an http(s) URL");
  },
  async doctor() {
    // A check writes nothing where state lives: a state dir that does not exist yet is reported, not made.
    const home = join(await tempDir(), "state-not-yet");
    const r = await runBin(["doctor", "--json"], { env: { PAPERCLIP_AOS_RIVET_DIR: "", PAPERCLIP_AOS_HOME: home } });
    expect(parseJson(r.stdout).adapterType).toBe("agentos_local");
    expect(parseJson(r.stdout).checks.find((c: { code: string }) => c.code === "state_dir")).toMatchObject({
      level: "info",
      message: `state dir ${home} does not exist yet; it can be created (${join(home, "..")} is writable)`,
    });
    expect(parseJson(r.stdout).checks.find((c: { code: string }) => c.code === "vm_exec")).toMatchObject({ level: "info" });
    expect(existsSync(home)).toBe(false);
    // Missing engine parts are information, not a failure (the shared test cache has none installed).
    const engine = parseJson(r.stdout).checks.find((c: { code: string }) => c.code === "engine_parts");
    expect(engine).toMatchObject({ level: "info", hint: "paperclip-aos engine install" });
    expect(engine.message).toStartWith("Rivet engine parts not installed");
  },
  async version() {
    const r = await runBin(["version"]);
    expect(r.stdout).toMatch(/^paperclip-aos \d+\.\d+\.\d+/);
  },
  async completion() {
    const r = await runBin(["completion", "bash"]);
    expect(r.stdout).toContain("complete -o default -F _paperclip_aos paperclip-aos");
    // --json, as everywhere: one JSON document on stdout, the script in it as a string.
    const json = await runBin(["completion", "bash", "--json"]);
    expect(json.code).toBe(0);
    expect(parseJson(json.stdout)).toEqual({ shell: "bash", script: r.stdout });
    const bad = await runBin(["completion", "tcsh"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("shells: bash, zsh, fish");
  },
  async "config show"() {
    const dir = await tempDir();
    await writeFile(join(dir, ".paperclip-aos.json"), JSON.stringify({ model: "openai/gpt-5" }));
    const r = await runBin(["config", "show", "--json"], { cwd: dir });
    expect(parseJson(r.stdout).values.model).toEqual({ value: "openai/gpt-5", from: `project ${join(dir, ".paperclip-aos.json")}` });
  },
  async "config schema"() {
    const r = await runBin(["config", "schema"]);
    expect(Object.keys(parseJson(r.stdout).properties)).toContain("timeoutSec");
  },
  async "caps check"() {
    const dir = await tempDir();
    await writeFile(join(dir, "p.json"), JSON.stringify({ version: 1, allow: { "fs.wirte": ["/workspace/**"] } }));
    const r = await runBin(["caps", "check", "p.json", "--json"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(JSON.stringify(parseJson(r.stdout))).toContain("fs.write");
  },
  async "caps explain"() {
    const r = await runBin(["caps", "explain", "--preset", "read-only", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.stringify(parseJson(r.stdout))).toContain("fs.read");
  },
  async "caps schema"() {
    const r = await runBin(["caps", "schema"]);
    expect(parseJson(r.stdout).$schema).toContain("json-schema");
  },
  async "caps test"() {
    const r = await runBin(["caps", "test", "--preset", "workspace-write", "--read", "/workspace/.env", "--json"]);
    expect(JSON.stringify(parseJson(r.stdout))).toContain("deny");
  },
  async "tool list"() {
    const r = await runBin(["tool", "list", "--json"]);
    expect(JSON.stringify(parseJson(r.stdout))).toContain("git.status");
  },
  async "tool schema"() {
    const r = await runBin(["tool", "schema", "git.stats"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("git.status");
  },
  async "tool invoke"() {
    const r = await runBin(["tool", "invoke", "artifacts.publish", "--input", JSON.stringify({ path: "../outside.txt" })]);
    expect(r.code).not.toBe(0);
  },  // snapshot: one private state dir per case (runBin's default), so each builds what it needs.
  async "snapshot build"() {
    const dir = await tempDir();
    await writeFile(join(dir, "a.txt"), "a");
    const r = await runBin(["snapshot", "build", ".", "--name", "t", "--json"], { cwd: dir });
    expect(parseJson(r.stdout)).toMatchObject({ name: "t", files: 1, cached: false });
  },
  async "snapshot ls"() {
    const r = await runBin(["snapshot", "ls", "--json"]);
    expect(parseJson(r.stdout)).toEqual([]);
  },
  async "snapshot inspect"() {
    const r = await runBin(["snapshot", "inspect", "nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("snapshot ls");
  },
  async "snapshot rm"() {
    const r = await runBin(["snapshot", "rm", "nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no snapshot named");
  },
  async eval() {
    // The whole evaluation has its own test (eval.test.ts); here: bad input is refused before anything runs.
    const r = await runBin(["eval", "--agents", "nobody"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown agent 'nobody'");
    const runs = await runBin(["eval", "--runs", "0"]);
    expect(runs.code).toBe(2);
    expect(runs.stderr).toContain("--runs must be a whole number");
  },
  async "snapshot gc"() {
    const r = await runBin(["snapshot", "gc", "--json"]);
    expect(parseJson(r.stdout)).toMatchObject({ removedLayers: [], dryRun: false });
  },
  // session: runBin's private state dir starts empty (the full cycle is in cache-session.test.ts).
  async "session ls"() {
    const r = await runBin(["session", "ls", "--json"]);
    expect(parseJson(r.stdout)).toEqual([]);
  },
  async "session show"() {
    const r = await runBin(["session", "show", "PAP-1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no session with id or task key 'PAP-1'");
  },
  async "session rm"() {
    const r = await runBin(["session", "rm", "PAP-1", "--json"]);
    expect(r.code).toBe(2);
    expect(parseJson(r.stdout).error.code).toBe("session_not_found");
  },
  // cache: the tests' shared extraction is only read here (and cleaned only with --dry-run); cache-session.test.ts cleans a private one.
  async "cache ls"() {
    const r = await runBin(["cache", "ls", "--json"]);
    const report = parseJson(r.stdout);
    expect(report.current).toMatch(/^[0-9a-f]{12}$/);
    expect(report.versions.find((v: { current: boolean }) => v.current)).toBeDefined();
  },
  async "cache clean"() {
    const r = await runBin(["cache", "clean", "--dry-run", "--json"]);
    expect(parseJson(r.stdout)).toMatchObject({ dryRun: true });
  },
  // paperclip: the real registration is proved against a real Paperclip in test/paperclip/lane.sh.
  async "paperclip install"() {
    const home = await tempDir();
    const r = await runBin(["paperclip", "install", "--no-register", "--json"], { env: { PAPERCLIP_AOS_HOME: home } });
    expect(r.code).toBe(0);
    const dir = parseJson(r.stdout).package.dir;
    expect(dir).toBe(join(home, "paperclip", "agentos_local"));
    const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
    expect(pkg.paperclipAos.command).toEqual([binPath()]);
    expect(pkg.exports["./ui-parser"]).toBe("./ui-parser.cjs");
    // The package Paperclip would load: its main export builds the module, and its parser is CommonJS.
    const mod = await import(join(dir, "index.js"));
    expect(mod.createServerAdapter().type).toBe("agentos_local");
    const parser = { exports: {} as Record<string, any> };
    new Function("exports", "module", await readFile(join(dir, "ui-parser.cjs"), "utf8"))(parser.exports, parser);
    expect(parser.exports.parseStdoutLine('{"type":"assistant","text":"hi"}', "t")).toEqual([{ kind: "assistant", ts: "t", text: "hi" }]);
    // Paperclip unreachable: found out before anything is written. A reinstall leaves the installed package as it was...
    await writeFile(join(dir, "package.json"), `${JSON.stringify({ ...pkg, description: "installed before" })}\n`);
    const down = await runBin(["paperclip", "install", "--api", "http://127.0.0.1:9", "--json"], { env: { PAPERCLIP_AOS_HOME: home } });
    expect(down.code).toBe(1);
    expect(parseJson(down.stdout).error.code).toBe("paperclip_unreachable");
    expect(JSON.parse(await readFile(join(dir, "package.json"), "utf8")).description).toBe("installed before");
    // ... and a first install writes nothing at all, not even the state dir.
    const fresh = join(home, "fresh-state");
    const text = await runBin(["paperclip", "install", "--api", "http://127.0.0.1:9"], { env: { PAPERCLIP_AOS_HOME: fresh } });
    expect(text.code).toBe(1);
    expect(text.stderr).toContain("error: cannot reach Paperclip at http://127.0.0.1:9");
    expect(text.stderr).not.toContain("writing the agentos_local adapter package");
    expect(existsSync(fresh)).toBe(false);
    await rm(home, { recursive: true, force: true });
  },
  async "paperclip status"() {
    const r = await runBin(["paperclip", "status", "--api", "http://127.0.0.1:9", "--json"]);
    expect(r.code).toBe(1);
    expect(parseJson(r.stdout)).toMatchObject({ installed: false, registered: null });
    expect(parseJson(r.stdout).paperclipError).toContain("cannot reach Paperclip");
  },
  async "paperclip uninstall"() {
    const home = await tempDir();
    await runBin(["paperclip", "install", "--no-register"], { env: { PAPERCLIP_AOS_HOME: home } });
    const r = await runBin(["paperclip", "uninstall", "--keep-registration", "--json"], { env: { PAPERCLIP_AOS_HOME: home } });
    expect(parseJson(r.stdout)).toEqual({ unregistered: false, removed: true });
    expect(existsSync(join(home, "paperclip", "agentos_local"))).toBe(false);
    await rm(home, { recursive: true, force: true });
  },
  // engine: a real install, a real engine and rivetkit loading in this binary are proved in test/rivet/lane.sh.
  async "engine install"() {
    // A cache dir that cannot be made: one line, exit 1, nothing half-installed.
    const dir = await tempDir();
    await writeFile(join(dir, "file"), "");
    const r = await runBin(["engine", "install"], { env: { PAPERCLIP_AOS_CACHE: join(dir, "file", "cache"), PAPERCLIP_AOS_RIVET_DIR: "" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot create .*file\/cache\/rivet/m);
    expect(r.stderr).toContain("hint: make the cache dir writable or set PAPERCLIP_AOS_CACHE");
    // A registry that refuses: the text mode says what it installs, --json only the error (the document on stdout).
    // HOME is a fresh dir: the installer's package cache goes into the cache dir, nothing into ~/.bun.
    const env = { PAPERCLIP_AOS_CACHE: join(dir, "cache"), PAPERCLIP_AOS_RIVET_DIR: "", BUN_CONFIG_REGISTRY: "http://127.0.0.1:9", HOME: join(dir, "home"), BUN_INSTALL_CACHE_DIR: undefined };
    await mkdir(env.HOME, { recursive: true });
    const text = await runBin(["engine", "install"], { env });
    expect(text.code).toBe(1);
    expect(text.stderr).toContain("installing rivetkit");
    const json = await runBin(["engine", "install", "--json"], { env });
    expect(json.code).toBe(1);
    expect(parseJson(json.stdout).error.code).toBe("engine_install_failed");
    expect(json.stderr).not.toContain("installing rivetkit");
    expect(json.stderr).toStartWith("error: bun install of the engine parts failed");
    expect(readdirSync(env.HOME)).toEqual([]);
    expect(existsSync(join(dir, "cache", "rivet", "bun-cache"))).toBe(true);
  },
  async "engine status"() {
    const cache = await tempDir();
    const r = await runBin(["engine", "status", "--json", "--engine", "http://127.0.0.1:9"], { env: { PAPERCLIP_AOS_CACHE: cache, PAPERCLIP_AOS_RIVET_DIR: "" } });
    expect(r.code).toBe(3);
    expect(parseJson(r.stdout)).toMatchObject({ installed: false, source: "cache", dir: join(cache, "rivet", parseJson(r.stdout).version), running: null });
  },
  async "engine start"() {
    const cache = await tempDir();
    const env = { PAPERCLIP_AOS_CACHE: cache, PAPERCLIP_AOS_RIVET_DIR: "" };
    const r = await runBin(["engine", "start", "--port", "7999"], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("error: the Rivet engine parts are not installed");
    expect(r.stderr).toContain("hint: run 'paperclip-aos engine install'");
    expect((await runBin(["engine", "start", "--port", "http"], { env })).code).toBe(2);
  },
};

describe("every command", () => {
  test("the table covers exactly the registry", () => {
    const paths = Object.keys(cases).map((p) => p.split(" ")[0]);
    expect([...new Set(paths)].sort()).toEqual(Object.keys(commands).sort());
    expect(Object.keys(summaries).sort()).toEqual(Object.keys(commands).sort());
  });

  for (const [path, check] of Object.entries(cases) as [CommandPath, () => Promise<void>][]) {
    test(`${path}: --help teaches, an unknown flag is exit 2, and it does its job`, async () => {
      const words = path.split(" ");
      const help = await runBin([...words, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain("USAGE");
      const bad = await runBin([...words, "--no-such-flag"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("unknown flag '--no-such-flag'");
      await check();
    });
  }

  test("every group and leaf --help carries examples", async () => {
    for (const top of Object.keys(commands)) {
      const r = await runBin([top, "--help"]);
      expect(r.stdout).toContain("EXAMPLES");
    }
  });
});
