import { mkdir } from "node:fs/promises";
import { startGateway, piConfigFiles, openCodeConfigFiles, paperclipErrorFamily, readableFailure, type Gateway, type AgentConfigFile } from "../gateway/index.ts";
import { bootVm, GUEST_HOME, GUEST_WORKSPACE, checkWorkspaceDir, type VmHandle, type BootOptions } from "../runtime/index.ts";
import { PROTOCOL, type ResultEvent, type RuntimeService, type SessionParams, type ResumeMode } from "../protocol/index.ts";
import { AosError, errorMessage, firstLine, isAosError } from "../errors.ts";
import { describeFinish, openSnapshotFor, shortId, type SnapshotRoot } from "../snapshot/index.ts";
import { problemLine, withoutGatewayEnv, type CompiledSandbox } from "../caps/index.ts";
import { planVm } from "../plan/index.ts";
import { buildInfo } from "../version.ts";
import { logger } from "../log.ts";
import { AcpMapper, textOf } from "./acp.ts";
import type { EventSink } from "./events.ts";
import { paperclipInstructions, piExtensionSource } from "./instructions.ts";
import type { RunRequest } from "./request.ts";
import { resultEvent, stopOutcome, type StopReason } from "./result.ts";
import { decideSession, locateSlot, SessionSlot, setStoredSessionEnv, storedSessionExists } from "./sessions.ts";
import { recordPrompt, replayPreamble } from "./transcript.ts";

/** Host tools and their gate, provided by src/tools (kept abstract so a heartbeat works without them). */
export interface HostToolsBinding {
  hostFunctions?: BootOptions["hostFunctions"];
  /** One line per tool the policy allows, for the agent's instructions. */
  allowedTools: string[];
  attachVm: (vm: VmHandle["vm"]) => void;
  /** The listeners the agent started, as Paperclip runtime services. */
  services: () => Promise<RuntimeService[]>;
  /** Drop per-run scratch state (the workspace baseline) once the heartbeat is over. */
  close: () => Promise<void>;
}

export interface HeartbeatOptions {
  sink: EventSink;
  /** Compile the capability policy once the gateway port is known (it is the one loopback port the agent needs). */
  sandbox: (gatewayPort: number) => Promise<CompiledSandbox>;
  tools?: (sandbox: CompiledSandbox, ctx: { workspaceDir: string; runId: string; sink: EventSink }) => Promise<HostToolsBinding>;
  /** Aborted by the caller on a signal, a broken stdout or a dead parent; the reason is a StopReason. */
  stop: AbortSignal;
  debug?: boolean;
  /** Boot the VM on this long-lived sidecar instead of one of its own (the worker's, src/worker). */
  sidecar?: BootOptions["sidecar"];
  /** Where the gateway reads provider keys and base URLs (default process.env; the worker passes its client's). */
  hostEnv?: Record<string, string | undefined>;
}

const SUMMARY_MAX = 4000;
/** A workspace_change event lists at most this many files (a line stays under the 8 KB limit either way). */
const MAX_CHANGED_FILES = 60;

/**
 * One heartbeat: gateway → VM → session (open or resume) → prompt → events → result. Always ends with exactly one
 * `result` event (also on errors, timeouts and signals); the session is saved before the VM is torn down.
 */
