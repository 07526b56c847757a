/**
 * The snapshot flags of `exec` (and `run`): --snapshot, --keep-changes, --commit-snapshot. Kept here so the commands
 * that take them only spread `snapshotArgs` and call `openForRun` / `finishForRun`.
 */
import type { ArgsDef } from "citty";
import { logger } from "../../src/log.ts";
import { changeCount, describeFinish, openSnapshotFor, type FinishResult, type SnapshotRoot } from "../../src/snapshot/index.ts";

export const snapshotArgs = {
  snapshot: {
    type: "string",
    valueHint: "NAME|ID",
    description: "Start from a snapshot instead of the current directory: its tree at /workspace, writes discarded at the end",
  },
  "keep-changes": {
    type: "string",
    valueHint: "DIR",
    description: "With --snapshot: export what the run added or modified to DIR (new or empty), with the full diff in DIR/.paperclip-aos-changes.json",
  },
  "commit-snapshot": {
    type: "string",
    valueHint: "NAME",
    description: "With --snapshot: store the result as a new snapshot NAME (the snapshot's layers plus one layer of changes)",
  },
} as const satisfies ArgsDef;

interface SnapshotFlagValues {
  snapshot?: string;
  "keep-changes"?: string;
  "commit-snapshot"?: string;
}

/** Open the snapshot named by --snapshot (checking its layers and the other two flags before anything boots). */
export function openForRun(args: SnapshotFlagValues): Promise<SnapshotRoot | undefined> {
  return openSnapshotFor(args.snapshot, { keepChanges: args["keep-changes"], commitName: args["commit-snapshot"] });
}

/** Diff, export, commit; a summary on stderr; the JSON block for --json output. */
export async function finishForRun(root: SnapshotRoot, command: string): Promise<Record<string, unknown>> {
  const r: FinishResult = await root.finish({ command });
  if (r.keptTo || r.committed) logger.info(describeFinish(r));
  else if (changeCount(r.changes) > 0) logger.debug(describeFinish(r));
  return { id: root.record.id, changes: r.changes, ...(r.keptTo ? { keptTo: r.keptTo } : {}), ...(r.committed ? { committed: r.committed } : {}) };
}
