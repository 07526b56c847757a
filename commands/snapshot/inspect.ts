import { defineCommand, globalArgs, out, printJson, withHelp } from "../_shared.ts";
import { formatBytes, inspectSnapshot, shortId } from "../../src/snapshot/index.ts";

const LIST_ALL_UP_TO = 50;

export default withHelp(
  defineCommand({
    meta: {
      name: "inspect",
      description: "Show one snapshot: names, id, created, source, counts and sizes, its layers, and its files. --verify reads every file and checks it against its digest.",
    },
    args: {
      ref: { type: "positional", required: true, valueHint: "NAME|ID", description: "A name, an id, or a unique id prefix" },
      verify: { type: "boolean", description: "Check every file's content against its digest (exit 1 on corruption)" },
      ...globalArgs,
    },
    async run({ args }) {
      const s = inspectSnapshot(String(args.ref), { verify: Boolean(args.verify) });
      if (args.json) return printJson(s);
      const lines: string[] = [];
      lines.push(`id:       ${s.id}`);
      lines.push(`names:    ${s.names.join(", ") || "(none: removed by the next gc)"}`);
      lines.push(`created:  ${s.created}`);
      lines.push(`source:   ${s.source.kind === "build" ? s.source.dir : `commit of ${s.source.parent}${s.source.command ? ` (${s.source.command})` : ""}`}`);
      lines.push(`content:  ${s.files} files, ${s.dirs} directories, ${s.symlinks} symlinks, ${formatBytes(s.bytes)}`);
      lines.push(`stored:   ${formatBytes(s.storedBytes)} in ${s.layers} layers${s.verified ? " (verified)" : ""}`);
      lines.push("", "LAYERS (bottom to top)");
      for (const l of s.layerDetails) {
        const extra = [l.whiteouts ? `${l.whiteouts} deletions` : "", l.sharedWith ? `shared with ${l.sharedWith} other snapshot${l.sharedWith > 1 ? "s" : ""}` : ""].filter(Boolean).join(", ");
        lines.push(`  ${shortId(l.id)}  ${String(l.entries).padStart(5)} entries  ${formatBytes(l.size).padStart(9)}${extra ? `  ${extra}` : ""}`);
      }
      const files = s.entries;
      const shown = files.length <= LIST_ALL_UP_TO ? files : [...files].filter((e) => e.type === "file").sort((a, b) => b.size - a.size).slice(0, 10);
      lines.push("", files.length <= LIST_ALL_UP_TO ? "FILES" : `LARGEST FILES (10 of ${s.files}; --json lists all)`);
      for (const e of shown) {
        const what = e.type === "symlink" ? `-> ${e.target}` : e.type === "dir" ? "/" : formatBytes(e.size);
        lines.push(`  ${e.mode.padStart(5)}  ${e.path}${e.type === "dir" ? "/" : ""}${e.type === "file" ? `  ${what}` : e.type === "symlink" ? `  ${what}` : ""}`);
      }
      out(lines.join("\n"));
    },
  }),
  {
    exitCodes: [["0", "shown (and, with --verify, every file matched its digest)"], ["1", "a layer is corrupted (snapshot_corrupted)"], ["2", "no snapshot by that name or id"]],
    examples: [
      ["paperclip-aos snapshot inspect site", "summary, layers, files"],
      ["paperclip-aos snapshot inspect 1a2b3c --verify", "also check every byte against its digest"],
      ["paperclip-aos snapshot inspect site --json", "{id, names, files, bytes, layerDetails, entries, ...}"],
    ],
  },
);
