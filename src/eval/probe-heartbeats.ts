import { join } from "node:path";
import { PAPERCLIP_KINDS, type HeartbeatSample, type Latency, type Resources, type Transcript } from "./figures.ts";
import { dirSizeMb, type Event } from "./harness.ts";
import { heartbeat } from "./heartbeat.ts";
import { hostBaseline } from "./host-baseline.ts";
import { WORKLOAD_STEPS, writeWorkspace } from "./workload.ts";
import type { ProbeContext } from "./context.ts";
import { startWorker } from "./worker.ts";
import { untilSettled, workerStatus, type WorkerStatus } from "../worker/index.ts";

export interface HeartbeatFigures {
  latency: Latency;
  transcript: Transcript;
  resources: Resources;
  /** The workload finished under the default preset with no permission denial. */
  withinDefault: boolean;
}

/**
 * Cold and resumed heartbeats of one agent through agentOS and through its host CLI, and what the first heartbeat's
 * stream and the state dir tell about transcript quality and disk.
 */
export async function probeHeartbeats(ctx: ProbeContext, agent: string): Promise<HeartbeatFigures> {
  const cold: HeartbeatSample[] = [];
  const resumed: HeartbeatSample[] = [];
  let first: Event[] | undefined;
  let firstStdout = "";
  let withinDefault = true;
  let stateGrowth = 0;
  for (let i = 0; i < ctx.runs; i++) {
    ctx.progress(`${agent}: heartbeat ${i + 1}/${ctx.runs} (cold, then resumed)`);
    const ws = join(ctx.scratch, `lat-${agent}-${i}`, "ws");
    const home = join(ctx.scratch, `lat-${agent}-${i}`, "state");
    await writeWorkspace(ws);
    const a = await heartbeat({ agent, workspace: ws, home, cache: ctx.cache, steps: WORKLOAD_STEPS, tag: `lat-${agent}-${i}-a`, scratch: ctx.scratch, taskKey: `eval-${i}` });
    const afterFirst = dirSizeMb(home);
    const b = await heartbeat({ agent, workspace: ws, home, cache: ctx.cache, steps: WORKLOAD_STEPS, tag: `lat-${agent}-${i}-b`, scratch: ctx.scratch, taskKey: `eval-${i}`, session: a.result?.sessionParams ?? null });
    stateGrowth = Math.max(stateGrowth, afterFirst, dirSizeMb(home) - afterFirst);
    cold.push(a.sample);
    resumed.push(b.sample);
    if (a.events.some((e) => e.type === "permission") || a.sample.exitCode !== 0) withinDefault = false;
    if (!first) {
      first = a.events;
      firstStdout = a.stdout;
    }
  }

  const worker = await probeWorker(ctx, agent);

  const host = hostBaseline(agent);
  let hostFigures: Latency["host"] = null;
  if ("baseline" in host) {
    const hc: HeartbeatSample[] = [];
    const hr: HeartbeatSample[] = [];
    for (let i = 0; i < ctx.runs; i++) {
      ctx.progress(`${agent}: host CLI heartbeat ${i + 1}/${ctx.runs}`);
      const ws = join(ctx.scratch, `host-${agent}-${i}`, "ws");
      const home = join(ctx.scratch, `host-${agent}-${i}`, "home");
      await writeWorkspace(ws);
      hc.push(await host.baseline.heartbeat({ workspace: ws, home, steps: WORKLOAD_STEPS, resume: false }));
      hr.push(await host.baseline.heartbeat({ workspace: ws, home, steps: WORKLOAD_STEPS, resume: true }));
    }
    hostFigures = { command: host.baseline.command, cold: hc, resumed: hr };
  }

  ctx.progress(`${agent}: a heartbeat whose model is overloaded`);
  const failed = await heartbeat({
    agent,
    workspace: join(ctx.scratch, `fail-${agent}`, "ws"),
    home: join(ctx.scratch, `fail-${agent}`, "state"),
    cache: ctx.cache,
    steps: [{ error: { status: 529, message: "Overloaded" } }],
    tag: `fail-${agent}`,
    scratch: ctx.scratch,
    taskKey: "eval-fail",
  });
  const errorText = String(failed.result?.errorMessage ?? failed.result?.summary ?? "(no result)");

  const evs = first ?? [];
  const calls = evs.filter((e) => e.type === "tool_call");
  const results = evs.filter((e) => e.type === "tool_result");
  const resultIds = new Set(results.map((e) => e.toolUseId));
  return {
    latency: { agent, agentos: { cold, resumed }, worker: "missing" in worker ? null : worker, workerMissing: "missing" in worker ? worker.missing : null, host: hostFigures, hostMissing: "missing" in host ? host.missing : null },
    transcript: {
      agent,
      kinds: Object.fromEntries(PAPERCLIP_KINDS.map((k) => [k, evs.some((e) => e.type === k)])),
      toolCalls: calls.length,
      toolResults: results.length,
      paired: calls.filter((c) => resultIds.has(c.toolUseId)).length,
      linesOverLimit: firstStdout.split("\n").filter((l) => Buffer.byteLength(l) >= 8192).length,
      errorText,
      errorReadable: readable(errorText),
    },
    resources: { agent, peakRssMb: Math.max(0, ...cold.map((s) => s.peakRssMb), ...resumed.map((s) => s.peakRssMb)), stateDiskMbPerHeartbeat: stateGrowth },
    withinDefault,
  };
}

