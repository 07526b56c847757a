/**
 * Snapshot roots: content-addressed, reusable workspace trees. `buildSnapshot` turns a directory into layers in the
 * store (state dir `snapshots/`); `openSnapshotRoot` mounts a snapshot at /workspace with a disposable upper layer
 * and, at the end of the run, exports or commits what changed.
 *
 * Typical use (exec, run):
 *   const root = await openSnapshotRoot(ref, { keepChanges, commitName });     // checks the layers before boot
 *   try {
 *     const vm = await bootVm({ mounts: root.mounts, limits: root.limits, ... });   // no workspaceDir
 *     ... run in /workspace ...
 *     const { changes, keptTo, committed } = await root.finish();
 *   } finally { root.close(); }
 */
export { buildSnapshot, type BuildOptions, type BuildResult, type BuildProgress } from "./build.ts";
export { openSnapshotRoot, openSnapshotFor, describeFinish, type SnapshotRoot, type OpenOptions, type FinishOptions, type FinishResult } from "./root.ts";
export { changeCount, type Change, type Changes } from "./changes.ts";
export {
  listSnapshots,
  inspectSnapshot,
  removeSnapshot,
  gcSnapshots,
  type SnapshotSummary,
  type Inspection,
  type InspectedLayer,
  type InspectedEntry,
  type RemoveResult,
  type GcResult,
} from "./admin.ts";
export { SnapshotStore, describeNameMove, type NameMove, type SnapshotRecord } from "./store.ts";
export { shortId } from "./format.ts";
export { progressReporter, formatBytes } from "./progress.ts";
