import { defineCommand, globalArgs, withHelp } from "../_shared.ts";

/** Exported so the e2e table can require a test for each subcommand (commands/index.ts CommandPath). */
export const subCommands = {
  list: () => import("./list.ts").then((m) => m.default),
  schema: () => import("./schema.ts").then((m) => m.default),
  invoke: () => import("./invoke.ts").then((m) => m.default),
};

export default withHelp(
  defineCommand({
    meta: {
      name: "tool",
      description:
        "Typed host tools (git status and log, workspace diff, VM services, artifacts, preview status): list them, print their JSON Schemas, " +
        "invoke them on the host. Inside a run the agent calls the same tools as `agentos-paperclip <fn> --json '{..}'`, gated by tool.invoke.",
    },
    args: globalArgs,
    subCommands,
  }),
  {
    examples: [
      ["paperclip-aos tool list", "the tools, one per line"],
      ["paperclip-aos tool schema git.status", "input and output JSON Schema"],
      ["paperclip-aos tool invoke git.status", "run a tool on the current directory"],
      ["echo '{\"limit\":3}' | paperclip-aos tool invoke git.log --input -", "input from stdin"],
    ],
  },
);
