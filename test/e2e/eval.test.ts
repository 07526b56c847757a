import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import * as v from "valibot";
import { decide, FiguresSchema, renderReport } from "../../src/eval/index.ts";
import { checkXml } from "../support/xml.ts";
import { binPath, parseJson, privateCache, processesMentioning, removeTempDirs, runBin, tempDir } from "./helpers.ts";

// The host baseline is the pi CLI, a devDependency: on PATH the way an operator's global install would be.
const PATH = `${join(import.meta.dir, "..", "..", "node_modules", ".bin")}:${process.env.PATH}`;

// (The progress tests' private caches and state dirs are tracked temp dirs: they go when the file is done.)
afterAll(removeTempDirs);

describe("eval --quick through the compiled binary", () => {
  test(
    "writes a report whose every section, figure, chart and answer follows from its measurements",
    async () => {
      const dir = await tempDir("aos-eval-");
      const home = join(dir, "state");
      const out = join(dir, "report");
      try {
        const r = await runBin(["eval", "--quick", "--agents", "pi", "--out", out, "--json"], { cwd: dir, env: { PAPERCLIP_AOS_HOME: home, PATH }, timeoutMs: 900_000 });
        expect(r.code).toBe(0);
        const doc = parseJson(r.stdout);
        expect(doc.dir).toBe(out);
        for (const f of ["report.md", "figures.json", "answers.json", "latency.svg", "resume.svg", "memory.svg", "roots.svg"]) expect(existsSync(join(out, f))).toBe(true);
        // --json: stdout is the one document, and no progress line went to stderr while it ran.
        expect(r.stderr).not.toContain("resume chain");
        expect(r.stderr).not.toContain("heartbeat 1/");

        const figures = v.parse(FiguresSchema, JSON.parse(await readFile(join(out, "figures.json"), "utf8")));
        const { thresholds, answers } = JSON.parse(await readFile(join(out, "answers.json"), "utf8"));
        // Traceable: the report is rendered from figures.json alone, and the answers are decide() of it.
        const md = await readFile(join(out, "report.md"), "utf8");
        expect(renderReport(figures, thresholds)).toBe(md);
        expect(JSON.parse(JSON.stringify(decide(figures, thresholds)))).toEqual(answers);
        expect(doc.answers).toEqual(answers);
        expect(md).toContain(`## Recommendation: **${answers.substrate.verdict}**`);
        expect(md.match(/\*\*Question\.\*\*/g)).toHaveLength(8);

        // The measurements are real ones of what was asked.
        const lat = figures.latency[0]!;
        expect(lat.agentos.cold).toHaveLength(2);
        expect(lat.agentos.cold.every((s) => s.exitCode === 0 && s.wallMs > 0 && s.peakRssMb > 0)).toBe(true);
        expect(lat.host?.cold.every((s) => s.exitCode === 0)).toBe(true);
        // The same heartbeats through a warm worker the evaluation started (and stopped: no socket left).
        expect(lat.workerMissing).toBeNull();
        expect(lat.worker?.cold.map((s) => s.exitCode)).toEqual([0, 0]);
        expect(lat.worker?.resumed.map((s) => s.exitCode)).toEqual([0, 0]);
        expect(figures.resume[0]!.links.map((l) => l.kind)).toEqual(["normal", "killed", "sidecar-crash", "normal"]);
        expect(figures.resume[0]!.links.map((l) => l.exitCode)).toEqual([0, 143, 1, 0]);
        expect(figures.transcript[0]!.paired).toBe(figures.transcript[0]!.toolCalls);
        expect(figures.transcript[0]!.toolCalls).toBe(2);
        expect(figures.isolation.length).toBeGreaterThanOrEqual(15);
        expect(figures.roots.classes.map((c) => c.name)).toEqual(["routine", "preview", "artifact", "repo-edit"]);
        expect(figures.tools.map((t) => t.tool)).toContain("git.status");

        for (const f of ["latency.svg", "resume.svg", "memory.svg", "roots.svg"]) {
          expect({ f, problems: checkXml(await readFile(join(out, f), "utf8")).problems }).toEqual({ f, problems: [] });
        }
        // Its scratch workspaces are gone.
        expect(readdirSync(join(home, "eval")).filter((n) => n.startsWith(".scratch"))).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    900_000,
  );
});

describe("eval's progress", () => {
  /**
   * The first progress line ("pi: heartbeat 1/2") is written, synchronously, before the first heartbeat's workspace
   * is made: once that workspace exists, a mode that prints progress has printed it. The evaluation is then stopped
   * (it would take minutes); its heartbeat, if one started, is waited for by the sidecars of its private cache.
   */
  async function firstSeconds(json: boolean): Promise<{ stdout: string; stderr: string }> {
    const dir = await tempDir("aos-eval-progress-");
    const home = join(dir, "state");
    const cache = await privateCache();
    await mkdir(join(home, "eval"), { recursive: true });
    const p = Bun.spawn([binPath(), "eval", "--quick", "--agents", "pi", "--out", join(dir, "report"), ...(json ? ["--json"] : [])], {
      cwd: dir,
      env: { ...(process.env as Record<string, string>), PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: cache, PATH, NO_COLOR: "1" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const output = Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    const firstWorkspace = () => readdirSync(join(home, "eval")).some((n) => existsSync(join(home, "eval", n, "lat-pi-0")));
    const deadline = Date.now() + 60_000;
    while (!firstWorkspace() && p.exitCode === null && Date.now() < deadline) await Bun.sleep(5);
    expect(firstWorkspace()).toBe(true);
    p.kill("SIGKILL");
    await p.exited;
    for (let i = 0; i < 600 && processesMentioning(cache).length; i++) await Bun.sleep(50);
    const [stdout, stderr] = await output;
    await rm(dir, { recursive: true, force: true });
    return { stdout, stderr };
  }

  test("--json prints no progress on stderr; without it, each step is a line", async () => {
    expect((await firstSeconds(false)).stderr).toMatch(/^ℹ \[0s\] pi: heartbeat 1\/2 \(cold, then resumed\)$/m);
    const json = await firstSeconds(true);
    expect(json.stderr).toBe("");
  }, 180_000);
});
