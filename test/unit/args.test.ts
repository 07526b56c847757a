import { describe, expect, test } from "bun:test";
import { checkFlags } from "../../commands/main.ts";
import { globalArgs, timeoutArgs } from "../../commands/_shared.ts";
import { closest, distance } from "../../src/suggest.ts";
import { commandLine, shellQuote } from "../../src/runtime/index.ts";
import { isAosError } from "../../src/errors.ts";

const args = { ...globalArgs, ...timeoutArgs };
function failure(argv: string[]) {
  try {
    checkFlags(argv, args, ["exec"]);
  } catch (e) {
    if (!isAosError(e)) throw e;
    return { message: e.message, hint: e.hint, exit: e.exitCode };
  }
  return null;
}

describe("flag guard", () => {
  test("accepts known flags, aliases, negations and values in both forms", () => {
    expect(failure(["--json", "-q", "--timeout=3", "--cwd", "/tmp", "--no-debug"])).toBeNull();
  });
  test("an unknown flag is exit 2 with a suggestion", () => {
    expect(failure(["--jsn"])).toEqual({ message: "unknown flag '--jsn' for paperclip-aos exec", hint: "did you mean '--json'?", exit: 2 });
  });
  test("a repeated flag is an error instead of last-wins", () => {
    expect(failure(["--timeout=1", "--timeout=2"])?.message).toBe("flag --timeout given twice");
  });
  test("a string flag does not swallow the next flag as its value", () => {
    expect(failure(["--cwd", "--json"])?.message).toBe("flag --cwd needs a value");
    expect(failure(["--timeout"])?.message).toBe("flag --timeout needs a value");
  });
  test("a boolean flag with a value is rejected", () => {
    expect(failure(["--json=yes"])?.message).toBe("flag --json takes no value");
  });
  test("everything after -- belongs to the command", () => {
    expect(failure(["--json", "--", "--not-ours", "-x"])).toBeNull();
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
