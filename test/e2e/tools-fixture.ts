import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "./helpers.ts";

/** Run git in `cwd` with a fixed identity and no user config, so fixtures are the same on every machine. */
export function sh(cwd: string, ...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], {
    cwd,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_AUTHOR_NAME: "Fixture Author",
      GIT_AUTHOR_EMAIL: "author@example.test",
      GIT_COMMITTER_NAME: "Fixture Author",
      GIT_COMMITTER_EMAIL: "author@example.test",
    },
  });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

export interface Fixture {
  dir: string;
  /** State dir outside the workspace, so it never shows up in git status. */
  home: string;
  subjects: string[];
}

/**
 * A real repository: three commits, then one of each kind of change: a modified file (unstaged), a deleted file
 * (staged), a new file (staged), a rename (staged), an untracked file in a subdirectory.
 */
export async function gitFixture(): Promise<Fixture> {
  const dir = await tempDir("aos-tools-ws-");
  const home = await tempDir("aos-tools-home-");
  sh(dir, "init", "-q", "-b", "main");
  await mkdir(join(dir, "src"));
  await writeFile(join(dir, "a.txt"), "alpha\n");
  await writeFile(join(dir, "src", "b.js"), "export const b = 1;\n");
  await writeFile(join(dir, "old-name.md"), "# notes\n\nsome text\n");
  sh(dir, "add", "-A");
  sh(dir, "commit", "-q", "-m", "initial: a, b and notes");
  await writeFile(join(dir, "a.txt"), "alpha\nbeta\n");
  sh(dir, "commit", "-q", "-am", "second: beta");
  await writeFile(join(dir, "src", "c.js"), "export const c = 3;\n");
  sh(dir, "add", "src/c.js");
  sh(dir, "commit", "-q", "-m", "third: add c");
  // The working state.
  await writeFile(join(dir, "a.txt"), "alpha\nbeta\ngamma\n");
  sh(dir, "rm", "-q", "src/b.js");
  await writeFile(join(dir, "staged.txt"), "staged\n");
  sh(dir, "add", "staged.txt");
  sh(dir, "mv", "old-name.md", "new-name.md");
  await mkdir(join(dir, "notes"));
  await writeFile(join(dir, "notes", "todo.txt"), "untracked\n");
  return { dir, home, subjects: ["third: add c", "second: beta", "initial: a, b and notes"] };
}
