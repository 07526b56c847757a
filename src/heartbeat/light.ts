/**
 * The heartbeat's light face: what a run needs before it knows where it runs (the request, its input, the event sink,
 * the terminal view, the supervisor, the demo, the result line), and nothing that loads the in-process heartbeat, the
 * VM, the tools or the gateway. `run` through a warm worker or an engine loads only this (commands/run.ts,
 * src/worker/client.ts: the client connects in ~10 ms, docs/worker.md); index.ts is the whole module, this included.
 */
export { buildRunRequest, requestCwd, parseRunRequest, parseJsonText, RunRequestSchema, DEFAULT_GRACE_SEC, DEFAULT_MODEL, FRESH_WAKE_REASONS } from "./request.ts";
export type { RunRequest, RunRequestInput, RunDefaults } from "./request.ts";
export { readRequestText, checkPromptSize, checkRecordPath, MAX_PROMPT_BYTES, MAX_REQUEST_BYTES } from "./input.ts";
export { EventSink, fitLine, MAX_LINE_BYTES } from "./events.ts";
export { runView, chooseRunView, type RunView, type RunViewMode } from "./terminal.ts";
export { renderEvent } from "./pretty.ts";
export { superviseRun, type Supervisor } from "./supervise.ts";
export { resultEvent, stopOutcome, type StopReason } from "./result.ts";
export { prepareDemo, DEMO_PROMPT } from "./demo.ts";
