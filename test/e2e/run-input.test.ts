/**
 * run's input errors are usage errors (exit 2) before anything starts, with no events on stdout; once a request is
 * complete, a result line always comes last (README: "When a result line is printed").
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { binPath, parseJson, runBin, tempDir } from "./helpers.ts";

let dir: string;
beforeAll(async () => {
  dir = await tempDir("aos-run-input-");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("run: input errors are exit 2 with one clear line, no events", () => {
  test("--input naming a directory", async () => {
    const r = await runBin(["run", "--input", dir], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith(`error: request file ${dir} is a directory\n`);
    expect(r.stdout).toBe("");
  });

  test("an unreadable --input is a usage error, not an unexpected one", async () => {
    const file = join(dir, "secret-request.json");
    await writeFile(file, JSON.stringify({ prompt: "hi" }));
    await chmod(file, 0o000);
    // root reads any file: run the binary as nobody (state under /tmp, which nobody may write).
    const p = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binPath(), "run", "--input", file], {
      cwd: "/",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", PAPERCLIP_AOS_HOME: join(dir, "nobody-state"), PAPERCLIP_AOS_CACHE: join(dir, "nobody-cache") },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, errText, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(2);
    expect(errText).toContain(`error: request file ${file} cannot be read (permission denied)`);
    expect(errText).not.toContain("unexpected error");
    expect(out).toBe("");
  });

  test("a 20 MB request and a 2 MB prompt are refused up front", async () => {
    const big = join(dir, "big.json");
    await writeFile(big, JSON.stringify({ prompt: "x".repeat(20 << 20) }));
    const r = await runBin(["run", "--input", big], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: request file");
    expect(r.stderr).toContain("more than the 4.0 MB a run request may be");
    const mid = join(dir, "mid.json");
    await writeFile(mid, JSON.stringify({ prompt: "x".repeat(2 << 20) }));
    const m = await runBin(["run", "--input", mid, "--json"], { cwd: dir });
    expect(m.code).toBe(2);
    expect(parseJson(m.stdout).error.code).toBe("prompt_too_large");
    expect(m.stderr).toContain("error: the prompt is 2.0 MB, more than the 1.0 MB a run accepts");
  });

  test("--record in a directory that does not exist is exit 2 and creates nothing", async () => {
    const rec = join(dir, "nonexist", "deeper", "rec.json");
    const r = await runBin(["run", "--prompt", "hi", "--record", rec], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: --record ${rec}: the directory ${join(dir, "nonexist", "deeper")} does not exist`);
    expect(existsSync(join(dir, "nonexist"))).toBe(false);
    expect(r.stdout).toBe("");
  });
});

describe("run: once the request is complete, a result line comes last", () => {
  test("a request whose cwd is missing ends with one result line (config_invalid, exit 2)", async () => {
    const r = await runBin(["run", "--input", "-"], { cwd: dir, stdin: JSON.stringify({ prompt: "hi", cwd: join(dir, "no-such-dir") }) });
    expect(r.code).toBe(2);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.at(-1).type).toBe("result");
    expect(lines.filter((l) => l.type === "result")).toHaveLength(1);
    expect(lines.at(-1).exitCode).toBe(2);
    expect(lines.at(-1).subtype).toBe("config_invalid");
  });
});
