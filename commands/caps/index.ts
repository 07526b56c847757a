import { defineCommand } from "citty";
import { globalArgs, withHelp } from "../_shared.ts";

/** Exported so the e2e table can require a test for each subcommand (commands/index.ts CommandPath). */
export const subCommands = {
  check: () => import("./check.ts").then((m) => m.default),
  explain: () => import("./explain.ts").then((m) => m.default),
  schema: () => import("./schema.ts").then((m) => m.default),
  test: () => import("./test.ts").then((m) => m.default),
};

export default withHelp(
  defineCommand({
    meta: {
      name: "caps",
      description:
        "Capability policies: Paperclip's permission vocabulary (fs.read, fs.write, network.fetch, network.listen, process.spawn, env.read, " +
        "tool.invoke), checked, explained, evaluated, and compiled to agentOS kernel permissions plus host-side filters. Deny by default; " +
        "the most specific rule wins; deny wins ties.",
    },
    args: globalArgs,
    subCommands,
  }),
  {
    examples: [
      ["paperclip-aos caps check policy.json", "validate; exit 2 with every problem and a fix"],
      ["paperclip-aos caps explain --preset workspace-write", "what a preset allows, and where each rule is enforced"],
      ["paperclip-aos caps test policy.json --read .env", "allowed or denied, and which rule decided"],
      ["paperclip-aos caps schema > policy.schema.json", "JSON Schema for editors"],
    ],
  },
);
