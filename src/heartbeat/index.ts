export * from "./light.ts";
export { runHeartbeat } from "./run.ts";
export type { HeartbeatOptions, HostToolsBinding } from "./run.ts";
export type { ClaimedSession, NextSession, SpareNeed, SpareVm, WarmStart } from "./warm.ts";
export { findDenials } from "./denials.ts";
export { SessionSlot, type PreparedLock } from "./sessions.ts";
export { listSessions, findSession, showSession, removeSession, type SessionEntry, type SessionDetails } from "./session-store.ts";
export { bindHostTools } from "./tools.ts";
export { requestSandbox } from "./policy.ts";
