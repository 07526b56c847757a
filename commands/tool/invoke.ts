import { defineCommand, withHelp } from "../_shared.ts";
import { invokeArgs } from "./invoke-args.ts";
import { runInvoke } from "./invoke-run.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "invoke",
      description:
        "Run one tool on the host against the current directory (or --cwd DIR) and print its output as JSON. " +
        "Invalid input exits 2 naming the field; a tool failure exits 1; either way stdout carries {\"error\":{code,message}}.",
    },
    args: invokeArgs,
    run({ args }) {
      return runInvoke({ name: args.name, input: args.input, runId: args["run-id"] });
    },
  }),
  {
    exitCodes: [["0", "the tool ran; its output is on stdout"], ["1", "the tool failed ({\"error\"} on stdout)"], ["2", "invalid input: no such tool, or a field the schema refuses ({\"error\"} on stdout)"]],
    runtime: false,
    examples: [
      ["paperclip-aos tool invoke git.status", "branch, ahead/behind, changed files"],
      ["paperclip-aos tool invoke git.log --input '{\"limit\":5}'", "the last five commits"],
      ["paperclip-aos tool invoke workspace.diff --run-id $RUN", "what run $RUN changed"],
      ["paperclip-aos tool invoke artifacts.publish --input '{\"path\":\"report.html\"}'", "copy a file into the artifact store"],
      ["echo '{\"port\":5173}' | paperclip-aos tool invoke preview.status --input -", "input from stdin"],
    ],
  },
);

