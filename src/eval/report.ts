import { bestColdRatio, coldRatio, containment, decide, pairing, resumeRate, type Answers, type Thresholds, DEFAULT_THRESHOLDS } from "./decide.ts";
import { median, quantile, type Figures, type HeartbeatSample } from "./figures.ts";
import { WORKLOAD_FILES, WORKLOAD_STEPS } from "./workload.ts";

/**
 * The decision report as Markdown: a pure function of the figures and thresholds (the e2e test renders it again
 * from figures.json and compares), so every number in it comes from a measurement.
 */

const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} ms` : "–");
const mb = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 10) / 10} MB` : "–");
const pct = (x: number | null) => (x === null ? "not measured" : `${Math.round(x * 1000) / 10}%`);
const ratio = (x: number | null) => (x === null || !Number.isFinite(x) ? "–" : `${Math.round(x * 100) / 100}x`);
const ok = (b: boolean) => (b ? "yes" : "**no**");

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function dist(samples: HeartbeatSample[]): string[] {
  const good = samples.filter((s) => s.exitCode === 0).map((s) => s.wallMs);
  return [`${good.length}/${samples.length}`, ms(median(good)), ms(quantile(good, 0.25)), ms(quantile(good, 0.75)), ms(good.length ? Math.max(...good) : Number.NaN)];
}

function section(title: string, body: string[], question: string, answer: string): string {
  return [`## ${title}`, "", ...body, "", `**Question.** ${question}`, "", `**Answer.** ${answer}`, ""].join("\n");
}

export interface RenderOptions {
  /** Prefix of the chart links (the charts sit beside report.md; docs/evaluation.md keeps them in evaluation/). */
  assets?: string;
}

