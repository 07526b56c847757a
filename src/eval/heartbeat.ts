import { mkdir, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { HeartbeatSample } from "./figures.ts";
import { processTree } from "../runtime/index.ts";
import { cmdline, parseEvents, resultOf, selfCommand, spawnMeasured, waitFor, type Event } from "./harness.ts";

/** One heartbeat through `paperclip-aos run --input -`, exactly as Paperclip's adapter starts it. */
export interface HeartbeatSpec {
  agent: string;
  workspace: string;
  /** The state dir (sessions live there). */
  home: string;
  cache?: string;
  steps: unknown[];
  /** A file name under the scratch dir for the script and the record of model requests. */
  tag: string;
  scratch: string;
  taskKey: string;
  session?: unknown;
  args?: string[];
  env?: Record<string, string | undefined>;
  /** Interrupt the heartbeat once its first model request reached the gateway. */
  interrupt?: "sigterm" | "kill-sidecar";
}

export interface HeartbeatOutcome {
  sample: HeartbeatSample;
  events: Event[];
  result: Event | undefined;
  /** The model requests the gateway recorded, as text (redacted by the gateway). */
  recorded: string;
  stdout: string;
}

export async function heartbeat(spec: HeartbeatSpec): Promise<HeartbeatOutcome> {
  const scriptFile = join(spec.scratch, `${spec.tag}.script.json`);
  const record = join(spec.scratch, `${spec.tag}.record.ndjson`);
  await mkdir(spec.workspace, { recursive: true });
  await writeFile(scriptFile, JSON.stringify({ steps: spec.steps }));
  const request = {
    agent: spec.agent,
    taskKey: spec.taskKey,
    cwd: spec.workspace,
    prompt: "Do the evaluation task.",
    model: `scripted:${scriptFile}`,
    record,
    ...(spec.session === undefined ? {} : { session: spec.session }),
  };
  let watcher: Promise<void> | undefined;
  const r = await spawnMeasured([...selfCommand(), "run", "--input", "-", ...(spec.args ?? [])], {
    stdin: JSON.stringify(request),
    // In this process unless the spec names a worker: a worker of the user's must not serve the in-process figures.
    env: { PAPERCLIP_AOS_HOME: spec.home, PAPERCLIP_AOS_WORKER: "off", ...(spec.cache ? { PAPERCLIP_AOS_CACHE: spec.cache } : {}), ...spec.env },
    onStart: (pid) => {
      if (spec.interrupt) watcher = interruptWhenPrompted(pid, record, spec.interrupt);
    },
  });
  await watcher;
  const events = parseEvents(r.stdout);
  const result = resultOf(events);
  return {
    sample: { wallMs: r.wallMs, exitCode: r.code, errorCode: (result?.errorCode as string | null | undefined) ?? null, peakRssMb: r.peakRssMb },
    events,
    result,
    recorded: existsSync(record) ? readFileSync(record, "utf8") : "",
    stdout: r.stdout,
  };
}

/** Wait until the gateway has recorded a model request (the agent is mid-turn), then interrupt. */
async function interruptWhenPrompted(pid: number, record: string, how: "sigterm" | "kill-sidecar"): Promise<void> {
  const reached = await waitFor(() => existsSync(record) && readFileSync(record, "utf8").includes("\n"), 60_000);
  if (!reached) return;
  if (how === "sigterm") {
    process.kill(pid, "SIGTERM");
    return;
  }
  for (const child of processTree(pid)) if (child !== pid && /sidecar/.test(cmdline(child))) process.kill(child, "SIGKILL");
}
