import type { AdapterBillingType, AdapterExecutionErrorFamily, AdapterExecutionResult } from "@paperclipai/adapter-utils/types";
import type { ResultEvent } from "../protocol/index.ts";

/** How the process ended, as the adapter saw it. */
export interface ProcessEnd {
  exitCode: number | null;
  signal: string | null;
  /** Paperclip asked to cancel (ctx.signal aborted). */
  cancelled: boolean;
  /** After a cancel: the whole process group is gone (nothing of the run is left running). */
  stopVerified: boolean;
  /** The first stderr lines, for a run that died without a result line. */
  stderrHead: string;
  /** The adapter's own timeout safety net fired (the run's own --timeout should have ended it first). */
  killedForTimeout?: boolean;
  /** tool_call events the run streamed: none means the agent acted on nothing (a replay is safe). */
  toolCalls?: number;
}

const FAMILIES: readonly AdapterExecutionErrorFamily[] = [
  "transient_upstream",
  "provider_quota",
  "model_refusal",
  "refresh_token_reused",
  "refresh_token_expired",
  "refresh_token_invalidated",
];
const BILLING: readonly AdapterBillingType[] = ["api", "subscription", "metered_api", "subscription_included", "subscription_overage", "credits", "fixed", "unknown"];

/** The `result` line (or its absence) → Paperclip's AdapterExecutionResult. */
export function toExecutionResult(result: ResultEvent | null, end: ProcessEnd): AdapterExecutionResult {
  const acknowledged = end.cancelled && end.stopVerified ? { executionCancellation: { state: "acknowledged", acknowledgedAt: new Date().toISOString() } } : {};
  if (!result) {
    const why = end.cancelled
      ? "cancelled before paperclip-aos wrote its result"
      : end.killedForTimeout
        ? "paperclip-aos did not finish within its timeout and was killed"
        : `paperclip-aos exited (${end.signal ?? `code ${end.exitCode}`}) without a result line${end.stderrHead ? `: ${end.stderrHead}` : ""}`;
    return {
      exitCode: end.exitCode,
      signal: end.signal,
      timedOut: end.killedForTimeout === true,
      errorMessage: why,
      errorCode: end.cancelled ? "cancelled" : end.killedForTimeout ? "timeout" : "no_result",
      summary: why,
      resultJson: { summary: why, ...acknowledged },
    };
  }
  const family = FAMILIES.includes(result.errorFamily as AdapterExecutionErrorFamily) ? (result.errorFamily as AdapterExecutionErrorFamily) : null;
  const billingType = BILLING.includes(result.billingType as AdapterBillingType) ? (result.billingType as AdapterBillingType) : "unknown";
  const summary = result.isError ? result.errorMessage || result.summary || `run ended: ${result.subtype}` : result.summary;
  const { type: _type, ts: _ts, seq: _seq, ...fields } = result;
  // Paperclip replays a failed legacy run only on positive evidence (legacy-execution-recovery): a failure before the
  // agent called any tool is a bootstrap that did no work; a verified cancel stopped everything and kept the session.
  const executionRecovery: AdapterExecutionResult["executionRecovery"] =
    end.cancelled && end.stopVerified
      ? { kind: "interrupted", providerStopped: true, sessionPreserved: true, actionOutcomes: "settled" }
      : result.isError && (end.toolCalls ?? 0) === 0
        ? { kind: "bootstrap", providerWorkStarted: false }
        : undefined;
  return {
    ...(executionRecovery ? { executionRecovery } : {}),
    exitCode: end.exitCode ?? result.exitCode,
    signal: result.signal ?? end.signal,
    timedOut: result.timedOut,
    errorMessage: result.isError ? result.errorMessage || summary : null,
    errorCode: result.errorCode,
    ...(family ? { errorFamily: family } : {}),
    ...(result.retryNotBefore ? { retryNotBefore: result.retryNotBefore } : {}),
    usage: { ...result.usage },
    usageBasis: result.usageBasis,
    // A run that never opened a session (bad config, early crash) keeps Paperclip's stored one: undefined, not null.
    ...(result.sessionParams ? { sessionParams: { ...result.sessionParams }, sessionId: result.sessionParams.sessionId } : {}),
    ...(result.sessionDisplayId ? { sessionDisplayId: result.sessionDisplayId } : {}),
    ...(result.clearSession ? { clearSession: true } : {}),
    provider: result.provider,
    biller: result.biller,
    model: result.model,
    billingType,
    costUsd: result.costUsd,
    summary,
    runtimeServices: result.runtimeServices.map((s) => ({ ...s })),
    resultJson: { ...fields, summary, ...acknowledged },
  };
}
