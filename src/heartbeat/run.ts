import { mkdir } from "node:fs/promises";
import { paperclipErrorFamily, parseModelSpec, readableFailure, startGateway, type Gateway } from "../gateway/index.ts";
import { afterVmReleased, bootVm, vmReleased, checkWorkspaceDir, GUEST_HOME, GUEST_WORKSPACE, MemoryDirVfs, pidRunning, type BootOptions, type VmHandle } from "../runtime/index.ts";
import { PROTOCOL, type ResultEvent, type RuntimeService, type SessionParams } from "../protocol/index.ts";
import { AosError, errorMessage, firstLine, isAosError } from "../errors.ts";
import { describeFinish, openSnapshotFor, shortId, type SnapshotRoot } from "../snapshot/index.ts";
import { grantsEveryHost, problemLine, withoutGatewayEnv, type CompiledSandbox } from "../caps/index.ts";
import { planVm, workspaceLimits } from "../plan/index.ts";
import {
  checkModel, driverFor, paperclipInstructions, recordPrompt, resumeStep, scrubSessionEnv, sessionOpenConfigIn, sessionResumable,
  type AgentConfigFile, type AgentDriver, type ResumeStep,
} from "../agents/index.ts";
import { Teardown } from "../teardown.ts";
import { buildInfo } from "../version.ts";
import { logger } from "../log.ts";
import { AcpMapper, textOf } from "./acp.ts";
import type { EventSink } from "./events.ts";
import type { RunRequest } from "./request.ts";
import type { ClaimedSession, NextSession, SpareNeed, SpareVm, WarmStart } from "./warm.ts";
import { resultEvent, stopOutcome, type StopReason } from "./result.ts";
import { decideSession, locateSlot, type SessionSlot, type StoredSession } from "./sessions.ts";

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
  /** That sidecar's pid: the session's lock names it, so a killed worker's lock is free only once its sidecar is gone too. */
  sidecarPid?: number | null;
  /** Where the gateway reads provider keys and base URLs (default process.env; the worker passes its client's). */
  hostEnv?: Record<string, string | undefined>;
  /** The worker's long-lived gateway port and spare VMs (src/worker). */
  warm?: WarmStart;
  /** The session's slot when its caller keeps the session (the session actor, src/rivet); else the state dir's. */
  slot?: SessionSlot;
}

const SUMMARY_MAX = 4000;
/** A workspace_change event lists at most this many files (a line stays under the 8 KB limit either way). */
const MAX_CHANGED_FILES = 60;

/** What the steps of one heartbeat share; everything that opens registers its undo in `teardown`. */
interface Heartbeat {
  req: RunRequest;
  opts: HeartbeatOptions;
  driver: AgentDriver;
  teardown: Teardown;
  started: number;
  phases: Record<string, number>;
  mark: number;
  gateway?: Gateway;
  /** The run's compiled policy, once compiled (the gateway asks it whether the provider may reach the network). */
  sandbox?: CompiledSandbox;
  /** Set once the session exists: from then on it is saved, also when the run fails. */
  session?: { slot: SessionSlot; params: SessionParams; stored: StoredSession | null };
  /** Set once the turn ran: what the worker may prepare the session's next VM from (opts.warm.sessionDone). */
  next?: NextSession;
  mapper?: AcpMapper;
  /** Whether the run's sidecar still runs, once its VM is there (undefined: not known). */
  sidecarRunning?: () => boolean | undefined;
  services: RuntimeService[];
  /** The last usage totals emitted, so an unchanged poll emits nothing. */
  lastUsage: string;
}

/**
 * One heartbeat: model check → workspace → session lock → gateway → policy → session choice → host tools → VM plan →
 * boot → agent setup → session → prompt → result. Always ends with exactly one `result` event (also on errors,
 * timeouts and signals); the session is saved before the VM is torn down.
 */
export async function runHeartbeat(req: RunRequest, opts: HeartbeatOptions): Promise<ResultEvent> {
  const now = performance.now();
  const hb: Heartbeat = { req, opts, driver: driverFor(req.agent), teardown: new Teardown(), started: now, phases: {}, mark: now, services: [], lastUsage: "" };
  try {
    return await heartbeat(hb);
  } catch (e) {
    const err = classify(e, hb.sidecarRunning?.());
    if (hb.session) await saveSession(hb.session, req.runId).catch(() => {});
    return finish(hb, {
      subtype: err.exitCode === 2 ? "config_invalid" : "error",
      exitCode: err.exitCode,
      errorCode: err.code,
      errorMessage: err.hint ? `${err.message} (${err.hint})` : err.message,
    });
  } finally {
    await hb.teardown.close();
  }
}

