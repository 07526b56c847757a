import { hostname } from "node:os";
import { defineCommand } from "citty";
import { count, err, globalArgs, printJson, withHelp } from "./_shared.ts";
import { usageError } from "../src/errors.ts";
import { stateDir } from "../src/paths.ts";
import { setSignalHandler } from "../src/runtime/index.ts";
import { checkRunnerEngineUrl, ENGINE_TOKEN_ENV, engineToken, requireRivet, Runner } from "../src/rivet/index.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "worker",
      description:
        "Run heartbeats for a Rivet engine: register with it as a runner and host one session actor per (agent id, task key), " +
        "whose storage in the engine keeps the session (agentOS's sessions and events, our transcript, runs and their lines), " +
        "so the next heartbeat can run on any worker. Clients use 'run --engine URL'. The model gateway runs here: provider keys " +
        "come from this worker's environment. Workspaces must be at the same path on every worker (shared storage). " +
        "Needs the engine parts ('paperclip-aos engine install') and the engine's shared token in " + ENGINE_TOKEN_ENV + " (every worker and client of the engine " +
        "has the same one; make it with 'openssl rand -hex 32'): the session actors refuse every connection and action without it " +
        "(engine_unauthorized), since the engine's own admin token guards runner registration only. SIGTERM or Ctrl-C stops it: running heartbeats are cancelled " +
        "(each still writes its result), then it leaves the engine.",
    },
    args: {
      ...globalArgs,
      engine: { type: "string", valueHint: "URL", description: "The engine's endpoint, e.g. http://127.0.0.1:6420 (or PAPERCLIP_AOS_ENGINE)" },
      name: { type: "string", valueHint: "NAME", description: "This worker's name in run records and logs (default <hostname>-<pid>)" },
      "workspace-root": {
        type: "string",
        valueHint: "DIR[,DIR...]",
        description: "Run only heartbeats whose workspace is under DIR (the shared storage's mount point); others end with workspace_outside_roots (default: anywhere)",
      },
      concurrency: { type: "string", valueHint: "N", description: "Heartbeats at once (default 4); more wait, up to --queue" },
      queue: { type: "string", valueHint: "N", description: "Heartbeats that may wait for a slot (default 64); beyond that they end with worker_busy" },
      "recycle-after": { type: "string", valueHint: "N", description: "Replace the sidecar (warming the new one first) after N heartbeats (default 25)" },
      "max-rss": { type: "string", valueHint: "MB", description: "Replace the sidecar once its memory passes MB after a heartbeat (default 2048)" },
    },
    async run({ args }) {
      const engine = args.engine ?? process.env.PAPERCLIP_AOS_ENGINE;
      if (!engine) throw usageError("worker needs the engine's URL", "pass --engine http://HOST:6420 (or set PAPERCLIP_AOS_ENGINE)", "missing_engine");
      // A wrong URL, then missing engine parts (exit 3), then a missing token: the first thing to fix is said first.
      checkRunnerEngineUrl(engine);
      requireRivet();
      const token = engineToken(process.env, "worker");
      const runner = new Runner({
        engine,
        token,
        name: args.name ?? `${hostname()}-${process.pid}`,
        concurrency: count(args.concurrency, "--concurrency", 4),
        queue: count(args.queue, "--queue", 64, 0),
        stateDir: stateDir(),
        workspaceRoots: args["workspace-root"] ? String(args["workspace-root"]).split(",").filter(Boolean) : [],
        recycleAfter: count(args["recycle-after"], "--recycle-after", 25),
        maxRssMb: count(args["max-rss"], "--max-rss", 2048),
        debug: args.debug,
      });
      const stopped = new Promise<string>((resolve) => setSignalHandler((sig) => resolve(sig)));
      const info = await runner.start((m) => !args.quiet && err(`${m}\n`));
      if (args.json) printJson({ ready: true, ...info });
      // The one line scripts wait for (always written, also with --quiet and --json).
      err(`worker ready: ${info.name} registered with ${info.engine} (pid ${info.pid}, ${info.concurrency} heartbeats at once, ${info.readyMs} ms)\n`);
      const sig = await stopped;
      if (!args.quiet) err(`stopping (${sig}): cancelling ${runner.running} running heartbeats, leaving the engine\n`);
      await runner.stop(sig);
      setSignalHandler(undefined);
      return 0;
    },
  }),
  {
    exitCodes: [["1", "the engine is unreachable, or the worker failed"], ["2", "invalid input: a bad --engine URL, a missing or weak PAPERCLIP_AOS_ENGINE_TOKEN"], ["3", "the Rivet engine parts are not installed (paperclip-aos engine install)"], ["130/143", "stopped by SIGINT (Ctrl-C) / SIGTERM"]],
    examples: [
      ["export PAPERCLIP_AOS_ENGINE_TOKEN=$(openssl rand -hex 32)", "the engine's shared token: the same in every worker's and client's environment"],
      ["paperclip-aos worker --engine http://127.0.0.1:6420", "host session actors for the engine on this machine"],
      ["paperclip-aos worker --engine http://10.0.0.5:6420 --name build-1 --concurrency 8", "a named worker of a pool, 8 heartbeats at once"],
      ["paperclip-aos worker --engine http://10.0.0.5:6420 --workspace-root /mnt/paperclip", "only workspaces on the shared storage mounted at /mnt/paperclip"],
      ["PAPERCLIP_AOS_ENGINE=http://10.0.0.5:6420 paperclip-aos worker --json", "the ready line as JSON on stdout"],
      ["paperclip-aos run --engine http://127.0.0.1:6420 --prompt 'fix the test'", "a heartbeat through the engine, on whichever worker holds its session (same PAPERCLIP_AOS_ENGINE_TOKEN)"],
    ],
  },
);
