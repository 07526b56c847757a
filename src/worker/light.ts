/**
 * The warm worker's light face: its client (find a worker, hand it a run or an exec, relay what comes back), which
 * loads none of the worker's own code (its sidecars, spares, the in-process heartbeat): what `run` and `exec` load
 * before they know whether a worker is there (commands/run.ts). index.ts is the whole module.
 */
export { findWorker, runViaWorker, execViaWorker, tryRunViaWorker, tryExecViaWorker, WorkerDeclined, type WorkerChoice, type RemoteRunOptions, type RemoteExecOptions } from "./client.ts";
export { workerStatus, absoluteRequest, absoluteFlags } from "./client.ts";
