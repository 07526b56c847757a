import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp, out } from "./_shared.ts";
import { buildInfo } from "../src/version.ts";

export default withHelp(
  defineCommand({
    meta: { name: "version", description: "Print the version of paperclip-aos, agentOS core and Bun, and the build commit" },
    args: globalArgs,
    run({ args }) {
      const info = { ...buildInfo(), bun: Bun.version, platform: `${process.platform}-${process.arch}` };
      if (args.json) return printJson(info);
      out(
        `paperclip-aos ${info.version} (${info.commit}${info.compiled ? "" : ", from source"})\nagentos-core ${info.agentosCore}\nbun ${info.bun} ${info.platform}\n`,
      );
    },
  }),
  { examples: [["paperclip-aos version --json", "machine-readable versions"]] },
);