async function heartbeat(hb: Heartbeat): Promise<ResultEvent> {
  const { req, opts, driver, teardown } = hb;
  const { sink } = opts;
  // A model the agent cannot use is refused before anything opens.
  checkModel(driver, parseModelSpec(req.model));

  // A snapshot run gets the snapshot's tree at /workspace (an overlay whose writes are discarded, exported or
  // committed at the end) instead of the host directory.
  const snap = await openSnapshotFor(req.snapshot, { keepChanges: req.keepChanges, commitName: req.commitSnapshot });
  if (snap) teardown.add("snapshot", () => snap.close());
  const workspaceDir = snap ? req.cwd : await checkWorkspaceDir(req.cwd);
  // Paperclip's keyless and handoff wakes name only a session id: it may be stored under another task key.
  const slot = opts.slot ?? (await locateSlot(req.agentId, req.taskKey, req.session?.sessionId));
  await mkdir(slot.dir, { recursive: true });
  // Registered before the lock, so it runs once the session is unlocked: the worker prepares the session's next VM.
  const sessionDone = opts.warm?.sessionDone;
  if (sessionDone) teardown.add("next VM", () => hb.next && sessionDone(hb.next));
  // A worker may have the session's next VM ready (booted on its database, the session open): the run claims it with
  // the session's lock, and it is the run's VM if the plan below is the one it was made for.
  const pids = opts.sidecarPid ? [opts.sidecarPid] : [];
  const claimed = opts.warm?.claimSession ? await opts.warm.claimSession(slot, req.runId, pids) : undefined;
  teardown.add("session lock", claimed ? () => claimed.unlock() : await slot.lock(req.runId, { pids }));
  if (claimed) teardown.add("prepared VM", () => claimed.discard());
  // The previous heartbeat of this session may have left its VM tearing down on a shared sidecar (the worker): its
  // database is ours only once that VM is gone (and its session env scrubbed).
  await vmReleased(slot.databasePath);

  // A worker's gateways all answer on its one port (opts.warm), so there the policy is compiled before the run's
  // gateway opens: a spare VM decides its token.
  if (!opts.warm) await openGateway(hb);
  const sandbox = (hb.sandbox = await opts.sandbox(opts.warm?.gatewayPort ?? hb.gateway!.port));
  phase(hb, "policy");

  // A fresh session starts on a new database: the prepared VM lets go of the old one first.
  const choice = await chooseSession(hb, slot, () => claimed?.discard());
  // The typed tools work on the host workspace; a snapshot run has none, so it gets no tools.
  const tools = opts.tools && !snap ? await opts.tools(sandbox, { workspaceDir, runId: req.runId, sink }) : undefined;
  // (Dropping the baseline, an rm of a git repository the size of the workspace, is not the client's wait in a worker.)
  if (tools) teardown.add("host tools", () => (opts.warm?.later ? opts.warm.later(tools.close()) : tools.close()));

  const plan = await planVm({
    sandbox,
    ...(snap ? { snapshot: snap } : { workspaceDir }),
    hostFunctions: tools?.hostFunctions,
    software: [req.agent],
    databasePath: slot.databasePath,
    // Provider keys and the gateway's settings stay on the host, even when the request names them (caps/env.ts).
    env: withoutGatewayEnv(req.env),
    debug: opts.debug,
    // A worker's spare or prepared VM has a quota of its own: the workspace is walked (du) only for a VM booted here.
    sizeWorkspace: !opts.warm,
  });
  const need: SpareNeed = { agent: req.agent, model: req.model, boot: plan.boot, databasePath: slot.databasePath };
  // A VM whose session opened ahead (on a stand-in workspace) never read the workspace's own agent config (Pi's
  // .pi/): such a run boots as without a worker, and no next VM is prepared for its session.
  const ownConfig = opts.warm && !snap ? await sessionOpenConfigIn(driver, workspaceDir) : undefined;
  if (ownConfig) logger.debug(`the workspace has ${ownConfig}: no VM opened ahead serves this run`);
  const warmFits = !snap && !ownConfig;
  const prepared = warmFits && choice.resuming ? await takePrepared(claimed, choice.sessionId, need) : undefined;
  // Never two live VMs on one database: a prepared VM the run does not take (a snapshot run, another session or
  // plan) is gone before the run boots its own.
  if (!prepared) await claimed?.discard();
  const spare = prepared ?? (warmFits && spareFits(driver, choice.resuming) ? await takeSpare(hb, need) : undefined);
  // A VM whose session was opened ahead (a prepared one, or a spare of an agent set up `ahead`) gives the run that
  // session; on any other VM the session opens below.
  const aheadSetup = driver.spare?.session === "ahead" ? driver.spare : undefined;
  const ahead = spare && aheadSetup;
  const sessionId = ahead ? spare!.sessionId : choice.sessionId;
  const gateway = hb.gateway ?? (await openGateway(hb, spare?.token));

  const instructions = paperclipInstructions({ runId: req.runId, tools: tools?.allowedTools ?? [], policySummary: sandbox.summary });
  const endpoint = { url: gateway.url, token: gateway.token, provider: gateway.provider, model: gateway.model };
  const setup = driver.setup({ endpoint, instructions });
  // The driver's env (e.g. Claude Code's ANTHROPIC_API_KEY, which is the run's gateway token) comes after the plan's.
  const guestEnv = { ...plan.guestEnv, ...setup.env, HOME: GUEST_HOME };
  const step = ahead
    ? { acpSessionId: sessionId, open: false, preamble: "" }
    : await resumeStep(driver, slot, { sessionId, resuming: choice.resuming, runs: choice.stored?.runs ?? 0, env: guestEnv });
  // Registered before the VM so that it runs after the VM is gone: the stored session env keeps no token or secret.
  teardown.add("session env", () => afterVmReleased(slot.databasePath, () => scrubSessionEnv(slot, step.acpSessionId)));

  const handle = spare
    ? await spare.attach({ workspaceDir, readOnly: plan.boot.workspaceReadOnly ?? false, hostFunctions: plan.boot.hostFunctions, runFile: ahead?.runFile({ env: guestEnv, instructions, endpoint }) })
    : await bootVm({ ...plan.boot, ...(plan.boot.limits || snap ? {} : { limits: await workspaceLimits(workspaceDir) }), sidecar: opts.sidecar, ...slot.vmStorage });
  // In a worker the VM's teardown goes on in the background on its shared sidecar, and whatever uses its database next
  // waits for it (vmReleased): the run does not wait (its VM's requests are refused from close on).
  teardown.add("vm", () => handle.close(opts.warm ? { graceMs: 0 } : undefined));
  // A worker's sidecar is shared: its process is the one the worker leased (opts.sidecarPid).
  hb.sidecarRunning = () => (opts.sidecarPid ? pidRunning(opts.sidecarPid) : handle.sidecarRunning());
  const vm = handle.vm;
  tools?.attachVm(vm);
  phase(hb, "boot");
  // An agent whose session is open already was configured when its VM was made.
  if (!ahead) await writeHomeFiles(vm, setup.files);
  // A spare has the agent's own directory already (src/worker/spares.ts).
  if (!spare && driver.guestDir) await handle.mountFiles(driver.guestDir.path, MemoryDirVfs.of(driver.guestDir.path, driver.guestDir.files));

  const params: SessionParams = {
    sessionId,
    cwd: req.cwd,
    agent: req.agent,
    agentId: req.agentId,
    taskKey: slot.taskKey,
    runtime: "agentos",
    snapshot: snap?.record.id ?? null,
  };
  hb.session = { slot, params, stored: choice.stored };
  sink.emit({
    type: "init",
    protocol: PROTOCOL,
    version: buildInfo().version,
    runId: req.runId,
    runtime: "agentos",
    agent: req.agent,
    sessionId,
    resumed: choice.resuming,
    resumeMode: choice.resuming ? driver.resume : "fresh",
    model: gateway.model,
    provider: gateway.provider,
    cwd: req.cwd,
    snapshot: snap?.record.id ?? null,
    capabilities: sandbox.effective,
  });
  if (choice.note) sink.emit({ type: "system", level: "warn", code: "session_fresh", text: choice.note });
  for (const w of sandbox.compiled.warnings) sink.emit({ type: "system", level: "warn", code: "policy_warning", text: problemLine(w) });

  if (step.open) {
    await vm.sessions.open({
      sessionId: step.acpSessionId,
      agent: driver.acpAgent,
      cwd: GUEST_WORKSPACE,
      env: guestEnv,
      ...(setup.additionalInstructions ? { additionalInstructions: setup.additionalInstructions } : {}),
    });
  }
  phase(hb, "session");
  await recordPrompt(slot.transcriptPath, req.runId, req.prompt);
  sink.tee(slot.transcriptPath);

  const outcome = await promptTurn(hb, vm, step, setup.promptPrefix ?? "");
  phase(hb, "prompt");
  logger.debug(`heartbeat phases (ms): ${JSON.stringify(hb.phases)}`);
  await saveSession(hb.session, req.runId);
  if (warmFits) hb.next = { slot, sessionId, need };
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
    hb.services = await tools.services().catch(() => []);
    for (const svc of hb.services) sink.emit({ type: "service", ...svc });
  }
  emitUsage(hb);
  // What the gateway noticed: a model missing from the price table, a scripted tool the agent does not offer.
  for (const text of gateway.notes) sink.emit({ type: "system", level: "info", code: "gateway_note", text });
  return finishTurn(hb, outcome);
}

