import { afterAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkPolicy, policyJsonSchema, PRESET_NAMES, PRESETS, PolicyDocumentSchema, resolvePolicy } from "../../src/caps/index.ts";
import { isAosError } from "../../src/errors.ts";
import * as v from "valibot";
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);

const errorsOf = (doc: unknown) => checkPolicy(doc, "test").errors;
const warningsOf = (doc: unknown) => checkPolicy(doc, "test").warnings.map((w) => w.message).join("\n");

describe("caps check: structure", () => {
  test("a misspelled capability is an error with its JSON path, the bad key and a suggestion", () => {
    const r = checkPolicy({ version: 1, allow: { "fs.wirte": ["/workspace/**"] } }, "test");
    expect(r.valid).toBe(false);
    expect(r.errors).toEqual([{ path: '$.allow["fs.wirte"]', message: "unknown capability 'fs.wirte'", hint: "did you mean 'fs.write'?", value: "fs.wirte" }]);
  });

  test("Deno and agentOS words point to our capability names", () => {
    expect(errorsOf({ version: 1, allow: { net: ["x.com"] } })[0]!.hint).toBe("did you mean 'network.fetch'?");
    expect(errorsOf({ version: 1, deny: { run: ["node"] } })[0]!.hint).toBe("did you mean 'process.spawn'?");
    expect(errorsOf({ version: 1, allow: { "network.http": ["x.com"] } })[0]!.hint).toBe("did you mean 'network.fetch'?");
  });

  test("unknown keys anywhere are errors, not ignored", () => {
    const errs = errorsOf({ version: 1, alow: {}, description: "x", allow: {} });
    expect(errs).toEqual([{ path: "$.alow", message: "unknown key 'alow'", hint: "did you mean 'allow'?", value: "alow" }]);
  });

  test("a capability at the top level says where it belongs", () => {
    const [e] = errorsOf({ version: 1, "fs.read": ["/workspace/**"] });
    expect(e!.message).toBe("unknown key 'fs.read' at the top level");
    expect(e!.hint).toContain('"allow": {"fs.read"');
  });

  test("version is required and must be 1", () => {
    expect(errorsOf({ allow: {} })).toEqual([{ path: "$", message: 'missing "version"', hint: 'add "version": 1' }]);
    expect(errorsOf({ version: 2 })[0]).toMatchObject({ path: "$.version", message: "unsupported version 2" });
  });

  test("extends names presets, with a suggestion for a typo", () => {
    expect(checkPolicy({ version: 1, extends: "workspace-write" }, "t").valid).toBe(true);
    expect(errorsOf({ version: 1, extends: "workspace-writ" })[0]).toMatchObject({ path: "$.extends", hint: "did you mean 'workspace-write'?" });
  });

  test("a list where an entry list is expected, and non-objects, are explained", () => {
    expect(errorsOf({ version: 1, allow: { "fs.read": "/workspace" } })[0]).toMatchObject({
      path: '$.allow["fs.read"]',
      hint: 'write ["/workspace"]',
    });
    expect(errorsOf([1, 2])[0]!.message).toContain("a policy is a JSON object");
    expect(errorsOf({ version: 1, deny: ["fs.read"] })).toEqual([
      { path: "$.deny", message: '"deny" maps capability names to lists', hint: '{"deny": {"fs.read": ["/workspace/**"]}}', value: ["fs.read"] },
    ]);
  });

  test("never throws on bad input: odd shapes anywhere come back as errors", () => {
    const odd: unknown[] = [
      null, 7, "", "[]", "null", { version: 1, allow: null }, { version: 1, allow: [] }, { version: 1, allow: { "fs.read": [null, {}, []] } },
      { version: 1, extends: [1, null] }, { version: 1, extends: {} }, { version: "1" }, { version: 1, deny: { "network.listen": [-1, 1e9, "x-y"] } },
      { version: 1, allow: { "tool.invoke": ["a.b.c", ":", "."] }, deny: { "env.read": ["**", "A*B"] } }, { version: 1, $schema: 5, description: [] },
    ];
    for (const doc of odd) {
      const r = checkPolicy(doc, "t");
      expect({ doc, valid: r.valid, hasErrors: r.errors.length > 0 }).toEqual({ doc, valid: false, hasErrors: true });
    }
  });

  test("$schema may point an editor at the JSON Schema", () => {
    expect(checkPolicy({ $schema: "./policy.schema.json", version: 1 }, "t").valid).toBe(true);
  });

  test("JSON text with a syntax error is reported, with a hint for a trailing comma", () => {
    const r = checkPolicy('{"version": 1, "allow": {},}', "t");
    expect(r.valid).toBe(false);
    expect(r.errors[0]!.message).toStartWith("not valid JSON");
    expect(r.errors[0]!.hint).toBe("remove the trailing comma");
  });
});

