import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { binPath, parseJson, removeTempDirs, runBin, sharedCache, tempDir } from "./helpers.ts";

/** The command line as a person types it: one parse, flag styles, stray words, --version, help on a terminal. */

// Every temp dir comes from helpers.tempDir, which tracks it; this file removes them when it is done.
afterAll(removeTempDirs);
const dir = () => tempDir("aos-cli-");

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Run the binary under a pseudo-terminal of `cols` columns (util-linux `script`), as a person at a terminal would:
 * stdout and stderr both go to the terminal. Returns what the terminal received, with its \r\n made \n.
 */
async function onTerminal(args: string[], opts: { cols?: number; env?: Record<string, string | undefined>; cwd?: string } = {}) {
  const cwd = opts.cwd ?? (await dir());
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, PAPERCLIP_AOS_HOME: join(cwd, ".aos-state"), PAPERCLIP_AOS_CACHE: sharedCache, XDG_CONFIG_HOME: join(cwd, ".aos-config"), NO_COLOR: undefined, FORCE_COLOR: undefined, CI: undefined, ...opts.env })) {
    if (v !== undefined) env[k] = v;
  }
  const inner = `stty cols ${opts.cols ?? 80} rows 50; exec ${[binPath(), ...args].map(q).join(" ")}`;
  const p = Bun.spawn(["script", "-qec", inner, "/dev/null"], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 110_000 });
  const [text, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return { code, text: text.replace(/\r\n/g, "\n") };
}

const ESC = "\x1b[";