/** The run's gateway: on the worker's long-lived port when there is one (with a spare's token), else on its own. */
async function openGateway(hb: Heartbeat, token?: string): Promise<Gateway> {
  const { req, opts } = hb;
  const providerNetwork = () => (hb.sandbox ? grantsEveryHost(hb.sandbox) : false);
  const o = { model: req.model, recordFile: req.record, providerNetwork, ...(opts.hostEnv ? { env: opts.hostEnv } : {}), ...(token ? { token } : {}) };
  const gateway = (hb.gateway = await (opts.warm ? opts.warm.openGateway(o) : startGateway(o)));
  hb.teardown.add("gateway", () => gateway.close());
  phase(hb, "gateway");
  return gateway;
}

/**
 * Whether a heartbeat can run on a spare VM: a fresh session, or a resumed one whose agent gets a new agentOS session
 * each heartbeat anyway (transcript replay) on a spare whose session opens at request time. A snapshot run (its
 * workspace is an overlay made at boot) and a workspace with its own agent config never ask (`warmFits`).
 */
function spareFits(driver: AgentDriver, resuming: boolean): boolean {
  if (!driver.spare) return false;
  return !resuming || (driver.resume === "transcript-replay" && driver.spare.session === "at-run");
}

/** A VM the worker prepared ahead for exactly this plan, for a session that can use one (spareFits). */
async function takeSpare(hb: Heartbeat, need: SpareNeed): Promise<SpareVm | undefined> {
  if (!hb.opts.warm || !hb.driver.spare) return undefined;
  const spare = await hb.opts.warm.takeSpare(need);
  if (spare) hb.teardown.add("spare", () => spare.release());
  return spare;
}

