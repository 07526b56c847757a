import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp } from "../_shared.ts";
import { formatBytes, listSnapshots } from "../../src/snapshot/index.ts";

export default withHelp(
  defineCommand({
    meta: { name: "ls", description: "List snapshots: names, short id, files, size, layers, when built and from where." },
    args: { ...globalArgs },
    async run({ args }) {
      const all = listSnapshots();
      if (args.json) return printJson(all);
      if (all.length === 0) {
        process.stderr.write("no snapshots yet: paperclip-aos snapshot build DIR --name NAME\n");
        return;
      }
      const rows = all.map((s) => [
        s.names.join(",") || "-",
        s.shortId,
        String(s.files),
        formatBytes(s.bytes),
        String(s.layers),
        s.created.replace("T", " ").slice(0, 19),
        s.source.kind === "build" ? s.source.dir : `commit of ${s.source.parent.replace("sha256:", "").slice(0, 12)}`,
      ]);
      const head = ["NAME", "ID", "FILES", "SIZE", "LAYERS", "CREATED", "SOURCE"];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows]) process.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")}\n`);
    },
  }),
  {
    examples: [
      ["paperclip-aos snapshot ls", "a table"],
      ["paperclip-aos snapshot ls --json", "[{id, shortId, names, files, bytes, storedBytes, layers, created, source}]"],
    ],
  },
);
