import { join } from "node:path";
import type { ChainLink, Resume } from "./figures.ts";
import { heartbeat } from "./heartbeat.ts";
import { marker, writeWorkspace } from "./workload.ts";
import type { ProbeContext } from "./context.ts";

/** Where in a chain of n heartbeats the disruptions fall: one SIGTERM mid-run, one sidecar killed mid-run. */
export function chainKinds(n: number): ChainLink["kind"][] {
  const kinds: ChainLink["kind"][] = Array.from({ length: Math.max(n, 4) }, () => "normal");
  const killed = Math.max(1, Math.floor(kinds.length / 3));
  const crash = Math.max(killed + 1, Math.floor((2 * kinds.length) / 3));
  kinds[killed] = "killed";
  kinds[crash] = "sidecar-crash";
  return kinds;
}

/**
 * One session, heartbeat after heartbeat: the first tells the model a marker word; every later heartbeat's model
 * request must carry it. Disrupted heartbeats call a tool first (so the agent is mid-turn) and then wait on a slow
 * model answer, during which they are interrupted.
 */
export async function probeResume(ctx: ProbeContext, agent: string): Promise<Resume> {
  const ws = join(ctx.scratch, `chain-${agent}`, "ws");
  const home = join(ctx.scratch, `chain-${agent}`, "state");
  await writeWorkspace(ws);
  const word = marker();
  const links: ChainLink[] = [];
  let session: unknown = null;
  const kinds = chainKinds(ctx.chain);
  for (const [index, kind] of kinds.entries()) {
    ctx.progress(`${agent}: resume chain ${index + 1}/${kinds.length}${kind === "normal" ? "" : ` (${kind})`}`);
    const steps =
      index === 0
        ? [{ text: `Noted. The marker word is ${word}.` }]
        : kind === "normal"
          ? [{ text: `Heartbeat ${index} done.` }]
          : [{ tool: "bash", input: { command: "echo working" } }, { text: "too late", delayMs: 60_000 }];
    const o = await heartbeat({
      agent,
      workspace: ws,
      home,
      cache: ctx.cache,
      steps,
      tag: `chain-${agent}-${index}`,
      scratch: ctx.scratch,
      taskKey: "eval-chain",
      session,
      interrupt: kind === "killed" ? "sigterm" : kind === "sidecar-crash" ? "kill-sidecar" : undefined,
    });
    const init = o.events.find((e) => e.type === "init");
    links.push({
      index,
      kind,
      exitCode: o.sample.exitCode,
      errorCode: o.sample.errorCode,
      resumed: init?.resumed === true,
      historyIntact: index > 0 && o.recorded.includes(word),
      wallMs: o.sample.wallMs,
    });
    session = o.result?.sessionParams ?? session;
  }
  return { agent, links };
}
