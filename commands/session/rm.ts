import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp } from "../_shared.ts";
import { removeSession } from "../../src/heartbeat/index.ts";
import { logger } from "../../src/log.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "rm",
      description:
        "Remove a session: its record, the agentOS database and the transcript. The next heartbeat of that task starts fresh. " +
        "A session a heartbeat is using is not removed (exit 1, session_busy).",
    },
    args: {
      ref: { type: "positional", required: true, valueHint: "ID|TASK", description: "A session id, a unique prefix of one (4+ characters), or a task key" },
      "agent-id": { type: "string", valueHint: "ID", description: "Whose session, when several agents have the task key" },
      ...globalArgs,
    },
    async run({ args }) {
      const s = await removeSession(String(args.ref), { agentId: args["agent-id"] });
      if (args.json) return printJson({ removed: s });
      logger.info(`removed session ${s.sessionId.slice(0, 8)} (${s.agentId}/${s.taskKey}); the next heartbeat of ${s.taskKey} starts fresh`);
    },
  }),
  {
    exitCodes: [["0", "removed"], ["1", "a heartbeat is using the session (session_busy)"], ["2", "no session by that id or task"]],
    examples: [
      ["paperclip-aos session rm PAP-12", "by task key"],
      ["paperclip-aos session rm 3f2a1b --json", "by id prefix; {removed: {...}}"],
    ],
  },
);
