import { defineCommand } from "citty";
import { globalArgs, withHelp } from "../_shared.ts";

/** Exported so the e2e table can require a test for each subcommand (commands/index.ts CommandPath). */
export const subCommands = {
  show: () => import("./show.ts").then((m) => m.default),
  schema: () => import("./schema.ts").then((m) => m.default),
};

export default withHelp(
  defineCommand({
    meta: {
      name: "config",
      description:
        "Config files for the defaults of run and exec (agent, model, preset, timeoutSec, graceSec) and run's engine (user file only): the user's " +
        "$XDG_CONFIG_HOME/paperclip-aos/config.json (else ~/.config/paperclip-aos/config.json) and the project's .paperclip-aos.json " +
        "(in the working directory or a parent up to the git root). Precedence: flags > run request > Paperclip's env > project > user > built-in.",
    },
    args: globalArgs,
    subCommands,
  }),
  {
    examples: [
      ["paperclip-aos config show", "each effective value and where it came from"],
      ["paperclip-aos config schema > paperclip-aos.schema.json", "JSON Schema for editors (\"$schema\" in the file)"],
      [`echo '{"model": "openai/gpt-5", "timeoutSec": 900}' > .paperclip-aos.json`, "project defaults"],
    ],
  },
);
