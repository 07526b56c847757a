import * as v from "valibot";
import { defineTool } from "../types.ts";
import { toolError } from "../errors.ts";
import { git, ok } from "../git.ts";
import { gitInRepo, openRepo } from "../git-repo.ts";
import { pathsInput, pathspecs } from "../paths.ts";
import { requireRead } from "../fs-policy.ts";

// A revision, not an option: git would read "--output=/x" as a flag even after --end-of-options on old gits.
const REF = /^(?!-)[A-Za-z0-9._/@{}~^:+-]{1,200}$/;

const Input = v.strictObject({
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(200), v.description("How many commits (default 10)")), 10),
  ref: v.optional(v.pipe(v.string(), v.regex(REF, "a branch, tag or commit, e.g. main, HEAD~3, v1.2"), v.description("Start from this revision (default HEAD)"))),
  paths: pathsInput("Only commits touching these workspace paths"),
});

const Commit = v.object({
  sha: v.string(),
  parents: v.array(v.string()),
  author: v.object({ name: v.string(), email: v.string() }),
  date: v.string(),
  subject: v.string(),
});

const Output = v.object({
  ref: v.string(),
  commits: v.array(Commit),
  /** More commits exist past `limit`. */
  more: v.boolean(),
});

const FS = "\x1f";
const RS = "\x1e";

export const gitLog = defineTool({
  name: "git.log",
  description: "Recent commits of the workspace repository (newest first): sha, parents, author, ISO date and subject. Read-only.",
  input: Input,
  output: Output,
  examples: [
    { description: "The last 5 commits", input: { limit: 5 } },
    { description: "Commits touching src/ on main", input: { ref: "main", paths: ["src"] } },
  ],
  async execute(input, ctx) {
    // The repository is read for the agent: its policy must let it read .git.
    await requireRead(ctx, "git.log", ".git");
    const repo = await openRepo(ctx.workspaceDir);
    const ref = input.ref ?? "HEAD";
    const specs = pathspecs(input.paths);
    const verify = await git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], { cwd: repo.root, config: repo.config });
    if (verify.code !== 0) {
      if (input.ref === undefined) return { ref, commits: [], more: false }; // unborn branch: no commits yet
      throw toolError("unknown_ref", `'${ref}' is not a commit in this repository`, "use a branch, tag or commit sha (git.log without ref starts at HEAD)");
    }
    const r = await gitInRepo(repo, [
      "--literal-pathspecs",
      "log",
      "--no-show-signature",
      "--no-color",
      `--max-count=${input.limit + 1}`,
      `--format=%H${FS}%P${FS}%an${FS}%ae${FS}%aI${FS}%s${RS}`,
      verify.stdout.trim(),
      "--",
      ...specs,
    ]);
    const commits = ok(r, "git log")
      .split(RS)
      .map((s) => s.replace(/^\n/, ""))
      .filter(Boolean)
      .map((rec) => {
        const [sha, parents, name, email, date, subject] = rec.split(FS);
        return {
          sha: sha!,
          parents: parents ? parents.split(" ") : [],
          author: { name: name ?? "", email: email ?? "" },
          date: date ?? "",
          subject: subject ?? "",
        };
      });
    return { ref, commits: commits.slice(0, input.limit), more: commits.length > input.limit };
  },
});
