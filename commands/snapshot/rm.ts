import { defineCommand, globalArgs, printJson, withHelp } from "../_shared.ts";
import { removeSnapshot, shortId } from "../../src/snapshot/index.ts";
import { logger } from "../../src/log.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "rm",
      description:
        "Remove a snapshot name, or a snapshot by id. A name: the name goes, and the snapshot with it when no other name points at it. " +
        "An id: the snapshot and all its names. Layers are freed by `snapshot gc` (never while a run uses them).",
    },
    args: {
      ref: { type: "positional", required: true, valueHint: "NAME|ID", description: "A name, an id, or a unique id prefix" },
      ...globalArgs,
    },
    async run({ args }) {
      const r = removeSnapshot(String(args.ref));
      if (args.json) return printJson(r);
      const names = r.untagged.length ? ` (name${r.untagged.length > 1 ? "s" : ""} ${r.untagged.join(", ")})` : "";
      logger.info(r.removed ? `removed snapshot ${shortId(r.id)}${names}; 'paperclip-aos snapshot gc' frees its layers` : `removed name ${r.ref}; snapshot ${shortId(r.id)} keeps its other names`);
    },
  }),
  {
    examples: [
      ["paperclip-aos snapshot rm site", "remove the name site (and the snapshot if nothing else names it)"],
      ["paperclip-aos snapshot rm 1a2b3c4d && paperclip-aos snapshot gc", "remove by id, then free the space"],
    ],
  },
);
