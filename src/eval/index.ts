/**
 * `paperclip-aos eval`: the plan's questions answered with measurements. Runs a fixed workload through agentOS (this
 * binary's `run` and `exec`, as Paperclip would) and through each agent's CLI on the host, then writes a report:
 * report.md (the answers, computed from stated thresholds), figures.json (every measurement), and SVG charts.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { stateDir } from "../paths.ts";
import { buildInfo } from "../version.ts";
import { decide, DEFAULT_THRESHOLDS, type Answers, type Thresholds } from "./decide.ts";
import { FiguresSchema, type Figures } from "./figures.ts";
import { probeCaps } from "./probe-caps.ts";
import { probeHeartbeats } from "./probe-heartbeats.ts";
import { probeIsolation } from "./probe-isolation.ts";
import { probeResume } from "./probe-resume.ts";
import { probeRoots } from "./probe-roots.ts";
import { probeTools } from "./probe-tools.ts";
import { renderReport } from "./report.ts";
import { CHARTS } from "./svg.ts";

export { decide, DEFAULT_THRESHOLDS, type Answers, type Thresholds, type Verdict } from "./decide.ts";
export { FiguresSchema, type Figures } from "./figures.ts";
export { renderReport } from "./report.ts";
export { CHARTS } from "./svg.ts";
export { WORKLOAD_STEPS, WORKLOAD_FILES } from "./workload.ts";

export interface EvalOptions {
  agents: string[];
  quick?: boolean;
  /** Cold and resumed heartbeats per agent and path (default 5, quick 2). */
  runs?: number;
  /** Heartbeats in each resume chain (default 8, quick 4; at least 4: a normal, a killed, a crashed, a normal one). */
  chain?: number;
  progress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export async function runEval(opts: EvalOptions): Promise<Figures> {
  const quick = Boolean(opts.quick);
  const runs = opts.runs ?? (quick ? 2 : 5);
  const chain = Math.max(4, opts.chain ?? (quick ? 4 : 8));
  const scratch = join(stateDir(opts.env), "eval", `.scratch-${process.pid}`);
  const progress = opts.progress ?? (() => {});
  const ctx = { scratch, cache: opts.env?.PAPERCLIP_AOS_CACHE, runs, chain, quick, progress };
  const generatedAt = new Date().toISOString();
  const load = loadavg()[0] ?? 0;
  await mkdir(scratch, { recursive: true });
  try {
    const heartbeats = [];
    const resume = [];
    for (const agent of opts.agents) {
      heartbeats.push(await probeHeartbeats(ctx, agent));
      resume.push(await probeResume(ctx, agent));
    }
    const isolation = await probeIsolation(ctx);
    const roots = await probeRoots(ctx);
    const caps = await probeCaps(ctx, Object.fromEntries(heartbeats.map((h) => [h.latency.agent, h.withinDefault])));
    const tools = await probeTools(ctx);
    const info = buildInfo();
    const figures: Figures = {
      schema: "paperclip-aos/eval@1",
      generatedAt,
      machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), platform: `${process.platform}-${process.arch}`, version: `${info.version} (${info.commit})`, agentos: info.agentosCore, loadAvg1m: Math.round(load * 100) / 100 },
      config: { quick, runs, chain, agents: opts.agents, model: "scripted" },
      latency: heartbeats.map((h) => h.latency),
      resume,
      transcript: heartbeats.map((h) => h.transcript),
      isolation,
      roots,
      caps,
      tools,
      resources: heartbeats.map((h) => h.resources),
    };
    return v.parse(FiguresSchema, figures);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export interface WrittenReport {
  dir: string;
  files: string[];
  answers: Answers;
}

/** report.md, figures.json and the charts into dir (created; files of the same names are replaced). */
export async function writeReport(dir: string, figures: Figures, thresholds: Thresholds = DEFAULT_THRESHOLDS): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  const answers = decide(figures, thresholds);
  const files: Record<string, string> = {
    "report.md": renderReport(figures, thresholds, answers),
    "figures.json": `${JSON.stringify(figures, null, 2)}\n`,
    "answers.json": `${JSON.stringify({ thresholds, answers }, null, 2)}\n`,
  };
  for (const [name, chart] of Object.entries(CHARTS)) files[name] = chart(figures);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return { dir, files: Object.keys(files), answers };
}

/** Where a report goes when --out is not given: the state dir, one folder per evaluation. */
export function defaultReportDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), "eval", new Date().toISOString().replace(/[:.]/g, "-"));
}