/** The session's prepared VM, when it was opened with the session being resumed and made for this plan. */
async function takePrepared(claimed: ClaimedSession | undefined, sessionId: string, need: SpareNeed): Promise<SpareVm | undefined> {
  // (Its release is the "prepared VM" teardown step.)
  return claimed?.sessionId === sessionId ? claimed.take(need) : undefined;
}

/** Fresh or resume (Paperclip's rules, sessions.ts), and a new session id when fresh (after `beforeReset`). */
async function chooseSession(hb: Heartbeat, slot: SessionSlot, beforeReset: () => unknown) {
  const stored = await slot.load();
  const resumable = stored ? await sessionResumable(hb.driver, slot, stored.sessionId) : false;
  const decision = decideSession(hb.req, stored, resumable);
  const resuming = decision.resume !== undefined;
  if (!resuming) await beforeReset();
  const sessionId = decision.resume ?? (await slot.reset());
  return { sessionId, resuming, note: decision.note, stored: resuming ? stored : null };
}

/** The agent's config files under the guest HOME. */
async function writeHomeFiles(vm: VmHandle["vm"], files: AgentConfigFile[]): Promise<void> {
  for (const f of files) {
    const path = `${GUEST_HOME}/${f.path}`;
    await vm.filesystem.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await vm.filesystem.writeFile(path, f.content);
  }
}

