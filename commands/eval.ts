import { defineCommand } from "citty";
import { resolve } from "node:path";
import { globalArgs, printJson, withHelp, err } from "./_shared.ts";
import { AGENTS } from "../src/agents/index.ts";
import { defaultReportDir, runEval, writeReport } from "../src/eval/index.ts";
import { runtimeError, usageError } from "../src/errors.ts";
import { logProgress } from "../src/log.ts";

const count = (name: string, raw: string | undefined, min: number): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw usageError(`--${name} must be a whole number ≥ ${min}, got '${raw}'`);
  return n;
};

export default withHelp(
  defineCommand({
    meta: {
      name: "eval",
      description:
        "Answer the plan's questions with measurements: cold and resumed heartbeat latency through agentOS against each agent's CLI on the host, " +
        "resume reliability over a chain of heartbeats (one killed mid-run, one losing its sidecar), transcript quality, escape attempts, " +
        "snapshot roots against git worktrees, memory and disk. Writes report.md (the answers, from thresholds it states), figures.json and SVG " +
        "charts to a directory. Scripted model: no key, no network. Takes minutes (--quick: about two).",
    },
    args: {
      ...globalArgs,
      out: { type: "string", valueHint: "DIR", description: "Where to write the report (default: <state dir>/eval/<timestamp>)" },
      quick: { type: "boolean", description: "Small samples (2 heartbeats per path, chains of 4, a small repository): indicative figures, fast" },
      agents: { type: "string", valueHint: "LIST", description: `Agents to evaluate, comma-separated (default: ${AGENTS.join(",")})` },
      runs: { type: "string", valueHint: "N", description: "Cold and resumed heartbeats per agent and path (default 5, --quick 2)" },
      chain: { type: "string", valueHint: "N", description: "Heartbeats per resume chain, at least 4 (default 8, --quick 4)" },
    },
    async run({ args }) {
      const agents = args.agents ? String(args.agents).split(",").map((a) => a.trim()).filter(Boolean) : [...AGENTS];
      for (const a of agents) if (!(AGENTS as readonly string[]).includes(a)) throw usageError(`unknown agent '${a}'`, `one of ${AGENTS.join(", ")}`);
      const runs = count("runs", args.runs, 1);
      const chain = count("chain", args.chain, 4);
      const dir = args.out ? resolve(String(args.out)) : defaultReportDir();
      const started = Date.now();
      const figures = await runEval({
        agents,
        quick: Boolean(args.quick),
        runs,
        chain,
        env: process.env,
        progress: (line) => logProgress(`[${Math.round((Date.now() - started) / 1000)}s] ${line}`),
      });
      const written = await writeReport(dir, figures);
      // A verdict computed from heartbeats that all failed is the set-up's failure, not agentOS's: no answer, exit 1.
      const none = written.answers.substrate.unmeasured;
      if (none) throw runtimeError(`no recommendation: ${none}; the report is in ${written.dir}`, "paperclip-aos doctor checks the set-up; each sample's errorCode is in figures.json", "eval_unmeasured");
      if (args.json) printJson({ dir: written.dir, files: written.files, answers: written.answers });
      else {
        err(`recommendation: ${written.answers.substrate.verdict}\n`);
        err(`report: ${written.dir}/report.md (${written.files.join(", ")})\n`);
      }
    },
  }),
  {
    exitCodes: [
      ["0", "the report is written and its recommendation (continue, pause or abandon) follows from the measurements"],
      ["1", "no recommendation: every heartbeat through agentOS failed, so nothing was measured (eval_unmeasured; the report is still written, for diagnosis); or the runtime failed"],
      ["2", "invalid input: an unknown agent, a bad --runs or --chain"],
      ["130/143", "interrupted by SIGINT (Ctrl-C) / SIGTERM"],
    ],
    examples: [
      ["paperclip-aos eval --quick", "a quick evaluation of every agent; prints where the report is"],
      ["paperclip-aos eval --out eval-report", "the full evaluation into ./eval-report (report.md, figures.json, *.svg)"],
      ["paperclip-aos eval --agents pi --runs 10 --json", "one agent, more samples; the answers as JSON on stdout"],
    ],
  },
);
