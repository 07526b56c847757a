/** `caps check / explain / schema / test` through the compiled binary: output contracts, exit codes, speed. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { parseJson, runBin, tempDir, removeTempDirs } from "./helpers.ts";

afterAll(removeTempDirs);

let dir: string;
beforeAll(async () => {
  dir = await tempDir("aos-caps-cli-");
  await writeFile(join(dir, "good.json"), JSON.stringify({ version: 1, extends: "workspace-write", allow: { "network.fetch": ["api.github.com:443"] }, deny: { "fs.read": ["secrets"] } }));
  await writeFile(join(dir, "warn.json"), JSON.stringify({ version: 1, allow: { "process.spawn": ["git"], "fs.write": ["/**"] } }));
  await writeFile(
    join(dir, "bad.json"),
    JSON.stringify({ version: 1, allow: { "fs.wirte": ["/workspace/**"], "network.fetch": ["https://api.github.com"] }, extra: true }),
  );
  const allow: Record<string, string[]> = { "fs.read": [], "fs.write": [], "network.fetch": [], "env.read": [] };
  for (let i = 0; i < 50; i++) {
    allow["fs.read"]!.push(`/workspace/pkg${i}/**`);
    allow["fs.write"]!.push(`/workspace/pkg${i}/dist/*.js`);
    allow["network.fetch"]!.push(`mirror${i}.example.com:443`);
    allow["env.read"]!.push(`BUILD_VAR_${i}`);
  }
  await writeFile(join(dir, "rules200.json"), JSON.stringify({ version: 1, allow }));
});

describe("caps check", () => {
  test("a valid policy: exit 0", async () => {
    const r = await runBin(["caps", "check", "good.json"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("good.json: valid\n");
  });

  test("an invalid policy: exit 2, every problem with its JSON path, the bad value and a fix", async () => {
    const r = await runBin(["caps", "check", "bad.json", "--json"], { cwd: dir });
    expect(r.code).toBe(2);
    const j = parseJson(r.stdout);
    expect(j.valid).toBe(false);
    expect(j.errors).toContainEqual({ file: "bad.json", path: '$.allow["fs.wirte"]', message: "unknown capability 'fs.wirte'", hint: "did you mean 'fs.write'?", value: "fs.wirte" });
    expect(j.errors).toContainEqual(expect.objectContaining({ path: '$.allow["network.fetch"][0]', hint: "write api.github.com:443" }));
    expect(j.errors).toContainEqual(expect.objectContaining({ path: "$.extra", message: "unknown key 'extra'" }));
    const text = await runBin(["caps", "check", "bad.json"], { cwd: dir });
    expect(text.code).toBe(2);
    expect(text.stderr).toContain("hint: did you mean 'fs.write'?");
    expect(text.stderr).not.toContain("    at ");
  });

  test("warnings pass, unless --strict; stdin with '-'", async () => {
    const r = await runBin(["caps", "check", "warn.json"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("not enforced");
    expect(r.stderr).toContain("whole VM filesystem writable");
    expect((await runBin(["caps", "check", "--strict", "warn.json"], { cwd: dir })).code).toBe(2);
    const stdin = await runBin(["caps", "check", "-", "--json"], { cwd: dir, stdin: '{"version":1,"allow":{"env.read":["CI"]}}' });
    expect(stdin.code).toBe(0);
    expect(parseJson(stdin.stdout)).toEqual({ valid: true, errors: [], warnings: [], files: [{ file: "stdin", valid: true, errors: 0, warnings: 0 }] });
  });
});

describe("caps explain / schema / test", () => {
  test("explain leads with the summary and what is not enforceable, lists the mandatory set; the compiled rules come with --rules", async () => {
    const r = await runBin(["caps", "explain", "warn.json"], { cwd: dir });
    expect(r.code).toBe(0);
    const at = (s: string) => r.stdout.indexOf(s);
    expect(at("What the agent may do")).toBeGreaterThan(-1);
    expect(at("What the agent may do")).toBeLessThan(at("Not enforceable"));
    expect(at("Not enforceable")).toBeLessThan(at("Always denied"));
    for (const s of ["process.spawn allow 'git'", "under two names", ".git/modules/**", ".claude/**", "opencode.json", "--rules"]) expect(r.stdout).toContain(s);
    expect(r.stdout).not.toContain("Compiled agentOS 0.2.21 permissions");
    expect(r.stdout.split("\n").length).toBeLessThan(60);
    const full = await runBin(["caps", "explain", "warn.json", "--rules"], { cwd: dir });
    expect(full.code).toBe(0);
    for (const s of ["Compiled agentOS 0.2.21 permissions", "Runtime needs", "NOT ENFORCEABLE", "Always denied"]) expect(full.stdout).toContain(s);
    expect(full.stdout.startsWith(r.stdout.slice(0, at("Compiled agentOS rules")))).toBe(true);
    const j = parseJson((await runBin(["caps", "explain", "--preset", "networked", "--allow-env=AOS_CLI_VAR", "--json"], { cwd: dir, env: { AOS_CLI_VAR: "cli-secret-value" } })).stdout);
    expect(j.sources).toEqual(["preset networked", "flags"]);
    expect(j.compiled.guestEnvNames).toEqual(["AOS_CLI_VAR"]);
    expect(JSON.stringify(j)).not.toContain("cli-secret-value");
    expect(Object.keys(j.compiled.permissions).sort()).toEqual(["childProcess", "env", "fs", "hostFunction", "network", "process"]);
    expect(j.mandatory.map((m: { name: string }) => m.name)).toContain(".git/commondir");
    expect(j.guards.map((g: { pattern: string }) => g.pattern)).toContain("/**/.git");
    expect(j.limits.length).toBeGreaterThan(0);
  });

  // The summary says what caps test decides: --allow-net leaves the host's own interface addresses denied.
  const lan = Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === "IPv4")?.address;
  test.skipIf(!lan)("explain --allow-net names the host's own addresses it leaves denied, as caps test decides them", async () => {
    const r = await runBin(["caps", "explain", "--allow-net"], { cwd: dir });
    expect(r.code).toBe(0);
    const line = r.stdout.split("\n").find((l) => l.includes("the host's own addresses"));
    expect(line).toContain(`${lan}, [::ffff:${lan}]`);
    expect((await runBin(["caps", "test", "--allow-net", "--fetch", `${lan}:8080`], { cwd: dir })).code).toBe(1);
    expect(parseJson((await runBin(["caps", "explain", "--allow-net", "--json"], { cwd: dir })).stdout).hostAddressDenies).toContain(lan);
    expect((await runBin(["caps", "explain", "good.json"], { cwd: dir })).stdout).not.toContain("the host's own addresses");
  });

  test("schema is the JSON Schema", async () => {
    const r = await runBin(["caps", "schema"]);
    expect(r.code).toBe(0);
    const s = parseJson(r.stdout);
    expect(s.$schema).toContain("json-schema.org");
    expect(s.properties.allow.additionalProperties).toBe(false);
  });

  test("test answers allow/deny with the deciding rule; exit 0 all allowed, 1 any denied, 2 bad input", async () => {
    const ok = await runBin(["caps", "test", "good.json", "--fetch", "api.github.com:443", "--write", "src/a.ts"], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("allow fetch api.github.com:443\nallow write /workspace/src/a.ts\n");
    const denied = await runBin(["caps", "test", "good.json", "--read", "secrets/k", "--json"], { cwd: dir });
    expect(denied.code).toBe(1);
    const d = parseJson(denied.stdout).decisions[0];
    expect(d).toMatchObject({ decision: "deny", target: "/workspace/secrets/k", layer: "rule", rule: { value: "secrets", source: "file good.json", at: '$.deny["fs.read"][0]' } });
    const mandatory = await runBin(["caps", "test", "--read", ".env"], { cwd: dir });
    expect(mandatory.code).toBe(1);
    expect(mandatory.stdout).toBe("deny  read /workspace/.env\n");
    expect(mandatory.stderr).toContain("always denied");
    expect((await runBin(["caps", "test", "good.json"], { cwd: dir })).code).toBe(2);
    expect((await runBin(["caps", "test", "bad.json", "--read", "x"], { cwd: dir })).code).toBe(2);
  });
});

// Speed is measured by `bun run bench` (caps.check, caps.test: ratios to --help in one invocation), not asserted here:
// a timed test on a shared 2-core machine fails on load, not on code.
describe("caps on a 200-rule policy from the compiled binary", () => {
  test("check finds it valid and test answers from it", async () => {
    const check = await runBin(["caps", "check", "rules200.json", "--json"], { cwd: dir });
    expect(check.code).toBe(0);
    expect(JSON.parse(check.stdout).valid).toBe(true);
    const t = await runBin(["caps", "test", "rules200.json", "--read", "/workspace/pkg42/a", "--fetch", "mirror7.example.com:443"], { cwd: dir });
    expect(t.code).toBe(0);
    expect(t.stdout).toBe("allow read /workspace/pkg42/a\nallow fetch mirror7.example.com:443\n");
  });
});