type TurnOutcome = { kind: "done"; stopReason: string } | { kind: "stopped"; reason: StopReason };

/** Send the prompt and stream its events until the agent is done or the run is stopped. */
async function promptTurn(hb: Heartbeat, vm: VmHandle["vm"], step: ResumeStep, prefix: string): Promise<TurnOutcome> {
  const { opts, req, teardown } = hb;
  const gateway = hb.gateway!;
  const mapper = (hb.mapper = new AcpMapper(opts.sink, {
    quirks: hb.driver.acp,
    // Pi reports a failed model call as its answer (`529 {"type":"error",...}`): shown as the readable error instead.
    upstreamError: (text) => {
      const e = gateway.lastError();
      return e && (text.includes('"type":"error"') || text.trim().startsWith(`${e.status ?? "-"} `)) ? readableFailure(e) : null;
    },
  }));
  const off = vm.onSessionEvent(step.acpSessionId, (e: unknown) => mapper.handle(e));
  teardown.add("session events", off);
  teardown.add("tool results", gateway.onToolResult((r) => mapper.modelSawToolResult(r.id, r.text)));
  // Running per-run totals, emitted when they change (polled: the gateway meters on its own schedule).
  const usageTimer = setInterval(() => emitUsage(hb), 250);
  teardown.add("usage timer", () => clearInterval(usageTimer));

  const prompt = vm.sessions.prompt({ sessionId: step.acpSessionId, idempotencyKey: req.runId, content: [{ type: "text", text: `${step.preamble}${prefix}${req.prompt}` }] });
  const stopped = new Promise<StopReason>((resolve) => {
    if (opts.stop.aborted) resolve(opts.stop.reason as StopReason);
    opts.stop.addEventListener("abort", () => resolve(opts.stop.reason as StopReason), { once: true });
  });
  const outcome = await Promise.race([
    prompt.then((r) => ({ kind: "done" as const, r }), (error: unknown) => ({ kind: "failed" as const, error })),
    stopped.then((reason) => ({ kind: "stopped" as const, reason })),
  ]);
  if (outcome.kind === "failed") {
    // Codex's bridge fails the prompt when its model call failed: the gateway's failure is what the run reports, in
    // the words the other agents' failed calls get (their turn ends with the error as its answer).
    clearInterval(usageTimer);
    const failure = gateway.lastError();
    if (!failure) throw outcome.error;
    logger.debug(`the agent failed the prompt: ${firstLine(outcome.error)}`);
    hb.opts.sink.emit({ type: "system", level: "error", code: "model_error", text: readableFailure(failure) });
    return { kind: "done", stopReason: "error" };
  }
  if (outcome.kind === "stopped") {
    // Ask the agent to stop; whatever it finished is already durable in the session database.
    await Promise.race([vm.sessions.cancelPrompt({ sessionId: step.acpSessionId }).catch(() => {}), Bun.sleep(1500)]);
    prompt.catch(() => {});
    clearInterval(usageTimer);
    return outcome;
  }
  // The durable final message can trail the prompt's resolution on a loaded machine: give it a moment, then fall
  // back to the prompt result's own text so the transcript and the summary never miss the answer.
  const finalText = textOf(outcome.r.message?.content);
  for (let i = 0; i < 20 && finalText && mapper.lastAssistantText !== finalText; i++) await Bun.sleep(25);
  if (finalText && mapper.lastAssistantText !== finalText) mapper.finalMessage(finalText);
  clearInterval(usageTimer);
  return { kind: "done", stopReason: outcome.r.stopReason };
}

/** The result of a turn that ran: a stop, a gateway failure, a refusal, or success. */
function finishTurn(hb: Heartbeat, outcome: TurnOutcome): ResultEvent {
  if (outcome.kind === "stopped") return finish(hb, stopOutcome(outcome.reason, hb.req.timeoutSec));
  const gwError = hb.gateway!.lastError();
  if (gwError) {
    return finish(hb, {
      subtype: "error",
      exitCode: 1,
      errorCode: gwError.errorCode,
      errorMessage: readableFailure(gwError),
      ...(paperclipErrorFamily(gwError) ? { errorFamily: paperclipErrorFamily(gwError) } : {}),
      ...(gwError.retryNotBefore ? { retryNotBefore: gwError.retryNotBefore } : {}),
    });
  }
  if (outcome.stopReason === "refusal") return finish(hb, { subtype: "error", exitCode: 1, errorCode: "model_refusal", errorFamily: "model_refusal", errorMessage: "the model refused to answer" });
  if (outcome.stopReason === "max_tokens") hb.opts.sink.emit({ type: "system", level: "warn", code: "max_tokens", text: "the model stopped at its output token limit" });
  return finish(hb, { subtype: "success", exitCode: 0 });
}

