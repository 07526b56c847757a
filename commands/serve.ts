import { defineCommand } from "citty";
import { count, err, globalArgs, out, printJson, withHelp } from "./_shared.ts";
import { stateDir } from "../src/paths.ts";
import { setSignalHandler } from "../src/runtime/index.ts";
import { defaultSocketPath, Worker, workerStatus, type WorkerStatus } from "../src/worker/index.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "serve",
      description:
        "Run the warm worker: a long-lived process on a private Unix socket in the state dir that runs the heartbeats of `run` " +
        "(and the commands of `exec`) on a sidecar it keeps warm, each in a VM of its own. run and exec use it whenever it is up; " +
        "SIGTERM or Ctrl-C stops it (running heartbeats are cancelled and still get their result; exit 143 or 130).",
    },
    args: {
      ...globalArgs,
      status: { type: "boolean", description: "Show what the running worker keeps warm and what it runs, then exit (1 when none runs)" },
      socket: { type: "string", valueHint: "PATH", description: "Listen at PATH instead of <state dir>/worker/worker.sock (clients then need --worker PATH)" },
      concurrency: { type: "string", valueHint: "N", description: "Heartbeats at once (default 4); more wait in the queue" },
      queue: { type: "string", valueHint: "N", description: "Requests that may wait for a slot (default 64); beyond that they fail at once with worker_busy" },
      "recycle-after": { type: "string", valueHint: "N", description: "Replace the sidecar (warming the new one first) after N heartbeats (default 25)" },
      "max-rss": {
        type: "string",
        valueHint: "MB",
        description: "Replace the sidecar (warming the new one first) once its memory stays above MB for 5 s with no heartbeat running, its idle spare VMs included (default 2048)",
      },
      "max-growth": {
        type: "string",
        valueHint: "MB",
        description:
          "Replace the sidecar (warming the new one first; its spare VMs and sessions' next VMs made again on it) once, with no heartbeat running for 5 s, it keeps more than MB beyond what it held after its warm-up and what its idle VMs added when they were made: memory of heartbeats that are over (Claude Code and Codex ones leave hundreds of MB). 0 for never (default 256)",
      },
      spares: {
        type: "string",
        valueHint: "N",
        description:
          "Spare VMs kept ready (default 2; 0 for none): booted, agent configured, a session open, for the policies the latest heartbeats used; a fresh heartbeat whose policy has one starts faster (Pi, Codex and Claude Code: configured, session open; OpenCode: its session opens at request time). Each idle spare is ~160 MB",
      },
      "spares-idle": {
        type: "string",
        valueHint: "SECONDS",
        description: "A policy no heartbeat has had for SECONDS keeps no spare VM until one has it again, unless it is the policy served last (default 900; 0: kept while remembered). Spares also give way, whatever their age, when heartbeats of another policy take every core",
      },
      resumable: {
        type: "string",
        valueHint: "N",
        description:
          "Sessions whose next VM is kept ready after their heartbeat (default 1: the session served last; 0 for none): booted on the session's database with that heartbeat's policy, the session reopened, so the task's next Pi, Codex or Claude Code heartbeat resumes without booting. Each idle one holds ~160 MB and each preparation costs ~1.5-2 s of CPU after a result, wasted when another task's heartbeat comes first: raise N where a few tasks alternate and memory allows. Counted apart from --spares (a spare serves any fresh heartbeat of its policy, this only the next heartbeat of one task). Another run of the task (run --worker off, session rm) asks the worker for the session and gets it within seconds",
      },
    },
    async run({ args }) {
      const socketPath = args.socket ?? defaultSocketPath();
      if (args.status) {
        const status = (await workerStatus(socketPath)) as WorkerStatus;
        if (args.json) printJson(status);
        else out(renderStatus(status));
        return 0;
      }
      const worker = new Worker({
        socketPath,
        stateDir: stateDir(),
        concurrency: count(args.concurrency, "--concurrency", 4),
        queueLimit: count(args.queue, "--queue", 64, 0),
        recycleAfter: count(args["recycle-after"], "--recycle-after", 25),
        maxRssMb: count(args["max-rss"], "--max-rss", 2048),
        maxGrowthMb: count(args["max-growth"], "--max-growth", 256, 0),
        spares: count(args.spares, "--spares", 2, 0),
        sparesIdleMs: count(args["spares-idle"], "--spares-idle", 900, 0) * 1000,
        resumable: count(args.resumable, "--resumable", 1, 0),
        debug: args.debug,
      });
      const started = performance.now();
      await worker.start((m) => !args.quiet && err(`${m}\n`));
      const stopped = new Promise<string>((resolve) => setSignalHandler((sig) => resolve(sig)));
      const s = worker.status();
      if (args.json) printJson({ ready: true, pid: s.pid, socket: socketPath, stateDir: s.stateDir, warmMs: Math.round(performance.now() - started) });
      else if (!args.quiet) err(`worker ready on ${socketPath} (pid ${s.pid}, ${s.limits.concurrency} at once; 'paperclip-aos serve --status' shows it)\n`);
      const sig = await stopped;
      if (!args.quiet) err(`stopping (${sig}): cancelling ${s.running} running heartbeats\n`);
      await worker.stop(sig);
      setSignalHandler(undefined);
      return 0;
    },
  }),
  {
    exitCodes: [["0", "stopped cleanly; --status: shown"], ["1", "--status: no worker runs (worker_not_running) or one is still starting (worker_starting); serve: another worker runs for this state dir"], ["2", "invalid input: a bad flag value"], ["130/143", "stopped by SIGINT (Ctrl-C) / SIGTERM: running heartbeats were cancelled and got their result"]],
    examples: [
      ["paperclip-aos serve", "keep a warm worker for this user's state dir; run and exec use it from now on"],
      ["paperclip-aos serve --concurrency 8 --queue 100", "more heartbeats at once (each live Pi session is ~150-200 MB)"],
      ["paperclip-aos serve --spares 4", "keep 4 spare VMs ready (for up to 4 policies, the newest first)"],
      ["paperclip-aos serve --resumable 4", "keep the next VM of the 4 most recent sessions ready (their next heartbeat resumes at once; ~160 MB each)"],
      ["paperclip-aos serve --status", "what is warm (sidecar, spare VMs per policy), what runs, memory"],
      ["paperclip-aos serve --status --json", "the same as one JSON document"],
      ["paperclip-aos run --worker off --prompt 'x'", "one heartbeat in-process although a worker is up"],
    ],
  },
);

