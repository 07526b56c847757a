import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { CHARTS, decide, DEFAULT_THRESHOLDS, FiguresSchema, renderReport, type Figures } from "../../src/eval/index.ts";
import { checkXml } from "../support/xml.ts";

/** Made-up figures: every knob the decision reads, set so that each branch can be reached by changing one. */
function figures(o: { resumeOk?: number; resumeBad?: number; contained?: number; escaped?: number; agentosMs?: number; workerMs?: number; hostMs?: number | null; paired?: number } = {}): Figures {
  const sample = (wallMs: number) => ({ wallMs, exitCode: 0, errorCode: null, peakRssMb: 500 });
  const links = [
    { index: 0, kind: "normal" as const, exitCode: 0, errorCode: null, resumed: false, historyIntact: false, wallMs: 3000 },
    ...Array.from({ length: o.resumeOk ?? 3 }, (_, i) => ({ index: i + 1, kind: "normal" as const, exitCode: 0, errorCode: null, resumed: true, historyIntact: true, wallMs: 3000 })),
    ...Array.from({ length: o.resumeBad ?? 0 }, (_, i) => ({ index: 100 + i, kind: "killed" as const, exitCode: 143, errorCode: "cancelled", resumed: false, historyIntact: false, wallMs: 3000 })),
  ];
  const escape = (contained: boolean, i: number) => ({ id: `e${i}`, class: "rename", what: "mv .git g", contained, detail: "exit 1" });
  const mode = (setupMs: number, runMs: number) => ({ setupMs, runMs, diskMb: 1, outputKept: true, sourceUntouched: true });
  const hostMs = o.hostMs === undefined ? 1000 : o.hostMs;
  return {
    schema: "paperclip-aos/eval@1",
    generatedAt: "2026-12-01T00:00:00.000Z",
    machine: { cpus: 2, memoryGiB: 24, platform: "linux-x64", version: "0.1.0 (test)", agentos: "0.2.21", loadAvg1m: 0.5 },
    config: { quick: true, runs: 3, chain: 4, agents: ["pi"], model: "scripted" },
    latency: [
      {
        agent: "pi",
        agentos: { cold: [1, 2, 3].map(() => sample(o.agentosMs ?? 1500)), resumed: [sample(1400)] },
        worker: o.workerMs === undefined ? null : { cold: [sample(o.workerMs)], resumed: [sample(o.workerMs)] },
        workerMissing: o.workerMs === undefined ? "not started" : null,
        host: hostMs === null ? null : { command: "pi -p", cold: [1, 2, 3].map(() => sample(hostMs)), resumed: [sample(hostMs)] },
        hostMissing: hostMs === null ? "not installed" : null,
      },
    ],
    resume: [{ agent: "pi", links }],
    transcript: [
      { agent: "pi", kinds: { init: true, assistant: true, tool_call: true, tool_result: true }, toolCalls: 4, toolResults: o.paired ?? 4, paired: o.paired ?? 4, linesOverLimit: 0, errorText: "the model is overloaded", errorReadable: true },
    ],
    isolation: [...Array.from({ length: o.contained ?? 10 }, (_, i) => escape(true, i)), ...Array.from({ length: o.escaped ?? 0 }, (_, i) => escape(false, 50 + i))],
    roots: {
      coldBuildMs: 300,
      files: 200,
      classes: [
        { name: "routine", what: "read", needsChangesInRepo: false, snapshot: mode(50, 1000), worktree: mode(100, 1000) },
        { name: "preview", what: "serve", needsChangesInRepo: false, snapshot: mode(50, 3000), worktree: mode(100, 1000) },
        { name: "artifact", what: "write out/", needsChangesInRepo: false, snapshot: { ...mode(50, 1000), outputKept: false }, worktree: mode(100, 1000) },
        { name: "repo-edit", what: "edit many", needsChangesInRepo: true, snapshot: mode(50, 500), worktree: mode(100, 1000) },
      ],
    },
    caps: {
      capabilities: [
        { name: "fs.read", enforcedBy: "agentos-kernel", enforceable: true },
        { name: "process.spawn (per command)", enforcedBy: "not enforceable: driver only", enforceable: false },
        ...["fs.write", "network.fetch", "network.listen", "process.spawn", "env.read", "tool.invoke"].map((name) => ({ name, enforcedBy: "agentos-kernel", enforceable: true })),
      ],
      agentsWithinDefault: { pi: true },
    },
    tools: [
      { tool: "git.status", inVmWithoutTool: "fails", inVmDetail: "command not found: git", toolWorks: true, invokeMs: 50 },
      { tool: "preview.status", inVmWithoutTool: "works", inVmDetail: "up", toolWorks: true, invokeMs: 40 },
      { tool: "artifacts.publish", inVmWithoutTool: "needs-forbidden-capability", inVmDetail: "Permission denied", toolWorks: false, invokeMs: 40 },
    ],
    resources: [{ agent: "pi", peakRssMb: 650, stateDiskMbPerHeartbeat: 0.2 }],
  };
}