export function renderReport(f: Figures, t: Thresholds = DEFAULT_THRESHOLDS, answers: Answers = decide(f, t), opts: RenderOptions = {}): string {
  const out: string[] = [];
  const chart = (alt: string, file: string) => `![${alt}](${opts.assets ?? ""}${file})`;
  const s = answers.substrate;
  out.push(
    "# paperclip-aos evaluation: agentOS as Paperclip's execution substrate",
    "",
    `Generated ${f.generatedAt} by paperclip-aos ${f.machine.version} (agentOS ${f.machine.agentos}) on ${f.machine.platform}, ${f.machine.cpus} cores, ${f.machine.memoryGiB} GiB, load ${f.machine.loadAvg1m} at the start.`,
    `Workload: ${f.config.runs} cold and ${f.config.runs} resumed heartbeats per agent and path, resume chains of ${f.config.chain}, model \`${f.config.model}\`${f.config.quick ? " (quick mode: small samples, read the figures as indicative)" : ""}. Agents: ${f.config.agents.join(", ")}.`,
    "Every figure below is in `figures.json` beside this file; the charts are the `.svg` files. Reproduce with `paperclip-aos eval --out DIR`.",
    "",
    ...(s.unmeasured
      ? [`## Recommendation: none: ${s.unmeasured}`, "", "Nothing below is a measurement of agentOS; the criteria show what the failed heartbeats give. Find why they failed (`paperclip-aos doctor`, the errorCode of each sample in `figures.json`) and run the evaluation again.", ""]
      : [`## Recommendation: **${s.verdict}**`, ""]),
    ...s.because.map((b) => `- ${b}`),
    "",
    "What would change it:",
    ...s.wouldChange.map((w) => `- ${w}`),
    "",
  );

  // 1. Latency
  const latRows: string[][] = [];
  for (const l of f.latency) {
    for (const which of ["cold", "resumed"] as const) {
      latRows.push([l.agent, which, "agentOS, own process", ...dist(l.agentos[which])]);
      if (l.worker) latRows.push([l.agent, which, "agentOS, warm worker", ...dist(l.worker[which])]);
      else latRows.push([l.agent, which, "agentOS, warm worker", "–", "–", "–", "–", `(${l.workerMissing ?? "not measured"})`]);
      if (l.host) latRows.push([l.agent, which, `host (${l.host.command})`, ...dist(l.host[which])]);
      else latRows.push([l.agent, which, "host", "–", "–", "–", "–", `(${l.hostMissing ?? "no baseline"})`]);
    }
  }
  const cold = coldRatio(f.latency);
  const resumed = coldRatio(f.latency, "resumed");
  const wCold = coldRatio(f.latency, "cold", "worker");
  const wResumed = coldRatio(f.latency, "resumed", "worker");
  const best = bestColdRatio(f.latency);
  out.push(
    section(
      "1. Cold start and resumed heartbeats",
      [
        "Wall time of one heartbeat from outside, as Paperclip sees it (process start to result): `paperclip-aos run` on its own, `run` handing the heartbeat to a warm worker (`paperclip-aos serve`, which served one heartbeat of the workload first and is idle, its spare VMs made, when each starts), and the agent's own CLI on the host against the same gateway.",
        "",
        table(["agent", "heartbeat", "path", "ok", "median", "p25", "p75", "max"], latRows),
        "",
        chart("latency", "latency.svg"),
        "",
        `Median over agents of agentOS median / host median: own process cold ${ratio(cold)}, resumed ${ratio(resumed)}; warm worker cold ${ratio(wCold)}, resumed ${ratio(wResumed)}.`,
      ],
      "Is a heartbeat through agentOS fast enough to replace the local adapters?",
      best === null
        ? "Not measured: no host baseline ran, so no ratio can be given."
        : `A cold heartbeat costs ${ratio(best)} the host CLI's time on the faster path (${wCold !== null && wCold === best ? "the warm worker" : "its own process"}; continue needs ≤ ${ratio(t.continueColdRatio)}, pause ≤ ${ratio(t.pauseColdRatio)}); the worker's heartbeats start on spare VMs prepared ahead, so what is left is each agent's own work inside agentOS (docs/worker.md, "Where Claude Code's and Codex's time goes").`,
    ),
  );

  // 2. Resume
  const rate = resumeRate(f.resume);
  const resRows = f.resume.flatMap((r) => r.links.map((l) => [r.agent, String(l.index), l.kind, String(l.exitCode), l.errorCode ?? "", l.index === 0 ? "–" : ok(l.resumed), l.index === 0 ? "–" : ok(l.historyIntact)]));
  out.push(
    section(
      "2. Session resume across heartbeats",
      [
        "One session per agent, heartbeat after heartbeat; the first heartbeat tells the model a marker word and every later one must carry it in its model request. One heartbeat is stopped with SIGTERM mid-run and one loses its sidecar (SIGKILL) mid-run; the next must still resume.",
        "",
        table(["agent", "#", "kind", "exit", "error", "resumed", "history intact"], resRows),
        "",
        chart("resume chain", "resume.svg"),
      ],
      "Do sessions survive across heartbeats, including interrupted ones?",
      `${pct(rate)} of the heartbeats that should have resumed did so with their history (continue needs ≥ ${pct(t.continueResumeRate)}).`,
    ),
  );

  // 3. Transcript
  const kinds = [...new Set(f.transcript.flatMap((x) => Object.keys(x.kinds)))];
  const trRows = f.transcript.map((x) => [x.agent, ...kinds.map((k) => (x.kinds[k] ? "✔" : "·")), `${x.paired}/${x.toolCalls}`, String(x.linesOverLimit), x.errorReadable ? "readable" : "**raw**"]);
  const pair = pairing(f);
  out.push(
    section(
      "3. Transcript and log quality",
      [
        "Which Paperclip transcript kinds one heartbeat's stream filled, tool calls paired with their results, lines over the 8 KB limit, and how an upstream failure reads.",
        "",
        table(["agent", ...kinds, "paired", "lines > 8 KB", "error"], trRows),
        "",
        ...f.transcript.map((x) => `- ${x.agent}, an overloaded upstream reads: “${x.errorText.replace(/\s+/g, " ").slice(0, 200)}”`),
      ],
      "Do transcripts stay readable in Paperclip?",
      `${pct(pair)} of tool calls are paired with their result; ${f.transcript.filter((x) => x.errorReadable).length} of ${f.transcript.length} agents report an upstream failure as readable words.`,
    ),
  );

  // 4. Isolation
  const cont = containment(f);
  const escaped = f.isolation.filter((e) => !e.contained);
  out.push(
    section(
      "4. Isolation",
      [
        "Escape attempts made by a program inside the VM under the default policy; the host checks afterwards whether anything got through.",
        "",
        table(["attempt", "class", "what", "contained", "detail"], f.isolation.map((e) => [e.id, e.class, e.what, ok(e.contained), e.detail.replace(/\|/g, "\\|").slice(0, 120)])),
      ],
      "Does the sandbox hold?",
      `${f.isolation.length - escaped.length} of ${f.isolation.length} attempts contained (${pct(cont)}).${escaped.length ? ` Got through: ${escaped.map((e) => e.id).join(", ")}.` : ""}`,
    ),
  );

  // 5. Roots
  const rootRows = f.roots.classes.flatMap((c) => [
    [c.name, "snapshot", ms(c.snapshot.setupMs), ms(c.snapshot.runMs), mb(c.snapshot.diskMb), ok(c.snapshot.outputKept), ok(c.snapshot.sourceUntouched)],
    [c.name, "worktree", ms(c.worktree.setupMs), ms(c.worktree.runMs), mb(c.worktree.diskMb), ok(c.worktree.outputKept), ok(c.worktree.sourceUntouched)],
  ]);
  out.push(
    section(
      "5. Snapshot roots against git worktrees",
      [
        `A generated repository of ${f.roots.files} files; its first snapshot build took ${ms(f.roots.coldBuildMs)} (paid once per repository version). Set-up below is what each heartbeat pays: the cached build that checks the tree, or \`git worktree add\`.`,
        "",
        ...f.roots.classes.map((c) => `- **${c.name}**: ${c.what}`),
        "",
        table(["class", "root", "set-up", "run", "disk", "output kept", "source untouched"], rootRows),
        "",
        chart("roots", "roots.svg"),
      ],
      "Which workloads benefit from snapshot roots, and which should stay on git worktrees?",
      answers.roots.length ? answers.roots.map((r) => `${r.name}: **${r.choice}** (${r.because})`).join("; ") + "." : "Not measured.",
    ),
  );

  // 6. Caps
  const c = answers.caps;
  out.push(
    section(
      "6. Capability vocabulary",
      [
        table(["capability", "enforced by"], f.caps.capabilities.map((x) => [x.name, x.enforceable ? x.enforcedBy : `**${x.enforcedBy}**`])),
        "",
        `Agents whose workload finished under the default preset without a denial it needed: ${Object.entries(f.caps.agentsWithinDefault).map(([a, b]) => `${a} ${b ? "yes" : "no"}`).join(", ")}.`,
      ],
      "Does the capability vocabulary fit Paperclip's adapters?",
      `${c.fits === "yes" ? "Yes" : c.fits === "with gaps" ? "Yes, with gaps" : "No"}: ${pct(c.enforcedShare)} of the vocabulary is enforced (fit needs ≥ ${pct(t.capsFitShare)})${c.gaps.length ? `; not enforceable: ${c.gaps.join("; ")}` : ""}${c.agentsOutside.length ? `; agents that needed more than the default: ${c.agentsOutside.join(", ")}` : ""}.`,
    ),
  );

  // 7. Tools
  const tl = answers.tools;
  out.push(
    section(
      "7. Typed host tools",
      [
        "Each operation tried by the agent inside the VM without the tool, under the default policy, and through `tool invoke` on the host.",
        "",
        table(["operation", "in the VM without the tool", "detail", "tool works", "tool invoke"], f.tools.map((o) => [o.tool, o.inVmWithoutTool, o.inVmDetail.slice(0, 100), ok(o.toolWorks), ms(o.invokeMs)])),
      ],
      "Which sensitive operations should become typed tools?",
      `${tl.makeTools.length ? tl.makeTools.join(", ") : "none"} (the agent cannot do them within its policy in the VM, and the tool does them on the host under the same policy)${tl.inVm.length ? `; ${tl.inVm.join(", ")} work inside the VM and need no tool` : ""}.`,
    ),
  );

  // 8. Resources
  out.push(
    section(
      "8. Memory and disk per heartbeat",
      [
        table(["agent", "peak RSS (host process + sidecar)", "state dir growth per heartbeat"], f.resources.map((r) => [r.agent, mb(r.peakRssMb), mb(r.stateDiskMbPerHeartbeat)])),
        "",
        chart("memory", "memory.svg"),
      ],
      "What does a heartbeat cost the machine?",
      f.resources.length ? `At most ${mb(Math.max(...f.resources.map((r) => r.peakRssMb)))} of memory and ${mb(Math.max(...f.resources.map((r) => r.stateDiskMbPerHeartbeat)))} of state per heartbeat; many concurrent agents on one machine need a shared sidecar (\`serve\`).` : "Not measured.",
    ),
  );

  out.push(
    "## The workload",
    "",
    `Each heartbeat runs on a fresh copy of a small project (${Object.keys(WORKLOAD_FILES).map((p) => `\`${p}\``).join(", ")}) with this script for the scripted model, the shape of a routine heartbeat with the model's own time taken out:`,
    "",
    "```json",
    JSON.stringify({ steps: WORKLOAD_STEPS }, null, 2),
    "```",
    "",
    "A cold heartbeat starts a new session (a new task key); the resumed one passes the first one's `sessionParams` back, as Paperclip does. The host baseline runs the same script against the same gateway code through the agent's CLI with the same prompt. Resume chains: the first heartbeat's answer holds a marker word; a disrupted heartbeat calls a tool and then waits on a slow answer, during which it gets SIGTERM (\"killed\") or its sidecar gets SIGKILL (\"sidecar-crash\").",
    "",
  );
  out.push(
    "## Thresholds",
    "",
    "The answers above are computed from these bounds (`src/eval/decide.ts`); pass other ones to the library to see how the answer moves.",
    "",
    table(["threshold", "value"], Object.entries(t).map(([k, val]) => [k, String(val)])),
    "",
  );
  return out.join("\n");
}
