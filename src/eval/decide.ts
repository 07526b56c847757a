import { median, type Figures, type Latency, type Resume, type WorkloadClass } from "./figures.ts";

/**
 * The plan's questions answered from the figures by thresholds stated in the report. Pure: the same figures and
 * thresholds give the same answers, and a test feeds made-up figures to every branch.
 */
export interface Thresholds {
  /** Resumed heartbeats with their history intact, of all that should have resumed. */
  continueResumeRate: number;
  pauseResumeRate: number;
  /** Escape attempts contained, of all attempted. */
  continueContainment: number;
  pauseContainment: number;
  /** Median cold heartbeat through agentOS over the host CLI's (median over agents with a baseline). */
  continueColdRatio: number;
  pauseColdRatio: number;
  /** Tool calls paired with their result, of all tool calls (transcript quality). */
  continuePairing: number;
  /** A snapshot root is preferred when its set-up + run time is at most this many times the worktree's. */
  snapshotTimeRatio: number;
  /** The vocabulary fits when at least this share of its capabilities is enforced. */
  capsFitShare: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  continueResumeRate: 0.95,
  pauseResumeRate: 0.8,
  continueContainment: 1,
  pauseContainment: 0.9,
  continueColdRatio: 2,
  pauseColdRatio: 5,
  continuePairing: 1,
  snapshotTimeRatio: 1.25,
  capsFitShare: 0.85,
};

export type Verdict = "continue" | "pause" | "abandon";

export interface Criterion {
  name: string;
  value: number | null;
  /** The bound for this verdict level, and whether the figure meets it. */
  continueAt: number;
  pauseAt: number | null;
  higherIsBetter: boolean;
}

export interface SubstrateAnswer {
  verdict: Verdict;
  criteria: (Criterion & { meetsContinue: boolean; meetsPause: boolean })[];
  /** Plain sentences: what the verdict rests on and what would change it. */
  because: string[];
  wouldChange: string[];
  /**
   * Why no verdict follows from the figures (every heartbeat through agentOS failed, or none ran), else null. The
   * verdict is then what the criteria give on nothing ("abandon"): `eval` reports it as an error, not an answer.
   */
  unmeasured: string | null;
}

export interface RootAnswer {
  name: WorkloadClass["name"];
  choice: "snapshot" | "worktree";
  timeRatio: number;
  because: string;
}

export interface CapsAnswer {
  fits: "yes" | "with gaps" | "no";
  enforcedShare: number;
  gaps: string[];
  agentsOutside: string[];
}

export interface ToolsAnswer {
  /** Operations that should be typed host tools: the agent cannot do them in the VM within its policy. */
  makeTools: string[];
  /** Operations the agent can do inside the VM without a tool. */
  inVm: string[];
}

export interface Answers {
  substrate: SubstrateAnswer;
  roots: RootAnswer[];
  caps: CapsAnswer;
  tools: ToolsAnswer;
}

export function resumeRate(resume: Resume[]): number | null {
  // Every link after the first should have resumed; a killed or crashed link still starts resumed (it is
  // interrupted later), and the one after it must pick the history up again.
  const due = resume.flatMap((r) => r.links.filter((l) => l.index > 0));
  if (!due.length) return null;
  return due.filter((l) => l.resumed && l.historyIntact).length / due.length;
}

export function containment(f: Pick<Figures, "isolation">): number | null {
  if (!f.isolation.length) return null;
  return f.isolation.filter((e) => e.contained).length / f.isolation.length;
}

/** Median over agents of (our median / the host CLI's median), for heartbeats in their own process or through a worker. */
export function coldRatio(latency: Latency[], which: "cold" | "resumed" = "cold", path: "agentos" | "worker" = "agentos"): number | null {
  const ratios = latency.flatMap((l) => {
    const samples = path === "worker" ? l.worker : l.agentos;
    if (!l.host || !samples) return [];
    const ours = median(samples[which].filter((s) => s.exitCode === 0).map((s) => s.wallMs));
    const theirs = median(l.host[which].filter((s) => s.exitCode === 0).map((s) => s.wallMs));
    return Number.isFinite(ours) && Number.isFinite(theirs) && theirs > 0 ? [ours / theirs] : [];
  });
  return ratios.length ? median(ratios) : null;
}

/** Paperclip can run heartbeats either way, so the substrate is judged by the faster one it can deploy. */
export function bestColdRatio(latency: Latency[]): number | null {
  const r = [coldRatio(latency, "cold", "agentos"), coldRatio(latency, "cold", "worker")].filter((x): x is number => x !== null);
  return r.length ? Math.min(...r) : null;
}

export function pairing(f: Pick<Figures, "transcript">): number | null {
  const calls = f.transcript.reduce((n, t) => n + t.toolCalls, 0);
  if (!calls) return null;
  return f.transcript.reduce((n, t) => n + t.paired, 0) / calls;
}

/**
 * Why the figures hold no measurement of the substrate, or null when they do: every heartbeat through agentOS (own
 * process or warm worker, cold or resumed, and the resume chains' normal links; a killed or crashed link fails by
 * design) failed, or none ran. A broken set-up (no sidecar, a missing agent package) then looks like an "abandon"
 * verdict although nothing was measured.
 */
