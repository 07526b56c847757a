import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp } from "../_shared.ts";
import { configJsonSchema } from "../../src/config/index.ts";

export default withHelp(
  defineCommand({
    meta: { name: "schema", description: "Print the JSON Schema (draft-07) of the config files; point a file's \"$schema\" at it for editor checks." },
    args: globalArgs,
    run() {
      printJson(configJsonSchema());
    },
  }),
  { examples: [["paperclip-aos config schema > ~/.config/paperclip-aos/schema.json", "save it next to the user config"]] },
);
