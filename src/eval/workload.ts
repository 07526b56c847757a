import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The fixed workload every heartbeat of the evaluation runs (documented in docs/evaluation.md): a tiny project, and a
 * three-step script — list and read the project, write a file, answer — the shape of a routine Paperclip heartbeat
 * with the model's thinking time taken out (the scripted model answers at once, so wall time is the substrate's).
 */
export const WORKLOAD_FILES: Record<string, string> = {
  "README.md": "# eval project\n\nA small project the evaluation's heartbeats read and write.\n",
  "src/index.mjs": "export const answer = () => 42;\n",
  "package.json": '{ "name": "eval-project", "type": "module" }\n',
};

export const WORKLOAD_STEPS = [
  { tool: "bash", input: { command: "ls -R && cat README.md" }, usage: { input: 900, output: 30 } },
  { tool: "bash", input: { command: "echo 'evaluated' > /workspace/notes.txt" }, usage: { input: 1100, output: 25 } },
  { text: "Read the project and wrote notes.txt.", usage: { input: 1300, output: 20 } },
];

export async function writeWorkspace(dir: string, files: Record<string, string> = WORKLOAD_FILES): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

export function marker(): string {
  return `MARKER-${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
}