/** The same pairs of heartbeats through a warm worker: `run` finds it through PAPERCLIP_AOS_WORKER and relays. */
async function probeWorker(ctx: ProbeContext, agent: string): Promise<{ cold: HeartbeatSample[]; resumed: HeartbeatSample[] } | { missing: string }> {
  ctx.progress(`${agent}: starting a warm worker (serve)`);
  const w = await startWorker(join(ctx.scratch, `worker-${agent}`), ctx.cache);
  if ("missing" in w) return w;
  const cold: HeartbeatSample[] = [];
  const resumed: HeartbeatSample[] = [];
  // A worker in service has seen its agents' policies (Paperclip's heartbeats repeat): one heartbeat of the workload
  // first, so it makes spare VMs for it; each measured heartbeat then starts from a settled worker, as heartbeats
  // minutes apart do (docs/worker.md).
  const status = () => workerStatus(w.socket) as Promise<WorkerStatus>;
  const common = (i: number | "teach") => {
    const ws = join(ctx.scratch, `worker-${agent}`, `ws-${i}`);
    return { agent, workspace: ws, home: w.home, cache: ctx.cache, steps: WORKLOAD_STEPS, scratch: ctx.scratch, taskKey: `eval-w-${i}`, env: { PAPERCLIP_AOS_WORKER: w.socket } };
  };
  try {
    ctx.progress(`${agent}: a first heartbeat through the worker (it learns the policy)`);
    await writeWorkspace(common("teach").workspace);
    await heartbeat({ ...common("teach"), tag: `worker-${agent}-teach` });
    for (let i = 0; i < ctx.runs; i++) {
      ctx.progress(`${agent}: heartbeat ${i + 1}/${ctx.runs} through the worker (cold, then resumed)`);
      const c = common(i);
      await writeWorkspace(c.workspace);
      await untilSettled(status, { agent });
      const a = await heartbeat({ ...c, tag: `worker-${agent}-${i}-a` });
      await untilSettled(status, { agent });
      const b = await heartbeat({ ...c, tag: `worker-${agent}-${i}-b`, session: a.result?.sessionParams ?? null });
      cold.push(a.sample);
      resumed.push(b.sample);
    }
  } finally {
    await w.stop();
  }
  return { cold, resumed };
}

/** One line of words a person can act on: no raw JSON body, no stack trace, not empty, not a wall of text. */
export function readable(text: string): boolean {
  return text.length > 0 && text.length <= 400 && !text.includes("\n") && !/[{[]\s*"/.test(text) && !/\bat .+:\d+:\d+/.test(text);
}
