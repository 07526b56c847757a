import { defineCommand } from "citty";
import { globalArgs, withHelp } from "../_shared.ts";

/** Exported so the e2e table can require a test for each subcommand (commands/index.ts CommandPath). */
export const subCommands = {
  ls: () => import("./ls.ts").then((m) => m.default),
  clean: () => import("./clean.ts").then((m) => m.default),
};

export default withHelp(
  defineCommand({
    meta: {
      name: "cache",
      description:
        "The extracted runtime in the cache dir (<cache>/rt/): the compiled binary unpacks its agentOS sidecar and software packages there " +
        "once, about 360 MB, and each new version adds the files that changed. List what each version holds; remove what the running " +
        "binary does not need.",
    },
    args: globalArgs,
    subCommands,
  }),
  {
    examples: [
      ["paperclip-aos cache ls", "versions, sizes, which one is current"],
      ["paperclip-aos cache clean", "remove the other versions' files"],
      ["paperclip-aos cache clean --all", "remove everything (the next run extracts again)"],
    ],
  },
);
