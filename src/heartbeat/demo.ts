import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stateDir } from "../paths.ts";
import sumJs from "../../examples/demo-workspace/sum.mjs" with { type: "text" };
import testJs from "../../examples/demo-workspace/test.mjs" with { type: "text" };
import readme from "../../examples/demo-workspace/README.md" with { type: "text" };
import script from "../../examples/demo-script.json" with { type: "json" };

/**
 * `run --demo`: the bundled example workspace (a tiny project with a failing test) and the bundled script that reads
 * the code, fixes it, runs the test and summarises. Both are compiled into the binary; the workspace is copied fresh
 * into the state dir each time so the demo never edits anything of the user's.
 */
export const DEMO_PROMPT = "The test in this project fails (`node /workspace/test.mjs`). Find the bug, fix it, run the test, and summarise what you changed.";

export async function prepareDemo(): Promise<{ workspace: string; scriptFile: string }> {
  const dir = join(stateDir(), "demo");
  const workspace = join(dir, "workspace");
  await rm(workspace, { recursive: true, force: true });
  await mkdir(workspace, { recursive: true });
  await writeFile(join(workspace, "sum.mjs"), sumJs);
  await writeFile(join(workspace, "test.mjs"), testJs);
  await writeFile(join(workspace, "README.md"), readme);
  const scriptFile = join(dir, "demo-script.json");
  await writeFile(scriptFile, JSON.stringify(script, null, 2));
  return { workspace, scriptFile };
}
