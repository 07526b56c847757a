/**
 * Heartbeats on a Rivet engine (issue 14): the session actor's contract (contract.ts), shared by `run --engine` and
 * `worker --engine`; the runner that hosts the session actors (runner.ts, actor*.ts); finding and loading rivetkit and
 * rivet-engine on demand (modules.ts, installed by install.ts).
 * rivetkit is not a dependency of the default install: use `loadRivet()`, never `import "rivetkit"`; its types are
 * the few in rivetkit-types.ts.
 */
export * from "./contract.ts";
export {
  ENGINE_INSTALL_HINT,
  ENGINE_MISSING_EXIT,
  RIVET_VERSION,
  engineMissingError,
  loadRivet,
  locateRivet,
  requireRivet,
  rivetInstallDir,
  rivetRoot,
  type Rivet,
  type RivetLocation,
  type RivetLookup,
} from "./modules.ts";
export { installRivet, readInstallMarker, type InstallMarker, type InstallOptions, type InstallResult } from "./install.ts";
export type * from "./rivetkit-types.ts";
export {
  DEFAULT_ENGINE_PORT,
  defaultEngineDir,
  engineConfig,
  engineHealth,
  engineLayout,
  startEngine,
  type EngineHealth,
  type EngineLayout,
  type RunningEngine,
  type StartEngineOptions,
} from "./engine.ts";
export { engineStatus, type EngineStatus } from "./status.ts";
export { engineEnv, runViaEngine, ENGINE_TIMING, ENGINE_UNREACHABLE_ERROR_CODE, type EngineRunOptions, type EngineTiming } from "./client.ts";
export * from "./light.ts";
export { ENGINE_TOKEN_ENV, ENGINE_TOKEN_HINT, ENGINE_TOKEN_MIN_LENGTH, engineToken, tokenMatches, type EngineConnParams } from "./token.ts";
export { Runner, checkRunnerEngineUrl, type RunnerOptions, type RunnerInfo } from "./runner.ts";
