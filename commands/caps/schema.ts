import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp } from "../_shared.ts";
import { policyJsonSchema } from "../../src/caps/index.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "schema",
      description: "Print the JSON Schema (draft-07) of policy files; point a policy's \"$schema\" at it for editor checks.",
    },
    args: globalArgs,
    run() {
      printJson(policyJsonSchema());
    },
  }),
  {
    examples: [
      ["paperclip-aos caps schema > policy.schema.json", "save it next to your policies"],
      ["paperclip-aos caps schema | jq '.properties.allow.properties | keys'", "the capability names"],
    ],
  },
);
