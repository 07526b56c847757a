import { defineCommand } from "citty";
import { globalArgs, withHelp } from "../_shared.ts";

/** Exported so the e2e table can require a test for each subcommand (commands/index.ts CommandPath). */
export const subCommands = {
  ls: () => import("./ls.ts").then((m) => m.default),
  show: () => import("./show.ts").then((m) => m.default),
  rm: () => import("./rm.ts").then((m) => m.default),
};

export default withHelp(
  defineCommand({
    meta: {
      name: "session",
      description:
        "The agent sessions `run` keeps in the state dir, one per (agent id, task key): the next heartbeat of that task resumes it in the same cwd. " +
        "List them, show one, remove one (a heartbeat using it is never interrupted: rm takes the session's lock).",
    },
    args: globalArgs,
    subCommands,
  }),
  {
    examples: [
      ["paperclip-aos session ls", "agent id, task key, cwd, last run, size"],
      ["paperclip-aos session show PAP-12", "one session by task key or session id (prefix)"],
      ["paperclip-aos session rm PAP-12", "forget it: the next heartbeat of PAP-12 starts fresh"],
    ],
  },
);
