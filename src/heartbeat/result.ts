import type { EventInput, ResultEvent } from "../protocol/index.ts";

/** Why a run stopped before the agent finished. */
export type StopReason = "timeout" | "SIGINT" | "SIGTERM" | "SIGHUP" | "stdout_closed" | "parent_died";

type ResultFields = Partial<EventInput<ResultEvent>> & Pick<ResultEvent, "subtype" | "exitCode">;

/** A `result` event with every field Paperclip reads filled in: what is not known is null, zero or "unknown". */
export function resultEvent(f: ResultFields): EventInput<ResultEvent> {
  return {
    type: "result",
    isError: f.exitCode !== 0,
    signal: null,
    timedOut: false,
    errorCode: null,
    errorMessage: null,
    usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 },
    usageBasis: "per_run",
    costUsd: 0,
    provider: "unknown",
    biller: "unknown",
    model: "unknown",
    billingType: "unknown",
    sessionParams: null,
    sessionDisplayId: null,
    clearSession: false,
    summary: "",
    runtimeServices: [],
    durationMs: 0,
    ...f,
  };
}

/** How a stop ends: 124 for our own timeout, 128+n for a signal (130 SIGINT, 143 otherwise), `cancelled` with the session kept. */
export function stopOutcome(reason: StopReason, timeoutSec?: number): ResultFields {
  if (reason === "timeout") {
    return { subtype: "timeout", exitCode: 124, timedOut: true, errorCode: "timeout", errorMessage: `the heartbeat did not finish within ${timeoutSec}s` };
  }
  const signal = reason.startsWith("SIG") ? reason : null;
  return {
    subtype: "cancelled",
    exitCode: reason === "SIGINT" ? 130 : 143,
    signal,
    errorCode: "cancelled",
    errorMessage: signal ? `cancelled by ${signal}` : reason === "stdout_closed" ? "stdout was closed: the reader is gone" : "the parent process died",
  };
}