function renderStatus(s: WorkerStatus): string {
  const lines = [
    `worker pid ${s.pid} (paperclip-aos ${s.build}), up ${s.uptimeSec}s, socket ${s.socket}`,
    `state dir  ${s.stateDir}`,
    `running    ${s.running} of ${s.limits.concurrency} at once, ${s.queued} queued (queue ${s.limits.queue})`,
    `served     ${s.served.heartbeats} heartbeats, ${s.served.execs} execs, ${s.served.failed} failed`,
    `warm       ${s.warm.sidecarReady ? "a sidecar (first shell and Pi session done)" : "nothing yet (a sidecar is warming)"}; gateway port ${s.warm.gatewayPort}`,
    `spares     ${s.warm.spares.ready} ready, ${s.warm.spares.building} being made (at most ${s.warm.spares.max}); ${s.warm.spares.hits} heartbeats took one, ${s.warm.spares.misses} booted their own; ${s.warm.spares.retired.load} gave way to load, ${s.warm.spares.retired.idle} retired unused`,
    ...s.warm.spares.policies.map((p) => `  policy ${p.key} ${p.agent} ${p.model}: ${p.ready} ready, ${p.hits} taken, ${p.misses} missed`),
    `resumable  ${s.warm.resumable.ready} sessions with their next VM ready, ${s.warm.resumable.preparing} being prepared (at most ${s.warm.resumable.max}); ${s.warm.resumable.hits} resumed heartbeats took one, ${s.warm.resumable.discarded} thrown away, ${s.warm.resumable.moved ?? 0} made again on a new sidecar`,
    `memory     worker ${s.memory.workerRssMb} MB, worker and its sidecars ${s.memory.treeRssMb} MB`,
    `sidecars   ${s.sidecarsReplaced} replaced after a crash, ${s.sidecarsRecycled} recycled (after ${s.limits.recycleAfter} heartbeats, or above ${s.limits.maxRssMb} MB with none running)${s.limits.maxGrowthMb ? `; ${s.sidecarsGrown} for keeping more than ${s.limits.maxGrowthMb} MB beyond a fresh one` : ""}`,
    ...s.sidecars.map((c) => `  #${c.id} pid ${c.pid ?? "?"} ${c.state}, ${c.rssMb ?? "?"} MB${c.growthMb !== null ? ` (${c.growthMb} MB beyond a fresh one)` : ""}, ${c.heartbeats} heartbeats, ${c.active} running, ${c.spares} spare VMs${c.warmMs ? `, warmed in ${c.warmMs} ms` : ""}`),
    "limits     what agentOS cannot do in a VM, and the ways around it: 'paperclip-aos doctor' (lines marked '-')",
  ];
  if (s.jobs.length) {
    lines.push("jobs");
    for (const j of s.jobs) lines.push(`  ${j.kind} ${j.runId ?? j.id} ${j.state}${j.agent ? ` ${j.agent} ${j.agentId}/${j.taskKey}` : ""} since ${j.startedAt ?? j.queuedAt}`);
  }
  return lines.join("\n");
}
