import { defineCommand } from "citty";
import { globalArgs, withHelp } from "../_shared.ts";

/** Exported so the e2e table can require a test for each subcommand (commands/index.ts CommandPath). */
export const subCommands = {
  install: () => import("./install.ts").then((m) => m.default),
  status: () => import("./status.ts").then((m) => m.default),
  start: () => import("./start.ts").then((m) => m.default),
};

export default withHelp(
  defineCommand({
    meta: {
      name: "engine",
      description:
        "The Rivet engine parts for heartbeats beyond one machine (worker --engine, run --engine): rivetkit and rivet-engine, " +
        "about 320 MB, are not part of this binary. install puts the pinned version into the cache dir, status says what is there, " +
        "start runs an engine in the foreground.",
    },
    args: globalArgs,
    subCommands,
  }),
  {
    examples: [
      ["paperclip-aos engine install", "rivetkit and @rivetkit/engine-cli (pinned) into <cache>/rivet/<version>/"],
      ["paperclip-aos engine status", "installed or not, where, which version; whether an engine answers"],
      ["paperclip-aos engine start", "an engine on http://127.0.0.1:6420, storage in <state dir>/rivet-engine"],
    ],
    footer: () =>
      "PAPERCLIP_AOS_RIVET_DIR=DIR uses the engine parts in DIR/node_modules instead of the cache dir's install; RIVET_ENGINE_BINARY names another rivet-engine binary. A command that needs the parts when they are missing exits 3. See docs/rivet.md.",
  },
);
