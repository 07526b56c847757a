import { defineCommand } from "citty";
import { globalArgs, out, printJson, withHelp } from "../_shared.ts";
import { showSession } from "../../src/heartbeat/index.ts";
import { formatBytes } from "../../src/snapshot/index.ts";

export default withHelp(
  defineCommand({
    meta: { name: "show", description: "One session: its ids, cwd, runs, size, where it lives, and the prompts it was sent." },
    args: {
      ref: { type: "positional", required: true, valueHint: "ID|TASK", description: "A session id, a unique prefix of one (4+ characters), or a task key" },
      "agent-id": { type: "string", valueHint: "ID", description: "Whose session, when several agents have the task key" },
      ...globalArgs,
    },
    async run({ args }) {
      const s = await showSession(String(args.ref), { agentId: args["agent-id"] });
      if (args.json) return printJson(s);
      const rows: [string, string][] = [
        ["session", s.sessionId],
        ["agent", `${s.agent} (agent id ${s.agentId})`],
        ["task key", s.taskKey],
        ["cwd", s.cwd],
        ["runs", `${s.runs}, last ${s.updatedAt} (run ${s.lastRunId})`],
        ["created", s.createdAt],
        ["size", `${formatBytes(s.bytes)} in ${s.dir}`],
        ["state", s.busy ? "busy: a heartbeat is using it" : s.prepared ? "idle, its next VM prepared by the worker (let go when another run asks)" : "idle"],
      ];
      const lines = rows.map(([k, v]) => `${k.padEnd(9)} ${v}`);
      if (s.prompts.length) lines.push("prompts", ...s.prompts.map((p) => `  ${p.ts ? `${p.ts.replace("T", " ").slice(0, 19)}  ` : ""}${p.text.replace(/\s+/g, " ")}`));
      out(lines.join("\n"));
    },
  }),
  {
    examples: [
      ["paperclip-aos session show PAP-12", "by task key"],
      ["paperclip-aos session show 3f2a --json", "by id prefix, as JSON (with transcriptEvents and prompts)"],
    ],
  },
);
