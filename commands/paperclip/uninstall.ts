import { defineCommand } from "citty";
import { err, globalArgs, out, printJson, withHelp } from "../_shared.ts";
import { removeAdapterPackage, resolveTarget, unregister } from "../../src/paperclip/index.ts";
import { targetArgs } from "./_target.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "uninstall",
      description:
        "Unregister agentos_local from Paperclip (DELETE /api/adapters/agentos_local) and remove the adapter package from the state dir. " +
        "Agents of that type stay in Paperclip but cannot run until it is installed again.",
    },
    args: {
      ...globalArgs,
      ...targetArgs,
      "keep-registration": { type: "boolean", description: "Only remove the package (Paperclip unreachable or already gone)" },
    },
    async run({ args }) {
      let unregistered = false;
      if (!args["keep-registration"]) unregistered = await unregister(resolveTarget({ api: args.api, dataDir: args["data-dir"], paperclipai: args.paperclipai }));
      const removed = await removeAdapterPackage();
      if (args.json) return printJson({ unregistered, removed });
      out(`${unregistered ? "unregistered agentos_local" : "agentos_local was not registered"}; ${removed ? "package removed" : "no package was installed"}`);
      if (!unregistered && !removed && !args.quiet) err("nothing to do");
    },
  }),
  {
    examples: [
      ["paperclip-aos paperclip uninstall", "unregister and remove"],
      ["paperclip-aos paperclip uninstall --keep-registration", "remove the package only"],
    ],
  },
);