export async function runHeartbeat(req: RunRequest, opts: HeartbeatOptions): Promise<ResultEvent> {
  const started = performance.now();
  const { sink } = opts;
  let gateway: Gateway | undefined;
  let handle: VmHandle | undefined;
  let unlock: (() => Promise<void>) | undefined;
  let sessionParams: SessionParams | null = null;
  let mapper: AcpMapper | undefined;
  let services: RuntimeService[] = [];
  let usageTimer: ReturnType<typeof setInterval> | undefined;
  let tools: HostToolsBinding | undefined;
  let snap: SnapshotRoot | undefined;
  let slot = new SessionSlot(req.agentId, req.taskKey);
  const phases: Record<string, number> = {};
  let mark = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = Math.round(now - mark);
    mark = now;
  };

  const finish = (f: Parameters<typeof resultEvent>[0]): ResultEvent => {
    const usage = gateway?.usage();
    return sink.emit<ResultEvent>(
      resultEvent({
        ...(usage ? { usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedInputTokens: usage.cachedInputTokens }, ...billed(gateway!, usage.costUsd) } : {}),
        ...(gateway ? { provider: gateway.provider, biller: gateway.biller, model: gateway.model, billingType: gateway.billingType } : { model: req.model }),
        sessionParams,
        sessionDisplayId: sessionParams?.sessionId ?? null,
        runtimeServices: services,
        durationMs: Math.round(performance.now() - started),
        ...f,
        // A failed run's summary (Paperclip's issue comment) is its readable error, not the agent's last words.
        summary: (f.summary ?? (f.exitCode !== 0 && f.errorMessage ? f.errorMessage : mapper?.lastAssistantText) ?? "").slice(0, SUMMARY_MAX),
      }),
    );
  };

  try {
    // A snapshot run gets the snapshot's tree at /workspace (an overlay whose writes are discarded, exported or
    // committed at the end) instead of the host directory.
    snap = await openSnapshotFor(req.snapshot, { keepChanges: req.keepChanges, commitName: req.commitSnapshot });
    slot = await locateSlot(req.agentId, req.taskKey, req.session?.sessionId);
    const workspaceDir = snap ? req.cwd : await checkWorkspaceDir(req.cwd);
    await mkdir(slot.dir, { recursive: true });
    unlock = await slot.lock(req.runId);

    gateway = await startGateway({ model: req.model, recordFile: req.record, ...(opts.hostEnv ? { env: opts.hostEnv } : {}) });
    phase("gateway");
    const sandbox = await opts.sandbox(gateway.port);
    phase("policy");

    const stored = await slot.load();
    const decision = decideSession(req, stored, stored ? await sessionResumable(slot, req.agent, stored.sessionId) : false);
    const resumeNote = decision.note;
    let sessionId = decision.resume;
    const resuming = sessionId !== undefined;
    if (!resuming) sessionId = await slot.reset();
    const sid = sessionId!;
    const resumeMode: ResumeMode = !resuming ? "fresh" : req.agent === "pi" ? "agentos-fallback" : "transcript-replay";
    // OpenCode's agentOS session cannot be restored across processes: each heartbeat gets its own agentOS session.
    const acpSessionId = req.agent === "opencode" ? `${sid}.${(stored?.runs ?? 0) + 1}` : sid;

    // Provider keys and the gateway's settings stay on the host, even when the request names them (caps/env.ts).
    const guestEnv = { ...sandbox.guestEnv, ...withoutGatewayEnv(req.env), HOME: GUEST_HOME };
    if (resuming && req.agent === "pi") setStoredSessionEnv(slot.databasePath, sid, guestEnv);

    // The typed tools work on the host workspace; a snapshot run has none, so it gets no tools.
    tools = opts.tools && !snap ? await opts.tools(sandbox, { workspaceDir, runId: req.runId, sink }) : undefined;
    const plan = planVm({
      sandbox,
      ...(snap ? { snapshot: snap } : { workspaceDir }),
      hostFunctions: tools?.hostFunctions,
      software: [req.agent],
      databasePath: slot.databasePath,
      env: req.env,
      debug: opts.debug,
    });
    handle = await bootVm({ ...plan.boot, sidecar: opts.sidecar });
    const vm = handle.vm;
    tools?.attachVm(vm);
    phase("boot");

    const instructions = paperclipInstructions({ runId: req.runId, tools: tools?.allowedTools ?? [], policySummary: sandbox.summary });
    const endpoint = { url: gateway.url, token: gateway.token, provider: gateway.provider, model: gateway.model };
    const files: AgentConfigFile[] =
      req.agent === "pi"
        ? [...piConfigFiles(endpoint), { path: ".pi/agent/extensions/paperclip.js", content: piExtensionSource(instructions) }]
        : [...openCodeConfigFiles(endpoint), { path: ".config/opencode/AGENTS.md", content: `${instructions}\n` }];
    for (const f of files) {
      const path = `${GUEST_HOME}/${f.path}`;
      await vm.filesystem.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await vm.filesystem.writeFile(path, f.content);
    }

    sessionParams = {
      sessionId: sid,
      cwd: req.cwd,
      agent: req.agent,
      agentId: req.agentId,
      taskKey: slot.taskKey,
      runtime: "agentos",
      snapshot: snap?.record.id ?? null,
    };
    sink.emit({
      type: "init",
      protocol: PROTOCOL,
      version: buildInfo().version,
      runId: req.runId,
      runtime: "agentos",
      agent: req.agent,
      sessionId: sid,
      resumed: resuming,
      resumeMode,
      model: gateway.model,
      provider: gateway.provider,
      cwd: req.cwd,
      snapshot: snap?.record.id ?? null,
      capabilities: sandbox.effective,
    });
    if (resumeNote) sink.emit({ type: "system", level: "warn", code: "session_fresh", text: resumeNote });
    for (const w of sandbox.compiled.warnings) sink.emit({ type: "system", level: "warn", code: "policy_warning", text: problemLine(w) });

    if (!(resuming && req.agent === "pi")) {
      await vm.sessions.open({ sessionId: acpSessionId, agent: req.agent, cwd: GUEST_WORKSPACE, env: guestEnv });
    }
    phase("session");
    let promptText = req.prompt;
    if (resuming && req.agent === "opencode") promptText = `${(await replayPreamble(slot.transcriptPath)) ?? ""}${req.prompt}`;
    await recordPrompt(slot.transcriptPath, req.runId, req.prompt);
    sink.tee(slot.transcriptPath);

    // Pi reports a failed model call as its answer (`529 {"type":"error",...}`): shown as the readable error instead.
    mapper = new AcpMapper(sink, (text) => {
      const e = gateway!.lastError();
      return e && (text.includes('"type":"error"') || text.trim().startsWith(`${e.status ?? "-"} `)) ? readableFailure(e) : null;
    });
    const off = vm.onSessionEvent(acpSessionId, (e: unknown) => mapper!.handle(e));
    // Running per-run totals, emitted when they change (polled: the gateway meters on its own schedule).
    let lastUsage = "";
    const emitUsage = () => {
      const u = gateway!.usage();
      const key = `${u.inputTokens}/${u.outputTokens}/${u.cachedInputTokens}`;
      if (key === lastUsage || u.inputTokens + u.outputTokens === 0) return;
      lastUsage = key;
      sink.emit({ type: "usage", inputTokens: u.inputTokens, outputTokens: u.outputTokens, cachedInputTokens: u.cachedInputTokens, costUsd: billed(gateway!, u.costUsd).costUsd, basis: "per_run" });
    };
    usageTimer = setInterval(emitUsage, 250);

    const prompt = vm.sessions.prompt({ sessionId: acpSessionId, idempotencyKey: req.runId, content: [{ type: "text", text: promptText }] });
    const stopped = new Promise<StopReason>((resolve) => {
      if (opts.stop.aborted) resolve(opts.stop.reason as StopReason);
      opts.stop.addEventListener("abort", () => resolve(opts.stop.reason as StopReason), { once: true });
    });
    const outcome = await Promise.race([prompt.then((r) => ({ kind: "done" as const, r })), stopped.then((reason) => ({ kind: "stopped" as const, reason }))]);
    if (outcome.kind === "stopped") {
      // Ask the agent to stop; whatever it finished is already durable in the session database.
      await Promise.race([vm.sessions.cancelPrompt({ sessionId: acpSessionId }).catch(() => {}), Bun.sleep(1500)]);
      prompt.catch(() => {});
    }
    if (outcome.kind === "done") {
      // The durable final message can trail the prompt's resolution on a loaded machine: give it a moment, then
      // fall back to the prompt result's own text so the transcript and the summary never miss the answer.
      const finalText = textOf(outcome.r.message?.content);
      for (let i = 0; i < 20 && finalText && mapper.lastAssistantText !== finalText; i++) await Bun.sleep(25);
      if (finalText && mapper.lastAssistantText !== finalText) mapper.finalMessage(finalText);
    }
    off();
    clearInterval(usageTimer);
    phase("prompt");
    logger.debug(`heartbeat phases (ms): ${JSON.stringify(phases)}`);
    await saveSession(slot, sessionParams, req.runId, stored);
    if (snap) {
      const r = await snap.finish({ command: `run ${req.runId}` });
      const changed = [
        ...r.changes.added.filter((c) => c.type !== "dir").map((c) => ({ path: c.path, operation: "create" as const })),
        ...r.changes.modified.filter((c) => c.type !== "dir").map((c) => ({ path: c.path, operation: "modify" as const })),
        ...r.changes.deleted.filter((c) => c.type !== "dir").map((c) => ({ path: c.path, operation: "delete" as const })),
      ];
      if (changed.length) sink.emit({ type: "workspace_change", changeSetId: `${req.runId}:${snap.record.id}`, files: changed.slice(0, MAX_CHANGED_FILES), complete: changed.length <= MAX_CHANGED_FILES });
      sink.emit({ type: "system", code: "snapshot_changes", text: `snapshot ${shortId(snap.record.id)}: ${describeFinish(r)}` });
    }
    if (tools) {
      services = await tools.services().catch(() => []);
      for (const svc of services) sink.emit({ type: "service", ...svc });
    }
    emitUsage();
    // What the gateway noticed: a model missing from the price table, a scripted tool the agent does not offer.
    for (const text of gateway.notes) sink.emit({ type: "system", level: "info", code: "gateway_note", text });

    if (outcome.kind === "stopped") return finish(stopOutcome(outcome.reason, req.timeoutSec));
    const gwError = gateway.lastError();
    if (gwError) {
      return finish({
        subtype: "error",
        exitCode: 1,
        errorCode: gwError.errorCode,
        errorMessage: readableFailure(gwError),
        ...(paperclipErrorFamily(gwError) ? { errorFamily: paperclipErrorFamily(gwError) } : {}),
        ...(gwError.retryNotBefore ? { retryNotBefore: gwError.retryNotBefore } : {}),
      });
    }
    const stop = outcome.r.stopReason;
    if (stop === "refusal") return finish({ subtype: "error", exitCode: 1, errorCode: "model_refusal", errorFamily: "model_refusal", errorMessage: "the model refused to answer" });
    if (stop === "max_tokens") sink.emit({ type: "system", level: "warn", code: "max_tokens", text: "the model stopped at its output token limit" });
    return finish({ subtype: "success", exitCode: 0 });
  } catch (e) {
    if (usageTimer) clearInterval(usageTimer);
    const err = classify(e);
    if (sessionParams && handle) await saveSession(slot, sessionParams, req.runId, await slot.load()).catch(() => {});
    return finish({
      subtype: err.exitCode === 2 ? "config_invalid" : "error",
      exitCode: err.exitCode,
      errorCode: err.code,
      errorMessage: err.hint ? `${err.message} (${err.hint})` : err.message,
    });
  } finally {
    await handle?.close();
    if (sessionParams) setStoredSessionEnv(slot.databasePath, sessionParams.sessionId, { HOME: GUEST_HOME });
    await gateway?.close().catch(() => {});
    await tools?.close().catch(() => {});
    snap?.close();
    await unlock?.().catch(() => {});
  }
}

