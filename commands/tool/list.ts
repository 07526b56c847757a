import { defineCommand, globalArgs, printJson, withHelp, out, err } from "../_shared.ts";
import { builtinRegistry, describeTool, guestCommand } from "../../src/tools/index.ts";

export default withHelp(
  defineCommand({
    meta: { name: "list", description: "List the tools: name and description (with --json: also the guest command and the input and output JSON Schemas)." },
    args: globalArgs,
    run({ args }) {
      const reg = builtinRegistry();
      if (args.json) {
        printJson({ tools: reg.list().map(describeTool) });
        return;
      }
      const tools = reg.list();
      const width = Math.max(...tools.map((t) => t.name.length));
      for (const t of tools) out(`${t.name.padEnd(width)}  ${t.description.split(": ")[0]!.split(". ")[0]}\n`);
      err(`\n${tools.length} tools; in the VM: ${guestCommand("git.status")} --json '{}'. Details: paperclip-aos tool schema NAME\n`);
    },
  }),
  {
    runtime: false,
    examples: [
      ["paperclip-aos tool list", "names and one-line descriptions"],
      ["paperclip-aos tool list --json", "{tools:[{name, description, guestCommand, inputSchema, outputSchema}]}"],
    ],
  },
);