function finish(hb: Heartbeat, f: Parameters<typeof resultEvent>[0]): ResultEvent {
  const { gateway } = hb;
  const usage = gateway?.usage();
  const sessionParams = hb.session?.params ?? null;
  return hb.opts.sink.emit<ResultEvent>(
    resultEvent({
      ...(usage ? { usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedInputTokens: usage.cachedInputTokens }, ...billed(gateway!, usage.costUsd) } : {}),
      ...(gateway ? { provider: gateway.provider, biller: gateway.biller, model: gateway.model, billingType: gateway.billingType } : { model: hb.req.model }),
      sessionParams,
      sessionDisplayId: sessionParams?.sessionId ?? null,
      runtimeServices: hb.services,
      durationMs: Math.round(performance.now() - hb.started),
      ...f,
      // A failed run's summary (Paperclip's issue comment) is its readable error, not the agent's last words.
      summary: (f.summary ?? (f.exitCode !== 0 && f.errorMessage ? f.errorMessage : hb.mapper?.lastAssistantText) ?? "").slice(0, SUMMARY_MAX),
    }),
  );
}

/** The running per-run totals as a `usage` event, when they changed. */
function emitUsage(hb: Heartbeat): void {
  const u = hb.gateway!.usage();
  const key = `${u.inputTokens}/${u.outputTokens}/${u.cachedInputTokens}`;
  if (key === hb.lastUsage || u.inputTokens + u.outputTokens === 0) return;
  hb.lastUsage = key;
  hb.opts.sink.emit({ type: "usage", inputTokens: u.inputTokens, outputTokens: u.outputTokens, cachedInputTokens: u.cachedInputTokens, costUsd: billed(hb.gateway!, u.costUsd).costUsd, basis: "per_run" });
}

function phase(hb: Heartbeat, name: string): void {
  const now = performance.now();
  hb.phases[name] = Math.round(now - hb.mark);
  hb.mark = now;
}

async function saveSession(s: NonNullable<Heartbeat["session"]>, runId: string): Promise<void> {
  const { slot, params: p, stored } = s;
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

/**
 * Name a failure for Paperclip. A call that failed while the run's sidecar is gone is the runtime crashing, whatever
 * its words (a killed sidecar's socket may fail a pending call with "read ECONNRESET" before its exit is seen:
 * test/e2e/run.test.ts); one the sidecar rejected while it still runs ("sidecar rejected request ...") is not. Only
 * where the sidecar's process is not known (the error came before a VM) do the words decide.
 */
function classify(e: unknown, sidecarRunning: boolean | undefined): AosError {
  if (isAosError(e)) return e;
  const msg = errorMessage(e);
  if (msg.includes("ERR_AGENTOS_RESOURCE_LIMIT")) {
    // e.g. Pi's bash tool re-sends its whole output on every chunk, so ~100 KB of streamed output fills the 256 MB turn buffer.
    return new AosError(`the agent hit an agentOS limit: ${firstLine(e)}`, { code: "runtime_limit", exitCode: 1, cause: e });
  }
  const crashed = sidecarRunning === undefined ? /SidecarProcessExited|sidecar process exited|disconnect|ECONNRESET|EPIPE/i.test(msg) : !sidecarRunning;
  if (crashed) return new AosError(`the agentOS runtime crashed: ${firstLine(e)}`, { code: "runtime_crashed", exitCode: 1, cause: e });
  return new AosError(firstLine(e), { code: "agent_failed", exitCode: 1, cause: e });
}

/** The scripted model bills nothing: costUsd 0, and what its tokens would have cost as notionalCostUsd. */
function billed(gateway: Gateway, costUsd: number): { costUsd: number; notionalCostUsd?: number } {
  return gateway.provider === "scripted" ? { costUsd: 0, notionalCostUsd: round6(costUsd) } : { costUsd: round6(costUsd) };
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
