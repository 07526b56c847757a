/**
 * The runtime's light face: signals and shutdown, /proc, the parent-death watchdog. None of it loads agentOS, so the
 * paths that must start fast or never touch a VM use this (a run's supervisor on its way to a warm worker, `engine
 * start`); index.ts is the whole module, this included.
 */
export { installSignalHandlers, setSignalHandler, shutdown, signalExitCode } from "./lifecycle.ts";
export { parentPid, procStat, allPids, childPids, treeRssKb, processTree, pidAlive, pidRunning, isSidecarProcess } from "./proc.ts";
export { killWithParent } from "./watchdog.ts";