/** Pi resumes from agentOS's own event log; OpenCode from our transcript (its agentOS session is per heartbeat). */
async function sessionResumable(slot: SessionSlot, agent: RunRequest["agent"], sessionId: string): Promise<boolean> {
  return agent === "pi" ? storedSessionExists(slot.databasePath, sessionId) : Bun.file(slot.transcriptPath).exists();
}

async function saveSession(slot: SessionSlot, p: SessionParams, runId: string, stored: Awaited<ReturnType<SessionSlot["load"]>>): Promise<void> {
  const now = new Date().toISOString();
  const same = stored?.sessionId === p.sessionId;
  await slot.save({
    sessionId: p.sessionId,
    agent: p.agent,
    agentId: p.agentId,
    taskKey: p.taskKey,
    cwd: p.cwd,
    snapshot: p.snapshot ?? null,
    createdAt: same ? stored!.createdAt : now,
    updatedAt: now,
    runs: (same ? stored!.runs : 0) + 1,
    lastRunId: runId,
  });
}

/** A sidecar that died mid-run surfaces as a rejected promise mentioning the process; name it for Paperclip. */
function classify(e: unknown): AosError {
  if (isAosError(e)) return e;
  const msg = errorMessage(e);
  if (msg.includes("ERR_AGENTOS_RESOURCE_LIMIT")) {
    // e.g. Pi's bash tool re-sends its whole output on every chunk, so ~100 KB of streamed output fills the 256 MB turn buffer.
    return new AosError(`the agent hit an agentOS limit: ${firstLine(e)}`, { code: "runtime_limit", exitCode: 1, cause: e });
  }
  if (/sidecar|SidecarProcessExited|disconnect|process exited/i.test(msg)) {
    return new AosError(`the agentOS runtime crashed: ${firstLine(e)}`, { code: "runtime_crashed", exitCode: 1, cause: e });
  }
  return new AosError(firstLine(e), { code: "agent_failed", exitCode: 1, cause: e });
}

const PROVIDER_KEYS = /^(ANTHROPIC|OPENAI|OPENROUTER|GEMINI|GOOGLE|MISTRAL|GROQ|XAI|DEEPSEEK)_(API_KEY|AUTH_TOKEN|KEY)$/;
/** Provider keys out of our environment, which a sidecar inherits when it spawns (the worker calls it before its first). */
export function scrubProviderKeys(): void {
  for (const k of Object.keys(process.env)) if (PROVIDER_KEYS.test(k)) delete process.env[k];
}

/** The scripted model bills nothing: costUsd 0, and what its tokens would have cost as notionalCostUsd. */
function billed(gateway: Gateway, costUsd: number): { costUsd: number; notionalCostUsd?: number } {
  return gateway.provider === "scripted" ? { costUsd: 0, notionalCostUsd: round6(costUsd) } : { costUsd: round6(costUsd) };
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
