import { defineCommand, globalArgs, printJson, withHelp, err } from "../_shared.ts";
import { ExitCode, errorMessage, usageError } from "../../src/errors.ts";
// Not the tools' index: that loads every tool, the VM binding and the baseline code into a command that runs one tool.
import { errorInfo, invokeOnHost } from "../../src/tools/host.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "invoke",
      description:
        "Run one tool on the host against the current directory (or --cwd DIR) and print its output as JSON. " +
        "Invalid input exits 2 naming the field; a tool failure exits 1; either way stdout carries {\"error\":{code,message}}.",
    },
    args: {
      name: { type: "positional", required: true, valueHint: "NAME", description: "The tool, e.g. git.status" },
      input: { type: "string", valueHint: "JSON|-", description: "The tool's input as JSON, or - to read it from stdin (default {})" },
      "run-id": { type: "string", valueHint: "ID", description: "Act for this run: workspace.diff compares with its baseline, artifacts go to its store" },
      ...globalArgs,
    },
    async run({ args }) {
      try {
        const input = await readInput(args.input);
        printJson(await invokeOnHost(args.name, input, { workspaceDir: process.cwd(), runId: args["run-id"] }));
        return ExitCode.ok;
      } catch (e) {
        const info = errorInfo(e);
        printJson({ error: info });
        err(`error: ${info.message}\n`);
        if (info.hint) err(`hint: ${info.hint}\n`);
        return (e as { exitCode?: number }).exitCode ?? ExitCode.failure;
      }
    },
  }),
  {
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

async function readInput(flag: string | undefined): Promise<unknown> {
  if (flag === undefined) return {};
  const text = flag === "-" ? await Bun.stdin.text() : flag;
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw usageError(`--input is not JSON: ${errorMessage(e)}`, `write it as an object, e.g. --input '{"limit":5}'`, "invalid_json");
  }
}
