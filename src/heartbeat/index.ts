export { runHeartbeat } from "./run.ts";
export type { CompiledSandbox, HeartbeatOptions, HostToolsBinding, StopReason } from "./run.ts";
export { buildRunRequest, parseRunRequest, parseJsonText, RunRequestSchema, AGENTS, DEFAULT_MODEL, FRESH_WAKE_REASONS } from "./request.ts";
export type { RunRequest, RunRequestInput, AgentKind } from "./request.ts";
export { EventSink, fitLine, MAX_LINE_BYTES } from "./events.ts";
export { findDenials } from "./denials.ts";
export { SessionSlot } from "./sessions.ts";
export { renderEvent } from "./pretty.ts";
export { prepareDemo, DEMO_PROMPT } from "./demo.ts";
