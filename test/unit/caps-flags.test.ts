import { describe, expect, test } from "bun:test";
import { parsePermissionFlags, permissionHelp, resolvePolicy, evaluate, splitFlagValue } from "../../src/caps/index.ts";
import { isAosError } from "../../src/errors.ts";

function failure(argv: string[]) {
  try {
    parsePermissionFlags(argv);
  } catch (e) {
    if (!isAosError(e)) throw e;
    return { message: e.message, hint: e.hint, exit: e.exitCode };
  }
  return null;
}

describe("permission flags: Deno's grammar", () => {
  test("flags repeat and add up (citty would keep only the last)", () => {
    const flags = parsePermissionFlags(["--allow-read=/a", "--allow-read=/b"]);
    expect(flags.rules.map((r) => r.values)).toEqual([["/a"], ["/b"]]);
  });

  test("comma lists, and ',,' is a literal comma", () => {
    expect(splitFlagValue("a,b")).toEqual(["a", "b"]);
    expect(splitFlagValue("a,,b")).toEqual(["a,b"]);
    expect(splitFlagValue("a,,,b")).toEqual(["a,", "b"]);
    const flags = parsePermissionFlags(["--allow-net=a.com:443,b.com"]);
    expect(flags.rules[0]).toEqual({ mode: "allow", capability: "network.fetch", values: ["a.com:443", "b.com"], token: "--allow-net=a.com:443,b.com" });
  });

  test("a bare flag means all of its kind and does not swallow the next flag", () => {
    const flags = parsePermissionFlags(["--allow-net", "--deny-env"]);
    expect(flags.rules[0]).toEqual({ mode: "allow", capability: "network.fetch", values: null, token: "--allow-net" });
    const p = resolvePolicy({ flags });
    expect(evaluate(p, { kind: "fetch", target: "anything.example:8443" }, { hostAddresses: [] }).decision).toBe("allow");
  });

  test("every kind has an allow and a deny flag", () => {
    const words = ["read", "write", "net", "listen", "run", "env", "tool"];
    const argv = words.flatMap((w) => [`--allow-${w}`, `--deny-${w}`]);
    const flags = parsePermissionFlags(argv);
    expect(new Set(flags.rules.map((r) => r.capability)).size).toBe(7);
    expect(flags.rules.filter((r) => r.mode === "deny").length).toBe(7);
  });

  test("--caps and --preset take a value with '=' or as the next word, and repeat", () => {
    const flags = parsePermissionFlags(["--caps", "a.json", "--caps=b.json", "--preset=read-only", "--preset", "networked"]);
    expect(flags.caps).toEqual(["a.json", "b.json"]);
    expect(flags.presets).toEqual(["read-only", "networked"]);
    expect(failure(["--caps"])?.message).toBe("--caps needs a value");
    expect(failure(["--preset", "--json"])?.message).toBe("--preset needs a value");
  });

  test("everything from -- on is not read", () => {
    const flags = parsePermissionFlags(["--allow-read", "--", "sh", "--allow-net", "--caps", "x"]);
    expect(flags.rules.length).toBe(1);
    expect(flags.caps).toEqual([]);
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

  test("anything else is not a permission flag", () => {
    expect(failure(["--json"])?.message).toBe("'--json' is not a permission flag");
  });

  test("empty values are errors; a value after a space is an error naming both spellings, never allow-all", () => {
    expect(failure(["--allow-read="])?.message).toBe("--allow-read= has an empty value");
    expect(failure(["--allow-read=a,"])?.message).toBe("--allow-read=a, has an empty entry");
    expect(failure(["--allow-net", "api.github.com"])).toEqual({
      message: "--allow-net api.github.com: a permission flag takes its value with '='",
      hint: "write --allow-net=api.github.com, or --allow-net alone (every host) with other arguments before it",
      exit: 2,
    });
    expect(failure(["--allow-write", "/tmp"])?.hint).toContain("--allow-write=/tmp");
    expect(failure(["--allow-all", "x"])?.message).toBe("--allow-all x: a permission flag takes its value with '='");
  });

  test("--allow-all allows every kind; mandatory denies still hold", () => {
    const p = resolvePolicy({ flags: parsePermissionFlags(["--allow-all"]) });
    expect(evaluate(p, { kind: "write", target: "/workspace/x" }, { hostAddresses: [] }).decision).toBe("allow");
    expect(evaluate(p, { kind: "write", target: "/workspace/.git/hooks/pre-commit" }, { hostAddresses: [] }).layer).toBe("mandatory");
  });

  test("a bad flag value is exit 2 naming the flag", () => {
    const flags = parsePermissionFlags(["--allow-net=https://x.com"]);
    try {
      resolvePolicy({ flags });
      throw new Error("no error");
    } catch (e) {
      expect(isAosError(e) && e.exitCode).toBe(2);
      expect((e as Error).message).toBe("--allow-net=https://x.com: 'https://x.com' is a URL; network rules name hosts");
    }
  });
});

describe("flags refine the preset (issue 9 class 7)", () => {
  const decide = (argv: string[], kind: "read" | "write" | "fetch", target: string) =>
    evaluate(resolvePolicy({ flags: parsePermissionFlags(argv), defaultPreset: "workspace-write" }), { kind, target }, { hostAddresses: [] }).decision;

  test("an allow flag replaces the preset's allows of its kind: --allow-write=X means only X", () => {
    expect(decide(["--allow-write=/workspace/ok"], "write", "/workspace/ok/x")).toBe("allow");
    expect(decide(["--allow-write=/workspace/ok"], "write", "/workspace/no")).toBe("deny");
    expect(decide([], "write", "/workspace/no")).toBe("allow");
  });

  test("kinds no allow flag names keep the preset; deny flags only narrow", () => {
    expect(decide(["--allow-write=/workspace/ok"], "read", "/workspace/no")).toBe("allow");
    expect(decide(["--deny-write=/workspace/vendor"], "write", "/workspace/src/a.ts")).toBe("allow");
    expect(decide(["--deny-write=/workspace/vendor"], "write", "/workspace/vendor/a.ts")).toBe("deny");
  });

  test("the preset's denies stay when its allows are replaced, and explain's source says what was replaced", () => {
    const p = resolvePolicy({ preset: "networked", flags: parsePermissionFlags(["--allow-net=api.github.com"]) });
    expect(evaluate(p, { kind: "fetch", target: "api.github.com:443" }, { hostAddresses: [] }).decision).toBe("allow");
    expect(evaluate(p, { kind: "fetch", target: "example.com:443" }, { hostAddresses: [] }).decision).toBe("deny");
    expect(p.sources[0]).toBe("preset networked (its network.fetch allows replaced by flags)");
    const all = resolvePolicy({ preset: "networked", flags: parsePermissionFlags(["--allow-net"]) });
    expect(evaluate(all, { kind: "fetch", target: "example.com:443" }, { hostAddresses: [] }).decision).toBe("allow");
    expect(evaluate(all, { kind: "fetch", target: "metadata.google.internal:80" }, { hostAddresses: [] }).decision).toBe("deny");
  });

  test("a --caps file's rules add up with the flags (only presets are replaced)", () => {
    const p = resolvePolicy({ json: { version: 1, allow: { "fs.write": ["/workspace/a"] } }, flags: parsePermissionFlags(["--allow-write=/workspace/b"]) });
    expect(evaluate(p, { kind: "write", target: "/workspace/a/x" }, { hostAddresses: [] }).decision).toBe("allow");
    expect(evaluate(p, { kind: "write", target: "/workspace/b/x" }, { hostAddresses: [] }).decision).toBe("allow");
  });
});

describe("Permission options help", () => {
  test("one row per flag, each with an example, and the combination rules said", () => {
    const { title, rows, paragraphs } = permissionHelp();
    expect(title).toBe("PERMISSION OPTIONS");
    for (const flag of ["read", "write", "net", "listen", "run", "env", "tool"]) {
      expect(rows.find(([t]) => t.startsWith(`--allow-${flag}[`))?.[1]).toContain(`--allow-${flag}=`);
      expect(rows.find(([t]) => t.startsWith(`--deny-${flag}[`))?.[1]).toContain(`--deny-${flag}=`);
    }
    expect(rows.map(([t]) => t)).toContain("--caps <FILE>");
    expect(rows.map(([t]) => t)).toContain("--preset <NAME>");
    expect(paragraphs.join(" ")).toContain("replaces the preset's allows of its kind");
  });
});
