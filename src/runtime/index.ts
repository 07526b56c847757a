export { resolveAssets, setAssetProvider, assetProvider, SOFTWARE_PACKAGES } from "./assets.ts";
export type { AssetProvider, RuntimeAssets, SoftwareName } from "./assets.ts";
export { bootVm, checkWorkspaceDir, liveVms, GUEST_WORKSPACE, GUEST_HOME } from "./vm.ts";
export type { BootOptions, VmHandle } from "./vm.ts";
export { installSignalHandlers, setSignalHandler, shutdown } from "./lifecycle.ts";
export { sidecarLogPath } from "./sidecar-wrapper.ts";
export { execInVm, commandLine, shellQuote } from "./exec.ts";
export type { ExecRequest, ExecResult, Sandbox } from "./exec.ts";