describe("one parse of the command line", () => {
  test("a prompt that starts like a flag is the prompt, not a permission flag", async () => {
    // The parse gets past the prompt; the missing request file proves it (no VM needed).
    const r = await runBin(["run", "--prompt", "--deny-all the tests", "--input", "/nonexistent/request.json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith("error: request file /nonexistent/request.json does not exist\n");
  });

  test("a flag is never taken for a value: caps test --read --allow-read says so", async () => {
    const r = await runBin(["caps", "test", "--read", "--allow-read"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: flag --read needs a value ('--allow-read' is a flag)\nhint: write --read=VALUE\n");
    const both = await runBin(["caps", "test", "--allow-read", "--read", "/workspace/a", "--json"]);
    expect(parseJson(both.stdout).allowed).toBe(true);
  });

  test("--cwd DIR before the command applies to it", async () => {
    const ws = await dir();
    const r = await runBin(["--cwd", ws, "caps", "test", "--read", join(ws, "src/a.ts"), "--json"]);
    expect(r.code).toBe(0);
    expect(parseJson(r.stdout).decisions[0].target).toBe("/workspace/src/a.ts");
  });

  test("a stray word before -- in exec or run is an error; so is --allow-net HOST with a space", async () => {
    const exec = await runBin(["exec", "ls"]);
    expect(exec.code).toBe(2);
    expect(exec.stderr).toBe("error: unexpected argument 'ls' for paperclip-aos exec\nhint: the COMMAND goes after '--': paperclip-aos exec [OPTIONS] -- ls\n");
    const run = await runBin(["run", "--prompt", "fix", "it"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toStartWith("error: unexpected argument 'it' for paperclip-aos run\n");
    const net = await runBin(["exec", "--allow-net", "api.github.com", "--", "true"]);
    expect(net.code).toBe(2);
    expect(net.stderr).toBe(
      "error: --allow-net api.github.com: a permission flag takes its value with '='\n" +
        "hint: write --allow-net=api.github.com, or --allow-net alone (every host) with other arguments before it\n",
    );
  });

  test("unknown flags at the root are exit 2; --version, -V and -v print the version", async () => {
    const bogus = await runBin(["--bogus"]);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toBe("error: unknown flag '--bogus' for paperclip-aos\nhint: run 'paperclip-aos --help' for the flags\n");
    for (const flag of ["--version", "-V", "-v"]) {
      const r = await runBin([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^paperclip-aos \d+\.\d+\.\d+\n$/);
    }
    const typo = await runBin(["exec", "--alow-net=x.com", "--", "true"]);
    expect(typo.stderr).toContain("did you mean '--allow-net'?");
    // --json after the bad flag: the error is still one JSON document for the script that asked.
    const json = await runBin(["exec", "--bogus", "--json", "--", "true"]);
    expect(json.code).toBe(2);
    expect(parseJson(json.stdout).error).toMatchObject({ code: "unknown_flag", message: "unknown flag '--bogus' for paperclip-aos exec" });
  });
});

describe("shell completion from the command registry", () => {
  test("bash: the generated script, sourced in a real bash, completes commands, subcommands, flags and values", async () => {
    const script = (await runBin(["completion", "bash"])).stdout;
    const d = await dir();
    await writeFile(join(d, "c.bash"), script);
    const probe = `source ${q(join(d, "c.bash"))}
t() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _paperclip_aos; echo "[\${COMPREPLY[*]}]"; }
t paperclip-aos snap
t paperclip-aos caps te
t paperclip-aos caps test --wr
t paperclip-aos --cwd /tmp exec --allow-ne
t paperclip-aos run --agent op
t paperclip-aos exec --preset read
t paperclip-aos exec -- l`;
    const p = Bun.spawnSync(["bash", "--norc", "--noprofile", "-c", probe], { cwd: d });
    expect(p.stderr.toString()).toBe("");
    expect(p.stdout.toString().split("\n").filter(Boolean)).toEqual([
      "[snapshot]", "[test]", "[--write]", "[--allow-net]", "[opencode]", "[read-only]", "[]",
    ]);
  });

  test("zsh and fish scripts name every command and flag of the registry", async () => {
    const zsh = (await runBin(["completion", "zsh"])).stdout;
    const fish = (await runBin(["completion", "fish"])).stdout;
    expect(zsh).toStartWith("#compdef paperclip-aos\n");
    for (const word of ["snapshot build", "--keep-changes", "--allow-net", "completion"]) expect(zsh).toContain(word);
    expect(fish).toContain("-l 'keep-changes'");
    expect(fish).toContain("-a 'build'");
  });
});

describe("config files: user and project defaults", () => {
  /** A workspace that is a git root holding a project config, inside a parent holding another, and a user config. */
  async function layout(project: unknown, user: unknown, parent?: unknown) {
    const top = await dir();
    const ws = join(top, "repo");
    await mkdir(join(ws, ".git"), { recursive: true });
    await mkdir(join(ws, "sub"));
    if (project !== undefined) await writeFile(join(ws, ".paperclip-aos.json"), JSON.stringify(project));
    if (parent !== undefined) await writeFile(join(top, ".paperclip-aos.json"), JSON.stringify(parent));
    const xdg = join(top, "xdg");
    await mkdir(join(xdg, "paperclip-aos"), { recursive: true });
    if (user !== undefined) await writeFile(join(xdg, "paperclip-aos", "config.json"), JSON.stringify(user));
    return { ws, env: { XDG_CONFIG_HOME: xdg, PAPERCLIP_AOS_MODEL: undefined } };
  }

  test("config show: project over user over built-in, found from a subdirectory up to the git root but not above it", async () => {
    const { ws, env } = await layout({ model: "scripted:./p.json" }, { model: "openai/user", agent: "opencode", timeoutSec: 60 }, { preset: "networked" });
    const r = await runBin(["config", "show", "--json"], { cwd: join(ws, "sub"), env });
    expect(r.code).toBe(0);
    const { values } = parseJson(r.stdout);
    expect(values.model).toEqual({ value: "scripted:./p.json", from: `project ${join(ws, ".paperclip-aos.json")}` });
    expect(values.agent.value).toBe("opencode");
    expect(values.agent.from).toStartWith("user ");
    expect(values.timeoutSec.value).toBe(60);
    expect(values.preset).toEqual({ value: "workspace-write", from: "built-in" });
    expect(values.graceSec).toEqual({ value: 15, from: "built-in" });
    const text = await runBin(["config", "show"], { cwd: ws, env });
    expect(text.stdout).toContain(`model       scripted:./p.json  project ${join(ws, ".paperclip-aos.json")}`);
  });

  test("run takes its model from the project config; a flag wins over it", async () => {
    const { ws, env } = await layout({ model: "scripted:./from-project.json" }, { model: "scripted:./from-user.json" });
    const last = (out: string) => JSON.parse(out.trim().split("\n").at(-1)!);
    const fromConfig = await runBin(["run", "--prompt", "hi"], { cwd: ws, env });
    expect(last(fromConfig.stdout)).toMatchObject({ errorCode: "invalid_script", model: "scripted:./from-project.json" });
    const fromFlag = await runBin(["run", "--prompt", "hi", "--model", "scripted:./from-flag.json"], { cwd: ws, env });
    expect(last(fromFlag.stdout).model).toBe("scripted:./from-flag.json");
  });

  test("an invalid config is exit 2 naming the file and the field, for every command that reads it", async () => {
    const { ws, env } = await layout({ preset: "read-everything" }, { modle: "x" });
    const project = join(ws, ".paperclip-aos.json");
    const exec = await runBin(["exec", "--", "true"], { cwd: ws, env });
    expect(exec.code).toBe(2);
    expect(exec.stderr).toBe(`error: config file ${project}: field 'preset' must be one of workspace-write, read-only, networked, none, got "read-everything"\nhint: paperclip-aos config schema shows the format\n`);
    await writeFile(project, "{}");
    const run = await runBin(["run", "--prompt", "hi"], { cwd: ws, env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`config file ${join(env.XDG_CONFIG_HOME, "paperclip-aos", "config.json")}: unknown field 'modle'\nhint: did you mean 'model'?`);
  });

  test("run's engine: the user config names it (config show says so), a project file may not; without rivetkit installed it is exit 3", async () => {
    const noRivet = { PAPERCLIP_AOS_RIVET_DIR: "/nonexistent/rivet", PAPERCLIP_AOS_ENGINE: undefined };
    const { ws, env } = await layout(undefined, { engine: "http://127.0.0.1:9" });
    const shown = await runBin(["config", "show", "--json"], { cwd: ws, env: { ...env, ...noRivet } });
    expect(parseJson(shown.stdout).values.engine).toEqual({ value: "http://127.0.0.1:9", from: `user ${join(env.XDG_CONFIG_HOME, "paperclip-aos", "config.json")}` });
    const run = await runBin(["run", "--prompt", "hi"], { cwd: ws, env: { ...env, ...noRivet } });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("error: the Rivet engine parts are not installed: PAPERCLIP_AOS_RIVET_DIR=/nonexistent/rivet does not exist");
    expect(run.stdout).toBe("");
    // --engine off (or PAPERCLIP_AOS_ENGINE=off) runs here: the missing script fails the run in this process instead.
    const local = await runBin(["run", "--prompt", "hi", "--engine", "off", "--model", "scripted:./none.json"], { cwd: ws, env: { ...env, ...noRivet } });
    expect(JSON.parse(local.stdout.trim().split("\n").at(-1)!)).toMatchObject({ type: "result", errorCode: "invalid_script" });
    const bad = await runBin(["run", "--prompt", "hi"], { cwd: ws, env: { ...env, ...noRivet, PAPERCLIP_AOS_ENGINE: "127.0.0.1:6420" } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toStartWith("error: PAPERCLIP_AOS_ENGINE: '127.0.0.1:6420' is not a URL\n");
    const fromProject = await layout({ engine: "http://elsewhere.example:6420" }, undefined);
    const refused = await runBin(["run", "--prompt", "hi"], { cwd: fromProject.ws, env: { ...fromProject.env, ...noRivet } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("'engine' may only be set in the user config");
  });

  test("exec in a real VM uses the config's preset: read-only writes nothing to the host", async () => {
    const { ws, env } = await layout(undefined, { preset: "read-only" });
    const r = await runBin(["exec", "--", "echo x > /workspace/f; echo rc=$?"], { cwd: ws, env });
    expect(r.stdout).toMatch(/rc=[1-9]/);
    expect(existsSync(join(ws, "f"))).toBe(false);
    // caps test in the same directory tells the same truth, and says where the base came from.
    const t = await runBin(["caps", "test", "--write", "/workspace/f"], { cwd: ws, env });
    expect(t.code).toBe(1);
    expect(t.stdout).toBe("deny  write /workspace/f\n");
    expect(t.stderr).toContain(`the base is preset read-only (config ${join(env.XDG_CONFIG_HOME, "paperclip-aos", "config.json")})`);
  });
});

describe("permission flags narrow the preset (issue 9 class 7)", () => {
  test("exec --allow-read --allow-write=/workspace/ok writes only /workspace/ok; caps explain shows the same", async () => {
    const ws = await dir();
    await mkdir(join(ws, "ok"));
    const flags = ["--allow-read", "--allow-write=/workspace/ok"];
    const r = await runBin(["exec", ...flags, "--", "echo a > /workspace/ok/x; echo b > /workspace/no; echo no=$?"], { cwd: ws });
    expect(r.stdout).toMatch(/no=[1-9]/);
    expect(existsSync(join(ws, "no"))).toBe(false);
    expect(await Bun.file(join(ws, "ok", "x")).text()).toBe("a\n");
    const explain = parseJson((await runBin(["caps", "explain", ...flags, "--json"], { cwd: ws })).stdout);
    expect(explain.effective.allow["fs.write"]).toEqual(["/workspace/ok"]);
    expect(explain.sources[0]).toBe("preset workspace-write (its fs.read, fs.write allows replaced by flags)");
  });
});

describe("help and output on a terminal and in a pipe", () => {
  test("help is wrapped to the terminal's width, words whole, and coloured only on a terminal", async () => {
    const t = await onTerminal(["exec", "--help"], { cols: 72 });
    expect(t.code).toBe(0);
    const plain = t.text.replace(/\x1b\[[0-9;]*m/g, "");
    for (const line of plain.split("\n")) expect(line.length).toBeLessThanOrEqual(72);
    expect(plain).toContain("DIR/.paperclip-aos-changes.json");
    expect(t.text).toContain(`${ESC}1mUSAGE`);
    const piped = await runBin(["exec", "--help"], { env: { NO_COLOR: undefined, COLUMNS: "100" } });
    expect(piped.stdout).not.toContain(ESC);
    for (const line of piped.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    const noColor = await onTerminal(["caps", "--help"], { env: { NO_COLOR: "1" } });
    expect(noColor.text).not.toContain(ESC);
    const forced = await runBin(["caps", "--help"], { env: { NO_COLOR: undefined, FORCE_COLOR: "1" } });
    expect(forced.stdout).toContain(ESC);
  });

  test("a success on stderr is not painted red on a terminal; an error label is", async () => {
    const ok = await onTerminal(["caps", "test", "--read", "/workspace/a"]);
    expect(ok.code).toBe(0);
    expect(ok.text).toContain("allow read /workspace/a");
    expect(ok.text).not.toContain(ESC);
    const bad = await onTerminal(["caps", "test", "--read"]);
    expect(bad.code).toBe(2);
    expect(bad.text).toContain(`${ESC}31merror:`);
  });

  test("help examples name only tools that exist, in every command's help", async () => {
    const { tools } = parseJson((await runBin(["tool", "list", "--json"])).stdout) as { tools: { name: string }[] };
    const names = new Set(tools.map((t) => t.name));
    const wide = { env: { COLUMNS: "400" } };
    // The command lines, from the COMMANDS blocks of the root's and each group's help.
    const commandsOf = (help: string) => [...(help.split("COMMANDS\n\n")[1]?.split("\n\n")[0] ?? "").matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!);
    const lines: string[][] = [];
    for (const top of commandsOf((await runBin(["--help"], wide)).stdout)) {
      const help = (await runBin([top, "--help"], wide)).stdout;
      const subs = commandsOf(help);
      lines.push([top], ...subs.map((sub) => [top, sub]));
    }
    expect(lines.length).toBeGreaterThan(20);
    let mentioned = 0;
    for (const words of lines) {
      const help = (await runBin([...words, "--help"], wide)).stdout;
      for (const m of help.matchAll(/\b(?:git|workspace|services|artifacts|preview)\.[a-z]+\b/g)) {
        mentioned++;
        expect(`${words.join(" ")}: ${m[0]}`).toBe(`${words.join(" ")}: ${names.has(m[0]) ? m[0] : "(no such tool)"}`);
      }
    }
    expect(mentioned).toBeGreaterThan(5);
  });

  test("doctor -q prints only problems, nothing when all is well", async () => {
    const r = await runBin(["doctor", "-q"]);
    expect(r.stdout).toBe("");
    // On this machine doctor may warn (disk, load); what -q drops is every passed check and the PASS summary.
    expect(r.stderr).not.toContain("✔");
    expect(r.stderr).not.toContain("PASS:");
  });
});

describe("--json: stdout is one document, stderr carries no progress", () => {
  test("exec --json on an empty cache extracts the runtime without saying so; the text mode says it once", async () => {
    const cache = await tempDir("aos-json-first-");
    const r = await runBin(["exec", "--json", "--", "true"], { env: { PAPERCLIP_AOS_CACHE: cache } });
    expect(r.code).toBe(0);
    expect(parseJson(r.stdout)).toMatchObject({ exitCode: 0 });
    expect(r.stderr).toBe("");
    // Not vacuous: this run did extract (the text mode's line is the same code path, logged at info).
    expect(existsSync(join(cache, "rt"))).toBe(true);
    const again = await tempDir("aos-json-first-");
    const text = await runBin(["exec", "--", "true"], { env: { PAPERCLIP_AOS_CACHE: again } });
    expect(text.stderr).toContain(`extracting the agentOS runtime into ${join(again, "rt")} (first run only)`);
  }, 180_000);
});
