import { defineCommand } from "citty";
import { globalArgs, out, printJson, table, withHelp } from "../_shared.ts";
import { listRuntimeCache, assetProvider } from "../../src/runtime/index.ts";
import { formatBytes } from "../../src/snapshot/index.ts";
import { logger } from "../../src/log.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "ls",
      description: "List the runtime versions in the cache dir: version and build, files present, size, when last used, which is current and which a run is using.",
    },
    args: { ...globalArgs },
    async run({ args }) {
      const r = listRuntimeCache(assetProvider().cacheFiles ?? null);
      if (args.json) return printJson(r);
      if (r.versions.length === 0 && r.unrecorded.files.length === 0) {
        logger.info(`the runtime cache ${r.dir} is empty${r.current ? "" : " (run from source, the runtime comes from node_modules)"}`);
        return;
      }
      const rows = r.versions.map((v) => [
        `${v.version} (${v.commit})`,
        v.id,
        `${v.present}/${v.files.length}`,
        formatBytes(v.bytes),
        v.lastUsed ? v.lastUsed.replace("T", " ").slice(0, 19) : "-",
        [v.current ? "current" : "", v.inUse ? "in use" : ""].filter(Boolean).join(", "),
      ]);
      if (r.unrecorded.files.length) rows.push(["unrecorded (older binaries)", "-", String(r.unrecorded.files.length), formatBytes(r.unrecorded.bytes), "-", ""]);
      const head = ["VERSION", "ID", "FILES", "SIZE", "LAST USED", ""];
      out(table(head, rows));
      logger.info(`${formatBytes(r.totalBytes)} in ${r.dir}; 'paperclip-aos cache clean' would free ${formatBytes(r.reclaimableBytes)}`);
    },
  }),
  {
    examples: [
      ["paperclip-aos cache ls", "a table; files shared by versions count for each"],
      ["paperclip-aos cache ls --json", "{dir, current, versions:[{id, version, commit, current, inUse, files, bytes, lastUsed}], unrecorded, totalBytes, reclaimableBytes}"],
    ],
  },
);
