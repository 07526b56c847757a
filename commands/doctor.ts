import { defineCommand } from "citty";
import { globalArgs, printJson, withHelp, err } from "./_shared.ts";
import { runDoctor, type DoctorCheck } from "../src/runtime/index.ts";

const MARK: Record<DoctorCheck["level"], string> = { info: "✔", warn: "!", error: "✖" };

export default withHelp(
  defineCommand({
    meta: {
      name: "doctor",
      description:
        "Check that agentOS works here: runtime assets, sidecar start, a VM boot and first exec, software packages, writable dirs, free disk; " +
        "whether a warm worker (serve) runs and what it keeps warm; and what agentOS cannot do, with the ways around it (lines marked '-'). " +
        "Exit 0 on pass or warn, 1 on fail.",
    },
    args: globalArgs,
    async run({ args }) {
      const report = await runDoctor({
        onCheck: args.json
          ? undefined
          : (c) => {
              // --quiet: only the problems, and nothing at all when there are none.
              if (args.quiet && c.level === "info") return;
              // A limit of agentOS is not a check that passed: no tick, and said as what it is.
              const limit = c.code.startsWith("limit_") && c.level === "info";
              err(limit ? `- limit: ${c.message}\n` : `${MARK[c.level]} ${c.message}\n`);
              if (c.detail && c.level !== "info") err(`    ${c.detail}\n`);
              if (c.hint) err(`    hint: ${c.hint}\n`);
            },
      });
      if (args.json) printJson(report);
      else if (!args.quiet || report.status !== "pass") err(`\n${report.status.toUpperCase()}: boot ${report.timings.bootMs ?? "-"} ms, first exec ${report.timings.firstExecMs ?? "-"} ms\n`);
      return report.status === "fail" ? 1 : 0;
    },
  }),
  {
    exitCodes: [["0", "pass or warn"], ["1", "a check failed (its line is marked ✖)"]],
    examples: [
      ["paperclip-aos doctor", "human-readable checks on stderr"],
      ["paperclip-aos doctor --json", "Paperclip's AdapterEnvironmentTestResult shape on stdout"],
      ["paperclip-aos doctor -q", "only the problems; nothing on success"],
    ],
  },
);
