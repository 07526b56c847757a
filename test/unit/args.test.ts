import { describe, expect, test } from "bun:test";
import { parseCommandLine } from "../../commands/_argv.ts";
import { root } from "../../commands/main.ts";
import { closest, distance } from "../../src/suggest.ts";
import { commandLine, shellQuote } from "../../src/runtime/index.ts";
import { isAosError } from "../../src/errors.ts";

const parse = (argv: string[]) => parseCommandLine(argv, root);
async function failure(argv: string[]) {
  try {
    await parse(argv);
  } catch (e) {
    if (!isAosError(e)) throw e;
    return { message: e.message, hint: e.hint, exit: e.exitCode };
  }
  return null;
}

describe("one parse of the command line", () => {
  test("accepts known flags, aliases, negations and values in both forms", async () => {
    const line = await parse(["exec", "--json", "-q", "--timeout=3", "--cwd", "/tmp", "--no-debug", "--", "ls"]);
    expect(line.names).toEqual(["exec"]);
    expect(line.args).toMatchObject({ json: true, quiet: true, timeout: "3", cwd: "/tmp", debug: false });
    expect(line.passthrough).toEqual(["ls"]);
  });
  test("global flags may come before the command", async () => {
    const line = await parse(["--cwd", "/tmp", "--json", "caps", "test", "--read", ".env"]);
    expect(line.names).toEqual(["caps", "test"]);
    expect(line.args).toMatchObject({ cwd: "/tmp", json: true, read: [".env"] });
  });
  test("a value is never taken for a flag: a prompt that starts with --deny-all is the prompt", async () => {
    const line = await parse(["run", "--prompt", "--deny-all the tests", "--allow-read"]);
    expect(line.args.prompt).toBe("--deny-all the tests");
    expect(line.permissionFlags?.rules.map((r) => r.token)).toEqual(["--allow-read"]);
    expect((await parse(["run", "--prompt=--deny-all"])).args.prompt).toBe("--deny-all");
  });
  test("a flag is never taken for a value", async () => {
    expect(await failure(["caps", "test", "--read", "--allow-read"])).toEqual({
      message: "flag --read needs a value ('--allow-read' is a flag)", hint: "write --read=VALUE", exit: 2,
    });
    expect((await failure(["exec", "--cwd", "--json"]))?.message).toBe("flag --cwd needs a value ('--json' is a flag)");
    expect((await failure(["exec", "--timeout"]))?.message).toBe("flag --timeout needs a value");
  });
  test("an unknown flag is exit 2 with a suggestion, permission flags included", async () => {
    expect(await failure(["exec", "--jsn"])).toEqual({ message: "unknown flag '--jsn' for paperclip-aos exec", hint: "did you mean '--json'?", exit: 2 });
    expect((await failure(["exec", "--alow-net"]))?.hint).toBe("did you mean '--allow-net'?");
    expect((await failure(["--bogus"]))?.message).toBe("unknown flag '--bogus' for paperclip-aos");
    expect((await failure(["doctor", "--allow-read"]))?.message).toBe("unknown flag '--allow-read' for paperclip-aos doctor");
  });
  test("a repeated flag is an error instead of last-wins; permission flags repeat and add up", async () => {
    expect((await failure(["exec", "--timeout=1", "--timeout=2"]))?.message).toBe("flag --timeout given twice");
    const line = await parse(["exec", "--allow-read=/a", "--allow-read=/b", "--", "ls"]);
    expect(line.permissionFlags?.rules.map((r) => r.values)).toEqual([["/a"], ["/b"]]);
  });
  test("a boolean flag with a value is rejected; an enum is checked", async () => {
    expect((await failure(["exec", "--json=yes"]))?.message).toBe("flag --json takes no value");
    expect((await failure(["run", "--agent", "pie"]))?.hint).toBe("did you mean 'pi'?");
  });
  test("a stray word in exec or run is an error, never ignored", async () => {
    expect(await failure(["exec", "ls", "--", "true"])).toEqual({
      message: "unexpected argument 'ls' for paperclip-aos exec",
      hint: "the COMMAND goes after '--': paperclip-aos exec [OPTIONS] -- ls",
      exit: 2,
    });
    expect((await failure(["run", "--prompt", "a", "b"]))?.message).toBe("unexpected argument 'b' for paperclip-aos run");
    expect((await failure(["exec", "--allow-net", "api.github.com", "--", "true"]))?.message).toBe("--allow-net api.github.com: a permission flag takes its value with '='");
    expect((await failure(["doctor", "--", "x"]))?.message).toBe("paperclip-aos doctor takes nothing after '--'");
  });
  test("everything after -- belongs to the command", async () => {
    const line = await parse(["exec", "--json", "--", "--not-ours", "-x", "--allow-net"]);
    expect(line.passthrough).toEqual(["--not-ours", "-x", "--allow-net"]);
    expect(line.permissionFlags).toBeUndefined();
  });
  test("positionals land in _ and under their names; a missing required one is an error", async () => {
    const line = await parse(["caps", "check", "a.json", "b.json"]);
    expect(line.args._).toEqual(["a.json", "b.json"]);
    expect(line.args.file).toBe("a.json");
    expect((await failure(["snapshot", "inspect"]))?.message).toBe("missing argument <NAME|ID> for paperclip-aos snapshot inspect");
    expect((await failure(["caps", "explain", "a.json", "b.json"]))?.message).toBe("unexpected argument 'b.json' for paperclip-aos caps explain");
  });
  test("--version, -V and -v at the root; --help anywhere", async () => {
    for (const v of ["--version", "-V", "-v"]) expect((await parse([v])).version).toBe(true);
    expect((await parse(["caps", "test", "--help"])).help).toBe(true);
  });
});

describe("did you mean", () => {
  test("transpositions count as one edit", () => {
    expect(distance("wirte", "write")).toBe(1);
    expect(closest("fs.wirte", ["fs.read", "fs.write"])).toBe("fs.write");
  });
  test("nothing close means no suggestion", () => {
    expect(closest("zzzzzz", ["exec", "doctor"])).toBeUndefined();
  });
});

describe("exec command line", () => {
  test("one argument is a shell string; several are quoted", () => {
    expect(commandLine(["echo a | wc -c"])).toBe("echo a | wc -c");
    expect(commandLine(["echo", "a b", "it's"])).toBe(`echo 'a b' 'it'\\''s'`);
    expect(shellQuote("/workspace/x.txt")).toBe("/workspace/x.txt");
  });
  test("no command is a usage error", () => {
    expect(() => commandLine([])).toThrow("no command given");
  });
});
