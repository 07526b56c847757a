/**
 * A host variable whose value looks like a secret (src/caps/env.ts, SECRET_VALUES) enters the VM only when a rule
 * names it exactly, and then each command that would pass it says so on stderr, once, naming the variable and never
 * printing its value: exec, run, caps explain, caps check. Through the compiled binary and a real VM.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseJson, removeTempDirs, runBin, scriptedRun, tempDir } from "./helpers.ts";

afterAll(removeTempDirs);

const PASSWORD = "s3cret-pass-4f9a";
const env = { REDIS_URL: `redis://app:${PASSWORD}@cache:6379/0`, REDIS_HOST: "cache" };
const warningLines = (stderr: string) => stderr.split("\n").filter((l) => l.includes("REDIS_URL enters the VM"));

describe("a secret-looking value in the host environment", () => {
  test("exec: --allow-env and a glob leave it out; --allow-env=REDIS_URL passes it with one warning on stderr that names it, not its value", async () => {
    const show = 'echo "url=${REDIS_URL:+set} host=${REDIS_HOST:-unset}"';
    for (const flag of ["--allow-env", "--allow-env=REDIS_*"]) {
      const r = await runBin(["exec", flag, "--", show], { env });
      expect({ flag, code: r.code, stdout: r.stdout }).toEqual({ flag, code: 0, stdout: "url= host=cache\n" });
      expect(warningLines(r.stderr)).toEqual([]);
    }
    const exact = await runBin(["exec", "--allow-env=REDIS_URL", "--", show], { env });
    expect(exact.code).toBe(0);
    expect(exact.stdout).toBe("url=set host=unset\n");
    expect(warningLines(exact.stderr)).toEqual([expect.stringMatching(/^⚠ environment: REDIS_URL enters the VM and its value looks like a secret \(a URL with a password\)/)]);
    expect(exact.stderr).not.toContain(PASSWORD);
  }, 120_000);

  test("run: the warning once on stderr and as a policy_warning event; the value is in neither", async () => {
    const r = await scriptedRun({
      ws: await tempDir("aos-env-ws-"),
      home: await tempDir("aos-env-home-"),
      args: ["--allow-env=REDIS_URL"],
      env,
      steps: [{ tool: "bash", input: { command: 'echo "length ${#REDIS_URL}"' } }, { text: "done" }],
    });
    expect(r.code).toBe(0);
    expect(warningLines(r.stderr)).toHaveLength(1);
    expect(r.evs.filter((e) => e.type === "system" && e.code === "policy_warning" && String(e.text).includes("REDIS_URL enters the VM"))).toHaveLength(1);
    // The agent did get it (its length), and nothing printed it.
    expect(r.stdout).toContain(`length ${env.REDIS_URL.length}`);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  }, 180_000);

  test("caps explain and caps check: the warning on stderr (also with --json), the variable withheld under a glob", async () => {
    const explain = await runBin(["caps", "explain", "--allow-env=REDIS_URL"], { env });
    expect(explain.code).toBe(0);
    expect(warningLines(explain.stderr)).toHaveLength(1);
    expect(explain.stdout).toContain("REDIS_URL");
    const json = await runBin(["caps", "explain", "--allow-env=REDIS_URL", "--json"], { env });
    expect(parseJson(json.stdout).compiled.guestEnvNames).toContain("REDIS_URL");
    expect(warningLines(json.stderr)).toHaveLength(1);
    const glob = parseJson((await runBin(["caps", "explain", "--allow-env=REDIS_*", "--json"], { env })).stdout);
    expect(glob.compiled.guestEnvNames).toEqual(["REDIS_HOST"]);
    expect(glob.compiled.withheldEnv).toEqual([expect.objectContaining({ name: "REDIS_URL", kind: "secret" })]);

    const dir = await tempDir("aos-env-check-");
    await writeFile(join(dir, "policy.json"), JSON.stringify({ version: 1, allow: { "env.read": ["REDIS_URL", "CI"] } }));
    const check = await runBin(["caps", "check", "policy.json"], { cwd: dir, env });
    expect(check.code).toBe(0);
    expect(check.stderr).toContain("policy.json: valid (1 warning)");
    expect(warningLines(check.stderr)).toHaveLength(1);
    const checkJson = await runBin(["caps", "check", "policy.json", "--json"], { cwd: dir, env });
    expect(parseJson(checkJson.stdout).warnings).toEqual([expect.objectContaining({ file: "policy.json", path: '$.allow["env.read"]', message: expect.stringContaining("REDIS_URL enters the VM") })]);
    expect(warningLines(checkJson.stderr)).toHaveLength(1);
    expect((await runBin(["caps", "check", "policy.json", "--strict"], { cwd: dir, env })).code).toBe(2);
    // Without such a value in the environment there is nothing to say.
    expect((await runBin(["caps", "check", "policy.json", "--strict"], { cwd: dir, env: { REDIS_URL: "redis://cache:6379" } })).code).toBe(0);
    for (const r of [explain, json, check, checkJson]) expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  }, 120_000);
});