describe("eval: the decision follows the stated thresholds", () => {
  test("the made-up figures are valid figures", () => {
    expect(v.safeParse(FiguresSchema, figures()).success).toBe(true);
  });

  test("continue when every criterion meets its continue bound", () => {
    const a = decide(figures());
    expect(a.substrate.verdict).toBe("continue");
    expect(a.substrate.wouldChange.some((w) => w.startsWith("drops to pause if escapes contained"))).toBe(true);
  });

  test("pause when a criterion misses continue but all meet pause", () => {
    // 19 of 20 contained = 95%: below continue (100%), above pause (90%).
    const a = decide(figures({ contained: 19, escaped: 1 }));
    expect(a.substrate.verdict).toBe("pause");
    expect(a.substrate.wouldChange).toContain("escapes contained must reach ≥ 100% for continue");
    // A cold ratio between the bounds (3x) is a pause too.
    expect(decide(figures({ agentosMs: 3000 })).substrate.verdict).toBe("pause");
  });

  test("abandon when a criterion misses its pause bound", () => {
    expect(decide(figures({ contained: 8, escaped: 2 })).substrate.verdict).toBe("abandon");
    expect(decide(figures({ agentosMs: 6000 })).substrate.verdict).toBe("abandon");
    const lowResume = decide(figures({ resumeOk: 3, resumeBad: 2 })); // 60%
    expect(lowResume.substrate.verdict).toBe("abandon");
    expect(lowResume.substrate.wouldChange).toContain("resume rate must reach ≥ 80% for pause");
  });

  test("a criterion that was not measured cannot support continue, and the answer says so", () => {
    const a = decide(figures({ hostMs: null }));
    expect(a.substrate.verdict).toBe("abandon");
    expect(a.substrate.because.some((b) => b.includes("cold start vs host CLI: not measured"))).toBe(true);
    expect(a.substrate.wouldChange).toContain("cold start vs host CLI must be measured and reach ≤ 2x for continue");
  });

  test("when every heartbeat through agentOS failed no verdict follows: unmeasured says why, the report says none", () => {
    expect(decide(figures()).substrate.unmeasured).toBeNull();
    const f = figures({ workerMs: 900 });
    const fail = (s: { exitCode: number; errorCode: string | null }) => Object.assign(s, { exitCode: 1, errorCode: "sidecar_unavailable" });
    for (const l of f.latency) for (const p of [l.agentos, l.worker!]) [...p.cold, ...p.resumed].forEach(fail);
    // One heartbeat that got through (here the last resume link) is a measurement: the verdict stands.
    expect(decide(f).substrate.unmeasured).toBeNull();
    f.resume[0]!.links.forEach(fail);
    const a = decide(f);
    expect(a.substrate.verdict).toBe("abandon"); // what the criteria give on nothing
    expect(a.substrate.unmeasured).toBe("every heartbeat through agentOS failed (10 of 10: sidecar_unavailable)");
    const md = renderReport(f);
    expect(md).toContain("## Recommendation: none: every heartbeat through agentOS failed");
    expect(md).not.toContain("## Recommendation: **");
    // A real abandon on real measurements is still an answer.
    expect(decide(figures({ contained: 8, escaped: 2 })).substrate).toMatchObject({ verdict: "abandon", unmeasured: null });
    // No heartbeat at all is no measurement either.
    expect(decide({ ...f, latency: [], resume: [] }).substrate.unmeasured).toBe("no heartbeat ran through agentOS");
  });

  test("unpaired tool calls stop continue but not pause", () => {
    expect(decide(figures({ paired: 3 })).substrate.verdict).toBe("pause");
  });

  test("the faster deployable path decides the cold-start criterion: a warm worker can lift the verdict", () => {
    expect(decide(figures({ agentosMs: 3000 })).substrate.verdict).toBe("pause");
    const a = decide(figures({ agentosMs: 3000, workerMs: 900 }));
    expect(a.substrate.verdict).toBe("continue");
    expect(a.substrate.criteria.find((c) => c.name.startsWith("cold"))!.value).toBeCloseTo(0.9, 6);
    expect(renderReport(figures({ agentosMs: 3000, workerMs: 900 }))).toContain("on the faster path (the warm worker;");
  });

  test("thresholds are the caller's: a looser bound moves the verdict", () => {
    const f = figures({ agentosMs: 3000 });
    expect(decide(f, { ...DEFAULT_THRESHOLDS, continueColdRatio: 3.5 }).substrate.verdict).toBe("continue");
  });

  test("roots: repository edits stay on worktrees, lost output and slow roots too, the rest take snapshots", () => {
    const roots = Object.fromEntries(decide(figures()).roots.map((r) => [r.name, r]));
    expect(roots.routine!.choice).toBe("snapshot");
    expect(roots.routine!.timeRatio).toBeCloseTo(1050 / 1100, 6);
    expect(roots.preview).toMatchObject({ choice: "worktree" }); // 3050 vs 1100 ms
    expect(roots.preview!.because).toContain("more than 1.25x");
    expect(roots.artifact).toMatchObject({ choice: "worktree", because: "the snapshot run lost the output the workload needs" });
    expect(roots["repo-edit"]!.choice).toBe("worktree");
    expect(roots["repo-edit"]!.because).toContain("must land in the repository");
  });

  test("caps: yes, with gaps, or no", () => {
    const f = figures();
    expect(decide(f).caps).toMatchObject({ fits: "with gaps", enforcedShare: 7 / 8 });
    expect(decide({ ...f, caps: { ...f.caps, capabilities: f.caps.capabilities.filter((c) => c.enforceable) } }).caps.fits).toBe("yes");
    expect(decide(f, { ...DEFAULT_THRESHOLDS, capsFitShare: 0.9 }).caps.fits).toBe("no");
    expect(decide({ ...f, caps: { ...f.caps, agentsWithinDefault: { pi: false } } }).caps).toMatchObject({ fits: "no", agentsOutside: ["pi"] });
  });

  test("tools: an operation the VM cannot do and the tool does becomes a typed tool", () => {
    expect(decide(figures()).tools).toEqual({ makeTools: ["git.status"], inVm: ["preview.status"] });
  });
});

