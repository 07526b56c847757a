import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { benchFailed, benchTable, NO_TARGET, type BenchEntry } from "../../scripts/bench.ts";

/**
 * The bench runs for tens of minutes: `--help` and a mistyped flag or row name must answer at once instead of
 * starting it. The binary is pointed at a path that does not exist, so a bench that did start fails fast (exit 1)
 * instead of running here.
 */
const script = join(import.meta.dir, "..", "..", "scripts", "bench.ts");
function bench(...args: string[]) {
  const p = Bun.spawnSync([process.execPath, script, ...args], {
    env: { ...process.env, PAPERCLIP_AOS_BIN: "/nonexistent/paperclip-aos" },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

describe("bun scripts/bench.ts", () => {
  test("--help prints the usage with every --only name and exits 0", () => {
    const r = bench("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: bun scripts/bench.ts");
    expect(r.stdout).toContain("worker.concurrent-20");
    expect(r.stdout).toContain("run.codex");
    expect(r.stderr).toBe("");
  });

  test("an unknown flag is exit 2 with its name and the usage on stderr", () => {
    const r = bench("--json", "--bogus");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown argument '--bogus'");
    expect(r.stderr).toContain("Usage:");
    expect(r.stdout).toBe("");
  });

  test("an unknown --only name (a row's sub-entry, a typo) is exit 2 naming it", () => {
    for (const only of ["--only=run.pi.cold", "--only=wroker", "--only=help,"]) {
      const r = bench(only);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("--only: unknown name");
    }
    expect(bench("--only=run.pi.cold").stderr).toContain("'run.pi.cold'");
  });

  test("--runs takes a whole number", () => {
    for (const runs of ["--runs=0", "--runs=abc", "--runs"]) expect(bench(runs).code).toBe(2);
  });

  test("valid arguments start the bench (here: it stops at the missing binary)", () => {
    for (const args of [["--only=worker.rss-4,run.pi", "--runs=3", "--json"], ["--only", "caps", "--runs", "2"], ["--only=w"]]) {
      const r = bench(...args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("/nonexistent/paperclip-aos is missing");
    }
  });
});

describe("the bench's report", () => {
  const row = (o: Partial<BenchEntry>): BenchEntry => ({ name: "x", what: "x", value: 1, baseline: null, unit: "ms", ratio: null, target: NO_TARGET, pass: null, ...o });
  const warmUp = row({ name: "worker.warm-up", value: 4210.5 });
  const met = row({ name: "help", value: 9, baseline: 8, ratio: 1.13, target: "≤ 2x", pass: true });
  const missed = row({ name: "worker.rss-4", value: 300, unit: "MB", target: "< 250 MB", pass: false, note: "peak 1200 MB" });

  test("an informational row (the worker's warm-up) says it has no target and is no failure", () => {
    const table = benchTable([met, warmUp]);
    const line = table.split("\n").find((l) => l.startsWith("worker.warm-up"))!;
    expect(line).toMatch(/4210\.5 ms +no target +info$/);
    expect(line).not.toContain("✖");
    expect(table.split("\n").find((l) => l.startsWith("help"))).toMatch(/≤ 2x +✔$/);
    expect(benchFailed([met, warmUp])).toBe(false);
  });

  test("a row that misses its target fails the bench and shows ✖, its note below the table", () => {
    const table = benchTable([warmUp, missed]);
    expect(table.split("\n").find((l) => l.startsWith("worker.rss-4"))).toMatch(/< 250 MB +✖$/);
    expect(table).toEndWith("  worker.rss-4: peak 1200 MB\n");
    expect(benchFailed([warmUp, missed])).toBe(true);
  });
});

describe("bun scripts/bench-snapshot.ts", () => {
  const snap = join(import.meta.dir, "..", "..", "scripts", "bench-snapshot.ts");
  const run = (...args: string[]) => Bun.spawnSync([process.execPath, snap, "--bin", "/nonexistent/paperclip-aos", ...args], { stdout: "pipe", stderr: "pipe" });
  test("--help prints its usage; an unknown flag or a bad number is exit 2, before it writes its tree", () => {
    const help = run("--help");
    expect(help.exitCode).toBe(0);
    expect(help.stdout.toString()).toContain("Usage: bun scripts/bench-snapshot.ts");
    for (const args of [["--bogus"], ["--runs", "x"], ["--files"]]) {
      const r = run(...args);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.toString()).toStartWith("bench-snapshot: invalid argument");
      expect(r.stderr.toString()).not.toContain("generating");
    }
  });
});
