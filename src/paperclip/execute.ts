import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import type { AdapterExecutionContext, AdapterExecutionResult } from "@paperclipai/adapter-utils";
import type { ResultEvent } from "../protocol/index.ts";
import { hostPromptHelpers } from "./host.ts";
import { reapGroup, lines, signalGroup, spawnGroup } from "./process.ts";
import { ADAPTER_TYPE, buildRequest, inheritedEnv, runArgs } from "./request.ts";
import { toExecutionResult } from "./result.ts";

export interface ExecuteOptions {
  /** The paperclip-aos command: [binary] or [bun, cli.ts] (written into the package by `paperclip install`). */
  command: string[];
}

const SECRET_NAME = /key|token|secret|password|passwd|authorization|cookie/i;
/** After Paperclip's cancel, how long the run gets to write its result before the whole group is killed. */
const CANCEL_GRACE_MS = 20_000;

/**
 * One heartbeat: Paperclip's context → `paperclip-aos run --input -` (the request on stdin, never in argv; with
 * `--engine URL` when adapterConfig.engineUrl is set, and the heartbeat then runs on a worker of that engine) → every
 * stdout line through onLog → the final `result` line mapped onto AdapterExecutionResult. Cancellation is signal
 * based: opted into with onCancellationReady, a cancel TERMs the run's process group (the run cancels the prompt,
 * saves the session, writes a `cancelled` result), and the acknowledgement Paperclip verifies is reported only
 * once no process of the group is left.
 */
export async function execute(ctx: AdapterExecutionContext, opts: ExecuteOptions): Promise<AdapterExecutionResult> {
  const fail = (message: string, errorCode: string): AdapterExecutionResult => ({
    exitCode: null,
    signal: null,
    timedOut: false,
    errorMessage: message,
    errorCode,
    summary: message,
    resultJson: { summary: message },
  });

  let built;
  try {
    const { helpers, source } = await hostPromptHelpers();
    const instructions = await readInstructions(ctx);
    built = buildRequest(ctx, helpers, instructions.text);
    if (instructions.note) built.notes.push(instructions.note);
    if (source === "built-in") built.notes.push("Paperclip's prompt helpers were not found next to the server: a minimal prompt was used");
  } catch (e) {
    return fail((e as Error).message, "config_invalid");
  }
  const { request, env } = built;
  const args = runArgs(built);
  await ctx.onMeta?.({
    adapterType: ADAPTER_TYPE,
    command: opts.command[0] ?? "paperclip-aos",
    commandArgs: [...opts.command.slice(1), ...args],
    cwd: request.cwd,
    commandNotes: built.notes,
    env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, SECRET_NAME.test(k) ? "***REDACTED***" : v])),
    prompt: request.prompt,
    promptMetrics: built.promptMetrics,
  });

  await ctx.onCancellationReady?.();
  if (ctx.signal?.aborted) {
    return toExecutionResult(null, { exitCode: null, signal: null, cancelled: true, stopVerified: true, stderrHead: "" });
  }

  let child;
  try {
    child = spawnGroup(opts.command, args, { cwd: request.cwd, env: { ...inheritedEnv(process.env), ...env } });
  } catch (e) {
    return fail(`could not start paperclip-aos (${opts.command[0]}): ${(e as Error).message}`, "spawn_failed");
  }
  const { proc, pid } = child;
  if (pid > 0) await ctx.onSpawn?.({ pid, processGroupId: pid, startedAt: new Date().toISOString() });

  // onLog is async; keep the lines in order.
  let logged: Promise<void> = Promise.resolve();
  const log = (stream: "stdout" | "stderr", chunk: string) => {
    logged = logged.then(() => ctx.onLog(stream, chunk)).catch(() => {});
  };
  let result: ResultEvent | null = null;
  let stderrHead = "";
  let toolCalls = 0;
  lines(proc.stdout!, (line) => {
    if (!line.trim()) return;
    log("stdout", `${line}\n`);
    if (line.startsWith('{"type":"tool_call"')) toolCalls++;
    if (line.includes('"type":"result"')) {
      try {
        const e = JSON.parse(line) as ResultEvent;
        if (e.type === "result") result = e;
      } catch {
        // not ours; still logged
      }
    }
  });
  lines(proc.stderr!, (line) => {
    if (stderrHead.length < 2000 && line.trim()) stderrHead += `${stderrHead ? " | " : ""}${line.trim()}`;
    log("stderr", `${line}\n`);
  });
  proc.stdin!.on("error", () => {}); // a run that exits before reading its input reports that itself
  proc.stdin!.end(`${JSON.stringify(request)}\n`);

  let cancelled = false;
  let killedForTimeout = false;
  const timers: ReturnType<typeof setTimeout>[] = [];
  const onAbort = () => {
    cancelled = true;
    signalGroup(pid, "SIGTERM");
    timers.push(setTimeout(() => signalGroup(pid, "SIGKILL"), CANCEL_GRACE_MS));
  };
  if (ctx.signal?.aborted) onAbort();
  else ctx.signal?.addEventListener("abort", onAbort, { once: true });
  // A safety net only: the run's own --timeout ends it first, with a result.
  if (request.timeoutSec) {
    const ms = (request.timeoutSec + (request.graceSec ?? 15) + 60) * 1000;
    timers.push(setTimeout(() => ((killedForTimeout = true), signalGroup(pid, "SIGKILL")), ms));
  }

  let end: { exitCode: number | null; signal: string | null };
  try {
    end = await child.done;
  } catch (e) {
    for (const t of timers) clearTimeout(t);
    ctx.signal?.removeEventListener("abort", onAbort);
    return fail(`could not start paperclip-aos (${opts.command[0]}): ${(e as Error).message}`, "spawn_failed");
  }
  for (const t of timers) clearTimeout(t);
  ctx.signal?.removeEventListener("abort", onAbort);
  const stopVerified = await reapGroup(pid);
  await logged;
  return toExecutionResult(result, { ...end, cancelled, stopVerified, stderrHead: stderrHead.slice(0, 500), killedForTimeout, toolCalls });
}

/** The agent's instructions file (Paperclip's instructions bundle), relative to the workspace when not absolute. */
async function readInstructions(ctx: AdapterExecutionContext): Promise<{ text: string | null; note?: string }> {
  const path = typeof ctx.config.instructionsFilePath === "string" ? ctx.config.instructionsFilePath.trim() : "";
  if (!path) return { text: null };
  const cwd = (ctx.context.paperclipWorkspace as { cwd?: string } | undefined)?.cwd ?? process.cwd();
  const file = isAbsolute(path) ? path : resolve(cwd, path);
  try {
    return { text: await readFile(file, "utf8"), note: `instructions from ${file}` };
  } catch (e) {
    return { text: null, note: `could not read the instructions file ${file} (${(e as Error).message}): continuing without it` };
  }
}
