import { defineCommand, globalArgs, printJson, withHelp } from "../_shared.ts";
import { formatBytes, gcSnapshots } from "../../src/snapshot/index.ts";
import { logger } from "../../src/log.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "gc",
      description:
        "Remove snapshots without a name, then every layer no remaining snapshot uses, and leftovers of interrupted builds. " +
        "A layer that a running build or run (exec/run --snapshot) uses is never removed.",
    },
    args: {
      "dry-run": { type: "boolean", description: "Only report what would be removed" },
      ...globalArgs,
    },
    async run({ args }) {
      const r = gcSnapshots({ dryRun: Boolean(args["dry-run"]) });
      if (args.json) return printJson(r);
      const verb = r.dryRun ? "would remove" : "removed";
      logger.info(
        `${verb} ${r.removedSnapshots.length} unnamed snapshot${r.removedSnapshots.length === 1 ? "" : "s"} and ${r.removedLayers.length} layer${r.removedLayers.length === 1 ? "" : "s"} ` +
          `(${formatBytes(r.freedBytes)}); kept ${r.keptLayers} layer${r.keptLayers === 1 ? "" : "s"}${r.keptInUse ? `, ${r.keptInUse} only because a run uses them` : ""}`,
      );
    },
  }),
  {
    examples: [
      ["paperclip-aos snapshot gc", "free space"],
      ["paperclip-aos snapshot gc --dry-run --json", "{removedSnapshots, removedLayers, freedBytes, keptInUse, keptLayers, dryRun}"],
    ],
  },
);