describe("eval: the report", () => {
  test("is a function of the figures: every section, the verdict, the thresholds, and the numbers from the figures", () => {
    const f = figures({ contained: 19, escaped: 1 });
    const md = renderReport(f);
    expect(renderReport(structuredClone(f))).toBe(md);
    for (const h of ["## Recommendation: **pause**", "## 1. Cold start", "## 2. Session resume", "## 3. Transcript", "## 4. Isolation", "## 5. Snapshot roots", "## 6. Capability vocabulary", "## 7. Typed host tools", "## 8. Memory and disk", "## Thresholds"]) {
      expect(md).toContain(h);
    }
    expect(md.match(/\*\*Question\.\*\*/g)).toHaveLength(8);
    expect(md).toContain("| pi | cold | agentOS, own process | 3/3 | 1500 ms |");
    expect(md).toContain("| pi | cold | agentOS, warm worker | – | – | – | – | (not started) |");
    expect(md).toContain("cold 1.5x");
    expect(md).toContain("19 of 20 attempts contained (95%). Got through: e50.");
    expect(md).toContain("| continueContainment | 1 |");
  });

  test("every chart is a well-formed standalone SVG with a title", () => {
    const f = figures();
    f.latency[0]!.agent = `a<b & "c"`; // labels are escaped
    for (const [name, chart] of Object.entries(CHARTS)) {
      const svg = chart(f);
      const { problems, elements } = checkXml(svg);
      expect({ name, problems }).toEqual({ name, problems: [] });
      expect(elements[0]).toBe("svg");
      expect(elements).toContain("title");
      expect(svg).not.toContain("<script");
    }
  });

  test("the XML check itself refuses what is not well-formed", () => {
    expect(checkXml(`<svg><g></svg>`).problems.length).toBeGreaterThan(0);
    expect(checkXml(`<svg a="1" a="2"/>`).problems).toEqual(["repeated attribute in <svg> at 0"]);
    expect(checkXml(`<svg>a & b</svg>`).problems.length).toBe(1);
    expect(checkXml(`<svg/><svg/>`).problems).toEqual(["2 root elements"]);
    expect(checkXml(`<svg x=1/>`).problems[0]).toStartWith("malformed tag");
  });
});
