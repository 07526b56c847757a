import { err, printJson } from "../_print.ts";
import { ExitCode, errorMessage, usageError } from "../../src/errors.ts";
// Not the tools' index: that loads every tool, the VM binding and the baseline code into a command that runs one tool.
import { errorInfo, invokeOnHost } from "../../src/tools/host.ts";

/** What `tool invoke` was given (its own flags; the global ones are main's). */
export interface InvokeArgs {
  name: string;
  input?: string;
  runId?: string;
}

/**
 * The body of `tool invoke`, the same for the command (invoke.ts, through main) and for the fast path that starts
 * it without the CLI's parser and registry (commands/_fast.ts): the tool's output, or its error as a JSON document
 * on stdout and two lines on stderr. Returns the exit code.
 */
export async function runInvoke(args: InvokeArgs): Promise<number> {
  try {
    const input = await readInput(args.input);
    printJson(await invokeOnHost(args.name, input, { workspaceDir: process.cwd(), runId: args.runId }));
    return ExitCode.ok;
  } catch (e) {
    const info = errorInfo(e);
    printJson({ error: info });
    err(`error: ${info.message}\n`);
    if (info.hint) err(`hint: ${info.hint}\n`);
    return (e as { exitCode?: number }).exitCode ?? ExitCode.failure;
  }
}

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
