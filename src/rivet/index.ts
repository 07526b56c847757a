/**
 * Heartbeats on a Rivet engine: the session actor's contract (contract.ts), shared by `run --engine` and
 * `worker --engine`. rivetkit is not a dependency of the default install: it is loaded at run time.
 */
export * from "./contract.ts";