describe("caps check: entries", () => {
  const entryError = (cap: string, value: unknown) => errorsOf({ version: 1, allow: { [cap]: [value] } })[0];

  test("each bad entry has its path, value, why and a fix", () => {
    expect(entryError("network.fetch", "https://api.github.com")).toEqual({
      path: '$.allow["network.fetch"][0]',
      message: "'https://api.github.com' is a URL; network rules name hosts",
      hint: "write api.github.com:443",
      value: "https://api.github.com",
    });
    expect(entryError("fs.read", "../outside")!.message).toContain("climbs out of /workspace");
    expect(entryError("fs.read", "/workspace/a**b")!.message).toContain("'**' must be a whole path segment");
    expect(entryError("fs.read", "~/x")!.hint).toContain("/home/agentos/x");
    expect(entryError("network.fetch", "example.com:99999")!.message).toContain("is not a port");
    expect(entryError("network.fetch", "[::1:8080")!.hint).toContain("[::1]:8080");
    expect(entryError("network.fetch", "host:x:y")!.hint).toContain("square brackets");
    expect(entryError("network.fetch", "10.0.0.0/4")!.message).toContain("too wide");
    expect(entryError("network.listen", "9000-8000")!.hint).toBe("write 8000-9000");
    expect(entryError("network.listen", true)!.path).toBe('$.allow["network.listen"][0]');
    expect(entryError("env.read", "MY-VAR")!.message).toContain("not a variable name");
    expect(entryError("tool.invoke", "git status")!.hint).toContain("collection.function");
    expect(entryError("fs.write", 7)!.message).toContain("expected a string");
  });

  test("every preset is a valid policy", () => {
    for (const name of PRESET_NAMES) {
      const r = checkPolicy(PRESETS[name], `preset ${name}`);
      expect({ name, errors: r.errors }).toEqual({ name, errors: [] });
    }
  });

  test("host paths under the workspace become guest paths; outside ones are errors", () => {
    const r = checkPolicy({ version: 1, allow: { "fs.read": ["/home/me/proj/src"] } }, "t", { workspaceHostDir: "/home/me/proj" });
    expect(r.valid).toBe(true);
    expect(r.rules![0]!.matcher).toMatchObject({ type: "path", path: { pattern: "/workspace/src" } });
    const bad = checkPolicy({ version: 1, allow: { "fs.read": ["/home/me/proj/../other"] } }, "t", { workspaceHostDir: "/home/me/proj" });
    expect(bad.errors[0]!.message).toContain("climbs out of the mounted workspace");
  });
});

describe("resolvePolicy: an invalid source stops with exit 2", () => {
  test("a policy file: the first problem, how many more, and how to see them all", async () => {
    const dir = await tempDir("aos-caps-resolve-");
    const file = join(dir, "bad.json");
    await writeFile(file, JSON.stringify({ version: 1, allow: { "fs.wirte": ["x"], "network.fetch": ["https://x.com"] } }));
    let thrown: unknown;
    try {
      resolvePolicy({ file });
    } catch (e) {
      thrown = e;
    }
    expect(isAosError(thrown) && { exit: thrown.exitCode, message: thrown.message, hint: thrown.hint }).toEqual({
      exit: 2,
      message: `policy ${file} at $.allow["fs.wirte"]: unknown capability 'fs.wirte' (and 1 more)`,
      hint: `did you mean 'fs.write'?; run 'paperclip-aos caps check ${file}' to see every problem`,
    });
  });
});

describe("caps check: warnings (valid, but not enforceable or probably not meant)", () => {
  test("a writable /** is suspicious", () => {
    expect(warningsOf({ version: 1, allow: { "fs.write": ["/**"] } })).toContain("makes the whole VM filesystem writable");
  });
  test("per-command spawn names are accepted with a warning that says they are not enforced", () => {
    const r = checkPolicy({ version: 1, allow: { "process.spawn": ["git"] } }, "t");
    expect(r.valid).toBe(true);
    expect(r.warnings[0]!.message).toContain("not enforced");
    expect(warningsOf({ version: 1, allow: { "process.spawn": ["wams"] } })).toContain("did you mean 'wasm'?");
  });
  test("env.read * and VM-owned names", () => {
    expect(warningsOf({ version: 1, allow: { "env.read": ["*"] } })).toContain("secrets");
    expect(warningsOf({ version: 1, allow: { "env.read": ["PATH"] } })).toContain("PATH is set by the VM");
  });
  test("a glob cannot open a mandatory-denied file; an exact path can, with a warning", () => {
    expect(warningsOf({ version: 1, allow: { "fs.read": ["**/.env*"] } })).toContain("does not open mandatory-denied files");
    expect(warningsOf({ version: 1, allow: { "fs.read": [".env"] } })).toContain("opens a mandatory-denied path");
  });
  test("denying what the runtime needs, duplicates and allow+deny of the same entry", () => {
    expect(warningsOf({ version: 1, deny: { "fs.read": ["/opt"] } })).toContain("also denies what the runtime needs");
    expect(warningsOf({ version: 1, allow: { "fs.read": ["src", "/workspace/src"] } })).toContain("listed twice");
    expect(warningsOf({ version: 1, allow: { "fs.read": ["src"] }, deny: { "fs.read": ["src"] } })).toContain("deny wins");
  });
  test("a loopback host without a port warns that the host's loopback opens port by port", () => {
    expect(warningsOf({ version: 1, allow: { "network.fetch": ["127.0.0.1"] } })).toContain("port by port");
  });
  test("a clean policy has no warnings", () => {
    expect(checkPolicy({ version: 1, extends: "workspace-write", allow: { "network.fetch": ["api.github.com:443"] } }, "t").warnings).toEqual([]);
  });
});

