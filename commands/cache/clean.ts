import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp } from "../_shared.ts";
import { cleanRuntimeCache, assetProvider } from "../../src/runtime/index.ts";
import { formatBytes } from "../../src/snapshot/index.ts";
import { logger } from "../../src/log.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "clean",
      description:
        "Remove the runtime files the running binary does not use (other versions, unfinished extractions); --all removes its own too, " +
        "and the next run extracts them again. Files a live process uses (a run in progress, of any version) are always kept.",
    },
    args: {
      all: { type: "boolean", description: "Remove everything, the current version's files too (unless a run is using them)" },
      "dry-run": { type: "boolean", description: "Say what would be removed, remove nothing" },
      ...globalArgs,
    },
    async run({ args }) {
      const r = cleanRuntimeCache(assetProvider().cacheFiles ?? null, { all: Boolean(args.all), dryRun: Boolean(args["dry-run"]) });
      if (args.json) return printJson(r);
      const verb = r.dryRun ? "would remove" : "removed";
      logger.info(`${verb} ${r.removed.length} file${r.removed.length === 1 ? "" : "s"} from ${r.dir}, ${formatBytes(r.freedBytes)}`);
      if (r.keptInUse.length) logger.info(`kept ${r.keptInUse.length} file${r.keptInUse.length === 1 ? "" : "s"} a running process uses`);
    },
  }),
  {
    examples: [
      ["paperclip-aos cache clean", "keep only what this binary uses"],
      ["paperclip-aos cache clean --all --dry-run", "what removing everything would free"],
      ["paperclip-aos cache clean --json", "{dir, removed, freedBytes, keptInUse, dryRun}"],
    ],
  },
);
