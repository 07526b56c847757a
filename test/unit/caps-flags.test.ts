import { describe, expect, test } from "bun:test";
import { extractPermissionFlags, permissionHelp, resolvePolicy, evaluate, splitFlagValue } from "../../src/caps/index.ts";
import { isAosError } from "../../src/errors.ts";

function failure(argv: string[]) {
  try {
    extractPermissionFlags(argv);
  } catch (e) {
    if (!isAosError(e)) throw e;
    return { message: e.message, hint: e.hint, exit: e.exitCode };
  }
  return null;
}

describe("permission flags: Deno's grammar", () => {
  test("flags repeat and add up (citty would keep only the last)", () => {
    const { flags, rest } = extractPermissionFlags(["--allow-read=/a", "--allow-read=/b", "--json"]);
    expect(flags.rules.map((r) => r.values)).toEqual([["/a"], ["/b"]]);
    expect(rest).toEqual(["--json"]);
  });

  test("comma lists, and ',,' is a literal comma", () => {
    expect(splitFlagValue("a,b")).toEqual(["a", "b"]);
    expect(splitFlagValue("a,,b")).toEqual(["a,b"]);
    expect(splitFlagValue("a,,,b")).toEqual(["a,", "b"]);
    const { flags } = extractPermissionFlags(["--allow-net=a.com:443,b.com"]);
    expect(flags.rules[0]).toEqual({ mode: "allow", capability: "network.fetch", values: ["a.com:443", "b.com"], token: "--allow-net=a.com:443,b.com" });
  });

  test("a bare flag means all of its kind and does not swallow the next flag", () => {
    const { flags, rest } = extractPermissionFlags(["--allow-net", "--json"]);
    expect(flags.rules).toEqual([{ mode: "allow", capability: "network.fetch", values: null, token: "--allow-net" }]);
    expect(rest).toEqual(["--json"]);
    const p = resolvePolicy({ flags });
    expect(evaluate(p, { kind: "fetch", target: "anything.example:8443" }).decision).toBe("allow");
  });

  test("every kind has an allow and a deny flag", () => {
    const words = ["read", "write", "net", "listen", "run", "env", "tool"];
    const argv = words.flatMap((w) => [`--allow-${w}`, `--deny-${w}`]);
    const { flags, rest } = extractPermissionFlags(argv);
    expect(rest).toEqual([]);
    expect(new Set(flags.rules.map((r) => r.capability)).size).toBe(7);
    expect(flags.rules.filter((r) => r.mode === "deny").length).toBe(7);
  });

  test("--caps and --preset take a value with '=' or as the next word, and repeat", () => {
    const { flags, rest } = extractPermissionFlags(["--caps", "a.json", "--caps=b.json", "--preset=read-only", "--preset", "networked", "ls"]);
    expect(flags.caps).toEqual(["a.json", "b.json"]);
    expect(flags.presets).toEqual(["read-only", "networked"]);
    expect(rest).toEqual(["ls"]);
    expect(failure(["--caps"])?.message).toBe("--caps needs a value");
    expect(failure(["--preset", "--json"])?.message).toBe("--preset needs a value");
  });

  test("everything from -- on belongs to the command", () => {
    const { flags, rest } = extractPermissionFlags(["--allow-read", "--", "sh", "--allow-net", "--caps", "x"]);
    expect(flags.rules.length).toBe(1);
    expect(flags.caps).toEqual([]);
    expect(rest).toEqual(["--", "sh", "--allow-net", "--caps", "x"]);
  });

  test("misspelled permission flags are exit 2 with a suggestion", () => {
    expect(failure(["--alow-net"])).toEqual({ message: "unknown permission flag '--alow-net'", hint: "did you mean '--allow-net'?", exit: 2 });
    expect(failure(["--allow-network=x.com"])?.hint).toBe("did you mean '--allow-net'?");
    expect(failure(["--deny-raed"])?.hint).toBe("did you mean '--deny-read'?");
    expect(failure(["--dney-write"])?.hint).toBe("did you mean '--deny-write'?");
    expect(failure(["--allow-sys"])?.message).toBe("unknown permission flag '--allow-sys'");
    expect(failure(["--cap=x.json"])?.hint).toBe("did you mean '--caps'?");
    expect(failure(["--presets=read-only"])?.hint).toBe("did you mean '--preset'?");
  });

  test("other flags pass through untouched for the command's own parser", () => {
    const { rest } = extractPermissionFlags(["--json", "--cwd", "/x", "--timeout=3", "--debug", "-q"]);
    expect(rest).toEqual(["--json", "--cwd", "/x", "--timeout=3", "--debug", "-q"]);
  });

  test("empty values are errors; a space-separated path is flagged as a likely mistake", () => {
    expect(failure(["--allow-read="])?.message).toBe("--allow-read= has an empty value");
    expect(failure(["--allow-read=a,"])?.message).toBe("--allow-read=a, has an empty entry");
    const { flags, rest } = extractPermissionFlags(["--allow-write", "/tmp"]);
    expect(rest).toEqual(["/tmp"]);
    expect(flags.warnings[0]).toContain("needs '='");
  });

  test("--allow-all allows every kind; mandatory denies still hold", () => {
    const p = resolvePolicy({ flags: extractPermissionFlags(["--allow-all"]).flags });
    expect(evaluate(p, { kind: "write", target: "/workspace/x" }).decision).toBe("allow");
    expect(evaluate(p, { kind: "write", target: "/workspace/.git/hooks/pre-commit" }).layer).toBe("mandatory");
  });

  test("a bad flag value is exit 2 naming the flag", () => {
    const { flags } = extractPermissionFlags(["--allow-net=https://x.com"]);
    try {
      resolvePolicy({ flags });
      throw new Error("no error");
    } catch (e) {
      expect(isAosError(e) && e.exitCode).toBe(2);
      expect((e as Error).message).toBe("--allow-net=https://x.com: 'https://x.com' is a URL; network rules name hosts");
    }
  });
});

describe("Permission options help", () => {
  test("one line per flag, each with an example", () => {
    const text = permissionHelp();
    expect(text).toStartWith("PERMISSION OPTIONS");
    for (const flag of ["read", "write", "net", "listen", "run", "env", "tool"]) {
      const allow = text.split("\n").find((l) => l.trimStart().startsWith(`--allow-${flag}[`));
      const deny = text.split("\n").find((l) => l.trimStart().startsWith(`--deny-${flag}[`));
      expect(allow).toContain(`--allow-${flag}=`);
      expect(deny).toContain(`--deny-${flag}=`);
    }
    expect(text).toContain("--caps <FILE>");
    expect(text).toContain("--preset <NAME>");
  });
});