describe("caps schema", () => {
  test("the JSON Schema is strict and describes every capability", () => {
    const s = policyJsonSchema() as any;
    expect(s.$schema).toContain("json-schema.org");
    expect(s.additionalProperties).toBe(false);
    expect(s.required).toEqual(["version"]);
    expect(Object.keys(s.properties.allow.properties).sort()).toEqual(
      ["env.read", "fs.read", "fs.write", "network.fetch", "network.listen", "process.spawn", "tool.invoke"],
    );
    expect(s.properties.allow.additionalProperties).toBe(false);
    expect(s.properties.allow.properties["fs.read"].description).toContain("/workspace");
    expect(s.properties.extends.anyOf[0].enum).toEqual(PRESET_NAMES);
  });
  test("the valibot schema and checkPolicy agree on valid documents", () => {
    for (const name of PRESET_NAMES) expect(v.safeParse(PolicyDocumentSchema, PRESETS[name]).success).toBe(true);
  });
});

describe("caps check at scale", () => {
  test("a 200-rule policy is valid and yields its 200 rules (its speed is a bench entry: caps.check)", () => {
    const allow: Record<string, string[]> = { "fs.read": [], "fs.write": [], "network.fetch": [], "env.read": [] };
    for (let i = 0; i < 50; i++) {
      allow["fs.read"]!.push(`/workspace/pkg${i}/**`);
      allow["fs.write"]!.push(`/workspace/pkg${i}/out/*.js`);
      allow["network.fetch"]!.push(`host${i}.example.com:443`);
      allow["env.read"]!.push(`VAR_${i}`);
    }
    const doc = JSON.stringify({ version: 1, allow });
    const r = checkPolicy(doc, "t");
    expect(r.valid).toBe(true);
    expect(r.rules!.length).toBe(200);
  });
});

describe("caps check: every problem, tool names, malformed globs", () => {
  const tools = ["git.status", "git.log", "workspace.diff"];
  test("three unknown capabilities in one allow are three errors; unknown top-level keys each one", () => {
    const r = checkPolicy({ version: 1, allow: { "fs.raed": ["a"], "net.fetch": ["x"], foo: ["y"] }, extra: 1, other: 2 }, "test");
    expect(r.errors.map((e) => e.path).sort()).toEqual(["$.allow.foo", '$.allow["fs.raed"]', '$.allow["net.fetch"]', "$.extra", "$.other"]);
  });

  test("a tool.invoke rule naming no registered tool is an error with the closest name; a collection with no tool a warning", () => {
    const r = checkPolicy({ version: 1, allow: { "tool.invoke": ["git.stauts", "gti.*", "git.*"] } }, "test", { toolNames: tools });
    expect(r.errors).toEqual([{ path: '$.allow["tool.invoke"][0]', message: "unknown tool 'git.stauts'", hint: "did you mean 'git.status'?", value: "git.stauts" }]);
    expect(r.warnings).toContainEqual({ path: '$.allow["tool.invoke"][1]', message: "'gti.*' matches no tool", hint: "did you mean 'git.*'?", value: "gti.*" });
    expect(checkPolicy({ version: 1, allow: { "tool.invoke": ["git.status", "workspace.*", "*"] } }, "test", { toolNames: tools }).valid).toBe(true);
  });

  test("an unclosed or stray bracket or brace in a path is an error; balanced ones match themselves", () => {
    const r = checkPolicy({ version: 1, allow: { "fs.read": ["/workspace/[abc", "src/a{b", "src/x]"], "fs.write": ["/workspace/pages/[id].tsx"] } }, "test");
    expect(r.errors.map((e) => e.message)).toEqual([
      "malformed pattern '/workspace/[abc': '[' is never closed",
      "malformed pattern 'src/a{b': '{' is never closed",
      "malformed pattern 'src/x]': ']' without '['",
    ]);
    expect(r.errors.map((e) => e.path)).toEqual(['$.allow["fs.read"][0]', '$.allow["fs.read"][1]', '$.allow["fs.read"][2]']);
  });
});
