import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseCommandLine } from "../../commands/_argv.ts";
import { readFastInvoke } from "../../commands/_fast.ts";
import { root } from "../../commands/main.ts";
import { removeTempDirs } from "../tmp.ts";
import { startupGraph } from "../startup-graph.ts";

afterAll(removeTempDirs);

/**
 * The `tool invoke` fast path (commands/_fast.ts) reads a command line only when the one parse (commands/_argv.ts)
 * would read it the same way and accept it; anything else goes to main. Checked on every command line of up to three
 * tokens from a set that holds each case of the grammar (flag forms, aliases, negations, values that look like flags,
 * `--`, help, repeats, unknown and near-miss flags), and on 30,000 longer ones.
 */
const TOKENS = [
  "git.status", "git.log", "-", "-1", "{}", "/tmp", "r1", "debug",
  "--input", "--input={}", "--input=", "--input=--json", "--run-id", "--run-id=r1", "--cwd", "--cwd=/tmp", "--cwd=",
  "--json", "--json=1", "--no-json", "-json", "--quiet", "-q", "--q", "-q=1", "--debug", "--no-debug",
  "--log-level", "--log-level=debug", "--help", "-h", "--", "--bogus", "--inpt", "-x", "--version",
];

/** Every line of up to `max` tokens. */
function* lines(max: number): Generator<string[]> {
  let level: string[][] = [[]];
  yield [];
  for (let n = 1; n <= max; n++) {
    const longer: string[][] = [];
    for (const rest of level) for (const t of TOKENS) longer.push([...rest, t]);
    yield* longer;
    level = longer;
  }
}

/** Longer lines, drawn with a fixed seed (the same every run). */
function* randomLines(count: number): Generator<string[]> {
  let seed = 13;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < count; i++) yield Array.from({ length: 4 + Math.floor(next() * 3) }, () => TOKENS[Math.floor(next() * TOKENS.length)]!);
}

async function fullParse(args: string[]) {
  try {
    return await parseCommandLine(["tool", "invoke", ...args], root);
  } catch {
    return null;
  }
}

describe("the tool invoke fast path", () => {
  test("takes a command line only when the one parse reads it alike: same tool, input, run id and directory", async () => {
    let taken = 0;
    let checked = 0;
    for (const args of [...lines(3), ...randomLines(30_000)]) {
      checked++;
      const fast = readFastInvoke(args);
      if (!fast) continue;
      taken++;
      const full = await fullParse(args);
      if (!full) throw new Error(`the fast path took ${JSON.stringify(args)}, which the one parse refuses`);
      expect({ argv: args, names: full.names, help: full.help, version: full.version, passthrough: full.passthrough }).toEqual({
        argv: args, names: ["tool", "invoke"], help: false, version: false, passthrough: undefined,
      });
      expect({ argv: args, name: full.args.name, input: full.args.input, runId: full.args["run-id"], cwd: full.args.cwd, logLevel: full.args["log-level"] }).toEqual({
        argv: args, name: fast.name, input: fast.input, runId: fast.runId, cwd: fast.cwd, logLevel: undefined,
      });
    }
    // Not vacuous: the plain lines are taken (the bench's among them), the others are not.
    expect(checked).toBe(1 + TOKENS.length + TOKENS.length ** 2 + TOKENS.length ** 3 + 30_000);
    expect(taken).toBeGreaterThan(1_000);
  });

  test("takes the plain lines and leaves help, --, errors and --log-level to main", () => {
    expect(readFastInvoke(["git.status", "--input", "{}", "--cwd", "/repo"])).toEqual({ name: "git.status", input: "{}", runId: undefined, cwd: "/repo" });
    expect(readFastInvoke(["git.log", "--json", "-q", "--debug", "--input=-", "--run-id=r1"])).toEqual({ name: "git.log", input: "-", runId: "r1", cwd: undefined });
    for (const args of [
      [],
      ["git.status", "--help"],
      ["-h", "git.status"],
      ["git.status", "--"],
      ["git.status", "extra"],
      ["git.status", "--input"],
      ["git.status", "--input", "--json"],
      ["git.status", "--json", "--json"],
      ["git.status", "--no-json"],
      ["git.status", "--json=yes"],
      ["git.status", "--log-level", "debug"],
      ["git.status", "--inpt", "{}"],
    ]) {
      expect({ args, fast: readFastInvoke(args) }).toEqual({ args, fast: null });
    }
  });
});

/**
 * What the entry and the fast path load before running: the chunks the compiled binary's entry reaches by static
 * imports, bundled with the build's splitting. main, the registry, the argv parser, citty, consola, the other tools,
 * the JSON Schema converter or the embedded asset list there would be paid by every `tool invoke` (and, from the
 * entry, by every command).
 */
describe("start-up graph", () => {
  const staticModules = async (entry: string) => (await startupGraph(entry)).modules;

  const heavy = (m: string) =>
    /^(commands\/(main|index|_argv|_shared|_help|tool\/index|tool\/invoke)\.ts|build\/|src\/log\.ts|src\/runtime\/|src\/tools\/(index|schema|builtin\/index|baseline|binding|host-functions)\.ts|node_modules\/(citty|consola|@valibot\/to-json-schema|zod))/.test(m);

  test("the compiled entry loads only the dispatch: no main, no asset list", async () => {
    const root = join(import.meta.dir, "..", "..");
    const modules = [...(await staticModules(join(root, "commands", "cli.compiled.ts")))];
    expect(modules.sort()).toEqual(["commands/_entry.ts", "commands/cli.compiled.ts"]);
  });

  test("the fast path loads the invoke body and the tools' call path, nothing of the CLI's or the other tools'", async () => {
    const root = join(import.meta.dir, "..", "..");
    const modules = await staticModules(join(root, "commands", "_fast.ts"));
    expect(modules.has("commands/tool/invoke-run.ts")).toBe(true);
    expect(modules.has("src/tools/host.ts")).toBe(true);
    expect([...modules].filter(heavy)).toEqual([]);
    expect([...modules].filter((m) => /^src\/tools\/builtin\/(?!lazy)/.test(m))).toEqual([]);
  });

  test("git.status does not import node:os (~0.5 ms of a start-up; git-repo.ts asks it for the home only when $HOME is unset)", async () => {
    const root = join(import.meta.dir, "..", "..");
    const graph = await startupGraph(join(root, "src", "tools", "builtin", "git-status.ts"));
    expect(graph.modules.has("src/tools/git-repo.ts")).toBe(true);
    expect(graph.builtins.has("fs")).toBe(true); // not vacuous: the builtins are seen
    expect([...graph.builtins].filter((b) => b === "os")).toEqual([]);
  });
});
