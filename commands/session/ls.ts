import { defineCommand } from "citty";
import { err, globalArgs, out, printJson, table, withHelp } from "../_shared.ts";
import { listSessions } from "../../src/heartbeat/index.ts";
import { formatBytes } from "../../src/snapshot/index.ts";

export default withHelp(
  defineCommand({
    meta: { name: "ls", description: "List stored sessions, most recently used first: agent id, task key, agent, cwd, last run, runs, size, and whether a heartbeat is using it." },
    args: { ...globalArgs },
    async run({ args }) {
      const all = listSessions();
      if (args.json) return printJson(all);
      if (all.length === 0) return err("no sessions yet: 'paperclip-aos run' keeps one per (agent id, task key)");
      const rows = all.map((s) => [
        s.agentId,
        s.taskKey,
        s.agent,
        s.sessionId.slice(0, 8),
        s.updatedAt.replace("T", " ").slice(0, 19),
        String(s.runs),
        formatBytes(s.bytes),
        s.busy ? "busy" : s.prepared ? "prepared" : "",
        s.cwd,
      ]);
      const head = ["AGENT ID", "TASK KEY", "AGENT", "SESSION", "LAST RUN", "RUNS", "SIZE", "", "CWD"];
      out(table(head, rows));
    },
  }),
  {
    examples: [
      ["paperclip-aos session ls", "a table"],
      ["paperclip-aos session ls --json", "[{sessionId, agent, agentId, taskKey, cwd, createdAt, updatedAt, runs, lastRunId, dir, bytes, busy, prepared}]"],
    ],
  },
);
