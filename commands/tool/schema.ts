import { defineCommand, globalArgs, printJson, withHelp } from "../_shared.ts";
import { builtinRegistry, describeTool } from "../../src/tools/index.ts";

export default withHelp(
  defineCommand({
    meta: { name: "schema", description: "Print one tool's description, guest command, examples, and input and output JSON Schemas (draft-07) as JSON." },
    args: {
      name: { type: "positional", required: true, valueHint: "NAME", description: "The tool, e.g. git.status" },
      ...globalArgs,
    },
    run({ args }) {
      const reg = builtinRegistry();
      printJson(describeTool(reg.require(args.name)));
    },
  }),
  {
    runtime: false,
    examples: [
      ["paperclip-aos tool schema git.status", "what git.status takes and returns"],
      ["paperclip-aos tool schema artifacts.publish | jq .inputSchema", "just the input schema"],
    ],
  },
);
