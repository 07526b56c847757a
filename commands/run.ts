import { defineCommand } from "citty";
import { globalArgs, parseSeconds, timeoutArgs, withHelp, workerArgs } from "./_shared.ts";
import type { HelpBlock } from "./_help.ts";
import { usageError } from "../src/errors.ts";
import { snapshotArgs } from "./snapshot/_run.ts";
import { AGENTS } from "../src/agents/index.ts";
// A run through a warm worker needs only the modules' light faces, so that it connects without loading the in-process
// heartbeat, the VM or the engine's code (docs/worker.md); those load below when a run needs them.
import { buildRunRequest, requestCwd, parseJsonText, parseRunRequest, readRequestText, EventSink, runView, superviseRun, DEMO_PROMPT, prepareDemo, type RunRequestInput } from "../src/heartbeat/light.ts";
import { permissionHelp } from "../src/caps/index.ts";
import { commandData } from "./_argv.ts";
import { loadConfig, withConfigPreset } from "../src/config/index.ts";
import { chooseEngine } from "../src/rivet/light.ts";
import { tryRunViaWorker } from "../src/worker/light.ts";

const REQUEST_BLOCKS: HelpBlock[] = [
  {
    title: "REQUEST",
    paragraphs: ["JSON on stdin with --input -, or in a file. Flags win over its fields; what both leave out comes from Paperclip's env, then the config files (paperclip-aos config show)."],
    verbatim: [
      `{"runId", "agent": ${AGENTS.map((a) => `"${a}"`).join("|")}, "agentId", "taskKey",`,
      ` "cwd", "prompt", "session": {sessionId, cwd, ...}|null, "model",`,
      ` "capabilities": {policy}|"preset", "snapshot", "env": {NAME: value},`,
      ` "timeoutSec", "graceSec", "wakeReason", "record"}`,
    ],
    rows: [
      ["Env fallbacks", "PAPERCLIP_RUN_ID, PAPERCLIP_AGENT_ID, PAPERCLIP_TASK_ID, PAPERCLIP_WAKE_REASON, PAPERCLIP_WORKSPACE_CWD, PAPERCLIP_AOS_MODEL. Wake reasons issue_assigned and execution_*_requested start fresh."],
    ],
  },
  {
    title: "OUTPUT",
    rows: [
      ["OUTPUT", "NDJSON on stdout, one event per line: init, assistant, thinking, tool_call, tool_result, permission, usage, service, system, and last one result (maps onto Paperclip's AdapterExecutionResult). On a terminal a readable transcript instead (--json forces NDJSON); with stdout redirected and stderr a terminal, progress on stderr."],
      ["RESULT", "Once the request is complete (readable, valid, a prompt of at most 1 MiB), exactly one result line ends every run, failures included. A request refused before that prints no events: one error line on stderr (with --json an {\"error\"} document on stdout), exit 2."],
      ["MODELS", 'anthropic/MODEL (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL) · openai/MODEL (OPENAI_API_KEY, OPENAI_BASE_URL) · scripted:FILE ({"steps":[{"text"}|{"tool","input"}|{"error":{"status","message"}}]}; tools by Pi\'s names on every agent: bash, read, write, edit; a model request past the last step fails the run: script_exhausted; docs/gateway.md). Keys stay on the host.'],
    ],
  },
  {
    title: "ENGINE",
    paragraphs: [
      "With --engine URL (or PAPERCLIP_AOS_ENGINE, or 'engine' in the user config) the heartbeat runs in its session's actor on a Rivet engine, on whichever worker (paperclip-aos worker --engine URL) holds it; the same request, the same NDJSON, the same exit codes. The session lives in the actor, so the next heartbeat may run on another worker.",
    ],
    rows: [
      ["Paths", "cwd and a scripted model's file are read on the worker: the workspace must be at the same path there (shared storage). --record, --keep-changes and --commit-snapshot are refused."],
      ["Token", "PAPERCLIP_AOS_ENGINE_TOKEN in the environment (never a flag): the engine's shared token, the same as its workers'. Missing or too short: exit 2 (missing_engine_token / weak_engine_token) before anything is sent; wrong: the actor refuses, exit 2 (engine_unauthorized), no line printed."],
      ["Secrets", "Provider keys are the worker's. Nothing secret is sent: a secret-looking name in the request's env, or one the policy passes by an exact --allow-env rule, is exit 2."],
      ["Failures", "A worker that dies mid-run: result errorCode runner_lost (exit 1) within about a minute, the session kept. An engine that stops answering: engine_unreachable (exit 1). rivetkit not installed: exit 3 (paperclip-aos engine install)."],
    ],
  },
];

