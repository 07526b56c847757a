/** `caps check` reports every problem and knows the tools; `caps test` takes several queries of one kind. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseJson, runBin, tempDir } from "./helpers.ts";

let dir: string;
beforeAll(async () => {
  dir = await tempDir("aos-caps-problems-");
  await writeFile(join(dir, "three.json"), JSON.stringify({ version: 1, allow: { "fs.raed": ["a"], "net.fetch": ["x"], foo: ["y"] } }));
  await writeFile(join(dir, "tool.json"), JSON.stringify({ version: 1, allow: { "tool.invoke": ["git.stauts"], "fs.read": ["/workspace/[abc"] } }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("caps check reports every problem", () => {
  test("three unknown capabilities in one allow: 3 errors", async () => {
    const r = await runBin(["caps", "check", "three.json"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("three.json: invalid (3 errors)");
    for (const cap of ["fs.raed", "net.fetch", "foo"]) expect(r.stderr).toContain(`unknown capability '${cap}'`);
  });

  test("a misspelled tool is an error with did-you-mean; an unclosed bracket in a glob is an error", async () => {
    const r = await runBin(["caps", "check", "tool.json", "--json"], { cwd: dir });
    expect(r.code).toBe(2);
    const j = parseJson(r.stdout);
    expect(j.errors).toContainEqual({ file: "tool.json", path: '$.allow["tool.invoke"][0]', message: "unknown tool 'git.stauts'", hint: "did you mean 'git.status'?", value: "git.stauts" });
    expect(j.errors).toContainEqual(expect.objectContaining({ path: '$.allow["fs.read"][0]', message: "malformed pattern '/workspace/[abc': '[' is never closed" }));
  });
});

describe("caps test", () => {
  test("--tool with a misspelled name is exit 2 with did-you-mean, not a silent allow", async () => {
    const r = await runBin(["caps", "test", "--tool", "git.stauts"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("unknown tool 'git.stauts'");
    expect(r.stderr).toContain("did you mean 'git.status'?");
  });

  test("several queries of one kind: one decision line each, in order; --json an array of decisions", async () => {
    const r = await runBin(["caps", "test", "--read", "src/a.ts", "--read=.env", "--read", "README.md"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("allow read /workspace/src/a.ts\ndeny  read /workspace/.env\nallow read /workspace/README.md\n");
    const j = parseJson((await runBin(["caps", "test", "--read", "a", "--read", "b", "--json"], { cwd: dir })).stdout);
    expect(j.decisions.map((d: { target: string; decision: string }) => `${d.decision} ${d.target}`)).toEqual(["allow /workspace/a", "allow /workspace/b"]);
  });
});
