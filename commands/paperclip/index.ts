import { defineCommand } from "citty";
import { globalArgs, withHelp } from "../_shared.ts";

/** Exported so the e2e table can require a test for each subcommand (commands/index.ts CommandPath). */
export const subCommands = {
  install: () => import("./install.ts").then((m) => m.default),
  status: () => import("./status.ts").then((m) => m.default),
  uninstall: () => import("./uninstall.ts").then((m) => m.default),
};

export default withHelp(
  defineCommand({
    meta: {
      name: "paperclip",
      description:
        "The Paperclip adapter agentos_local, shipped inside this binary: install writes the adapter package into the state dir " +
        "(pointing at this binary) and registers it with a Paperclip instance; status and uninstall do what they say.",
    },
    args: globalArgs,
    subCommands,
  }),
  {
    examples: [
      ["paperclip-aos paperclip install", "write the adapter and register it with Paperclip on http://127.0.0.1:3100"],
      ["paperclip-aos paperclip install --data-dir ~/.paperclip", "register through Paperclip's CLI (paperclipai) and its data dir"],
      ["paperclip-aos paperclip status --json", "the package, the binary it runs, what Paperclip reports"],
      ["paperclip-aos paperclip uninstall", "unregister and remove the package"],
    ],
  },
);