export default withHelp(
  defineCommand({
    meta: {
      name: "run",
      description:
        "Run one Paperclip heartbeat through agentOS: boot a VM with the workspace at /workspace, open or resume the agent's session, " +
        "send the prompt, stream the transcript as NDJSON on stdout and end with one result line.",
    },
    args: {
      ...globalArgs,
      // The whole heartbeat is timed, VM boot included: Paperclip's timeoutSec is a budget for the run, not the model.
      timeout: { ...timeoutArgs.timeout, description: "Stop the heartbeat after SECONDS, counted from the start (VM boot included); exit 124 with timedOut" },
      ...workerArgs,
      engine: {
        type: "string",
        valueHint: "URL|off",
        description: "Run the heartbeat in its session's actor on the Rivet engine at URL (workers: paperclip-aos worker --engine URL); 'off' runs here (env PAPERCLIP_AOS_ENGINE, user config 'engine')",
      },
      input: { type: "string", valueHint: "FILE|-", description: "Read the run request (JSON) from FILE, or stdin with -" },
      prompt: { type: "string", valueHint: "TEXT", description: "The prompt" },
      agent: { type: "enum", options: [...AGENTS], description: "The coding agent (default pi)" },
      "agent-id": { type: "string", valueHint: "ID", description: "Paperclip agent id: sessions are kept per (agent id, task key)" },
      "task-key": { type: "string", valueHint: "KEY", description: "Paperclip task key (default __heartbeat__)" },
      session: { type: "string", valueHint: "JSON|ID", description: "The previous run's sessionParams (JSON) or a session id, to resume" },
      model: { type: "string", valueHint: "SPEC", description: "anthropic/MODEL, openai/MODEL or scripted:FILE (default anthropic/claude-sonnet-4-5)" },
      grace: { type: "string", valueHint: "SECONDS", description: "After SIGTERM/SIGINT, exit within SECONDS (default 15)" },
      record: { type: "string", valueHint: "FILE", description: "Append every model request the agent made to FILE (secrets redacted)" },
      ...snapshotArgs,
      demo: { type: "boolean", description: "Run the bundled demo: a tiny project with a failing test, fixed by Pi on the built-in scripted model" },
    },
    async run({ args, data }) {
      const { permissionFlags } = commandData(data);
      let fromJson: RunRequestInput | undefined;
      if (args.input !== undefined) {
        const source = args.input === "-" ? "stdin" : args.input;
        const text = await readRequestText(args.input);
        fromJson = parseRunRequest(parseJsonText(text, source), source);
      }
      const fromFlags: Partial<RunRequestInput> = {
        prompt: args.prompt,
        agent: args.agent as RunRequestInput["agent"],
        agentId: args["agent-id"],
        taskKey: args["task-key"],
        model: args.model,
        timeoutSec: parseSeconds(args.timeout, "--timeout"),
        graceSec: args.grace === undefined ? undefined : parseSeconds(args.grace, "--grace"),
        record: args.record,
        snapshot: args.snapshot,
        keepChanges: args["keep-changes"],
        commitSnapshot: args["commit-snapshot"],
        session: parseSessionFlag(args.session),
      };
      if (args.demo) {
        const demo = await prepareDemo();
        Object.assign(fromFlags, {
          prompt: fromFlags.prompt ?? DEMO_PROMPT,
          cwd: demo.workspace,
          model: fromFlags.model ?? `scripted:${demo.scriptFile}`,
          taskKey: fromFlags.taskKey ?? "demo",
          wakeReason: "issue_assigned", // a demo always starts a fresh session
        });
      }
      const config = loadConfig({ cwd: requestCwd(fromJson, fromFlags, process.env, process.cwd()) }).values;
      const req = buildRunRequest(fromJson, fromFlags, process.env, process.cwd(), config);
      const flags = withConfigPreset(permissionFlags, config.preset, req.capabilities != null || req.preset !== undefined);

      // A terminal gets the readable transcript, a pipe NDJSON (with progress on stderr when that is a terminal);
      // --json forces NDJSON (src/heartbeat/terminal.ts).
      const view = runView({ json: args.json, quiet: args.quiet, starting: `starting ${req.agent} in agentOS` });
      let sink: EventSink;
      const supervisor = superviseRun({ sink: () => sink, timeoutSec: req.timeoutSec, graceSec: req.graceSec });
      sink = view.ndjson ? EventSink.stdout(() => supervisor.halt("stdout_closed")) : new EventSink(null);
      view.attach(sink);

      try {
        // On an engine the session's actor runs the heartbeat on some worker; the same lines come back through the sink.
        const engine = chooseEngine(args.engine, process.env, config.engine);
        // Missing engine parts (exit 3) are said before a missing token (exit 2): the token is useless without them.
        if (engine) {
          const { engineToken, requireRivet, runViaEngine } = await import("../src/rivet/index.ts");
          requireRivet();
          return await runViaEngine({ engine, token: engineToken(process.env, `run with ${engine.from}`), request: req, permissionFlags: flags, debug: args.debug, sink, stop: supervisor.signal });
        }
        // A warm worker (paperclip-aos serve) runs the same heartbeat faster; its events come through the same sink.
        const viaWorker = await tryRunViaWorker(args.worker, { request: req, permissionFlags: flags, debug: args.debug, sink, stop: supervisor.signal });
        if (viaWorker !== undefined) return viaWorker;
        const { runHeartbeat, requestSandbox, bindHostTools } = await import("../src/heartbeat/index.ts");
        const result = await runHeartbeat(req, {
          sink,
          stop: supervisor.signal,
          debug: args.debug,
          sandbox: requestSandbox(req, flags, process.env),
          tools: bindHostTools,
        });
        return result.exitCode;
      } finally {
        view.stop();
        supervisor.dispose();
      }
    },
  }),
  {
    exitCodes: [["0", "the heartbeat succeeded"], ["1", "the runtime or the agent failed (the result line says why: errorCode)"], ["2", "invalid input or policy (no events printed)"], ["3", "--engine: the Rivet engine parts are not installed"], ["124", "--timeout passed (result timedOut)"], ["130/143", "interrupted by SIGINT (Ctrl-C) / SIGTERM"]],
    permissionFlags: true,
    examples: [
      ["paperclip-aos run --demo", "a real heartbeat on the bundled example, no key needed"],
      ["paperclip-aos run --prompt 'fix the failing test' --model scripted:./script.json", "a heartbeat in the current directory on a scripted model"],
      ["paperclip-aos run --input - < request.json", "how Paperclip's adapter calls it"],
      ["paperclip-aos run --prompt 'go on' --task-key PAP-12 --allow-net=api.github.com", "resume task PAP-12's session with one more host allowed"],
      ["paperclip-aos run --worker off --prompt 'fix it'", "run in this process even when a worker (paperclip-aos serve) is up"],
      ["PAPERCLIP_AOS_ENGINE_TOKEN=$TOKEN paperclip-aos run --engine http://127.0.0.1:6420 --input - < request.json", "run it on a Rivet engine's workers (paperclip-aos worker --engine URL, same token); same NDJSON, same exit codes"],
    ],
    blocks: () => [...REQUEST_BLOCKS, permissionHelp()],
  },
);

function parseSessionFlag(value: string | undefined): RunRequestInput["session"] {
  if (value === undefined) return undefined;
  if (value.trim().startsWith("{")) {
    const parsed = parseRunRequest({ session: parseJsonText(value, "--session") }, "--session");
    return parsed.session;
  }
  if (!value.trim()) throw usageError("--session needs a session id or the previous run's sessionParams JSON");
  return { sessionId: value.trim() };
}
