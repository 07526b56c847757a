/**
 * The warm worker (`paperclip-aos serve`) and its clients: a long-lived process on a private Unix socket in the state
 * dir that runs heartbeats and exec commands, each in a VM of its own, on a sidecar it keeps warm. docs/worker.md
 * describes the protocol and what is kept warm.
 */
export { Worker, type WorkerOptions, type WorkerStatus } from "./server.ts";
export * from "./light.ts";
export { defaultSocketPath, probeSocket, workerLockPid, type Probe } from "./socket.ts";
export { buildTag } from "./build.ts";
export { untilServing, untilSettled } from "./ready.ts";
export { SidecarPool, type SidecarInfo } from "./sidecars.ts";
export { Slots } from "./slots.ts";
export type { JobInfo } from "./jobs.ts";