export function unmeasured(f: Pick<Figures, "latency" | "resume">): string | null {
  const samples = f.latency.flatMap((l) => [l.agentos, ...(l.worker ? [l.worker] : [])].flatMap((p) => [...p.cold, ...p.resumed]));
  const links = f.resume.flatMap((r) => r.links.filter((l) => l.kind === "normal"));
  const all: { exitCode: number; errorCode: string | null }[] = [...samples, ...links];
  if (all.some((s) => s.exitCode === 0)) return null;
  if (!all.length) return "no heartbeat ran through agentOS";
  const why = [...new Set(all.map((s) => s.errorCode ?? `exit ${s.exitCode}`))];
  return `every heartbeat through agentOS failed (${all.length} of ${all.length}: ${why.slice(0, 3).join(", ")}${why.length > 3 ? ", ..." : ""})`;
}

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
const times = (x: number) => `${Math.round(x * 100) / 100}x`;

export function decideSubstrate(f: Figures, t: Thresholds): SubstrateAnswer {
  const raw: Criterion[] = [
    { name: "resume rate", value: resumeRate(f.resume), continueAt: t.continueResumeRate, pauseAt: t.pauseResumeRate, higherIsBetter: true },
    { name: "escapes contained", value: containment(f), continueAt: t.continueContainment, pauseAt: t.pauseContainment, higherIsBetter: true },
    { name: "cold start vs host CLI", value: bestColdRatio(f.latency), continueAt: t.continueColdRatio, pauseAt: t.pauseColdRatio, higherIsBetter: false },
    { name: "tool calls paired with results", value: pairing(f), continueAt: t.continuePairing, pauseAt: null, higherIsBetter: true },
  ];
  const meets = (c: Criterion, bound: number | null) => {
    if (bound === null) return true;
    if (c.value === null) return false;
    return c.higherIsBetter ? c.value >= bound : c.value <= bound;
  };
  const criteria = raw.map((c) => ({ ...c, meetsContinue: meets(c, c.continueAt), meetsPause: meets(c, c.pauseAt) }));
  const verdict: Verdict = criteria.every((c) => c.meetsContinue) ? "continue" : criteria.every((c) => c.meetsPause) ? "pause" : "abandon";
  const show = (c: Criterion) => (c.value === null ? "not measured" : c.name.startsWith("cold") ? times(c.value) : pct(c.value));
  const bound = (c: Criterion, b: number) => (c.name.startsWith("cold") ? `≤ ${times(b)}` : `≥ ${pct(b)}`);
  const because = criteria.map((c) => `${c.name}: ${show(c)} (continue needs ${bound(c, c.continueAt)}${c.pauseAt === null ? "" : `, pause ${bound(c, c.pauseAt)}`})`);
  const wouldChange: string[] = [];
  if (verdict === "continue") {
    for (const c of criteria) wouldChange.push(`drops to pause if ${c.name} ${c.higherIsBetter ? "falls below" : "rises above"} ${bound(c, c.continueAt).slice(2)}`);
  } else {
    for (const c of criteria.filter((c) => !c.meetsContinue)) wouldChange.push(`${c.name} ${c.value === null ? "must be measured and" : "must"} reach ${bound(c, c.continueAt)} for continue`);
    if (verdict === "abandon") for (const c of criteria.filter((c) => !c.meetsPause)) wouldChange.push(`${c.name} must reach ${bound(c, c.pauseAt!)} for pause`);
  }
  return { verdict, criteria, because, wouldChange, unmeasured: unmeasured(f) };
}

export function decideRoots(classes: WorkloadClass[], t: Thresholds): RootAnswer[] {
  return classes.map((c) => {
    const snap = c.snapshot.setupMs + c.snapshot.runMs;
    const wt = c.worktree.setupMs + c.worktree.runMs;
    const timeRatio = wt > 0 ? snap / wt : Number.POSITIVE_INFINITY;
    let choice: RootAnswer["choice"] = "snapshot";
    let because: string;
    if (c.needsChangesInRepo) {
      choice = "worktree";
      because = "the workload's changes must land in the repository as a tree (a snapshot run only exports or commits a layer)";
    } else if (!c.snapshot.outputKept) {
      choice = "worktree";
      because = "the snapshot run lost the output the workload needs";
    } else if (timeRatio > t.snapshotTimeRatio) {
      choice = "worktree";
      because = `a snapshot root took ${times(timeRatio)} the worktree's time (more than ${times(t.snapshotTimeRatio)})`;
    } else {
      because = `a snapshot root took ${times(timeRatio)} the worktree's time, used ${round1(c.snapshot.diskMb)} MB of disk against ${round1(c.worktree.diskMb)} MB, and ${c.snapshot.sourceUntouched ? "left the source untouched" : "changed the source"}`;
    }
    return { name: c.name, choice, timeRatio, because };
  });
}

export function decideCaps(f: Figures, t: Thresholds): CapsAnswer {
  const caps = f.caps.capabilities;
  const enforcedShare = caps.length ? caps.filter((c) => c.enforceable).length / caps.length : 0;
  const gaps = caps.filter((c) => !c.enforceable).map((c) => `${c.name}: ${c.enforcedBy}`);
  const agentsOutside = Object.entries(f.caps.agentsWithinDefault)
    .filter(([, ok]) => !ok)
    .map(([a]) => a);
  const fits = agentsOutside.length ? "no" : enforcedShare === 1 ? "yes" : enforcedShare >= t.capsFitShare ? "with gaps" : "no";
  return { fits, enforcedShare, gaps, agentsOutside };
}

export function decideTools(f: Figures): ToolsAnswer {
  return {
    makeTools: f.tools.filter((o) => o.inVmWithoutTool !== "works" && o.toolWorks).map((o) => o.tool),
    inVm: f.tools.filter((o) => o.inVmWithoutTool === "works").map((o) => o.tool),
  };
}

export function decide(f: Figures, t: Thresholds = DEFAULT_THRESHOLDS): Answers {
  return { substrate: decideSubstrate(f, t), roots: decideRoots(f.roots.classes, t), caps: decideCaps(f, t), tools: decideTools(f) };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
