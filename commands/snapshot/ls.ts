import { defineCommand, err, globalArgs, out, printJson, table, withHelp } from "../_shared.ts";
import { formatBytes, listSnapshots, shortId } from "../../src/snapshot/index.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "ls",
      description:
        "List snapshots: names, short id, files, size, layers, when built and from where. '(was NAME)' marks a snapshot a name moved away from: gc keeps it until 'snapshot rm ID'.",
    },
    args: { ...globalArgs },
    async run({ args }) {
      const all = listSnapshots();
      if (args.json) return printJson(all);
      if (all.length === 0) {
        return err("no snapshots yet: paperclip-aos snapshot build DIR --name NAME");
      }
      const rows = all.map((s) => [
        s.names.join(",") || (s.retained ? `(was ${s.retained.name})` : "-"),
        s.shortId,
        String(s.files),
        formatBytes(s.bytes),
        String(s.layers),
        s.created.replace("T", " ").slice(0, 19),
        s.source.kind === "build" ? s.source.dir : `commit of ${shortId(s.source.parent)}`,
      ]);
      const head = ["NAME", "ID", "FILES", "SIZE", "LAYERS", "CREATED", "SOURCE"];
      out(table(head, rows));
    },
  }),
  {
    examples: [
      ["paperclip-aos snapshot ls", "a table"],
      ["paperclip-aos snapshot ls --json", "[{id, shortId, names, files, bytes, storedBytes, layers, created, source}]"],
    ],
  },
);
